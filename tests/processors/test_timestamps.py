import pytest

from gridbrain.errors import InvalidMessageError
from gridbrain.processors.timestamps import ms_to_datetime, parse_ts_ms


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("2024-05-01T12:00:00+02:00", 1714557600000, id="iso_offset"),
        pytest.param("2024-05-01T10:00:00Z", 1714557600000, id="iso_zulu"),
        pytest.param("2024-05-01T10:00:00.250+00:00", 1714557600250, id="iso_millis"),
        pytest.param(1714557600000, 1714557600000, id="epoch_ms_int"),
        pytest.param(1714557600000.0, 1714557600000, id="epoch_ms_float"),
        pytest.param("2010-01-01T00:00:00-05:00", 1262322000000, id="historic_replay"),
    ],
)
def test_parses(raw: object, expected: int) -> None:
    assert parse_ts_ms(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("2024-05-01T12:00:00", id="naive_iso"),
        pytest.param("yesterday", id="not_a_date"),
        pytest.param(1714557600, id="epoch_seconds"),
        pytest.param(True, id="boolean"),
        pytest.param(None, id="null"),
        pytest.param(float("nan"), id="nan"),
    ],
)
def test_rejects(raw: object) -> None:
    with pytest.raises(InvalidMessageError) as info:
        parse_ts_ms(raw)
    assert info.value.reason == "bad_timestamp"


def test_round_trip_to_datetime() -> None:
    assert ms_to_datetime(1714557600000).isoformat() == "2024-05-01T10:00:00+00:00"


def test_infinite_timestamps_are_bad_timestamps_not_crashes() -> None:
    """JSON's Infinity decodes to a float that int() cannot take."""
    for raw in (float("inf"), float("-inf"), float("nan")):
        with pytest.raises(InvalidMessageError, match="bad_timestamp"):
            parse_ts_ms(raw)
