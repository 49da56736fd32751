"""Evaluation of alert rules on history: incidents, flaps, and predictive skill.

A *flap* is an incident that fires again within an hour of resolving. For predictive
alerts, an *exceedance episode* is a run of measured values above the threshold (missing
values do not end it); its *onset* is its first measured exceedance. A predictive
incident is a true positive when a measured exceedance follows its firing within the
forecast horizon; an episode is caught when a predictive incident was firing before its
onset, and the lead time is the onset minus that firing time.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from gridbrain.processors.alerting.lifecycle import AlertState, Change
from gridbrain.processors.alerting.rules import RuleSet

__all__ = [
    "FLAP_MS",
    "IncidentSpan",
    "PredictiveScore",
    "exceedance_onsets",
    "flaps",
    "incident_spans",
    "predictive_score",
    "without_hysteresis",
]

FLAP_MS = 3_600_000


@dataclass(frozen=True)
class IncidentSpan:
    """One incident that fired: its key, rule, and when it fired and resolved."""

    key: str
    rule: str
    fired_ms: int
    resolved_ms: int | None


def incident_spans(changes: Iterable[Change]) -> list[IncidentSpan]:
    """The incidents that fired, from a stream of changes (in order)."""
    fired: dict[str, tuple[str, int]] = {}
    spans = []
    for change in changes:
        key = change.incident.key
        if change.reason == "for_elapsed":
            fired[key] = (change.incident.labels["alertname"], change.at_ms)
        elif change.state is AlertState.RESOLVED and key in fired:
            rule, at = fired.pop(key)
            spans.append(IncidentSpan(key, rule, at, change.at_ms))
    spans += [IncidentSpan(key, rule, at, None) for key, (rule, at) in fired.items()]
    return sorted(spans, key=lambda s: s.fired_ms)


def flaps(spans: list[IncidentSpan], within_ms: int = FLAP_MS) -> dict[str, int]:
    """Per rule: incidents that fired within ``within_ms`` of the previous one resolving."""
    last_resolved: dict[str, int] = {}
    out: dict[str, int] = defaultdict(int)
    for span in spans:
        previous = last_resolved.get(span.key)
        if previous is not None and span.fired_ms - previous <= within_ms:
            out[span.rule] += 1
        if span.resolved_ms is not None:
            last_resolved[span.key] = span.resolved_ms
    return dict(out)


def without_hysteresis(rules: RuleSet) -> RuleSet:
    """The same rules resolving as soon as they stop breaching (no recovery band)."""
    return RuleSet(
        rules=[
            r.model_copy(update={"recovery": None, "keep_firing_for_ms": 0}) for r in rules.rules
        ],
        inhibit=rules.inhibit,
    )


def exceedance_onsets(ts_ms: np.ndarray, values: np.ndarray, threshold: float) -> np.ndarray:
    """Times of the first measured value above ``threshold`` of each episode.

    >>> exceedance_onsets(np.arange(6), np.array([1, 9, np.nan, 9, 1, 9.0]), 5).tolist()
    [1, 5]
    """
    measured = ~np.isnan(values)
    ts, above = ts_ms[measured], values[measured] > threshold
    starts = above & ~np.concatenate([[False], above[:-1]])
    return ts[starts]


@dataclass(frozen=True)
class PredictiveScore:
    """How well a predictive rule warned of measured exceedances.

    Attributes:
        incidents: predictive incidents that fired.
        true_incidents: those with a measured exceedance while firing or within the
            horizon after firing (and after resolving).
        issues: forecast issues scored; firing_issues: of them, with the alert firing.
        issue_precision / issue_recall: per issue, "firing" against "a measured
            exceedance within the horizon".
        episodes: exceedance episodes; caught: those with the alert firing just before
            the onset; median_lead_h: median of onset minus firing time, capped at the
            horizon (None: nothing caught).
    """

    incidents: int
    true_incidents: int
    issues: int
    firing_issues: int
    issue_precision: float
    issue_recall: float
    episodes: int
    caught: int
    median_lead_h: float | None

    @property
    def precision(self) -> float:
        """Share of incidents followed by a measured exceedance."""
        return self.true_incidents / self.incidents if self.incidents else float("nan")

    @property
    def recall(self) -> float:
        """Share of exceedance episodes warned of before their onset."""
        return self.caught / self.episodes if self.episodes else float("nan")


def _any_between(sorted_times: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Whether any time lies in (lo, hi], per pair."""
    return np.searchsorted(sorted_times, hi, side="right") > np.searchsorted(
        sorted_times, lo, side="right"
    )


def predictive_score(
    spans: list[IncidentSpan],
    issued_ms: np.ndarray,
    ts_ms: np.ndarray,
    values: np.ndarray,
    threshold: float,
    horizon_ms: int,
) -> PredictiveScore:
    """Score predictive incidents against the measured series (see the module docstring)."""
    measured = ~np.isnan(values)
    exceed = ts_ms[measured & (values > threshold)]
    end = int(issued_ms[-1]) + horizon_ms if len(issued_ms) else 0
    fired = np.array([s.fired_ms for s in spans], dtype=np.int64)
    until = np.array([end if s.resolved_ms is None else s.resolved_ms for s in spans], np.int64)
    true_incidents = int(_any_between(exceed, fired - 1, until + horizon_ms).sum())
    firing = np.zeros(len(issued_ms), dtype=bool)
    for lo, hi in zip(fired, until, strict=True):
        firing |= (issued_ms >= lo) & (issued_ms < hi)
    truth = _any_between(exceed, issued_ms, issued_ms + horizon_ms)
    hits = int((firing & truth).sum())
    leads = []
    for onset in exceedance_onsets(ts_ms, values, threshold):
        warned = fired[(fired < onset) & (until >= onset)]
        if len(warned):
            leads.append(min(onset - int(warned.min()), horizon_ms))
    return PredictiveScore(
        incidents=len(spans),
        true_incidents=true_incidents,
        issues=len(issued_ms),
        firing_issues=int(firing.sum()),
        issue_precision=hits / firing.sum() if firing.any() else float("nan"),
        issue_recall=hits / truth.sum() if truth.any() else float("nan"),
        episodes=len(exceedance_onsets(ts_ms, values, threshold)),
        caught=len(leads),
        median_lead_h=float(np.median(leads)) / 3_600_000 if leads else None,
    )
