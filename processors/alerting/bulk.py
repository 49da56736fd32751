"""A site's new steps at once: every step rule's expression at every step, as arrays.

The engine judges a site's steps of one batch in bulk: each rule's expression (value,
rolling mean, NowCast, AQI, staleness, flat-line, dead-letter ratio) is computed for all
the steps with numpy, exactly as the step-by-step path computes it (the same sums in the
same order, so the same floats), and the site's state is brought to where the last step
leaves it. :class:`RulePlan` then tells the engine at which steps a rule's incident can
change; between those steps an evaluation only moves the incident's value and peak.

Inputs this path does not reproduce bit for bit (non-finite or huge values, dead-letter
windows longer than the day the engine keeps) make :func:`prepare` return None, and the
engine takes the step-by-step path.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain

import numpy as np

from gridbrain.processors.alerting.aqi import AQI_TABLES, AqiTable
from gridbrain.processors.alerting.plan import RulePlan
from gridbrain.processors.alerting.rules import Rule
from gridbrain.processors.alerting.series import HOUR_MS, HourlySeries
from gridbrain.processors.alerting.site_state import SiteState, push
from gridbrain.processors.fuse import FusedStep

__all__ = ["prepare"]

_KEEP_HOURS = 25  # as HourlySeries: hours older than a day behind the newest are dropped
_LARGEST = 1e12  # values beyond: the step-by-step path (sums could overflow)
_NAN = float("nan")


@dataclass
class _Hourly:
    """The hourly means one series shows at each step of the batch (NaN: no data)."""

    hour: np.ndarray  # each step's hour
    current: np.ndarray  # the mean of the step's own hour as of the step
    keys: np.ndarray  # hours whose mean is final before any later step (sorted)
    means: np.ndarray
    newest: np.ndarray  # the series' newest hour as of each step
    _ages: dict[int, np.ndarray] = field(default_factory=dict)

    def at(self, age: int) -> np.ndarray:
        """The mean of the hour ``age`` hours before each step's hour."""
        if age == 0:
            return self.current
        cached = self._ages.get(age)
        if cached is None:
            wanted = self.hour - age
            if len(self.keys):
                pos = np.minimum(np.searchsorted(self.keys, wanted), len(self.keys) - 1)
                cached = np.where(self.keys[pos] == wanted, self.means[pos], np.nan)
            else:
                cached = np.full(len(wanted), np.nan)
            if age >= _KEEP_HOURS:  # dropped by then unless newer than a day behind
                cached = np.where(wanted > self.newest - _KEEP_HOURS, cached, np.nan)
            self._ages[age] = cached
        return cached

    def mean(self, hours: int, min_coverage: float) -> np.ndarray:
        """As :meth:`HourlySeries.mean`: the hourly means summed newest first."""
        total = np.zeros(len(self.hour))
        count = np.zeros(len(self.hour), dtype=np.int64)
        for age in range(hours):
            means = self.at(age)
            present = ~np.isnan(means)
            total += np.where(present, means, 0.0)
            count += present
        need = max(1, math.ceil(min_coverage * hours - 1e-9))
        return np.where(count >= need, total / np.maximum(count, 1), np.nan)

    def nowcast(self, decimals: int) -> np.ndarray:
        """As :func:`nowcast.nowcast` of the last 12 hourly means."""
        recent = np.stack([self.at(age) for age in range(12)], axis=1)
        present = ~np.isnan(recent)
        enough = present[:, :3].sum(axis=1) >= 2
        high = np.fmax.reduce(recent, axis=1)
        low = np.fmin.reduce(recent, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            weight = np.where(high <= 0, 1.0, np.maximum(low / high, 0.5))
        weight = np.where(enough, weight, 1.0)
        powers = weight[:, None] ** np.arange(12.0)[None, :]  # as ``weight**age``
        total = np.zeros(len(weight))
        norm = np.zeros(len(weight))
        for age in range(12):
            total += np.where(present[:, age], powers[:, age] * recent[:, age], 0.0)
            norm += np.where(present[:, age], powers[:, age], 0.0)
        scale = 10**decimals
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.floor(total / norm * scale + 1e-9) / scale
        return np.where(enough, value, np.nan)


def _hourly(series: HourlySeries, hour: np.ndarray, values: np.ndarray, view: bool) -> _Hourly:
    """Fold the batch's values into ``series`` (in place); return what each step saw.

    The saved hours are all at or before the batch's first (the steps are newer than the
    watermark), so only the batch's first hour can already hold values.
    """
    state = series.hours
    has = ~np.isnan(values)
    valued = np.flatnonzero(has)
    at_hour, added = hour[valued], values[valued]
    count = len(valued)
    saved_keys = list(state)
    saved_means = [a[0] / a[1] for a in state.values()]
    state_newest = saved_keys[-1] if state else np.iinfo(np.int64).min // 2
    if state and state_newest != max(state):  # pragma: no cover - hours are kept in order
        order = sorted(range(len(saved_keys)), key=saved_keys.__getitem__)
        saved_keys = [saved_keys[i] for i in order]
        saved_means = [saved_means[i] for i in order]
    keys, means = np.array(saved_keys, dtype=np.int64), np.array(saved_means)
    own = np.zeros(len(hour), dtype=bool)
    current = np.full(len(hour), np.nan)
    newest = np.full(len(hour), state_newest, dtype=np.int64)
    if count:
        new_hour = np.r_[True, at_hour[1:] != at_hour[:-1]]
        starts = np.flatnonzero(new_hour)
        offset = np.arange(count) - starts[np.cumsum(new_hour) - 1]
        first = int(at_hour[0])
        sums, counts = np.empty(count), np.empty(count)
        # acc[0] += value, in order, from the saved accumulator of the first hour if any
        sums[starts], counts[starts] = added[starts], 1.0
        if first in state:
            sums[0], counts[0] = state[first][0] + added[0], state[first][1] + 1.0
        for k in range(1, int(offset.max()) + 1):
            at = np.flatnonzero(offset == k)
            sums[at] = sums[at - 1] + added[at]
            counts[at] = counts[at - 1] + 1.0
        last = np.r_[starts[1:] - 1, count - 1]
        top = int(at_hour[-1])
        keep = np.flatnonzero(at_hour[last] > top - _KEEP_HOURS)
        for old in [h for h in state if h <= top - _KEEP_HOURS]:
            del state[old]
        kept = last[keep]
        state.update(
            zip(
                at_hour[kept].tolist(),
                [[s, c] for s, c in zip(sums[kept].tolist(), counts[kept].tolist(), strict=True)],
                strict=True,
            )
        )
        if not view:
            return _Hourly(hour, current, keys, means, newest)
        if len(keys) and keys[-1] == first:
            keys, means = keys[:-1], means[:-1]
        keys = np.concatenate([keys, at_hour[last]])
        means = np.concatenate([means, sums[last] / counts[last]])
        before = np.cumsum(has) - 1  # the newest valued step so far
        seen = before >= 0
        before = np.maximum(before, 0)
        own = seen & (at_hour[before] == hour)
        current = np.where(own, (sums / counts)[before], np.nan)
        newest = np.where(seen, at_hour[before], newest)
    if saved_keys and not own.all():  # a step whose hour has only saved values so far
        at = np.minimum(np.searchsorted(saved_keys, hour), len(saved_keys) - 1)
        found = ~own & (np.array(saved_keys)[at] == hour)
        current = np.where(found, np.array(saved_means)[at], current)
    return _Hourly(hour, current, keys, means, newest)


def prepare(
    site: SiteState, steps: Sequence[FusedStep], rules: Sequence[Rule], now_ms: int
) -> list[RulePlan] | None:
    """Fold new steps (time order, newer than the watermark) into ``site``; plan ``rules``.

    None (and ``site`` untouched) where the bulk path would not give the step-by-step
    results bit for bit.
    """
    if any(r.expression == "deadletter_ratio" and r.window_ms > 24 * HOUR_MS for r in rules):
        return None
    n = len(steps)
    ts = [s.ts_ms for s in steps]
    readings = np.array([s.readings for s in steps], dtype=np.int64)
    if (readings < 0).any():
        return None
    values_of = [s.values for s in steps]
    columns: dict[str, np.ndarray] = {}
    for q in dict.fromkeys(chain.from_iterable(values_of)):  # in the order they come
        column = np.array([v.get(q, _NAN) for v in values_of], dtype=np.float64)
        present = np.fromiter((q in v for v in values_of), bool, n)
        if not (np.abs(column[present]) < _LARGEST).all():  # NaN, infinite or huge
            return None
        columns[q] = column
    quality_of = [s.quality for s in steps]
    quality = {
        q: np.flatnonzero(np.fromiter((q in d for d in quality_of), bool, n)).tolist()
        for q in dict.fromkeys(chain.from_iterable(quality_of))
    }
    flat: dict[str, list[int]] = {}
    for i, step in enumerate(steps):
        if step.flags:
            for q, checks in step.flags.items():
                if "flatline" in checks and q not in step.values:
                    flat.setdefault(q, []).append(i)
    times = np.array(ts, dtype=np.int64)
    hour = times // HOUR_MS
    # The state as the last step leaves it (the series are folded below).
    old_seen = dict(site.seen_ms)
    for q, at in quality.items():
        site.seen_ms[q] = ts[at[-1]]
    site.watermark_ms, site.arrived_ms = ts[-1], now_ms
    accepted_before = {r.window_ms: _since(site.accepted, now_ms - r.window_ms) for r in rules}
    if readings.any():
        push(site.accepted, now_ms, int(readings.sum()))
    hourly: dict[str, _Hourly] = {}
    viewed = {r.quantity for r in rules if r.expression in ("mean", "nowcast", "aqi")}
    for q in columns:  # every quantity's series, in the order the steps bring them
        series = site.series.setdefault(q, HourlySeries())
        hourly[q] = _hourly(series, hour, columns[q], q in viewed)
    if any(r.expression == "deadletter_ratio" for r in rules):
        for window in (site.dead, site.accepted):
            while window and window[0][0] <= now_ms - 24 * HOUR_MS:
                window.popleft()
    seen_by = {q: _mask(n, at) for q, at in quality.items()}
    concentration: dict[str, np.ndarray] = {}
    plans = []
    for rule in rules:
        q = rule.quantity or ""
        if q not in quality and rule.expression not in ("stale", "deadletter_ratio"):
            continue  # judged at none of the steps
        if rule.expression == "stale" and q not in quality and q not in old_seen:
            continue
        applies = seen_by.get(q, np.zeros(n, dtype=bool))
        categories: list[str] = []
        if rule.expression == "value":
            values = columns[q] if q in columns else np.full(n, np.nan)
        elif rule.expression == "flatline":
            values = _mask(n, flat.get(q, [])).astype(np.float64)
        elif rule.expression == "stale":
            applies, values = _stale(times, quality.get(q, []), old_seen.get(q))
        elif rule.expression == "deadletter_ratio":
            dead = _since(site.dead, now_ms - rule.window_ms)
            total = dead + accepted_before[rule.window_ms] + np.cumsum(readings)
            values = np.where(total >= rule.min_count, dead / np.maximum(total, 1), np.nan)
            applies = np.ones(n, dtype=bool)
        else:
            view = hourly.get(q)
            if view is None:  # no value of it in the batch: what the saved series shows
                saved = site.series.get(q, HourlySeries())
                view = hourly[q] = _hourly(saved, hour, np.full(n, np.nan), True)
            if rule.expression == "mean":
                values = view.mean(max(1, math.ceil(rule.window_ms / HOUR_MS)), rule.min_coverage)
            elif rule.expression == "nowcast":
                values = view.nowcast(0 if q == "pm10" else 1)
            else:
                assert rule.aqi_table is not None
                values, categories = _aqi_index(view, rule.aqi_table, concentration)
        plans.append(RulePlan.of(rule, ts, applies, values, categories))
    return plans


def _since(window: Sequence[tuple[int, int]], since: int) -> int:
    return sum(n for t, n in window if t > since)


def _mask(n: int, indices: list[int]) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[indices] = True
    return mask


def _stale(times: np.ndarray, seen: list[int], before: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Where a stale rule is judged (its quantity seen by then) and the hours since."""
    last = np.full(len(times), -1, dtype=np.int64)
    last[seen] = seen
    last = np.maximum.accumulate(last)
    seen_ms = np.where(last >= 0, times[np.maximum(last, 0)], -1 if before is None else before)
    applies = (last >= 0) | (before is not None)
    return applies, np.where(applies, (times - seen_ms) / HOUR_MS, np.nan)


def _aqi_index(
    view: _Hourly, indicator: str, concentration: dict[str, np.ndarray]
) -> tuple[np.ndarray, list[str]]:
    """The AQI by ``indicator`` at each step and its category (as ``HourlySeries.aqi``)."""
    spec = AQI_TABLES[indicator]
    if indicator not in concentration:
        if spec.averaging == "nowcast":
            concentration[indicator] = view.nowcast(spec.table.decimals)
        else:
            concentration[indicator] = view.mean(spec.hours, 0.75)
    c = concentration[indicator]
    index, band = _aqi_bands(spec.table, c)
    names = np.array([b.name for b in spec.table.bands] + ["no data"], dtype=object)
    if spec.above is not None:
        top = spec.table.bands[-1].c_high / spec.table.per_canonical
        with np.errstate(invalid="ignore"):
            above = np.isnan(index) & (c > top)
        if above.any():
            upper, upper_names = _aqi_index(view, spec.above, concentration)
            index = np.where(above, upper, index)
            upper_band = np.array(upper_names, dtype=object)
            return index, np.where(above, upper_band, names[band]).tolist()
    return index, names[band].tolist()


def _aqi_bands(table: AqiTable, concentration: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`aqi.aqi` of each concentration: the index (NaN: none) and band number.

    The band number is ``len(table.bands)`` where there is no index.
    """
    scale = 10**table.decimals
    with np.errstate(invalid="ignore"):
        c = np.floor(np.maximum(concentration, 0.0) * table.per_canonical * scale + 1e-9) / scale
    c_low = np.array([b.c_low for b in table.bands])
    c_high = np.array([b.c_high for b in table.bands])
    i_low = np.array([b.i_low for b in table.bands], dtype=np.int64)
    i_high = np.array([b.i_high for b in table.bands], dtype=np.int64)
    band = np.searchsorted(c_high, np.where(np.isnan(c), np.inf, c), side="left")
    inside = np.minimum(band, len(table.bands) - 1)
    slope = (i_high - i_low)[inside] / (c_high - c_low)[inside]
    index = np.floor(slope * (c - c_low[inside]) + i_low[inside] + 0.5)
    defined = ~np.isnan(c) & (c >= c_low[0])
    beyond = band == len(table.bands)
    if table.bands[-1].i_high == 500:
        index = np.where(beyond, 500.0, index)
        band = np.where(beyond, len(table.bands) - 1, band)
    else:
        defined &= ~beyond
    return np.where(defined, index, np.nan), np.where(defined, band, len(table.bands))
