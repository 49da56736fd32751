"""Questions in plain words answered from the database: understand, query, reply.

Shared by ``gridbrain ask`` and ``GET /ask``. Understanding is offline (MiniLM from its
wheel, rules for slots); each intent runs its one allow-listed query
(:mod:`storage.answers`) on the API's read-only connection; no SQL is ever generated.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gridbrain.api.database import ApiDatabase
from gridbrain.processors.language.intents import intent_named
from gridbrain.processors.language.replies import reply
from gridbrain.processors.language.understand import SiteInfo, Understander, Understanding
from gridbrain.storage.answers import ANSWER_QUERIES, Ask, site_directory

__all__ = ["Answer", "Asker"]

#: Questions are cut to this many characters before anything reads them.
MAX_QUESTION = 500


@dataclass(frozen=True)
class Answer:
    """What ``ask`` says.

    Attributes:
        answered: False when the question could not be mapped to an intent and its slots.
        sentence: the answer, or "I can't answer that ..." with the nearest intents.
        intent: the intent understood (None: none).
        slots: site, quantity, threshold, aggregation, period (ISO 8601) and zone.
        rows: the rows behind the answer.
        score: how near the question was to the intent's phrasings (cosine).
    """

    answered: bool
    sentence: str
    intent: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    score: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """A JSON-able form (times as ISO 8601)."""
        return {
            "answered": self.answered,
            "intent": self.intent,
            "slots": self.slots,
            "score": round(self.score, 3),
            "sentence": self.sentence,
            "rows": [
                {k: v.isoformat() if isinstance(v, datetime) else v for k, v in r.items()}
                for r in self.rows
            ],
        }


def _slots(u: Understanding) -> dict[str, Any]:
    return {
        "site": u.slots.site,
        "quantity": u.slots.quantity,
        "threshold": u.slots.threshold,
        "aggregation": u.slots.aggregation,
        "period": [t.isoformat() for t in u.period] if u.period else None,
        "zone": u.zone,
    }


def _cannot(u: Understanding, sites: list[str]) -> Answer:
    if u.intent is None:
        offers = "; ".join(intent_named(n).summary for n, _ in u.nearest)
        sentence = f"I can't answer that. The nearest questions I know: {offers}."
    else:
        known = ", ".join(sites[:20]) or "none registered"
        sentence = (
            f"I can't answer that without a {' and a '.join(u.missing)} "
            f"({intent_named(u.intent).summary}; sites: {known})."
        )
    return Answer(False, sentence, u.intent, _slots(u), [], u.score)


class Asker:
    """Answers questions on ``db`` with ``understander``."""

    def __init__(self, db: ApiDatabase, understander: Understander) -> None:
        self.db = db
        self.understander = understander

    def ask(self, question: str, now: datetime | None = None) -> Answer:
        """Understand ``question`` and answer it from the database (read-only)."""
        now = now or datetime.now(UTC)
        with self.db.read() as session:
            directory = site_directory(session)
            sites = {s: SiteInfo(*info) for s, info in directory.items()}
            u = self.understander.understand(question[:MAX_QUESTION], sites, now)
            if u.intent is None or u.missing:
                return _cannot(u, sorted(sites))
            start, end = u.period if u.period else (None, None)
            query = Ask(u.slots.site, u.slots.quantity, start, end, u.slots.threshold, now)
            rows = ANSWER_QUERIES[u.intent](session, query)
        return Answer(True, reply(u, rows), u.intent, _slots(u), rows, u.score)
