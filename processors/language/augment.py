"""Variants of the training phrasings: other sites, other time expressions, typos.

Each phrasing is taken as written, with its ``{site}`` filled by sites of a fitting kind,
with its time expression swapped for others of the same tense, and with one typo. The
intent head then sees the cues (tense, numbers) and the words in many combinations.
"""

import random
import re

from gridbrain.processors.language.phrasings import PHRASINGS

__all__ = ["TRAINING_SITES", "variants"]

#: Sites the variants name (the masking makes the id itself irrelevant to the intent).
TRAINING_SITES = {"pv-north": "pv", "wind-coast": "wind", "feeder-a": "load", "aq-port": "air"}

_FUTURE = ("tomorrow", "tonight", "in the next 6 hours", "tomorrow at noon", "at 18:00",
           "this evening", "tomorrow morning", "over the next 2 days", "tomorrow at 7pm",
           "between 16 and 20")  # fmt: skip
_PAST = ("yesterday", "last week", "in the past 24 hours", "last night", "this morning",
         "over the last 3 days", "yesterday between 8 and 12", "in the past week")  # fmt: skip
_TIME = re.compile(
    r"\b(tomorrow( (morning|afternoon|evening))?( at \w+)?|tonight( at [\w:]+)?|yesterday|"
    r"today|last (week|night)|this (morning|afternoon|evening|week)|(in|over) the (next|past|"
    r"last) [\w ]*?(hours|days|week)|at (noon|midday|midnight|[\d:]+( ?[ap]m)?))\b"
)
_FUTURE_INTENTS = ("forecast_at", "forecast_summary", "forecast_peak", "forecast_uncertainty",
                   "battery_schedule", "battery_soc")  # fmt: skip
_PAST_INTENTS = ("forecast_vs_actual", "reading_summary", "reading_above", "reading_gaps",
                 "alert_sites", "alert_count", "rejected_readings")  # fmt: skip


def _typo(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    choices = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not choices:
        return text
    i = rng.choice(choices)
    word = words[i]
    at = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        word = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    elif kind == 1:
        word = word[:at] + word[at + 1 :]
    else:
        word = word[:at] + word[at] + word[at:]
    words[i] = word
    return " ".join(words)


def variants(seed: int = 0) -> list[tuple[str, str]]:
    """(question, intent) pairs: every phrasing and its variants."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    for intent, phrasings in PHRASINGS.items():
        pool = _FUTURE if intent in _FUTURE_INTENTS else _PAST if intent in _PAST_INTENTS else ()
        for phrasing in phrasings:
            for site in list(TRAINING_SITES)[: 2 if "{site}" in phrasing else 1]:
                text = phrasing.replace("{site}", site)
                out.append((text, intent))
                out.append((_typo(text, rng), intent))
                if pool and _TIME.search(text):
                    for when in rng.sample(pool, 2):
                        out.append((_TIME.sub(when, text, count=1), intent))
                elif pool:
                    out.append((f"{text} {rng.choice(pool)}", intent))
    return out
