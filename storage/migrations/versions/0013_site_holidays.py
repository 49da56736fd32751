"""site holidays: the public-holiday calendar of each site (models read it with the time zone)

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sites", sa.Column("holidays", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("sites", "holidays")
