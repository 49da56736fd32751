"""site_state: per-site stage state saved with each batch

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_state",
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.String(length=128), nullable=False),
        sa.Column("state", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("stage", "site_id", name=op.f("pk_site_state")),
    )


def downgrade() -> None:
    op.drop_table("site_state")
