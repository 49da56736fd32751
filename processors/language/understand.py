"""From a question to an intent and its slots: spelling, slots by rules, intent by embedding.

1. The question is normalised and its misspelt domain words corrected (a word within one or
   two edits of the lexicon: "tommorow" -> "tomorrow").
2. Slots are read by rules (:mod:`slots`, :mod:`times`): the site among the registered ids,
   the quantity, a threshold, an aggregation and the period, in the site's time zone.
3. The site id and numbers are masked, and the question goes to the intent whose training
   phrasings (:mod:`phrasings`) are nearest in the sentence encoder's space (cosine of
   mean-pooled MiniLM embeddings). Below ``min_score`` it is not understood: the answer is
   "I can't answer that" with the nearest intents.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from gridbrain.processors.language.augment import TRAINING_SITES, variants
from gridbrain.processors.language.cues import CUE_NAMES, cues
from gridbrain.processors.language.head import IntentHead, cache_key
from gridbrain.processors.language.intents import INTENTS, intent_named
from gridbrain.processors.language.slots import (
    OUTPUT,
    QUANTITY_WORDS,
    Slots,
    edit_distance,
    find_slots,
    normalise,
)
from gridbrain.processors.language.times import default_period, find_period

__all__ = ["Embed", "SiteInfo", "Understander", "Understanding"]

Embed = Callable[[list[str]], np.ndarray]

#: A site kind's own quantity (what "produce" means there, and the default).
KIND_QUANTITY = {"pv": "pv_power", "wind": "wind_power", "load": "load", "air": "pm25",
                 "market": "price", "water": "dissolved_oxygen"}  # fmt: skip

_LEXICON = sorted(
    {
        "tomorrow", "yesterday", "today", "tonight", "morning", "afternoon", "evening",
        "forecast", "forecasts", "predicted", "prediction", "expected", "average", "maximum",
        "minimum", "battery", "schedule", "charge", "discharge", "readings", "reading",
        "rejected", "alerts", "alert", "alarms", "incident", "incidents", "silenced",
        "silences", "exceedance", "workers", "pipeline", "status", "quality", "flagged",
        "interpolated", "accurate", "accuracy", "uncertain", "uncertainty", "produce",
        "production", "generate", "generation", "consumption", "demand", "between", "history",
        "measured", "currently", "latest", "highest", "lowest", "total", "compare", "model",
        "sites", "stations", "particulate", "temperature", "ozone", "nitrogen", "capacity",
        "state", "hours", "minutes", "weather", "exceed", "above", "below", "last", "week",
        "noon", "midnight", "midday", "peak", "price", "wind", "solar", "gaps", "lag",
        "open", "muted", "snoozed", "active", "pending", "firing", "plan",
        # common words left as they are (a lexicon word one edit away is not meant)
        "site", "consumer", "hour", "past", "many", "much", "what", "with", "were", "have",
        "show", "list", "give", "tell", "from", "that", "this", "they", "been", "does", "when",
        "where", "which", "will", "would", "could", "should", "there", "their", "about",
        "level", "value", "values", "data", "time", "next", "weak", "fast", "rate", "plant",
        *(w for w in QUANTITY_WORDS if " " not in w and len(w) >= 5),
    }
)  # fmt: skip


@dataclass(frozen=True)
class SiteInfo:
    """What the understanding needs of a registered site."""

    kind: str | None = None
    timezone: str | None = None
    battery: bool = False


@dataclass(frozen=True)
class Understanding:
    """What a question asks.

    Attributes:
        intent: the intent's name (None: not understood).
        score: cosine similarity to its nearest phrasing.
        slots: site, quantity, threshold, aggregation.
        period: [start, end) (None: the intent takes none).
        zone: the time zone periods are read in.
        nearest: the three nearest intents and their scores.
        missing: slots the intent needs that the question does not name.
        text: the question as understood (normalised, spelling corrected).
    """

    intent: str | None
    score: float
    slots: Slots
    period: tuple[datetime, datetime] | None
    zone: str
    nearest: tuple[tuple[str, float], ...] = ()
    missing: tuple[str, ...] = ()
    text: str = ""


def correct_spelling(text: str) -> str:
    """Replace words within one (short) or two (long) edits of a lexicon word.

    >>> correct_spelling("show the forcast for tommorow")
    'show the forecast for tomorrow'
    """
    words = re.split(r"(\W+)", text)
    for i, word in enumerate(words):
        if len(word) < 4 or not word.isalpha() or word in _LEXICON:
            continue
        allowed = 1 if len(word) < 7 else 2
        best = min(_LEXICON, key=lambda w: edit_distance(word, w, allowed + 1))
        if edit_distance(word, best, allowed + 1) <= allowed:
            words[i] = best
    return "".join(words)


def _masked(text: str, site_span: tuple[int, int] | None) -> str:
    """``text`` with the site id replaced by "site" and numbers by "9"."""
    if site_span:
        text = text[: site_span[0]] + "site" + text[site_span[1] :]
    return re.sub(r"\d+", "9", text)


@dataclass(frozen=True)
class _Read:
    """A question read by the rules: its text, slots, period and masked form."""

    text: str
    slots: Slots
    found: tuple[datetime, datetime] | None
    zone: ZoneInfo
    masked: str
    info: SiteInfo


def _read(question: str, sites: Mapping[str, SiteInfo], now: datetime) -> _Read:
    text = correct_spelling(normalise(question))
    slots = find_slots(text, sites)
    info = sites.get(slots.site or "", SiteInfo())
    try:
        zone = ZoneInfo(info.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    found = find_period(text, now, zone)
    masked = _masked(text, slots.spans[0] if slots.site else None)
    period = (found.start, found.end) if found else None
    return _Read(text, slots, period, zone, masked, info)


#: Weight of the cue features beside the unit-length embedding.
CUE_WEIGHT = 0.5
_TRAIN_NOW = datetime(2026, 1, 14, 12, 7, tzinfo=ZoneInfo("UTC"))


@dataclass
class Understander:
    """Understands questions (fits its intent head on the phrasings' variants once).

    Args:
        embed: the sentence encoder: texts -> L2-normalised rows.
        min_probability: the least probability of the best intent to answer.
        min_similarity: the least cosine to some phrasing (else: out of the domain); 0.15
            less for a question naming a site, a quantity or a word of the domain.
        cache: where the fitted head and the phrasings' embeddings are kept between runs
            (None: made again every time, a few seconds).
    """

    embed: Embed
    min_probability: float = 0.15
    min_similarity: float = 0.45
    cache: Path | None = None
    _head: IntentHead | None = None
    _phrasings: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def __post_init__(self) -> None:
        pairs = variants()
        key = cache_key(repr(pairs), repr(CUE_NAMES), str(CUE_WEIGHT), _VERSION)
        path = self.cache / f"intent-head-{key}.npz" if self.cache else None
        if path is not None and path.exists():
            self._head, self._phrasings = IntentHead.load(path)
            return
        sites = {site: SiteInfo(kind) for site, kind in TRAINING_SITES.items()}
        reads = [_read(text, sites, _TRAIN_NOW) for text, _ in pairs]
        vectors = self.embed([r.masked for r in reads])
        self._phrasings = np.unique(vectors, axis=0)
        features = np.hstack(
            [vectors, CUE_WEIGHT * np.stack([_cues(r, _TRAIN_NOW) for r in reads])]
        )
        self._head = IntentHead.fit(features, [intent for _, intent in pairs])
        if path is not None:
            self._head.save(path, self._phrasings)

    def understand(
        self, question: str, sites: Mapping[str, SiteInfo], now: datetime
    ) -> Understanding:
        """The intent and slots of ``question`` at ``now``, given the registered sites."""
        assert self._head is not None
        read = _read(question, sites, now)
        vector = self.embed([read.masked])[0]
        similarity = float((self._phrasings @ vector).max())
        features = np.concatenate([vector, CUE_WEIGHT * _cues(read, now)])
        probabilities = self._head.probabilities(features[None, :])[0]
        order = np.argsort(-probabilities)
        ranked = [(self._head.labels[i], float(probabilities[i])) for i in order[:3]]
        name, score = ranked[0]
        nearest = tuple((n, round(p, 3)) for n, p in ranked)
        slots, info, zone = read.slots, read.info, read.zone
        # A question with words of the domain (a site, a quantity, a cue word) may be terse
        # ("QC summary aq-city"); one with none must be near a phrasing to be answered.
        domain = bool(slots.site or slots.quantity or _cues(read, now)[8:].any())
        floor = self.min_similarity - (0.15 if domain else 0.0)
        if score < self.min_probability or similarity < floor:
            return Understanding(None, score, slots, None, zone.key, nearest, (), read.text)
        intent = intent_named(name)
        batteries = [site for site, i in sites.items() if i.battery]
        if name.startswith("battery_") and slots.site is None and len(batteries) == 1:
            slots = replace(slots, site=batteries[0])  # the one battery there is
            info = sites[batteries[0]]
        quantity = slots.quantity
        if quantity == OUTPUT or (quantity is None and slots.site):
            quantity = KIND_QUANTITY.get(info.kind or "")
        uses = set(intent.needs) | set(intent.takes)
        period = None
        if "period" in uses:
            period = read.found or default_period(intent.default_period, now, zone)
        slots = Slots(
            slots.site if "site" in uses else None,
            quantity if "quantity" in uses else None,
            slots.threshold if "threshold" in uses else None,
            slots.aggregation if "aggregation" in uses else None,
            slots.spans,
        )
        missing = tuple(s for s in intent.needs if getattr(slots, s) is None)
        return Understanding(name, score, slots, period, zone.key, nearest, missing, read.text)


_VERSION = "1"


def _cues(read: _Read, now: datetime) -> np.ndarray:
    return cues(read.text, read.slots, read.found, now)


def all_intents() -> list[str]:
    """Every intent's name (for listing what can be asked)."""
    return [i.name for i in INTENTS]
