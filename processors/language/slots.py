"""Slots of a question: site, quantity, threshold and aggregation, read by rules.

Sites come only from the registered ids (a word within two edits of one is taken as it),
quantities and aggregations only from fixed vocabularies, thresholds are numbers: nothing
from the question reaches a query but a value drawn from these sets or a number.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["OUTPUT", "QUANTITY_WORDS", "Slots", "edit_distance", "find_slots", "normalise"]

#: What a site makes ("produce", "output"): its own quantity (pv_power or wind_power).
OUTPUT = "(output)"

#: Words (lower case) that name a quantity.
QUANTITY_WORDS: dict[str, str] = {
    "pv": "pv_power", "solar": "pv_power", "pv power": "pv_power", "photovoltaic": "pv_power",
    "produce": OUTPUT, "production": OUTPUT, "generate": OUTPUT, "generation": OUTPUT,
    "output": OUTPUT, "yield": OUTPUT, "power": OUTPUT, "energy": OUTPUT,
    "wind": "wind_power", "wind power": "wind_power", "turbine": "wind_power",
    "load": "load", "demand": "load", "consumption": "load", "consume": "load", "usage": "load",
    "price": "price", "prices": "price", "tariff": "price", "cost": "price",
    "pm2.5": "pm25", "pm 2.5": "pm25", "pm25": "pm25", "pm2,5": "pm25", "particulate": "pm25",
    "particulates": "pm25", "fine particles": "pm25", "pm10": "pm10", "pm 10": "pm10",
    "no2": "no2", "nitrogen dioxide": "no2", "o3": "o3", "ozone": "o3", "so2": "so2",
    "sulphur dioxide": "so2", "sulfur dioxide": "so2",
    "temperature": "temperature", "temp": "temperature", "degrees": "temperature",
    "celsius": "temperature",
}  # fmt: skip

_AGGREGATIONS = {
    "average": "mean", "avg": "mean", "mean": "mean", "typical": "mean",
    "max": "max", "maximum": "max", "peak": "max", "highest": "max", "most": "max",
    "min": "min", "minimum": "min", "lowest": "min", "least": "min",
    "total": "sum", "sum": "sum", "altogether": "sum", "cumulative": "sum",
}  # fmt: skip
_THRESHOLD = re.compile(
    r"(?:\b(?:above|over|exceed(?:s|ed|ing)?|more than|greater than|higher than|beyond|"
    r"below|under|less than)|>=?|≥)\s*(-?\d+(?:[.,]\d+)?)(?!\s*(?:hours?|days?|h\b|min))"
)
_SITE_TOKEN = re.compile(r"[a-z0-9][a-z0-9_.-]*[a-z0-9]|[a-z0-9]")


@dataclass(frozen=True)
class Slots:
    """What a question names besides its intent.

    Attributes:
        site: a registered site id.
        quantity: a canonical quantity.
        threshold: a number the question compares with.
        aggregation: mean, max, min or sum.
        spans: the character spans the slots were read from.
    """

    site: str | None = None
    quantity: str | None = None
    threshold: float | None = None
    aggregation: str | None = None
    spans: tuple[tuple[int, int], ...] = ()


def normalise(question: str) -> str:
    r"""Lower case, printable, single-spaced, at most 500 characters.

    >>> normalise("  What WILL\tpv-north\x00 produce?? ")
    'what will pv-north produce??'
    """
    text = "".join(c if c.isprintable() else " " for c in question[:500])
    return " ".join(text.lower().split())


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Levenshtein distance with adjacent swaps (Damerau), capped at ``limit``.

    >>> edit_distance("pv-nroth", "pv-north"), edit_distance("feeder-a", "feeder-b")
    (1, 1)
    """
    if abs(len(a) - len(b)) >= limit:
        return limit
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return min(previous[-1], limit)


def _find_site(text: str, sites: Iterable[str]) -> tuple[str, tuple[int, int]] | None:
    """The registered site a word of ``text`` names (exactly, or within 2 edits)."""
    known = sorted(set(sites), key=len, reverse=True)
    for site in known:  # exact, longest first (so feeder-a does not match inside feeder-ab)
        # "feeder-a" is also written "feeder a", "feeder_a" or "feedera".
        parts = [re.escape(p) for p in re.split(r"[-_ ]", site.lower())]
        pattern = r"[-_ ]?".join(parts)
        match = re.search(rf"(?<![a-z0-9_-]){pattern}(?![a-z0-9_-])", text)
        if match:
            return site, match.span()
    near: list[tuple[int, str, tuple[int, int]]] = []
    for token in _SITE_TOKEN.finditer(text):
        word = token.group(0)
        if len(word) < 4 or word in QUANTITY_WORDS:
            continue
        for site in known:
            allowed = 1 if len(site) < 6 else 2
            distance = edit_distance(word, site.lower())
            if distance <= allowed:
                near.append((distance, site, token.span()))
    if not near:
        return None
    best = min(d for d, _, _ in near)
    closest = {(site, span) for d, site, span in near if d == best}
    # Two sites equally near ("feeder-2": feeder-a or feeder-b?) is not a site: no guess.
    return next(iter(closest)) if len({s for s, _ in closest}) == 1 else None


def _find_quantity(text: str) -> tuple[str, tuple[int, int]] | None:
    for word in sorted(QUANTITY_WORDS, key=len, reverse=True):
        match = re.search(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", text)
        if match:
            return QUANTITY_WORDS[word], match.span()
    return None


def find_slots(text: str, sites: Iterable[str]) -> Slots:
    """The slots of a normalised question, given the registered site ids."""
    spans: list[tuple[int, int]] = []
    site = _find_site(text, sites)
    if site:
        spans.append(site[1])
    rest = (
        text
        if not site
        else text[: site[1][0]] + " " * (site[1][1] - site[1][0]) + text[site[1][1] :]
    )
    quantity = _find_quantity(rest)
    if quantity:
        spans.append(quantity[1])
    threshold = _THRESHOLD.search(rest)
    if threshold:
        spans.append(threshold.span(1))
    aggregation = None
    for word, kind in _AGGREGATIONS.items():
        match = re.search(rf"\b{word}\b", rest)
        if match:
            aggregation = kind
            break
    return Slots(
        site[0] if site else None,
        quantity[0] if quantity else None,
        float(threshold.group(1).replace(",", ".")) if threshold else None,
        aggregation,
        tuple(spans),
    )
