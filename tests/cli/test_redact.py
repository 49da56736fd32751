import doctest
from pathlib import Path
from typing import Any

import pytest

import gridbrain.cli.redact
from gridbrain.cli.redact import MASK, mask_url
from gridbrain.settings import Settings


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:secret@h:5432/db", "postgresql://u:***@h:5432/db"),
        (
            "postgresql+psycopg2://gridbrain:s3cr3t@postgres/gridbrain",
            "postgresql+psycopg2://gridbrain:***@postgres/gridbrain",
        ),
        # An unescaped "@" or "/" in the password: all of it is hidden, whichever the reader.
        ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:p/ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:p%40ss@h/db", "postgresql://u:***@h/db"),
        # No user, only a password.
        ("postgresql://:secret@h/db", "postgresql://:***@h/db"),
        # The password as a query parameter (libpq and SQLAlchemy both accept it).
        ("postgresql://u@h/db?password=secret", "postgresql://u@h/db?password=***"),
        (
            "postgresql://u@h/db?sslmode=require&PASSWORD=secret&application_name=gb",
            "postgresql://u@h/db?sslmode=require&PASSWORD=***&application_name=gb",
        ),
        ("postgresql://u:a@h/db?sslpassword=b", "postgresql://u:***@h/db?sslpassword=***"),
        # libpq keyword/value strings.
        ("host=h user=u password=secret dbname=db", "host=h user=u password=*** dbname=db"),
        ("host=h password = 'se cr\\'et' dbname=db", "host=h password = *** dbname=db"),
    ],
)
def test_passwords_are_masked(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@h:5432/db",
        "postgresql://h:5432/db",
        "postgresql:///db?host=/var/run/postgresql",
        # The embedded server's URLs: an empty password is no secret.
        "postgresql://postgres:@/postgres?host=/tmp/pg",
        "postgresql://postgres:@localhost:5433/postgres",
        "postgresql://u@h/db?password=",
        "host=/tmp dbname=db",
        "sqlite:///tmp/x.db",
        "",
    ],
)
def test_urls_without_a_password_are_unchanged(url: str) -> None:
    assert mask_url(url) == url


@pytest.mark.parametrize(
    "junk",
    [
        "not a url secret",
        "::::secret@@@",
        "postgresql://[::1:secret@",
        "u:secret@h/db",  # no scheme
        "\x00\udcff:secret@\n",
        "password='unterminated secret",
        "host=h password=secret' port=1",
        "a" * 10_000 + "://u:secret" + "@" * 10_000,
    ],
)
def test_garbage_does_not_crash_nor_leak(junk: str) -> None:
    masked = mask_url(junk)
    assert isinstance(masked, str)
    assert ("secret" in masked) == junk.startswith("not a url")


def test_host_and_port_are_not_a_password() -> None:
    # Without an "@", "u:secret" reads as host:port (for SQLAlchemy and libpq alike).
    assert mask_url("postgresql://u:secret") == "postgresql://u:secret"


def test_a_non_string_gives_the_mask_alone() -> None:
    not_a_string: Any = b"postgresql://u:secret@h/db"
    assert mask_url(not_a_string) == MASK


def test_doctests() -> None:
    assert doctest.testmod(gridbrain.cli.redact).failed == 0


def test_the_up_banner_hides_the_password(tmp_path: Path) -> None:
    from gridbrain.cli.up import _banner

    url = "postgresql://gridbrain:hunter2@db.example:5432/gridbrain"
    banner = _banner("kafka:9092", url, Settings(state_dir=tmp_path, database_url=url), None)
    assert "hunter2" not in banner
    assert "postgresql://gridbrain:***@db.example:5432/gridbrain" in banner
    assert 'psql "$GRIDBRAIN_DATABASE_URL"' in banner
    embedded = "postgresql://postgres:@/postgres?host=/tmp/pg"
    banner = _banner("127.0.0.1:19092", embedded, Settings(state_dir=tmp_path), None)
    assert f"psql '{embedded}'" in banner
