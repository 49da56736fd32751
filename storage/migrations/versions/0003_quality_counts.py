"""quality_counts: per-site counts of what each cleaning check did

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quality_counts",
        sa.Column("site_id", sa.String(length=128), nullable=False),
        sa.Column("check", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("site_id", "check", name=op.f("pk_quality_counts")),
    )


def downgrade() -> None:
    op.drop_table("quality_counts")
