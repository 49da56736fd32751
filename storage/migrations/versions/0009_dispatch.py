"""dispatch: site storage assets and tariffs (``sites.dispatch``), table ``schedules``

A site's dispatch settings (storage asset, tariff, objective) are one JSON document on
the site; every plan the dispatch stage makes is stored one row per step, the plan's
objective value, solver status and solve time repeated on each of its rows.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("sites", sa.Column("dispatch", postgresql.JSONB(), nullable=True))
    op.create_table(
        "schedules",
        sa.Column("site_id", sa.String(length=128), nullable=False),
        sa.Column("issued_at", _TS, nullable=False),
        sa.Column("ts", _TS, nullable=False),
        sa.Column("charge_kw", sa.Float(), nullable=False),
        sa.Column("discharge_kw", sa.Float(), nullable=False),
        sa.Column("soc", sa.Float(), nullable=False),
        sa.Column("grid_import_kw", sa.Float(), nullable=False),
        sa.Column("grid_export_kw", sa.Float(), nullable=False),
        sa.Column("curtail_kw", sa.Float(), nullable=False),
        sa.Column("load_kw", sa.Float(), nullable=False),
        sa.Column("pv_kw", sa.Float(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("export_price", sa.Float(), nullable=False),
        sa.Column("policy", sa.String(length=32), nullable=False),
        sa.Column("objective", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("solve_s", sa.Float(), nullable=False),
        sa.Column("created_at", _TS, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.site_id"], name=op.f("fk_schedules_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("site_id", "issued_at", "ts", name=op.f("pk_schedules")),
    )


def downgrade() -> None:
    op.drop_table("schedules")
    op.drop_column("sites", "dispatch")
