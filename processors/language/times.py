"""Time expressions in questions -> a period [start, end) in a time zone.

Pure: ``now`` and the zone are given. Rules (see :mod:`intents`): named days, parts of a
day, rolling windows, "between A and B", and points in time as one 15-minute step.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["STEP", "Found", "default_period", "find_period", "step_of"]

STEP = timedelta(minutes=15)

_DAY_OFFSET = {"today": 0, "tonight": 0, "tomorrow": 1, "yesterday": -1}
_PARTS = {"morning": (6, 12), "afternoon": (12, 18), "evening": (18, 24), "night": (18, 30)}
_UNITS = {"minute": 1 / 60, "min": 1 / 60, "hour": 1.0, "hr": 1.0, "h": 1.0, "day": 24.0}
_UNITS["week"] = 168.0
_WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
_WORD_NUMBERS |= {"eight": 8, "nine": 9, "ten": 10, "twelve": 12, "a": 1, "an": 1}
_LONGEST_H = 24 * 366 * 10
_CLOCK = r"(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?"


@dataclass(frozen=True)
class Found:
    """A period and the text it was read from (removed before the intent is judged)."""

    start: datetime
    end: datetime
    spans: tuple[tuple[int, int], ...]


def step_of(moment: datetime) -> tuple[datetime, datetime]:
    """The 15-minute step holding ``moment``."""
    start = moment.replace(minute=moment.minute // 15 * 15, second=0, microsecond=0)
    return start, start + STEP


def _midnight(now: datetime, days: int) -> datetime:
    day = (now + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, tzinfo=now.tzinfo)


def _hour(text_hour: str, minutes: str | None, meridiem: str | None) -> float | None:
    hour = int(text_hour)
    if meridiem:
        if hour > 12:
            return None
        hour = hour % 12 + (12 if meridiem.startswith("p") else 0)
    if hour > 24:
        return None
    minute = int(minutes) if minutes else 0
    return None if minute > 59 else hour + minute / 60


def _at(day: datetime, hours: float) -> datetime:
    """Wall-clock ``hours`` after the local midnight ``day`` (past 24: the next day)."""
    return day + timedelta(hours=hours)


def find_period(text: str, now: datetime, zone: ZoneInfo) -> Found | None:
    """The period ``text`` names (lower-cased), in ``zone``; None when it names none."""
    local = now.astimezone(zone)
    day_word = re.search(r"\b(today|tonight|tomorrow|yesterday|last night|this)\b", text)
    offset = 0
    spans: list[tuple[int, int]] = []
    if day_word:
        word = day_word.group(1)
        offset = -1 if word == "last night" else _DAY_OFFSET.get(word, 0)
        spans.append(day_word.span())
    day = _midnight(local, offset)

    rolling = re.search(
        r"\b(last|past|previous|next|coming|within the next|over the next|over the last)\s+"
        r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|a|an)?\s*"
        r"(minute|min|hour|hr|h|day|week)s?\b",
        text,
    )
    if rolling:
        count = rolling.group(2)
        n = float(_WORD_NUMBERS.get(count, 0) or (int(count) if count and count.isdigit() else 1))
        hours = n * _UNITS[rolling.group(3)]
        if hours > _LONGEST_H:
            return None  # "the last 99999999 days" is no period anyone keeps
        spans.append(rolling.span())
        if rolling.group(1) in ("next", "coming", "within the next", "over the next"):
            return Found(local, local + timedelta(hours=hours), tuple(spans))
        return Found(local - timedelta(hours=hours), local, tuple(spans))

    between = re.search(
        rf"\b(?:between|from)\s+{_CLOCK}\s*(?:and|to|until|till|-)\s*{_CLOCK}", text
    )
    if between:
        a = _hour(between.group(1), between.group(2), between.group(3))
        b = _hour(between.group(4), between.group(5), between.group(6) or between.group(3))
        if a is not None and b is not None and b > a:
            spans.append(between.span())
            return Found(_at(day, a), _at(day, b), tuple(spans))

    text = re.sub(  # "at 6 in the evening" -> "at 6pm"
        r"\b(\d{1,2})\s+(?:in the|this)\s+(morning|afternoon|evening|night)",
        lambda m: m.group(1) + ("am" if m.group(2) == "morning" else "pm"),
        text,
    )
    point = re.search(rf"\b(?:at|@|around|by)\s+(noon|midday|midnight|{_CLOCK})", text)
    if point:
        word = point.group(1)
        at = {"noon": 12.0, "midday": 12.0, "midnight": 24.0}.get(word)
        if at is None:
            at = _hour(point.group(2), point.group(3), point.group(4))
        if at is not None:
            spans.append(point.span())
            start = _at(day, at)
            return Found(start, start + STEP, tuple(spans))

    part = re.search(r"\b(morning|afternoon|evening|night)\b", text)
    if day_word and day_word.group(1) == "tonight" and not part:
        first, last = _PARTS["night"]
        return Found(_at(day, first), _at(day, last), tuple(spans))
    if part and (day_word or re.search(r"\bthis\s+" + part.group(1), text)):
        first, last = _PARTS[part.group(1)]
        if day_word and day_word.group(1) == "last night":
            first, last = _PARTS["night"]
        spans.append(part.span())
        return Found(_at(day, first), _at(day, last), tuple(spans))
    if day_word and day_word.group(1) == "last night":
        first, last = _PARTS["night"]
        return Found(_at(day, first), _at(day, last), tuple(spans))

    if re.search(r"\b(last|past|previous)\s+week\b", text):
        match = re.search(r"\b(last|past|previous)\s+week\b", text)
        assert match is not None
        return Found(local - timedelta(days=7), local, (match.span(),))
    if re.search(r"\b(now|currently|right now|at the moment|at present)\b", text):
        match = re.search(r"\b(right now|now|currently|at the moment|at present)\b", text)
        assert match is not None
        start, end = step_of(local)
        return Found(start, end, (match.span(),))
    if day_word and day_word.group(1) != "this":
        return Found(day, _midnight(local, offset + 1), tuple(spans))
    return None


def default_period(kind: str, now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    """An intent's period when the question names none (see :mod:`intents`)."""
    local = now.astimezone(zone)
    if kind == "next_24h":
        return local, local + timedelta(hours=24)
    if kind == "last_24h":
        return local - timedelta(hours=24), local
    if kind == "last_7d":
        return local - timedelta(days=7), local
    if kind == "today":
        return _midnight(local, 0), _midnight(local, 1)
    if kind == "tonight":
        day = _midnight(local, 0)
        return _at(day, 18), _at(day, 30)
    if kind == "now":
        return step_of(local)
    return None
