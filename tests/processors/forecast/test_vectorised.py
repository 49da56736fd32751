"""The vectorised forecast paths give the results of the plain per-window formulations.

Each reference below is the straightforward version (per row, or the full B x H x N x F
AR-X design with one ridge solve per window and horizon) in float64.
"""

import math
import warnings

import numpy as np
import pytest
import torch

from gridbrain.processors.forecast.arx import Arx
from gridbrain.processors.forecast.base import sort_levels
from gridbrain.processors.forecast.baselines import nan_quantiles
from gridbrain.processors.forecast.batch import (
    WindowBatch,
    calendar_features,
    fill_history,
    window_scale,
)
from gridbrain.processors.forecast.design import hankel
from gridbrain.processors.quality.gaps import fill_short_gaps
from gridbrain.processors.quality.solar import solar_elevation_deg

DAY_MS = 86_400_000


def windows(count: int, length: int, horizon: int, step_ms: int, seed: int) -> WindowBatch:
    """Daily cycles with gaps, late starts, missing weather and unknown locations."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    y = 100 + 30 * np.sin(2 * np.pi * t * step_ms / DAY_MS) + rng.normal(0, 5, (count, length))
    y += rng.normal(0, 50, (count, 1))
    y[rng.random((count, length)) < 0.05] = np.nan
    for row in range(0, count, 3):
        y[row, : rng.integers(0, length // 2)] = np.nan
    exog = rng.normal(10, 3, (count, length + horizon, 3))
    exog[rng.random(exog.shape) < 0.1] = np.nan
    exog[::4, :, 1] = np.nan
    latitude = rng.uniform(-60, 60, count)
    latitude[::5] = np.nan
    last = 1_735_689_600_000 + step_ms * rng.integers(0, 10_000, count)
    return WindowBatch(y, exog, last, step_ms, horizon, latitude, rng.uniform(-180, 180, count))


def reference_arx(batch: WindowBatch, ridge: float = 0.1, max_fill: int = 4) -> np.ndarray:
    """AR-X raw quantiles from the full design, one ridge solve per window and horizon."""
    y, _ = fill_short_gaps(batch.y, max_fill)
    center, scale = window_scale(y)
    exog = batch.exog[:, : batch.lookback, :3]
    with warnings.catch_warnings():  # weather never observed: mean 0, scale 1
        warnings.simplefilter("ignore", RuntimeWarning)
        mu = np.nan_to_num(np.nanmean(exog, axis=1, keepdims=True))
        sd = np.nan_to_num(np.nanstd(exog, axis=1, keepdims=True), nan=1.0)
    sd[sd < 1e-9] = 1.0
    yn, en = (y - center) / scale, (exog - mu) / sd
    length, horizon, season = batch.lookback, batch.horizon, DAY_MS // batch.step_ms
    out = np.empty((len(y), horizon, 11))
    for b in range(len(y)):
        yf = _ffill(yn[b])
        ef = np.stack([np.nan_to_num(_ffill(en[b, :, k]), nan=0.0) for k in range(3)], -1)

        def row(o: int, h: int, b: int = b, yf: np.ndarray = yf, ef: np.ndarray = ef) -> list:
            target_ms = batch.last_ts_ms[b] + (o + h - length + 1) * batch.step_ms
            phase = 2 * math.pi * (target_ms % DAY_MS) / DAY_MS
            back = o + h - season * math.ceil(h / season)
            lags = [yf[o], yf[o - 1], yf[o - 2], yf[back]]
            return [1.0, *lags, *ef[o], math.sin(phase), math.cos(phase)]

        resid = np.full((horizon, length - season), np.nan)
        p50 = np.empty(horizon)
        for h in range(1, horizon + 1):
            x = np.array([row(o, h) for o in range(season, length)])
            ahead = np.arange(season, length) + h
            target = np.where(ahead < length, yn[b, np.minimum(ahead, length - 1)], np.nan)
            use = np.isfinite(target) & np.isfinite(x).all(axis=1)
            xu, tu = x[use], target[use] - x[use, 4]
            gram, rhs = xu.T @ xu, xu.T @ tu
            n = max(gram[0, 0], 1.0)
            var = np.maximum(np.diag(gram) / n - (gram[0] / n) ** 2, 1e-12)
            penalty = ridge * n * var
            penalty[0] = 1e-8 * n
            beta = np.linalg.solve(gram + np.diag(penalty), rhs)
            resid[h - 1, use] = target[use] - (x[use, 4] + xu @ beta)
            last = np.nan_to_num(np.array(row(length - 1, h)), nan=0.0)
            p50[h - 1] = last[4] + last @ beta
        per_h = nan_quantiles(resid)
        per_h = np.nan_to_num(np.where(np.isnan(per_h), nan_quantiles(resid.ravel()), per_h))
        out[b] = p50[:, None] + per_h
    return out * scale[..., None] + center[..., None]


def _ffill(v: np.ndarray) -> np.ndarray:
    out = v.copy()
    for i in range(1, len(out)):
        if np.isnan(out[i]):
            out[i] = out[i - 1]
    return out


@pytest.mark.parametrize(
    ("length", "horizon", "step_ms"),
    [
        pytest.param(672, 96, 900_000, id="week-of-quarter-hours-day-ahead"),
        pytest.param(168, 24, 3_600_000, id="hourly"),
        pytest.param(200, 30, 3_600_000, id="horizon-past-one-season"),
    ],
)
def test_arx_matches_the_full_design(length: int, horizon: int, step_ms: int) -> None:
    batch = windows(9, length, horizon, step_ms, seed=length)
    got = Arx(chunk=5).predict_raw(batch)
    expected = reference_arx(batch)
    scale = window_scale(fill_short_gaps(batch.y, 4)[0])[1][..., None]
    np.testing.assert_allclose(got / scale, expected / scale, rtol=0, atol=1e-9)


def test_hankel_is_a_view_over_target_steps() -> None:
    v = torch.arange(20.0).reshape(2, 10)
    view = hankel(v, season=2, first=1, rows=3, n=4)
    assert view[1, 2, 3].item() == 10 + 2 + 3 + 1 + 2
    assert view.untyped_storage().data_ptr() == v.untyped_storage().data_ptr()  # no copy
    np.testing.assert_array_equal(view[0].numpy(), [[3, 4, 5, 6], [4, 5, 6, 7], [5, 6, 7, 8]])


def test_fill_history_is_np_interp_per_row() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(0, 10, (40, 30))
    y[rng.random(y.shape) < 0.4] = np.nan
    y[0] = np.nan
    y[1, :-1] = np.nan
    positions = np.arange(y.shape[1])
    expected = y.copy()
    for row in expected:
        ok = np.isfinite(row)
        row[:] = np.interp(positions, positions[ok], row[ok]) if ok.any() else 0.0
    np.testing.assert_array_equal(fill_history(y), expected)


def test_window_scale_of_complete_windows_takes_the_same_sums() -> None:
    y = np.random.default_rng(5).normal(3, 2, (6, 50))
    mean, scale = window_scale(y)
    np.testing.assert_allclose(mean[:, 0], y.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(scale[:, 0], y.std(axis=1), rtol=1e-12)


def test_sun_covariate_is_the_solar_elevation_sine() -> None:
    batch = windows(20, 10, 200, 900_000, seed=9)
    sun = calendar_features(batch)[..., 4]
    mid = batch.target_ts_ms() + 450_000
    for row in range(len(batch)):
        if np.isnan(batch.latitude[row]):
            assert not sun[row].any()
            continue
        elevation = solar_elevation_deg(mid[row], batch.latitude[row], batch.longitude[row])
        expected = np.maximum(np.sin(np.radians(elevation)), 0.0)
        np.testing.assert_allclose(sun[row], expected, rtol=0, atol=1e-12)


def test_sort_levels_is_np_sort() -> None:
    rng = np.random.default_rng(2)
    q = np.sort(rng.normal(size=(50, 7, 11)), axis=-1)
    q[::3] = rng.normal(size=(17, 7, 11))
    q[4, 2, 5] = np.nan
    np.testing.assert_array_equal(sort_levels(q), np.sort(q, axis=-1))
    assert sort_levels(q.astype(np.float32)).dtype == np.float32
