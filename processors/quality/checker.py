"""Runs the quality checks over a batch of readings, series by series, keeping their state."""

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gridbrain.processors.quality.config import QualityConfig, QuantityChecks
from gridbrain.processors.quality.flags import Flag
from gridbrain.processors.quality.flatline import FlatRun, flatline_mask
from gridbrain.processors.quality.rate import rate_mask
from gridbrain.processors.quality.solar import solar_elevation_deg
from gridbrain.processors.quality.spikes import hampel_mask
from gridbrain.processors.validate import ReadingBatch

__all__ = ["QualityChecker"]

#: Without a location, readings this close to zero count as "sun down" for night exemptions.
_NEAR_ZERO = 1e-3


@dataclass
class _Series:
    """What the checks remember of one (quantity, sensor) series of a site."""

    history: np.ndarray = field(default_factory=lambda: np.zeros(0))
    last_good: tuple[float, int] | None = None
    run: FlatRun | None = None
    newest_ts_ms: int = -1


@dataclass
class QualityChecker:
    """Flags spikes, implausible rates of change and flatliners, series by series.

    A series is one site's (quantity, sensor). Readings are checked in event-time order
    within a batch; a reading older than its series' newest (out of order across batches)
    gets the spike check only. Work is vectorised per series, so a batch costs a few
    numpy calls per series it touches, whatever the number of readings.
    """

    config: QualityConfig = field(default_factory=QualityConfig)
    _locations: dict[str, tuple[float, float]] = field(default_factory=dict)
    _overrides: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    _series: dict[str, dict[tuple[str, str], _Series]] = field(default_factory=dict)
    _checks: dict[str, dict[str, QuantityChecks]] = field(default_factory=dict)

    def configure_site(
        self,
        site_id: str,
        location: tuple[float, float] | None,
        overrides: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """Set a site's (latitude, longitude) and its per-quantity check overrides."""
        if location is None:
            self._locations.pop(site_id, None)
        else:
            self._locations[site_id] = location
        self._overrides[site_id] = overrides or {}
        self._checks.pop(site_id, None)

    def check(self, batch: ReadingBatch) -> np.ndarray:
        """Return one :class:`Flag` value per reading (``Flag.OK`` = clean); update state."""
        flags = np.zeros(len(batch), dtype=np.int8)
        if not len(batch):
            return flags
        keys = [
            f"{s}\x1f{q}\x1f{n}"
            for s, q, n in zip(batch.site_id, batch.quantity, batch.sensor_id, strict=True)
        ]
        _, series = np.unique(np.asarray(keys), return_inverse=True)
        ts = np.asarray(batch.ts_ms, dtype=np.int64)
        values = np.asarray(batch.value, dtype=np.float64)
        order = np.lexsort((ts, series))
        bounds = np.flatnonzero(np.diff(series[order])) + 1
        for rows in np.split(order, bounds):
            first = int(rows[0])
            site, quantity = batch.site_id[first], batch.quantity[first]
            key = (quantity, batch.sensor_id[first])
            state = self._series.setdefault(site, {}).setdefault(key, _Series())
            flags[rows] = self._check_series(site, quantity, state, values[rows], ts[rows])
        return flags

    def _config(self, site: str, quantity: str) -> QuantityChecks:
        per_site = self._checks.setdefault(site, {})
        checks = per_site.get(quantity)
        if checks is None:
            override = self._overrides.get(site, {}).get(quantity)
            checks = per_site[quantity] = self.config.for_series(quantity, override)
        return checks

    def _check_series(
        self, site: str, quantity: str, state: _Series, values: np.ndarray, ts: np.ndarray
    ) -> np.ndarray:
        checks = self._config(site, quantity)
        flags = np.zeros(len(values), dtype=np.int8)
        if checks.spike_threshold is not None:
            spikes = hampel_mask(
                state.history,
                values,
                checks.spike_window,
                checks.spike_threshold,
                checks.spike_min_deviation,
            )
            flags[spikes] = Flag.SPIKE
        state.history = np.concatenate([state.history, values])[-checks.spike_window :]
        fresh = ts > state.newest_ts_ms
        if not fresh.any():
            return flags
        # Rate and flatline follow the series forward in time: only the fresh readings.
        v, t = values[fresh], ts[fresh]
        sub = flags[fresh]
        if checks.max_rate_per_minute is not None:
            fast = rate_mask(state.last_good, v, t, sub != Flag.OK, checks.max_rate_per_minute)
            sub[fast & (sub == Flag.OK)] = Flag.RATE
        if checks.flatline_minutes is not None:
            exempt = self._night(site, checks, v, t)
            flat, state.run = flatline_mask(
                state.run,
                v,
                t,
                exempt,
                checks.flatline_tolerance,
                int(checks.flatline_minutes * 60_000),
            )
            sub[flat & (sub == Flag.OK)] = Flag.FLATLINE
        flags[fresh] = sub
        good = np.flatnonzero(sub == Flag.OK)
        if good.size:
            state.last_good = (float(v[good[-1]]), int(t[good[-1]]))
        state.newest_ts_ms = int(t[-1])
        return flags

    def _night(
        self, site: str, checks: QuantityChecks, values: np.ndarray, ts: np.ndarray
    ) -> np.ndarray:
        """Readings that can be constant for a good reason: the sun is down."""
        if checks.night_elevation_deg is None:
            return np.zeros(len(values), dtype=bool)
        location = self._locations.get(site)
        if location is None:
            return np.asarray(np.abs(values) <= _NEAR_ZERO)
        return np.asarray(solar_elevation_deg(ts, *location) < checks.night_elevation_deg)

    def export(self, site_id: str) -> dict[str, Any]:
        """A site's check state as JSON-ready data."""
        return {
            f"{q}\x1f{s}": {
                "history": state.history.tolist(),
                "last_good": list(state.last_good) if state.last_good else None,
                "run": [state.run.start_ts_ms, state.run.last_value] if state.run else None,
                "newest_ts_ms": state.newest_ts_ms,
            }
            for (q, s), state in self._series.get(site_id, {}).items()
        }

    def forget(self, site_id: str) -> None:
        """Drop a site's check state, position and overrides from memory.

        Its last :meth:`export` restores the state; :meth:`configure_site` sets the rest.
        """
        self._series.pop(site_id, None)
        self._locations.pop(site_id, None)
        self._overrides.pop(site_id, None)
        self._checks.pop(site_id, None)

    def sites(self) -> int:
        """How many sites have check state in memory."""
        return len(self._series)

    def restore(self, site_id: str, data: dict[str, Any]) -> None:
        """Replace a site's check state by exported data."""
        series = {}
        for key, item in data.items():
            quantity, sensor = key.split("\x1f", 1)
            good, run = item["last_good"], item["run"]
            series[(quantity, sensor)] = _Series(
                history=np.asarray(item["history"], dtype=np.float64),
                last_good=(float(good[0]), int(good[1])) if good else None,
                run=FlatRun(int(run[0]), float(run[1])) if run else None,
                newest_ts_ms=int(item["newest_ts_ms"]),
            )
        self._series[site_id] = series
