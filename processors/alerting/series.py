"""Recent hourly means of one series: what rolling means, the NowCast and the AQI read.

Steps are folded into clock hours (sum and count), so a rolling mean is a mean of hourly
means, as the EPA and WHO averages are defined, and hourly and 15-minute series are
treated alike.
"""

import math
from dataclasses import dataclass, field

from gridbrain.processors.alerting.aqi import AQI_TABLES, aqi
from gridbrain.processors.alerting.nowcast import nowcast

__all__ = ["HOUR_MS", "HourlySeries"]

HOUR_MS = 3_600_000
_KEEP_HOURS = 25  # the longest average is 24 hours


@dataclass
class HourlySeries:
    """Sums and counts of a series' values per clock hour, for the last day."""

    hours: dict[int, list[float]] = field(default_factory=dict)

    def add(self, ts_ms: int, value: float) -> None:
        """Fold one step's value into its hour (older hours than a day are dropped)."""
        hour = ts_ms // HOUR_MS
        acc = self.hours.setdefault(hour, [0.0, 0.0])
        acc[0] += value
        acc[1] += 1
        newest = max(self.hours)
        for old in [h for h in self.hours if h <= newest - _KEEP_HOURS]:
            del self.hours[old]

    def hourly(self, end_ms: int, n: int) -> list[float | None]:
        """Means of the ``n`` hours up to the one holding ``end_ms``, most recent first."""
        end = end_ms // HOUR_MS
        out: list[float | None] = []
        for hour in range(end, end - n, -1):
            acc = self.hours.get(hour)
            out.append(acc[0] / acc[1] if acc else None)
        return out

    def mean(self, end_ms: int, window_ms: int, min_coverage: float) -> float | None:
        """Mean of the hourly means over the window (whole hours) ending at ``end_ms``.

        None when fewer than ``min_coverage`` of the hours have data (EPA: 18 of 24).
        """
        n = max(1, math.ceil(window_ms / HOUR_MS))
        present = [v for v in self.hourly(end_ms, n) if v is not None]
        if len(present) < max(1, math.ceil(min_coverage * n - 1e-9)):
            return None
        return sum(present) / len(present)

    def nowcast(self, end_ms: int, decimals: int = 1) -> float | None:
        """The EPA NowCast at ``end_ms`` (None without 2 of the last 3 hours)."""
        return nowcast(self.hourly(end_ms, 12), decimals)

    def aqi(self, end_ms: int, indicator: str) -> tuple[int, str] | None:
        """The AQI and its category by ``indicator`` (a key of ``AQI_TABLES``).

        None where the average cannot be formed (too few hours) or the table does not
        define the index (and no table applies above it).
        """
        spec = AQI_TABLES[indicator]
        if spec.averaging == "nowcast":
            concentration = self.nowcast(end_ms, spec.table.decimals)
        else:
            concentration = self.mean(end_ms, spec.hours * HOUR_MS, 0.75)
        if concentration is None:
            return None
        result = aqi(spec.table, concentration)
        if result is None and spec.above is not None:
            top = spec.table.bands[-1].c_high / spec.table.per_canonical
            return self.aqi(end_ms, spec.above) if concentration > top else None
        return None if result is None else (result[0], result[1].name)

    def export(self) -> dict[str, list[float]]:
        """JSON-ready state."""
        return {str(h): acc for h, acc in self.hours.items()}

    @classmethod
    def restore(cls, data: dict[str, list[float]]) -> "HourlySeries":
        """Inverse of :meth:`export`."""
        return cls({int(h): [float(acc[0]), float(acc[1])] for h, acc in data.items()})
