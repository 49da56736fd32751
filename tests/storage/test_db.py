"""Migrations: the head read from the scripts is Alembic's, and a current schema is left alone."""

from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

import gridbrain.storage.db as db
from tests.integration.conftest import Services


def test_head_revision_is_alembics_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    assert db.head_revision() == ScriptDirectory.from_config(config).get_current_head()


@pytest.mark.integration
def test_a_schema_at_head_is_not_migrated_again(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    with services.sessions() as session:
        current = session.scalar(text("SELECT version_num FROM alembic_version"))
    assert current == db.head_revision()

    def fail(*_: object) -> None:
        raise AssertionError("Alembic ran on a current schema")

    monkeypatch.setattr("alembic.command.upgrade", fail)
    db.migrate(services.database_url)  # returns without Alembic
