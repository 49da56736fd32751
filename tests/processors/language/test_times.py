from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from gridbrain.processors.language.slots import find_slots, normalise
from gridbrain.processors.language.times import default_period, find_period
from gridbrain.processors.language.understand import correct_spelling

NOW = datetime(2026, 12, 2, 15, 20, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")
MADRID = ZoneInfo("Europe/Madrid")


def period(text: str, zone: ZoneInfo = UTC_ZONE) -> tuple[str, str] | None:
    found = find_period(normalise(text), NOW, zone)
    return (found.start.isoformat(), found.end.isoformat()) if found else None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tomorrow at noon", ("2026-12-03T12:00:00+00:00", "2026-12-03T12:15:00+00:00")),
        ("at 6pm", ("2026-12-02T18:00:00+00:00", "2026-12-02T18:15:00+00:00")),
        ("tomorrow at 07:30", ("2026-12-03T07:30:00+00:00", "2026-12-03T07:45:00+00:00")),
        ("yesterday", ("2026-12-01T00:00:00+00:00", "2026-12-02T00:00:00+00:00")),
        ("tonight", ("2026-12-02T18:00:00+00:00", "2026-12-03T06:00:00+00:00")),
        ("last night", ("2026-12-01T18:00:00+00:00", "2026-12-02T06:00:00+00:00")),
        ("tomorrow morning", ("2026-12-03T06:00:00+00:00", "2026-12-03T12:00:00+00:00")),
        ("this afternoon", ("2026-12-02T12:00:00+00:00", "2026-12-02T18:00:00+00:00")),
        ("last week", ("2026-11-25T15:20:00+00:00", "2026-12-02T15:20:00+00:00")),
        ("the past 6 hours", ("2026-12-02T09:20:00+00:00", "2026-12-02T15:20:00+00:00")),
        ("next two days", ("2026-12-02T15:20:00+00:00", "2026-12-04T15:20:00+00:00")),
        ("between 10 and 14", ("2026-12-02T10:00:00+00:00", "2026-12-02T14:00:00+00:00")),
        ("tomorrow from 2pm to 6pm", ("2026-12-03T14:00:00+00:00", "2026-12-03T18:00:00+00:00")),
        ("right now", ("2026-12-02T15:15:00+00:00", "2026-12-02T15:30:00+00:00")),
        ("how are things", None),
    ],
)
def test_time_expressions(text: str, expected: tuple[str, str] | None) -> None:
    assert period(text) == expected


def test_periods_are_read_in_the_site_zone() -> None:
    assert period("tomorrow", MADRID) == ("2026-12-03T00:00:00+01:00", "2026-12-04T00:00:00+01:00")
    assert period("at noon", MADRID) == ("2026-12-02T12:00:00+01:00", "2026-12-02T12:15:00+01:00")
    start, end = default_period("next_24h", NOW, MADRID) or (NOW, NOW)
    assert start == NOW and (end - start).total_seconds() == 86_400


def test_slots_take_only_known_values() -> None:
    sites = ["pv-north", "feeder-a", "feeder-b", "aq-port"]
    slots = find_slots(normalise("How long was PM2.5 over 35,5 at aq-port?"), sites)
    assert (slots.site, slots.quantity, slots.threshold) == ("aq-port", "pm25", 35.5)
    assert find_slots("forecast for pv-nroth", sites).site == "pv-north"
    assert find_slots("what happened at feeder-2", sites).site is None  # a or b? no guess
    assert find_slots("'; drop table sites; --", sites).site is None
    assert find_slots("peak demand at feeder-a", sites).aggregation == "max"


def test_spelling_of_domain_words_is_corrected() -> None:
    assert correct_spelling("forcast for tommorow") == "forecast for tomorrow"
    assert correct_spelling("yesterdy batery") == "yesterday battery"
