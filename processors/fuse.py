"""Fusion of closed sensor steps with weather (event-time as-of joins).

Each step is joined with the newest observation of its weather source at or before the
step's end, and with the newest forecast for the step's time issued at or before its end
(never a forecast issued later: no look-ahead). Both joins have a staleness limit.
"""

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, cast

from gridbrain.processors.resample import ClosedStep
from gridbrain.processors.weather import WeatherForecast, WeatherObservation

__all__ = ["ForecastAsOf", "FusedStep", "WeatherAsOf", "canonical_step", "fuse"]


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
        quality: per quantity seen in the step: ``ok``, ``cleaned`` or ``flagged`` (no
            clean reading: absent from ``values``).
        weather_forecast: the variables forecast for the step by the newest forecast issued
            at or before the step's end (empty without one).
        station_id: where the weather came from (the site itself by default).
        flags: per quantity with flagged readings, the checks that flagged them
            (``spike``, ``rate``, ``flatline``).
        readings: how many readings the step holds (clean and flagged).
    """

    site_id: str
    ts_ms: int
    values: dict[str, float]
    weather: dict[str, float]
    weather_age_ms: int | None
    quality: dict[str, str] = field(default_factory=dict)
    weather_forecast: dict[str, float] = field(default_factory=dict)
    station_id: str | None = None
    flags: dict[str, list[str]] = field(default_factory=dict)
    readings: int = 0

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form."""
        return {
            "site_id": self.site_id,
            "ts_ms": self.ts_ms,
            "values": self.values,
            "weather": self.weather,
            "weather_age_ms": self.weather_age_ms,
            "quality": self.quality,
            "weather_forecast": self.weather_forecast,
            "station_id": self.station_id,
            "flags": self.flags,
            "readings": self.readings,
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
            quality={str(k): str(v) for k, v in dict(data.get("quality") or {}).items()},  # type: ignore[call-overload]
            weather_forecast={
                str(k): float(v)
                for k, v in dict(data.get("weather_forecast") or {}).items()  # type: ignore[call-overload]
            },
            station_id=None if data.get("station_id") is None else str(data["station_id"]),
            flags={
                str(k): [str(f) for f in v]
                for k, v in dict(data.get("flags") or {}).items()  # type: ignore[call-overload]
            },
            readings=int(data.get("readings") or 0),  # type: ignore[call-overload]
        )


@dataclass
class WeatherAsOf:
    """Recent weather per site, for event-time as-of joins with a staleness limit.

    Memory is bounded to 4 staleness windows behind each station's newest observation;
    ``bounded=False`` keeps everything (a batch's load from storage).
    """

    staleness_ms: int
    bounded: bool = True
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
        if not self.bounded:
            return
        drop = bisect.bisect_left(times, times[-1] - 4 * self.staleness_ms)
        if drop:
            del times[:drop]
            del values[:drop]

    def latest(self, station_id: str, at_ms: int) -> tuple[dict[str, float], int | None]:
        """The newest observation at or before ``at_ms`` within the limit, and its age."""
        times = self._times.get(station_id, [])
        pos = bisect.bisect_right(times, at_ms)
        if pos and at_ms - times[pos - 1] <= self.staleness_ms:
            return dict(self._values[station_id][pos - 1]), at_ms - times[pos - 1]
        return {}, None


@dataclass
class ForecastAsOf:
    """Recent weather forecasts per station: for a time, the newest issue known by then.

    ``bounded`` bounds memory as in :class:`WeatherAsOf`.
    """

    staleness_ms: int
    bounded: bool = True
    # station -> valid time -> [(issued, variables, description)] sorted by issue time
    _issues: dict[str, dict[int, list[tuple[int, dict[str, float], str | None]]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    _valid: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    _newest_issue: dict[str, int] = field(default_factory=dict)

    def add(self, forecast: WeatherForecast) -> None:
        """Remember a forecast (any arrival order; a repeat of an issue replaces it).

        When bounded, forecasts valid more than 4 staleness windows before the station's
        newest issue are forgotten.
        """
        station = forecast.site_id
        if self.bounded:
            keep = 4 * self.staleness_ms
            newest = max(self._newest_issue.get(station, forecast.issued_ms), forecast.issued_ms)
            self._newest_issue[station] = newest
            self._prune(station, newest - keep)
            if forecast.valid_ms < newest - keep:
                return
        by_valid = self._issues[forecast.site_id]
        issues = by_valid.get(forecast.valid_ms)
        if issues is None:
            issues = by_valid[forecast.valid_ms] = []
            bisect.insort(self._valid[forecast.site_id], forecast.valid_ms)
        times = [t for t, _, _ in issues]
        pos = bisect.bisect_left(times, forecast.issued_ms)
        if pos < len(issues) and issues[pos][0] == forecast.issued_ms:
            _, variables, description = issues[pos]
            issues[pos] = (
                forecast.issued_ms,
                {**variables, **forecast.variables},
                forecast.description or description,
            )
        else:
            issues.insert(pos, (forecast.issued_ms, dict(forecast.variables), forecast.description))

    def _prune(self, station_id: str, before_ms: int) -> None:
        valid = self._valid.get(station_id, [])
        drop = bisect.bisect_left(valid, before_ms)
        for t in valid[:drop]:
            del self._issues[station_id][t]
        del valid[:drop]

    def for_step(
        self, station_id: str, end_ms: int, known_at_ms: int | None = None
    ) -> dict[str, float]:
        """The forecast for a step ending at ``end_ms``.

        It is the newest valid time at or before ``end_ms`` (within the staleness limit),
        from the newest issue at or before ``known_at_ms`` (default ``end_ms``: fusion; an
        issue time: the weather a forecast of a future step can use).
        """
        return self.with_text(station_id, end_ms, known_at_ms)[0]

    def with_text(
        self, station_id: str, end_ms: int, known_at_ms: int | None = None
    ) -> tuple[dict[str, float], str]:
        """:meth:`for_step` and the weather text of that forecast (``""`` without)."""
        known_at_ms = end_ms if known_at_ms is None else known_at_ms
        valid = self._valid.get(station_id, [])
        pos = bisect.bisect_right(valid, end_ms)
        while pos:
            pos -= 1
            if end_ms - valid[pos] > self.staleness_ms:
                break
            issues = self._issues[station_id][valid[pos]]
            known = bisect.bisect_right([t for t, _, _ in issues], known_at_ms)
            if known:
                _, variables, description = issues[known - 1]
                return dict(variables), description or ""
        return {}, ""


def fuse(
    step: ClosedStep,
    step_ms: int,
    station_id: str,
    observed: WeatherAsOf,
    forecast: ForecastAsOf,
) -> FusedStep:
    """Join a closed step with its station's observed and forecast weather."""
    end = step.ts_ms + step_ms
    weather, age = observed.latest(station_id, end)
    return FusedStep(
        step.site_id,
        step.ts_ms,
        dict(step.values),
        weather,
        age,
        {q: step.quality(q) for q in step.counts},
        forecast.for_step(station_id, end),
        station_id,
        {q: list(f) for q, f in step.flags.items()},
        sum(step.counts.values()) + sum(step.flagged.values()),
    )


def _only(mapping: dict[str, Any], kind: type) -> bool:
    for value in mapping.values():  # noqa: SIM110 - a plain loop is faster (per step)
        if type(value) is not kind:
            return False
    return True


def canonical_step(item: Any) -> FusedStep | None:
    """The step of an item as :meth:`FusedStep.to_dict` writes it (None: another form).

    Such an item's step equals ``FusedStep.from_dict(item)``: its keys and texts are
    strings, its numbers already of their type, so nothing needs converting.
    """
    if type(item) is not dict:
        return None
    get = item.get
    site, ts, values, weather = get("site_id"), get("ts_ms"), get("values"), get("weather")
    age, station, readings = get("weather_age_ms"), get("station_id"), get("readings")
    quality, forecast, flags = get("quality") or {}, get("weather_forecast") or {}, get("flags")
    if not (
        type(site) is str
        and type(ts) is int
        and type(values) is dict
        and _only(values, float)
        and type(weather) is dict
        and _only(weather, float)
        and (age is None or type(age) is int)
        and type(quality) is dict
        and _only(quality, str)
        and type(forecast) is dict
        and _only(forecast, float)
        and (station is None or type(station) is str)
        and (readings is None or type(readings) is int)
    ):
        return None
    if not flags:
        flags = {}
    elif type(flags) is not dict or not all(
        type(v) is list and all(type(f) is str for f in v) for v in flags.values()
    ):
        return None
    floats = cast("dict[str, float]", values), cast("dict[str, float]", weather)
    return FusedStep(site, ts, *floats, age, quality, forecast, station, flags, readings or 0)
