"""Runs the quality checks over a batch of readings, all series at once, keeping their state."""

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gridbrain.processors.quality.config import QualityConfig, QuantityChecks
from gridbrain.processors.quality.flags import Flag
from gridbrain.processors.quality.flatline import FlatRun, flatline_segments
from gridbrain.processors.quality.rate import rate_segments
from gridbrain.processors.quality.segments import segment_ends
from gridbrain.processors.quality.solar import solar_elevation_deg
from gridbrain.processors.quality.spikes import hampel_segments, padded_history
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
    gets the spike check only. Work is vectorised over the whole batch, so a batch costs
    a few numpy calls and a little Python per series it touches.
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
        """Return one :class:`Flag` value per reading (``Flag.OK`` = clean); update state.

        Every series of the batch is checked at once (see :mod:`.segments`): the cost is
        a few numpy calls per batch and a little Python per series.
        """
        n = len(batch)
        if not n:
            return np.zeros(0, dtype=np.int8)
        ids: dict[tuple[str, str, str], int] = {}
        keys = zip(batch.site_id, batch.quantity, batch.sensor_id, strict=True)
        series = np.fromiter((ids.setdefault(k, len(ids)) for k in keys), np.int64, n)
        ts = np.asarray(batch.ts_ms, dtype=np.int64)
        order = np.lexsort((ts, series))
        run = _Run(
            segment=series[order],
            ts=ts[order],
            values=np.asarray(batch.value, dtype=np.float64)[order],
            flags=np.zeros(n, dtype=np.int8),
            states=[
                self._series.setdefault(site, {}).setdefault((quantity, sensor), _Series())
                for site, quantity, sensor in ids
            ],
            checks=[self._config(site, quantity) for site, quantity, _ in ids],
        )
        self._spikes(run)
        newest = np.array([s.newest_ts_ms for s in run.states], dtype=np.int64)
        fresh = run.ts > newest[run.segment]
        # Rate and flatline follow each series forward in time: only the fresh readings.
        self._rates(run, fresh)
        self._flatlines(run, fresh, [site for site, _, _ in ids])
        segs, last = segment_ends(run.segment, fresh & (run.flags == Flag.OK))
        for s, i in zip(segs.tolist(), last.tolist(), strict=True):
            run.states[s].last_good = (float(run.values[i]), int(run.ts[i]))
        segs, last = segment_ends(run.segment, fresh)
        for s, i in zip(segs.tolist(), last.tolist(), strict=True):
            run.states[s].newest_ts_ms = int(run.ts[i])
        flags = np.empty(n, dtype=np.int8)
        flags[order] = run.flags
        return flags

    def _config(self, site: str, quantity: str) -> QuantityChecks:
        per_site = self._checks.setdefault(site, {})
        checks = per_site.get(quantity)
        if checks is None:
            override = self._overrides.get(site, {}).get(quantity)
            checks = per_site[quantity] = self.config.for_series(quantity, override)
        return checks

    def _spikes(self, run: "_Run") -> None:
        """Hampel checks, per window length; the spike series keep their last readings."""
        windows = {c.spike_window for c in run.checks if c.spike_threshold is not None}
        for window in windows:
            chosen = [
                s
                for s, c in enumerate(run.checks)
                if c.spike_threshold is not None and c.spike_window == window
            ]
            sub, rows = _subset(run.segment, chosen, len(run.checks))
            threshold = np.array([run.checks[s].spike_threshold for s in chosen], dtype=float)
            floor = np.array([run.checks[s].spike_min_deviation for s in chosen], dtype=float)
            spikes, tails = hampel_segments(
                np.stack([padded_history(run.states[s].history, window) for s in chosen]),
                run.values[rows],
                sub,
                window,
                threshold[sub],
                floor[sub],
            )
            run.flags[rows[spikes]] = Flag.SPIKE
            for s, tail in zip(chosen, tails, strict=True):
                run.states[s].history = tail[~np.isnan(tail)]

    def _rates(self, run: "_Run", fresh: np.ndarray) -> None:
        chosen = [s for s, c in enumerate(run.checks) if c.max_rate_per_minute is not None]
        if not chosen:
            return
        sub, rows = _subset(run.segment, chosen, len(run.checks), fresh)
        good = [run.states[s].last_good for s in chosen]
        fast = rate_segments(
            np.array([g[0] if g else np.nan for g in good], dtype=float),
            np.array([g[1] if g else -1 for g in good], dtype=np.int64),
            run.values[rows],
            run.ts[rows],
            run.flags[rows] != Flag.OK,
            sub,
            np.array([run.checks[s].max_rate_per_minute for s in chosen], dtype=float)[sub],
        )
        hit = rows[fast]
        run.flags[hit[run.flags[hit] == Flag.OK]] = Flag.RATE

    def _flatlines(self, run: "_Run", fresh: np.ndarray, sites: list[str]) -> None:
        chosen = [s for s, c in enumerate(run.checks) if c.flatline_minutes is not None]
        if not chosen:
            return
        sub, rows = _subset(run.segment, chosen, len(run.checks), fresh)
        runs = [run.states[s].run for s in chosen]
        per_series = {
            "tolerance": [run.checks[s].flatline_tolerance for s in chosen],
            "duration": [int((run.checks[s].flatline_minutes or 0) * 60_000) for s in chosen],
            "night": [_nan_if_none(run.checks[s].night_elevation_deg) for s in chosen],
            "latitude": [self._locations.get(sites[s], (np.nan, np.nan))[0] for s in chosen],
            "longitude": [self._locations.get(sites[s], (np.nan, np.nan))[1] for s in chosen],
        }
        arrays = {k: np.array(v, dtype=float)[sub] for k, v in per_series.items()}
        values, ts = run.values[rows], run.ts[rows]
        flat, start, last = flatline_segments(
            np.array([r.start_ts_ms if r else 0 for r in runs], dtype=np.int64),
            np.array([r.last_value if r else np.nan for r in runs], dtype=float),
            values,
            ts,
            _night(values, ts, arrays),
            sub,
            arrays["tolerance"],
            arrays["duration"].astype(np.int64),
        )
        hit = rows[flat]
        run.flags[hit[run.flags[hit] == Flag.OK]] = Flag.FLATLINE
        for k in np.unique(sub).tolist():
            state = run.states[chosen[k]]
            state.run = None if np.isnan(last[k]) else FlatRun(int(start[k]), float(last[k]))

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


@dataclass
class _Run:
    """One batch's readings sorted by series then time, with their series' state."""

    segment: np.ndarray
    ts: np.ndarray
    values: np.ndarray
    flags: np.ndarray
    states: list[_Series]
    checks: list[QuantityChecks]


def _subset(
    segment: np.ndarray, chosen: list[int], count: int, where: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The readings of the ``chosen`` series (and ``where``).

    Returns:
        Each one's series numbered among the chosen, and its row.
    """
    renumber = np.full(count, -1, dtype=np.int64)
    renumber[chosen] = np.arange(len(chosen))
    sub = renumber[segment]
    keep = sub >= 0 if where is None else (sub >= 0) & where
    rows = np.flatnonzero(keep)
    return sub[rows], rows


def _nan_if_none(value: float | None) -> float:
    return np.nan if value is None else value


def _night(values: np.ndarray, ts: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Readings that can be constant for a good reason: the sun is down.

    Without a location, readings near zero count as "sun down".
    """
    night = arrays["night"]
    checked = ~np.isnan(night)
    located = checked & ~np.isnan(arrays["latitude"])
    exempt = checked & ~located & (np.abs(values) <= _NEAR_ZERO)
    if located.any():
        elevation = solar_elevation_deg(
            ts[located], arrays["latitude"][located], arrays["longitude"][located]
        )
        exempt[located] = elevation < night[located]
    return exempt
