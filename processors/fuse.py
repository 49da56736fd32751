"""Fusion of closed sensor steps with the latest weather of their site (as-of join)."""

import bisect
from collections import defaultdict
from dataclasses import dataclass, field

from processors.resample import ClosedStep
from processors.validate import WeatherObservation

__all__ = ["FusedStep", "WeatherAsOf"]


@dataclass(frozen=True)
class FusedStep:
    """A closed step of one site with the weather that was current at its end.

    Attributes:
        site_id: the site.
        ts_ms: start of the step, epoch milliseconds.
        values: mean of each sensor quantity in the step (canonical units).
        weather: weather variables of the newest observation at or before the step's end,
            empty when there is none within the staleness limit.
        weather_age_ms: age of that observation at the step's end, None without weather.
    """

    site_id: str
    ts_ms: int
    values: dict[str, float]
    weather: dict[str, float]
    weather_age_ms: int | None

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form."""
        return {
            "site_id": self.site_id,
            "ts_ms": self.ts_ms,
            "values": self.values,
            "weather": self.weather,
            "weather_age_ms": self.weather_age_ms,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "FusedStep":
        """Inverse of :meth:`to_dict`."""
        age = data.get("weather_age_ms")
        return cls(
            site_id=str(data["site_id"]),
            ts_ms=int(data["ts_ms"]),  # type: ignore[call-overload]
            values={str(k): float(v) for k, v in dict(data["values"]).items()},  # type: ignore[call-overload]
            weather={str(k): float(v) for k, v in dict(data["weather"]).items()},  # type: ignore[call-overload]
            weather_age_ms=None if age is None else int(age),  # type: ignore[call-overload]
        )


@dataclass
class WeatherAsOf:
    """Recent weather per site, for event-time as-of joins with a staleness limit."""

    staleness_ms: int
    _times: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    _values: dict[str, list[dict[str, float]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, observation: WeatherObservation) -> None:
        """Remember an observation (any arrival order)."""
        times = self._times[observation.site_id]
        values = self._values[observation.site_id]
        pos = bisect.bisect_right(times, observation.ts_ms)
        if pos and times[pos - 1] == observation.ts_ms:
            values[pos - 1] = {**values[pos - 1], **observation.variables}
            return
        times.insert(pos, observation.ts_ms)
        values.insert(pos, dict(observation.variables))
        # Keep a bounded history: anything older than 4 staleness windows behind the newest.
        cutoff = times[-1] - 4 * self.staleness_ms
        drop = bisect.bisect_left(times, cutoff)
        if drop:
            del times[:drop]
            del values[:drop]

    def fuse(self, step: ClosedStep, step_ms: int) -> FusedStep:
        """Join a closed step with the newest observation at or before the step's end."""
        end = step.ts_ms + step_ms
        times = self._times.get(step.site_id, [])
        pos = bisect.bisect_right(times, end)
        if pos and end - times[pos - 1] <= self.staleness_ms:
            age = end - times[pos - 1]
            weather = dict(self._values[step.site_id][pos - 1])
            return FusedStep(step.site_id, step.ts_ms, dict(step.values), weather, age)
        return FusedStep(step.site_id, step.ts_ms, dict(step.values), {}, None)
