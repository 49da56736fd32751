"""Silences and inhibition: which incidents' notifications are muted, and why.

A silence is a set of label matchers and a time window (wall clock, as in Alertmanager);
an incident whose labels match every matcher during the window is not notified. An
inhibition rule mutes incidents matching its ``target`` while an incident matching its
``source`` with the same values of the ``equal`` labels is firing.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from gridbrain.processors.alerting.rules import InhibitRule

__all__ = ["Matcher", "Silence", "inhibited", "parse_matcher", "silenced"]

MatchOp = Literal["=", "!=", "=~", "!~"]
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Matcher:
    """``label op value``; ``=~`` and ``!~`` match the whole value against a regex."""

    label: str
    op: MatchOp
    value: str

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether the labels satisfy the matcher (a missing label is the empty string)."""
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f"{self.label}{self.op}{self.value}"


def parse_matcher(text: str) -> Matcher:
    """Parse ``label=value``, ``label!=value``, ``label=~regex`` or ``label!~regex``.

    >>> parse_matcher("site_id=~beijing-.*")
    Matcher(label='site_id', op='=~', value='beijing-.*')

    Raises:
        ValueError: not a matcher, or an invalid regex.
    """
    match = _MATCHER.match(text)
    if match is None:
        raise ValueError(f"not a matcher: {text!r} (use label=value, !=, =~ or !~)")
    label, op, value = match.groups()
    if op in ("=~", "!~"):
        re.compile(value)
    return Matcher(label, op, value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Silence:
    """Matchers and a wall-clock window [starts_ms, ends_ms)."""

    id: int
    matchers: tuple[Matcher, ...]
    starts_ms: int
    ends_ms: int

    def active(self, now_ms: int) -> bool:
        """Whether the window covers ``now_ms``."""
        return self.starts_ms <= now_ms < self.ends_ms


def silenced(labels: dict[str, str], silences: Iterable[Silence], now_ms: int) -> bool:
    """Whether an active silence matches the labels."""
    return any(s.active(now_ms) and all(m.matches(labels) for m in s.matchers) for s in silences)


def _subset(wanted: dict[str, str], labels: dict[str, str]) -> bool:
    for k, v in wanted.items():  # noqa: SIM110 - a plain loop is faster (hot path)
        if labels.get(k) != v:
            return False
    return True


def inhibited(
    labels: dict[str, str], firing: Iterable[dict[str, str]], rules: Iterable[InhibitRule]
) -> bool:
    """Whether a firing incident (``firing``: their labels) inhibits one with ``labels``."""
    firing = list(firing)
    if not firing:
        return False
    for rule in rules:
        if not _subset(rule.target, labels):
            continue
        for source in firing:
            if source is labels or not _subset(rule.source, source):
                continue
            if all(source.get(name) == labels.get(name) for name in rule.equal):
                return True
    return False
