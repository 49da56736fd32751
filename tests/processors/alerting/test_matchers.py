import pytest

from gridbrain.processors.alerting.matchers import Silence, inhibited, parse_matcher, silenced
from gridbrain.processors.alerting.rules import InhibitRule

LABELS = {"alertname": "pm25_aqi_usg", "site_id": "beijing-1", "quantity": "pm25"}


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("site_id=beijing-1", True),
        ("site_id!=beijing-1", False),
        ("site_id=~beijing-.*", True),
        ("site_id!~beijing-.*", False),
        ("alertname=~pm25", False),  # regexes match the whole value
        ("missing=", True),  # an absent label is the empty string
    ],
)
def test_matchers(text: str, matches: bool) -> None:
    assert parse_matcher(text).matches(LABELS) is matches


@pytest.mark.parametrize("bad", ["site_id", "=x", "site_id=~(", "1abc=x"])
def test_bad_matchers(bad: str) -> None:
    with pytest.raises(Exception, match=r"matcher|unterminated|missing"):
        parse_matcher(bad)


def test_silence_applies_only_inside_its_window_and_to_all_matchers() -> None:
    s = Silence(1, (parse_matcher("site_id=beijing-1"), parse_matcher("quantity=pm25")), 100, 200)
    assert silenced(LABELS, [s], 150)
    assert not silenced(LABELS, [s], 99) and not silenced(LABELS, [s], 200)
    other = Silence(2, (parse_matcher("site_id=beijing-1"), parse_matcher("quantity=no2")), 0, 999)
    assert not silenced(LABELS, [other], 150)


def test_inhibition_needs_equal_labels() -> None:
    rule = InhibitRule(
        source={"category": "sensor_health"},
        target={"category": "air_quality"},
        equal=["site_id", "quantity"],
    )
    target = {**LABELS, "category": "air_quality"}
    stale = {"alertname": "pm25_stale", "site_id": "beijing-1", "quantity": "pm25",
             "category": "sensor_health"}  # fmt: skip
    assert inhibited(target, [stale], [rule])
    assert not inhibited(target, [{**stale, "quantity": "no2"}], [rule])
    assert not inhibited(target, [{**stale, "site_id": "elsewhere"}], [rule])
    assert not inhibited(stale, [target], [rule])
