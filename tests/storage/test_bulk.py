"""COPY through a staging table on the real PostgreSQL: every value comes back as sent."""

import math

import numpy as np
import pytest
from sqlalchemy import text

from gridbrain.storage.bulk import copy_binary, stage_rows
from tests.integration.conftest import Services

pytestmark = pytest.mark.integration

HOSTILE = [
    ("plain", 1.5, 7, None),
    ("", -0.0, 0, "empty string is not NULL"),
    ('quote " comma , semicolon ;', float("nan"), -(2**62), ""),
    ("new\nline\r\ttab \\ backslash", float("inf"), 2**62, "\\N"),
    ("ünïcødé ✓ 𝄞", -1e308, 1, 'JSON {"a": [1, 2]}'),
]


@pytest.mark.parametrize("binary", [False, True], ids=["csv", "binary"])
def test_staged_rows_arrive_exactly(services: Services, binary: bool) -> None:
    with services.sessions() as session:
        session.execute(
            text("CREATE TEMP TABLE copied (a text, b float8, c bigint, d text, n int)")
        )
        for _ in range(2):  # the staging table is reused within a transaction
            stage_rows(
                session,
                f"staged_test_{binary}",
                "a text, b float8, c bigint, d text",
                HOSTILE,
                "INSERT INTO copied SELECT a, b, c, d, "
                f"(SELECT count(*) FROM staged_test_{binary}) FROM staged_test_{binary}",
                binary=binary,
            )
        rows = session.execute(text("SELECT a, b, c, d, n FROM copied")).all()
        session.rollback()
    assert len(rows) == 2 * len(HOSTILE) and {r.n for r in rows} == {len(HOSTILE)}
    for got, sent in zip(rows[: len(HOSTILE)], HOSTILE, strict=True):
        assert (got.a, got.c, got.d) == (sent[0], sent[2], sent[3])
        assert got.b == sent[1] or (math.isnan(got.b) and math.isnan(sent[1]))


def test_binary_arrays_and_integers_arrive_exactly(services: Services) -> None:
    arrays = [
        (1, np.array([1.5, -0.0, float("nan"), float("inf"), -1e308, 5e-324])),
        (-(2**31), np.array([])),
        (2**31 - 1, np.arange(1000) / 7.0),
    ]
    with services.sessions() as session:
        session.execute(text("CREATE TEMP TABLE copied_arrays (i integer, v float8[])"))
        stage_rows(
            session,
            "staged_arrays",
            "i integer, v float8[]",
            arrays,
            "INSERT INTO copied_arrays SELECT i, v FROM staged_arrays",
            binary=True,
        )
        rows = session.execute(text("SELECT i, v FROM copied_arrays ORDER BY i")).all()
        session.rollback()
    assert [r.i for r in rows] == sorted(i for i, _ in arrays)
    for (_, sent), got in zip(sorted(arrays, key=lambda a: a[0]), rows, strict=True):
        np.testing.assert_array_equal(np.array(got.v or [], dtype=float), sent)


def test_binary_copy_refuses_a_type_it_cannot_write() -> None:
    with pytest.raises(ValueError, match="timestamptz"):
        copy_binary(["text", "timestamptz"], [("a", None)])
