from pathlib import Path

import pytest
from pydantic import ValidationError

from gridbrain.errors import ConfigurationError
from gridbrain.processors.alerting.rules import DEFAULT_RULES, Rule, load_rules


def test_shipped_rules_load_and_cover_the_issue() -> None:
    rules = load_rules()
    names = {r.name for r in rules.rules}
    aqi = {r.aqi_table for r in rules.rules if r.expression == "aqi"}
    assert {"pm25", "pm10", "o3_8h", "no2_1h", "so2_1h", "co_8h"} <= aqi
    assert {"pm25_who_24h", "ph_low", "ph_high", "turbidity_high", "dissolved_oxygen_low"} <= names
    kinds = {r.expression for r in rules.rules}
    assert {"stale", "flatline", "deadletter_ratio", "forecast"} <= kinds
    assert rules.inhibit
    assert DEFAULT_RULES.exists()


def test_durations_and_aliases() -> None:
    r = Rule.model_validate(
        {"name": "x", "quantity": "pm25", "threshold": 1, "for": "90s", "window": "24h"}
    )
    assert (r.for_ms, r.window_ms, r.recovers_at) == (90_000, 86_400_000, 1.0)


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"quantity": "nope"}, id="unknown_quantity"),
        pytest.param({"expression": "aqi"}, id="aqi_without_table"),
        pytest.param({"expression": "aqi", "aqi_table": "no2_1h"}, id="table_of_another_pollutant"),
        pytest.param({"recovery": 40}, id="recovery_on_the_wrong_side"),
        pytest.param({"for": "soon"}, id="bad_duration"),
        pytest.param({"labels": {"site_id": "x"}}, id="reserved_label"),
        pytest.param({"colour": "red"}, id="unknown_field"),
        pytest.param({"expression": "deadletter_ratio"}, id="ratio_with_quantity"),
        pytest.param({"message": "{vaule} at {site_id}"}, id="unknown_message_field"),
        pytest.param({"message": "{value:.1z}"}, id="bad_format_spec"),
        pytest.param({"resolved_message": "back at {site}"}, id="unknown_resolved_field"),
    ],
)
def test_invalid_rules_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Rule.model_validate({"name": "x", "quantity": "pm25", "threshold": 35.5, **bad})


def test_bad_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - {name: a, quantity: pm25, threshold: 1}\n"
                    "  - {name: a, quantity: pm25, threshold: 2}\n")  # fmt: skip
    with pytest.raises(ConfigurationError, match="unique"):
        load_rules(path)
    with pytest.raises(ConfigurationError):
        load_rules(tmp_path / "missing.yaml")
