"""The US EPA NowCast for particulate matter: a real-time stand-in for the 24-hour mean."""

import math
from collections.abc import Sequence

__all__ = ["nowcast"]


def nowcast(hourly: Sequence[float | None], decimals: int = 1) -> float | None:
    """NowCast of the last 12 hourly means, most recent first (None = missing hour).

    The weight factor is min/max over the available hours, floored at 0.5; each hour is
    weighted by the factor to the power of how many hours ago it was measured. At least
    two of the three most recent hours must be present, else there is no NowCast. The
    result is truncated to ``decimals`` (1 for PM2.5 in ug/m3, 0 for PM10).

    >>> nowcast([71.0] + [0.0] * 11)  # a one-hour pulse after a clean half day
    35.5
    """
    recent = list(hourly[:12])
    if sum(v is not None for v in recent[:3]) < 2:
        return None
    present = [(age, v) for age, v in enumerate(recent) if v is not None]
    values = [v for _, v in present]
    high = max(values)
    weight = 1.0 if high <= 0 else max(min(values) / high, 0.5)
    total = sum(weight**age * v for age, v in present)
    norm = sum(weight**age for age, _ in present)
    scale = 10**decimals
    return math.floor(total / norm * scale + 1e-9) / scale
