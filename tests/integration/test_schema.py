"""The migrations build exactly the schema the typed models describe."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from gridbrain.storage.models import Base
from tests.integration.conftest import Services

pytestmark = pytest.mark.integration


def test_migrated_schema_matches_the_models(services: Services) -> None:
    with services.sessions() as session:
        context = MigrationContext.configure(session.connection())
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


#: Tables that become TimescaleDB hypertables (or Citus distributed tables) past one
#: machine, with their time column.
HYPERTABLES = {
    "readings": "ts",
    "forecast_issues": "issued_at",
    "weather_observations": "ts",
    "weather_forecasts": "issued_at",
}


def test_time_series_tables_can_become_hypertables(services: Services) -> None:
    """TimescaleDB requires the time column in every unique index of a hypertable (and
    Citus the distribution column): the natural keys keep that true, checked on the
    migrated schema."""
    with services.sessions() as session:
        rows = session.execute(
            text(
                "SELECT t.relname, i.relname, array_agg(a.attname ORDER BY a.attname) "
                "FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid "
                "JOIN pg_class i ON i.oid = x.indexrelid "
                "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(x.indkey) "
                "WHERE x.indisunique AND t.relname = ANY(:tables) GROUP BY 1, 2"
            ),
            {"tables": list(HYPERTABLES)},
        ).all()
    assert {table for table, _, _ in rows} == set(HYPERTABLES)
    for table, index, columns in rows:
        assert HYPERTABLES[table] in columns, f"{index} on {table} lacks its time column"
        assert "site_id" in columns  # the Citus distribution column
