"""COPY through a staging table on the real PostgreSQL: every value comes back as sent."""

import math

import pytest
from sqlalchemy import text

from gridbrain.storage.bulk import stage_rows
from tests.integration.conftest import Services

pytestmark = pytest.mark.integration

HOSTILE = [
    ("plain", 1.5, 7, None),
    ("", -0.0, 0, "empty string is not NULL"),
    ('quote " comma , semicolon ;', float("nan"), -(2**62), ""),
    ("new\nline\r\ttab \\ backslash", float("inf"), 2**62, "\\N"),
    ("ünïcødé ✓ 𝄞", -1e308, 1, 'JSON {"a": [1, 2]}'),
]


def test_staged_rows_arrive_exactly(services: Services) -> None:
    with services.sessions() as session:
        session.execute(
            text("CREATE TEMP TABLE copied (a text, b float8, c bigint, d text, n int)")
        )
        for _ in range(2):  # the staging table is reused within a transaction
            stage_rows(
                session,
                "staged_test",
                "a text, b float8, c bigint, d text",
                HOSTILE,
                "INSERT INTO copied SELECT a, b, c, d, (SELECT count(*) FROM staged_test) "
                "FROM staged_test",
            )
        rows = session.execute(text("SELECT a, b, c, d, n FROM copied")).all()
        session.rollback()
    assert len(rows) == 2 * len(HOSTILE) and {r.n for r in rows} == {len(HOSTILE)}
    for got, sent in zip(rows[: len(HOSTILE)], HOSTILE, strict=True):
        assert (got.a, got.c, got.d) == (sent[0], sent[2], sent[3])
        assert got.b == sent[1] or (math.isnan(got.b) and math.isnan(sent[1]))
