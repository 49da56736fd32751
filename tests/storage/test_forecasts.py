"""Forecasts stored one row per issue: writes, the per-target view, the newest issue, and
the migration that moved the old per-target rows (real PostgreSQL)."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine

import gridbrain.storage.db as db
from gridbrain.processors.forecast.forecaster import Forecast
from gridbrain.storage.forecast_queries import latest_forecasts
from gridbrain.storage.repositories import add_forecasts
from gridbrain.storage.sites import ensure_sites
from tests.integration.conftest import Services

pytestmark = pytest.mark.integration

STEP = 900_000
T0 = 4_102_444_800_000  # 2100-01-01: far from other tests' rows (retention tests own 2001)


def forecast(site: str, issued_ms: int, level: float, model: str = "arx") -> Forecast:
    targets = issued_ms + STEP * np.arange(4, dtype=np.int64)
    p50 = level + np.arange(4.0)
    return Forecast(site, "fc-test", issued_ms, targets, p50 - 1.5, p50, p50 + 1.25, model)


def view_rows(services: Services, site: str) -> list[tuple[object, ...]]:
    with services.sessions() as session:
        return [
            tuple(r)
            for r in session.execute(
                text(
                    "SELECT extract(epoch FROM issued_at) * 1000, "
                    "extract(epoch FROM target_ts) * 1000, model, p10, p50, p90 "
                    "FROM forecasts WHERE site_id = :s ORDER BY 1, 2, 3"
                ),
                {"s": site},
            )
        ]


def test_one_row_per_issue_read_back_per_target(services: Services) -> None:
    site = f"fc-{uuid.uuid4().hex[:8]}"
    first, later = forecast(site, T0, 10.0), forecast(site, T0 + 4 * STEP, 20.0)
    with services.sessions.begin() as session:
        ensure_sites(session, {site})
        assert add_forecasts(session, [first, later, forecast(site, T0, 5.0, "linear")]) == 12
    with services.sessions() as session:
        issues = session.scalar(
            text("SELECT count(*) FROM forecast_issues WHERE site_id = :s"), {"s": site}
        )
    assert issues == 3
    rows = view_rows(services, site)
    assert len(rows) == 12
    arx = [r for r in rows if r[2] == "arx"]
    expected = [
        (f.issued_at_ms, t, "arx", lo, mid, hi)
        for f in (first, later)
        for t, lo, mid, hi in zip(f.target_ts_ms, f.p10, f.p50, f.p90, strict=True)
    ]
    assert [tuple(float(v) if i != 2 else v for i, v in enumerate(r)) for r in arx] == expected

    with services.sessions() as session:
        newest = latest_forecasts(session, site=site, horizons=2)
    assert [(r["p50"], r["model"]) for r in newest] == [(20.0, "arx"), (21.0, "arx")]
    assert newest[0]["target_ts"].timestamp() * 1000 == T0 + 4 * STEP

    # A redelivered batch with new values replaces the issue, never adds a second one.
    with services.sessions.begin() as session:
        add_forecasts(session, [forecast(site, T0 + 4 * STEP, 30.0)])
    assert [r[4] for r in view_rows(services, site) if r[0] == T0 + 4 * STEP] == [
        30.0,
        31.0,
        32.0,
        33.0,
    ]


def test_an_ensemble_and_a_long_registry_version_are_stored_whole(services: Services) -> None:
    """An ensemble names its members; a served version is NAME:VERSION of a registry name."""
    site = f"fc-{uuid.uuid4().hex[:8]}"
    model = "ensemble_arx+linear+lightgbm_calibrated+lightgbm_weather"  # 56 characters
    version = "dissolved_oxygen-lightgbm_calibrated:12"  # 39
    f = forecast(site, T0, 1.0, model)
    long = Forecast(
        f.site_id,
        f.quantity,
        f.issued_at_ms,
        f.target_ts_ms,
        f.p10,
        f.p50,
        f.p90,
        model,
        model_version=version,
    )
    with services.sessions.begin() as session:
        ensure_sites(session, {site})
        add_forecasts(session, [long])
    with services.sessions() as session:
        stored = session.execute(
            text("SELECT DISTINCT model, model_version FROM forecasts WHERE site_id = :s"),
            {"s": site},
        ).all()
    assert [tuple(r) for r in stored] == [(model, version)]


def test_uneven_targets_are_refused(services: Services) -> None:
    bad = forecast("fc-uneven", T0, 1.0)
    bad = Forecast(
        bad.site_id,
        bad.quantity,
        bad.issued_at_ms,
        np.array([T0, T0 + STEP, T0 + 3 * STEP, T0 + 4 * STEP]),
        bad.p10,
        bad.p50,
        bad.p90,
        bad.model,
    )
    with services.sessions() as session, pytest.raises(ValueError, match="uneven"):
        add_forecasts(session, [bad])


@pytest.fixture
def scratch_database(services: Services) -> Iterator[tuple[str, Engine]]:
    """An empty database beside the test one (its own schema history)."""
    name = f"mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(db.sqlalchemy_url(services.database_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(db.sqlalchemy_url(services.database_url)).set(database=name)
    engine = create_engine(url)
    try:
        yield url.render_as_string(hide_password=False), engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def test_migration_moves_per_target_rows_and_back(scratch_database: tuple[str, Engine]) -> None:
    url, engine = scratch_database
    db.migrate(url, "0007")
    old = [
        ("m-site", "load", T0 + d * 3_600_000, T0 + d * 3_600_000 + h * STEP, model, h + d, h)
        for d in range(3)
        for h in range(1, 5)
        for model in ("arx", "linear")
    ]
    select_old = (
        "SELECT site_id, quantity, extract(epoch FROM issued_at) * 1000, "
        "extract(epoch FROM target_ts) * 1000, model, p10, p50, p90, completeness, fallback "
        "FROM forecasts ORDER BY 1, 2, 3, 4, 5"
    )
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO sites (site_id, name) VALUES ('m-site', 'm')"))
        connection.execute(
            text(
                "INSERT INTO forecasts (site_id, quantity, issued_at, target_ts, model, "
                "model_version, p10, p50, p90, completeness, fallback) VALUES (:s, :q, "
                "to_timestamp(:i / 1000.0), to_timestamp(:t / 1000.0), :m, 'v1', :lo, :lo + 1, "
                ":lo + 2, 0.9, CASE WHEN :m = 'arx' THEN NULL ELSE 'why' END)"
            ),
            [dict(zip(("s", "q", "i", "t", "m", "lo", "h"), r, strict=True)) for r in old],
        )
        before = connection.execute(text(select_old)).all()
    db.migrate(url)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM forecast_issues")) == 6
        assert connection.execute(text(select_old)).all() == before  # through the view
    config = Config()
    config.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.downgrade(config, "0007")
    with engine.connect() as connection:
        assert connection.execute(text(select_old)).all() == before  # a table again
