"""fault tolerance: lossless dead letters across broker epochs, sharded counters, workers

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_NOW = sa.text("now()")
_JSONB = postgresql.JSONB(astext_type=sa.Text())


def upgrade() -> None:
    op.create_table(
        "broker_epoch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broker_epoch")),
    )
    op.execute("INSERT INTO broker_epoch (id, epoch) VALUES (1, 0)")
    op.add_column("dead_letters", sa.Column("payload_bytes", sa.LargeBinary(), nullable=True))
    op.add_column(
        "dead_letters", sa.Column("epoch", sa.Integer(), server_default="0", nullable=False)
    )
    op.drop_constraint("uq_dead_letters_topic", "dead_letters", type_="unique")
    op.create_unique_constraint(
        "uq_dead_letters_epoch",
        "dead_letters",
        ["epoch", "topic", "partition", "offset", "item_index"],
    )
    for table, keys in (
        ("stage_counts", ["stage", "topic", "counter"]),
        ("quality_counts", ["site_id", "check"]),
    ):
        op.add_column(table, sa.Column("shard", sa.Integer(), server_default="0", nullable=False))
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, [*keys, "shard"])
    op.create_table(
        "workers",
        sa.Column("worker_id", sa.String(length=128), nullable=False),
        sa.Column("roles", sa.String(length=64), nullable=False),
        sa.Column("partitions", _JSONB, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.Column("retries", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("quarantined", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("started_at", _TS, server_default=_NOW, nullable=False),
        sa.Column("updated_at", _TS, server_default=_NOW, nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_workers")),
    )
    op.create_table(
        "batch_failures",
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("topic", sa.String(length=128), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("updated_at", _TS, server_default=_NOW, nullable=False),
        sa.PrimaryKeyConstraint(
            "stage", "topic", "partition", "offset", name=op.f("pk_batch_failures")
        ),
    )


def downgrade() -> None:
    op.drop_table("batch_failures")
    op.drop_table("workers")
    for table, keys in (
        ("quality_counts", ["site_id", "check"]),
        ("stage_counts", ["stage", "topic", "counter"]),
    ):
        columns = ", ".join(f'"{k}"' for k in keys)
        op.execute(
            f"CREATE TEMP TABLE merged AS SELECT {columns}, sum(value) AS value, "
            f"max(updated_at) AS updated_at FROM {table} GROUP BY {columns}"
        )
        op.execute(f"DELETE FROM {table}")
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.drop_column(table, "shard")
        op.create_primary_key(f"pk_{table}", table, keys)
        op.execute(f"INSERT INTO {table} ({columns}, value, updated_at) SELECT * FROM merged")
        op.execute("DROP TABLE merged")
    op.drop_constraint("uq_dead_letters_epoch", "dead_letters", type_="unique")
    op.drop_column("dead_letters", "epoch")
    op.drop_column("dead_letters", "payload_bytes")
    op.create_unique_constraint(
        "uq_dead_letters_topic", "dead_letters", ["topic", "partition", "offset", "item_index"]
    )
    op.drop_table("broker_epoch")
