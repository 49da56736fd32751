import json
from datetime import UTC, datetime

from gridbrain.cli.output import render

ROWS = [{"site": "a", "at": datetime(2024, 1, 1, tzinfo=UTC), "p50": 1.23456, "note": None}]


def test_table_csv_json() -> None:
    table = render(ROWS, "table").splitlines()
    assert table[0].split() == ["site", "at", "p50", "note"]
    assert "1.235" in table[2]
    assert render(ROWS, "csv").splitlines() == [
        "site,at,p50,note",
        "a,2024-01-01T00:00+00:00,1.235,",
    ]
    assert json.loads(render(ROWS, "json"))[0]["at"] == "2024-01-01T00:00:00+00:00"
    assert render([], "table") == "(no rows)"
