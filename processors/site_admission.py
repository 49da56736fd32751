"""Which sites a worker takes on: the unknown-site policy and its rate of new sites.

A worker keeps memory for every site it takes on, so site ids must not be free for anyone
to mint: with policy ``registered`` only sites already in the ``sites`` table are taken;
with ``auto`` a site met for the first time is also taken, but at most ``per_hour`` of
them an hour (a token bucket: it starts full, holds at most ``per_hour`` tokens and refills
continuously). A registered site is always taken and spends no token.

>>> admission = SiteAdmission("auto", per_hour=2)
>>> decision = admission.decide({"new-a", "new-b", "new-c", "pv-1"}, {"pv-1"}, now_s=0.0)
>>> sorted(decision.admitted), sorted(decision.refused)
(['new-a', 'new-b', 'pv-1'], ['new-c'])
>>> sorted(admission.decide({"new-c"}, set(), now_s=1800.0).admitted)  # half an hour: 1 token
['new-c']
>>> SiteAdmission("registered", per_hour=0).decide({"x"}, set(), now_s=0.0).admitted
frozenset()
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Decision", "Policy", "SiteAdmission", "TokenBucket"]

Policy = Literal["auto", "registered"]

_HOUR_S = 3600.0


@dataclass
class TokenBucket:
    """``per_hour`` tokens an hour, refilled continuously; holds at most ``per_hour``.

    It starts full, so a worker can take on a burst of ``per_hour`` at once.

    >>> bucket = TokenBucket(per_hour=1)
    >>> bucket.take(0.0), bucket.take(0.0), bucket.take(3600.0)
    (True, False, True)
    """

    per_hour: float
    tokens: float = field(init=False)
    updated_s: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.per_hour)

    def take(self, now_s: float) -> bool:
        """Spend one token if there is one (refilled up to ``now_s``, seconds)."""
        if self.updated_s is not None and now_s > self.updated_s:
            refill = (now_s - self.updated_s) * self.per_hour / _HOUR_S
            self.tokens = min(float(self.per_hour), self.tokens + refill)
        if self.updated_s is None or now_s > self.updated_s:
            self.updated_s = now_s
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass(frozen=True)
class Decision:
    """The sites taken on, and each refused site with the reason in words."""

    admitted: frozenset[str]
    refused: dict[str, str]


class SiteAdmission:
    """Decides which sites met for the first time a worker takes on.

    Args:
        policy: ``auto`` (any site, new ones within the rate) or ``registered``.
        per_hour: new (unregistered) sites taken per hour in ``auto`` mode; 0 = unlimited.
    """

    def __init__(self, policy: Policy, per_hour: int) -> None:
        if policy not in ("auto", "registered"):
            raise ValueError(f"unknown site policy {policy!r}")
        if per_hour < 0:
            raise ValueError("per_hour must be >= 0")
        self.policy = policy
        self.per_hour = per_hour
        self._bucket = TokenBucket(per_hour) if per_hour else None

    def decide(self, sites: Iterable[str], registered: Collection[str], now_s: float) -> Decision:
        """Take on or refuse ``sites``, met for the first time.

        ``registered`` holds those of them in the ``sites`` table. Tokens are spent in
        sorted site order, so a decision does not depend on the order readings came in.
        """
        admitted: set[str] = set()
        refused: dict[str, str] = {}
        for site in sorted(set(sites)):
            if site in registered:
                admitted.add(site)
            elif self.policy == "registered":
                refused[site] = (
                    f"site {site!r} is not registered and the site policy is 'registered' "
                    "(register it with `gridbrain sites load`)"
                )
            elif self._bucket is None or self._bucket.take(now_s):
                admitted.add(site)
            else:
                refused[site] = (
                    f"site {site!r} is new and this worker has taken on its limit of "
                    f"{self.per_hour} new sites per hour (GRIDBRAIN_NEW_SITES_PER_HOUR; "
                    "register it with `gridbrain sites load`)"
                )
        return Decision(frozenset(admitted), refused)
