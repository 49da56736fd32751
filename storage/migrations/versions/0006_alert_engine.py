"""alert engine: incidents keyed by dedup key, state history, silences

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_NOW = sa.text("now()")
_JSONB = postgresql.JSONB(astext_type=sa.Text())


def upgrade() -> None:
    op.add_column("alerts", sa.Column("dedup_key", sa.Text(), nullable=True))
    op.add_column("alerts", sa.Column("labels", _JSONB, nullable=True))
    op.add_column("alerts", sa.Column("quantity", sa.String(length=32), nullable=True))
    op.add_column("alerts", sa.Column("peak", sa.Float(), nullable=True))
    op.add_column("alerts", sa.Column("fired_at", _TS, nullable=True))
    op.add_column("alerts", sa.Column("expected_at", _TS, nullable=True))
    op.add_column(
        "alerts", sa.Column("no_data", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column(
        "alerts", sa.Column("silenced", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column(
        "alerts", sa.Column("inhibited", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column("alerts", sa.Column("notified", sa.String(length=16), nullable=True))
    op.add_column("alerts", sa.Column("last_notified_at", _TS, nullable=True))
    op.execute(
        "UPDATE alerts SET dedup_key = rule || '{site_id=\"' || site_id || '\"}', "
        "labels = jsonb_build_object('alertname', rule, 'site_id', site_id), peak = value"
    )
    op.alter_column("alerts", "dedup_key", nullable=False)
    op.alter_column("alerts", "labels", nullable=False)
    op.alter_column("alerts", "peak", nullable=False)
    op.alter_column("alerts", "value", nullable=True)
    op.drop_constraint("uq_alerts_site_id", "alerts", type_="unique")
    op.create_unique_constraint("uq_alerts_dedup_key", "alerts", ["dedup_key", "started_at"])
    op.create_index("ix_alerts_state", "alerts", ["state", "started_at"])
    op.create_table(
        "alert_history",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("dedup_key", sa.Text(), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("notified", sa.Boolean(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("recorded_at", _TS, server_default=_NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_history")),
        sa.UniqueConstraint(
            "dedup_key", "started_at", "at", "reason", name=op.f("uq_alert_history_dedup_key")
        ),
    )
    op.create_table(
        "silences",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("matchers", _JSONB, nullable=False),
        sa.Column("starts_at", _TS, nullable=False),
        sa.Column("ends_at", _TS, nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, server_default=_NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_silences")),
    )


def downgrade() -> None:
    op.drop_table("silences")
    op.drop_table("alert_history")
    op.drop_index("ix_alerts_state", table_name="alerts")
    op.drop_constraint("uq_alerts_dedup_key", "alerts", type_="unique")
    op.create_unique_constraint("uq_alerts_site_id", "alerts", ["site_id", "rule", "started_at"])
    for column in (
        "last_notified_at",
        "notified",
        "inhibited",
        "silenced",
        "no_data",
        "expected_at",
        "fired_at",
        "peak",
        "quantity",
        "labels",
        "dedup_key",
    ):
        op.drop_column("alerts", column)
