"""longer model names: a registry kind and a served version fit what registry names allow

A registered model's kind is the name its forecasts record (``forecast_issues.model``,
64 characters: an ensemble names its members), and a served forecast's ``model_version``
is ``NAME:VERSION`` with a registry name of up to 64 characters
(``dissolved_oxygen-lightgbm_calibrated:1`` is already 38). The ``forecasts`` view reads
``model_version``, so it is dropped and created again around the change.

Revision ID: 0014
Revises: 0013
"""

import importlib

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_VIEW = importlib.import_module(
    "gridbrain.storage.migrations.versions.0008_forecast_issues"
).FORECASTS_VIEW


def _widths(kind: int, version: int) -> None:
    op.alter_column("models", "kind", type_=sa.String(kind))
    op.execute("DROP VIEW forecasts")
    op.alter_column("forecast_issues", "model_version", type_=sa.String(version))
    op.execute(_VIEW)


def upgrade() -> None:
    _widths(64, 80)


def downgrade() -> None:
    _widths(32, 32)
