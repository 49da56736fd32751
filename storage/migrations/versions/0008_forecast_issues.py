"""forecasts stored one row per issue (arrays of quantiles); ``forecasts`` becomes a view

A forecast of 96 targets was 96 rows, each with its own key and index entries: writing
them was most of the forecast stage's time, and the table grew by 96 rows per series
and hour. ``forecast_issues`` holds one row per (site, quantity, issue, model) with the
quantiles as arrays; the view ``forecasts`` unnests them into the old rows, so SQL
written against the old table still reads the same columns.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)

#: One row per target, as the table was before this revision.
FORECASTS_VIEW = """
CREATE VIEW forecasts AS
SELECT f.site_id, f.quantity, f.issued_at,
       f.first_target + (u.h - 1) * f.step_ms * interval '1 millisecond' AS target_ts,
       f.model, f.model_version, u.p10, u.p50, u.p90, f.completeness, f.fallback,
       f.created_at
FROM forecast_issues f
CROSS JOIN LATERAL unnest(f.p10, f.p50, f.p90) WITH ORDINALITY AS u(p10, p50, p90, h)
"""


def upgrade() -> None:
    op.create_table(
        "forecast_issues",
        sa.Column("site_id", sa.String(length=128), nullable=False),
        sa.Column("quantity", sa.String(length=32), nullable=False),
        sa.Column("issued_at", _TS, nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("first_target", _TS, nullable=False),
        sa.Column("step_ms", sa.Integer(), nullable=False),
        sa.Column("p10", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.Column("p50", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.Column("p90", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.Column("completeness", sa.Float(), nullable=True),
        sa.Column("fallback", sa.String(length=200), nullable=True),
        sa.Column("created_at", _TS, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.site_id"], name=op.f("fk_forecast_issues_site_id_sites")
        ),
        sa.PrimaryKeyConstraint(
            "site_id", "quantity", "issued_at", "model", name=op.f("pk_forecast_issues")
        ),
    )
    # The old rows of an issue had evenly spaced targets (the stage wrote them so).
    op.execute(
        "INSERT INTO forecast_issues (site_id, quantity, issued_at, model, model_version, "
        "first_target, step_ms, p10, p50, p90, completeness, fallback, created_at) "
        "SELECT site_id, quantity, issued_at, model, max(model_version), min(target_ts), "
        "CASE WHEN count(*) > 1 THEN round(extract(epoch FROM max(target_ts) - "
        "min(target_ts)) * 1000 / (count(*) - 1))::int ELSE 0 END, "
        "array_agg(p10 ORDER BY target_ts), array_agg(p50 ORDER BY target_ts), "
        "array_agg(p90 ORDER BY target_ts), max(completeness), max(fallback), min(created_at) "
        "FROM forecasts GROUP BY site_id, quantity, issued_at, model"
    )
    op.drop_index("ix_forecasts_latest", table_name="forecasts")
    op.drop_table("forecasts")
    op.execute(FORECASTS_VIEW)


def downgrade() -> None:
    op.execute("ALTER VIEW forecasts RENAME TO forecasts_view")
    op.create_table(
        "forecasts",
        sa.Column("site_id", sa.String(length=128), nullable=False),
        sa.Column("quantity", sa.String(length=32), nullable=False),
        sa.Column("issued_at", _TS, nullable=False),
        sa.Column("target_ts", _TS, nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("p10", sa.Float(), nullable=False),
        sa.Column("p50", sa.Float(), nullable=False),
        sa.Column("p90", sa.Float(), nullable=False),
        sa.Column("created_at", _TS, server_default=sa.text("now()"), nullable=False),
        sa.Column("completeness", sa.Float(), nullable=True),
        sa.Column("fallback", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.site_id"], name=op.f("fk_forecasts_site_id_sites")
        ),
        sa.PrimaryKeyConstraint(
            "site_id", "quantity", "issued_at", "target_ts", "model", name=op.f("pk_forecasts")
        ),
    )
    op.create_index(
        "ix_forecasts_latest", "forecasts", ["site_id", "quantity", "issued_at"], unique=False
    )
    op.execute(
        "INSERT INTO forecasts (site_id, quantity, issued_at, target_ts, model, model_version, "
        "p10, p50, p90, created_at, completeness, fallback) SELECT site_id, quantity, "
        "issued_at, target_ts, model, model_version, p10, p50, p90, created_at, completeness, "
        "fallback FROM forecasts_view"
    )
    op.execute("DROP VIEW forecasts_view")
    op.drop_table("forecast_issues")
