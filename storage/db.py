"""Engine and session factory, and schema migrations (Alembic)."""

import re
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["head_revision", "make_engine", "make_sessionmaker", "migrate", "sqlalchemy_url"]

_MIGRATIONS = Path(__file__).parent / "migrations"


def sqlalchemy_url(url: str) -> str:
    """Normalise a libpq-style ``postgresql://`` URL to the psycopg2 driver."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with a small pool and liveness checks."""
    return create_engine(sqlalchemy_url(url), pool_size=4, max_overflow=4, pool_pre_ping=True)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that never commit on their own: the caller owns the transaction."""
    return sessionmaker(engine, expire_on_commit=False)


def head_revision() -> str:
    """The newest migration's revision, read from the scripts (without importing Alembic)."""
    revisions: set[str] = set()
    replaced: set[str] = set()
    for path in (_MIGRATIONS / "versions").glob("[0-9]*.py"):
        found = dict(_REVISION.findall(path.read_text()))
        revisions.add(found["revision"])
        replaced.add(found.get("down_revision", ""))
    (head,) = revisions - replaced
    return head


_REVISION = re.compile(r'^(revision|down_revision) = "([^"]+)"', re.MULTILINE)


def _current_revision(url: str) -> str | None:
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except ProgrammingError:  # no schema yet
        return None
    finally:
        engine.dispose()


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the schema at ``url`` to ``revision`` with the project's Alembic scripts.

    A schema already at the newest revision is left alone without loading Alembic (the
    CLI's commands run this first, and Alembic takes most of a second to import).
    """
    if revision == "head" and _current_revision(url) == head_revision():
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    command.upgrade(config, revision)
