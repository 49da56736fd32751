"""Cue features of a question beside its embedding: tense, numbers and telling words.

A sentence encoder hears "what was the peak load yesterday" and "when will the load peak
tomorrow" as near neighbours; whether the period lies in the past or the future, whether a
threshold or an aggregation is named, and words that belong to one family of questions
tell them apart. The intent head learns how much each cue counts.
"""

import re
from datetime import datetime, timedelta

import numpy as np

from gridbrain.processors.language.slots import Slots

__all__ = ["CUE_NAMES", "cues"]

_WORDS: dict[str, str] = {
    "forecast": r"forecast|predict|expect|outlook|projected|going to|will\b|gonna|da\b|"
    r"day-ahead|day ahead|anticipat|upcoming|coming",
    "measured": r"measured|actual|recorded|observed|was\b|were\b|did\b|reading|metered|real\b",
    "latest": r"current|latest|newest|most recent|right now|\bnow\b|at the moment|live\b|"
    r"last value",
    "when": r"\bwhen\b|what time|which hour|at what hour|what hour|timing|time of|peak time",
    "peak": r"peak|top out|highest|maximum|\bmax\b|at its high",
    "alert": r"alert|alarm|incident|warning|firing|breach|exceed|limit|triggered|going off",
    "history": r"history|timeline|what happened|became of|evolve|state changes|story",
    "count": r"how many|number of|count\b|tally",
    "sites": r"\bsites?\b|stations?|locations?|plants?|monitored|do we have|do you know",
    "battery": r"battery|storage|charg|discharg|dispatch",
    "soc": r"\bsoc\b|state.of.charge|how full|charge level|% charge|percent|level of the",
    "open": r"\bopen\b|active|pending|firing|still|ongoing|unresolved|right now|currently",
    "plan": r"plan|schedule",
    "gaps": r"gap|missing|flagged|interpolat|imputed|filled|suspicious|bad data|drop ?out|hole",
    "rejected": r"reject|dead.?letter|dlq|discard|thrown|refused|invalid|bad message|malformed",
    "quality": r"quality|clean|check|validat|spikes?|duplicates?|flatline|qc\b",
    "model": r"model|algorithm|version|fallback|which method|estimator",
    "uncertainty": r"uncertain|band|spread|confiden|p10|p90|range|interval|how sure|shaky|wide",
    "compare": r"compar|accura|error|\bmae\b|bias|\bvs\b|versus|against|off by|match|how good|"
    r"how close|miss(ed)?\b|deviat",
    "silence": r"silence|mute|snooze|suppress|quiet|acknowledg|on hold",
    "pipeline": r"pipeline|lag|behind|keeping up|throughput|ingest|backlog|healthy|stages?\b",
    "workers": r"worker|partition|consumer group|process(es)?\b|lease|replica",
    "above": r"above|over\b|exceed|more than|greater than|higher than|beyond|>",
    "duration": r"how long|how much time|hours? (above|over)|minutes? (above|over)|for how",
    "total": r"total|sum\b|altogether|in all|cumulative|how much energy",
}
_STEP = timedelta(minutes=15)
_COMPILED = {name: re.compile(pattern) for name, pattern in _WORDS.items()}

#: The cue features, in order.
CUE_NAMES: tuple[str, ...] = (
    "future", "past", "point", "no_period", "threshold", "aggregation", "site", "quantity",
    *_WORDS,
)  # fmt: skip


def cues(
    text: str, slots: Slots, period: tuple[datetime, datetime] | None, now: datetime
) -> np.ndarray:
    """The cue vector of a normalised question (0/1 each, see :data:`CUE_NAMES`)."""
    future = past = point = 0.0
    if period is not None:
        start, end = period
        future = float(start >= now - _STEP)
        past = float(end <= now + _STEP)
        point = float(end - start <= _STEP)
    head = [
        future,
        past,
        point,
        float(period is None),
        float(slots.threshold is not None),
        float(slots.aggregation is not None),
        float(slots.site is not None),
        float(slots.quantity is not None),
    ]
    return np.array(
        head + [float(bool(c.search(text))) for c in _COMPILED.values()], dtype=np.float32
    )
