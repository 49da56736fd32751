"""quality flags on readings, site metadata for checks and fusion, weather forecasts

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("readings", "value", existing_type=sa.Float(), nullable=True)
    op.add_column(
        "readings",
        sa.Column("n_flagged", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("sites", sa.Column("timezone", sa.String(length=64), nullable=True))
    op.add_column("sites", sa.Column("weather_station", sa.String(length=128), nullable=True))
    op.add_column(
        "sites", sa.Column("quality", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.add_column("forecasts", sa.Column("completeness", sa.Float(), nullable=True))
    op.create_table(
        "weather_forecasts",
        sa.Column("site_id", sa.String(length=128), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("variables", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint(
            "site_id", "issued_at", "valid_at", name=op.f("pk_weather_forecasts")
        ),
    )
    op.create_index(
        "ix_weather_forecasts_valid", "weather_forecasts", ["site_id", "valid_at", "issued_at"]
    )
    # Saved cleaning state from before quality checks has another shape: start afresh.
    op.execute("DELETE FROM site_state WHERE stage = 'clean'")


def downgrade() -> None:
    op.drop_index("ix_weather_forecasts_valid", table_name="weather_forecasts")
    op.drop_table("weather_forecasts")
    op.drop_column("forecasts", "completeness")
    op.drop_column("sites", "quality")
    op.drop_column("sites", "weather_station")
    op.drop_column("sites", "timezone")
    op.drop_column("readings", "n_flagged")
    op.execute("DELETE FROM readings WHERE value IS NULL")
    op.alter_column("readings", "value", existing_type=sa.Float(), nullable=False)
