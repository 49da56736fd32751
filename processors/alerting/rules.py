"""Alert rules as data: a YAML file validated into typed rules and inhibition rules.

A rule evaluates one expression per site and quantity and compares it with a threshold::

    rules:
      - name: pm25_aqi_usg
        quantity: pm25
        expression: aqi          # value | mean | nowcast | aqi | stale | flatline
                                 # | deadletter_ratio | forecast
        aqi_table: pm25          # for aqi: pm25, pm10, o3_8h, o3_1h, co_8h, no2_1h, so2_1h
        op: ">"                  # breached when expression > threshold ("<" for lows)
        threshold: 100
        recovery: 90             # resolves only once the expression is back past this
        for: 1h                  # breached this long before it fires
        keep_firing_for: 0s      # keeps firing this long after it recovered
        repeat_interval: 6h      # re-notify a firing alert this often (unset: never)
        severity: warning
        labels: {category: air_quality}
        message: "PM2.5 AQI {value:.0f} ({category}) at {site_id}"
    inhibit:
      - source: {category: sensor_health}
        target: {category: air_quality}
        equal: [site_id, quantity]

Durations are ``<number><unit>`` with s, m, h or d.
"""

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from gridbrain.errors import ConfigurationError
from gridbrain.processors.alerting.aqi import AQI_TABLES
from gridbrain.processors.quantities import QUANTITIES

__all__ = [
    "DEFAULT_RULES",
    "MESSAGE_FIELDS",
    "Expression",
    "InhibitRule",
    "Rule",
    "RuleSet",
    "load_rules",
    "parse_duration_ms",
]

#: The rules shipped with Gridbrain.
DEFAULT_RULES = Path(__file__).with_name("default_rules.yaml")

#: The fields of message templates, with values of their type.
MESSAGE_FIELDS: dict[str, object] = {
    "rule": "pm25_aqi_usg",
    "site_id": "aq-centre",
    "quantity": "pm25",
    "value": 1.0,
    "peak": 1.0,
    "threshold": 1.0,
    "unit": "ug/m3",
    "category": "Moderate",
    "expected_in": "in about 6 h",
    "expected_at": "2026-11-29 18:00 UTC",
    "state": "firing",
}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}

Expression = Literal[
    "value", "mean", "nowcast", "aqi", "stale", "flatline", "deadletter_ratio", "forecast"
]


def parse_duration_ms(value: object) -> int:
    """Milliseconds of a duration such as ``90s``, ``15m``, ``24h`` (a number: ms).

    >>> parse_duration_ms("1h"), parse_duration_ms("1.5m"), parse_duration_ms(0)
    (3600000, 90000, 0)
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    match = _DURATION.match(str(value))
    if match is None:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 15m, 1h, 1d)")
    return int(float(match.group(1)) * _UNIT_MS[match.group(2)])


DurationMs = Annotated[int, BeforeValidator(parse_duration_ms)]


class Rule(BaseModel):
    """One alert rule (see the module docstring for the YAML form).

    Attributes:
        name: the rule's name (label ``alertname`` of its incidents).
        quantity: the quantity it watches (forecast quantity for ``forecast``; none for
            ``deadletter_ratio``, which watches a site's messages).
        expression: what is compared with the threshold: the step's ``value``, a rolling
            ``mean`` over ``window`` (hourly means, ``min_coverage`` of the hours present),
            the EPA ``nowcast``, the EPA ``aqi`` of ``aqi_table``, ``stale`` (hours since
            the quantity's last reading while the site reports), ``flatline`` (1 while
            every reading of the step is flagged as flat-lined), ``deadletter_ratio``
            (share of the site's readings dead-lettered within ``window``) or
            ``forecast`` (the ``quantile`` of the newest forecast: its first value past
            the threshold, else its extreme over the horizon).
        window: averaging window of ``mean`` and ``deadletter_ratio``.
        min_coverage: share of the window's hours that must have data.
        min_count: fewest messages in the window before ``deadletter_ratio`` is judged.
        aqi_table: the EPA breakpoint table of ``aqi``.
        quantile: the forecast quantile of ``forecast`` rules.
        model: only forecasts of this model (unset: any).
        op: ``>`` breaches above the threshold, ``<`` below it.
        threshold: the breach threshold.
        recovery: the value the expression must get back past to resolve (hysteresis);
            defaults to the threshold.
        for_ms: how long the breach must last before the alert fires (YAML ``for``).
        keep_firing_for_ms: how long it keeps firing after recovering.
        repeat_interval_ms: how often a firing alert is notified again (None: once).
        severity: ``info``, ``warning`` or ``critical``.
        labels: extra labels of its incidents (used by silences and inhibition).
        message: ``str.format`` template; fields: site_id, quantity, value, peak,
            threshold, unit, rule, state, category (AQI), expected_in ("in about 6 h",
            "in about 45 min", "now") and expected_at (forecast rules). Checked when the
            rules are loaded.
        resolved_message: the template once resolved (unset: ``message`` of the peak
            value, prefixed with ``resolved:``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    quantity: str | None = None
    expression: Expression = "value"
    window_ms: DurationMs = Field(default=3_600_000, alias="window", gt=0)
    min_coverage: float = Field(default=0.75, gt=0, le=1)
    min_count: int = Field(default=10, ge=1)
    aqi_table: str | None = None
    quantile: Literal["p10", "p50", "p90"] = "p50"
    model: str | None = None
    op: Literal[">", "<"] = ">"
    threshold: float
    recovery: float | None = None
    for_ms: DurationMs = Field(default=0, alias="for", ge=0)
    keep_firing_for_ms: DurationMs = Field(default=0, alias="keep_firing_for", ge=0)
    repeat_interval_ms: DurationMs | None = Field(default=None, alias="repeat_interval", gt=0)
    severity: Literal["info", "warning", "critical"] = "warning"
    labels: dict[str, str] = Field(default_factory=dict)
    message: str = "{rule} at {site_id}: {quantity} {value:.1f} (threshold {threshold})"
    resolved_message: str | None = None

    @field_validator("message", "resolved_message")
    @classmethod
    def _renders(cls, template: str | None) -> str | None:
        if template is not None:
            try:
                template.format(**MESSAGE_FIELDS)
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"message template {template!r}: {exc!r}") from exc
        return template

    @model_validator(mode="after")
    def _consistent(self) -> "Rule":
        if (self.quantity is None) != (self.expression == "deadletter_ratio"):
            raise ValueError("quantity is required by every expression but deadletter_ratio")
        if self.quantity is not None and self.quantity not in QUANTITIES:
            raise ValueError(f"unknown quantity {self.quantity!r}")
        if (self.expression == "aqi") != (self.aqi_table is not None):
            raise ValueError("aqi_table is required by (and only by) the aqi expression")
        if self.aqi_table is not None and self.aqi_table not in AQI_TABLES:
            raise ValueError(f"unknown aqi_table {self.aqi_table!r}; known: {sorted(AQI_TABLES)}")
        if (
            self.aqi_table is not None
            and AQI_TABLES[self.aqi_table].table.pollutant != self.quantity
        ):
            raise ValueError(f"aqi_table {self.aqi_table!r} is not a table of {self.quantity}")
        if self.recovery is not None and (
            self.recovery > self.threshold if self.op == ">" else self.recovery < self.threshold
        ):
            raise ValueError("recovery must lie on the healthy side of the threshold")
        reserved = {"alertname", "site_id", "quantity", "severity"} & self.labels.keys()
        if reserved:
            raise ValueError(f"labels {sorted(reserved)} are set by the engine")
        return self

    @property
    def recovers_at(self) -> float:
        """The recovery threshold (the threshold itself without hysteresis)."""
        return self.threshold if self.recovery is None else self.recovery

    def breached(self, value: float) -> bool:
        """Whether ``value`` breaches the threshold."""
        return value > self.threshold if self.op == ">" else value < self.threshold

    def recovered(self, value: float) -> bool:
        """Whether ``value`` is back past the recovery threshold."""
        edge = self.recovers_at
        return value <= edge if self.op == ">" else value >= edge


class InhibitRule(BaseModel):
    """Firing alerts matching ``source`` mute alerts matching ``target`` (same ``equal`` labels)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: dict[str, str]
    target: dict[str, str]
    equal: list[str] = Field(default_factory=lambda: ["site_id"])


class RuleSet(BaseModel):
    """The rules and inhibition rules of a deployment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: list[Rule]
    inhibit: list[InhibitRule] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _drop_extensions(cls, data: Any) -> Any:
        # Top-level ``x-...`` keys hold YAML anchors shared by rules (as in compose files).
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not str(k).startswith("x-")}
        return data

    @model_validator(mode="after")
    def _unique(self) -> "RuleSet":
        names = [r.name for r in self.rules]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"rule names must be unique: {duplicated}")
        return self


def load_rules(path: Path | None = None) -> RuleSet:
    """Read and validate a rules file (default: the shipped rules).

    Raises:
        ConfigurationError: the file is missing, not YAML, or not a valid rule set.
    """
    path = path or DEFAULT_RULES
    try:
        data: Any = yaml.safe_load(path.read_text())
        return RuleSet.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigurationError(f"alert rules {path}: {exc}") from exc
