"""api: table ``forecast_latest``, ``workers.metrics_port``, the role ``gridbrain_api``

``forecast_latest`` holds the newest issue time of every series, kept by the forecast
writer, so the newest forecasts are found without aggregating ``forecast_issues``.
Workers report the port of their Prometheus ``/metrics``. The HTTP API runs its queries
as the role ``gridbrain_api``: it may read every table and write only silences. It may log
in (where the server lets it in without a password, as the embedded one does, the API
connects as it; elsewhere give it a password, or the API assumes it with SET ROLE). Where the
migrating user may not create roles (a managed database), the role is skipped with a
notice: create it by hand, or give the API a read-only login (``GRIDBRAIN_API_DATABASE_URL``).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ROLE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gridbrain_api') THEN
        CREATE ROLE gridbrain_api LOGIN;
    END IF;
    ALTER ROLE gridbrain_api LOGIN;
    GRANT gridbrain_api TO CURRENT_USER;
    GRANT USAGE ON SCHEMA public TO gridbrain_api;
    GRANT SELECT ON ALL TABLES IN SCHEMA public TO gridbrain_api;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO gridbrain_api;
    GRANT INSERT, UPDATE ON silences TO gridbrain_api;
    GRANT USAGE ON SEQUENCE silences_id_seq TO gridbrain_api;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'role gridbrain_api not created (%): see GRIDBRAIN_API_DATABASE_URL', SQLERRM;
END
$$;
"""


def upgrade() -> None:
    op.create_table(
        "forecast_latest",
        sa.Column("site_id", sa.String(length=128), nullable=False),
        sa.Column("quantity", sa.String(length=32), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "quantity", name=op.f("pk_forecast_latest")),
    )
    op.execute(
        "INSERT INTO forecast_latest (site_id, quantity, issued_at) "
        "SELECT site_id, quantity, max(issued_at) FROM forecast_issues GROUP BY 1, 2"
    )
    op.add_column("workers", sa.Column("metrics_port", sa.Integer(), nullable=True))
    op.execute(_ROLE)


def downgrade() -> None:
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'gridbrain_api') THEN "
        "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM gridbrain_api; "
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM gridbrain_api; "
        "REVOKE ALL ON SCHEMA public FROM gridbrain_api; "
        "REVOKE ALL ON SEQUENCE silences_id_seq FROM gridbrain_api; "
        "END IF; END $$"
    )
    op.drop_column("workers", "metrics_port")
    op.drop_table("forecast_latest")
