"""The direct text model (``text_regressor``) on the day-ahead protocol of ``weather-text``.

One window per local midnight: a week of hourly load before it, the cities' numeric weather
over the week and the next 25 hours (a 25-hour day fits), and the weather text of those
hours. Windows whose targets reach the test hours do not train; the last tenth of the
training windows stops training early and calibrates the quantiles.
"""

from dataclasses import dataclass

import numpy as np

from gridbrain.cli.spain_weather import SpainHours
from gridbrain.cli.weather_text_design import Study
from gridbrain.processors.forecast.batch import P50, WindowBatch
from gridbrain.processors.text.regressor import TextRegressor

__all__ = ["LOOKBACK", "STEPS", "DirectWindows", "direct_windows", "fit_direct", "predict_hours"]

LOOKBACK, STEPS = 168, 25
_HOUR_MS = 3_600_000
_MADRID = (40.42, -3.70)  # where the calendar covariates take the sun's elevation


@dataclass(frozen=True)
class DirectWindows:
    """Windows at every origin, their targets, and which train, validate and test.

    Attributes:
        origins: row of each window's origin (the first target hour).
        batch: the windows.
        target: load of the target hours (B, STEPS), NaN past the data.
        train, val, test: masks over the windows.
    """

    origins: np.ndarray
    batch: WindowBatch
    target: np.ndarray
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def direct_windows(data: SpainHours, study: Study, split: int, text: np.ndarray) -> DirectWindows:
    """Windows of every origin of ``study``; ``text`` (N, C) is the text of each data hour."""
    origins = np.unique(study.origin)
    n = len(data)
    pad = np.arange(-LOOKBACK, STEPS)[None, :] + origins[:, None]  # (B, L + H) rows
    inside = pad < n
    at = np.minimum(pad, n - 1)
    exog = data.weather.reshape(n, -1)[at]
    exog[~inside] = np.nan
    load = np.where(inside, data.load[at], np.nan)
    words = np.where(inside[:, LOOKBACK:, None], text[at[:, LOOKBACK:]], "")
    batch = WindowBatch(
        y=load[:, :LOOKBACK],
        exog=exog,
        last_ts_ms=(data.stamps[origins - 1].asi8 // 1_000_000).astype(np.int64),
        step_ms=_HOUR_MS,
        horizon=STEPS,
        latitude=np.full(len(origins), _MADRID[0]),
        longitude=np.full(len(origins), _MADRID[1]),
    )
    train = origins + STEPS <= split
    cut = origins[train][int(0.9 * train.sum())] if train.sum() > 10 else split
    test = np.isin(origins, study.origin[study.test])
    return DirectWindows(
        origins=origins,
        batch=batch.with_text(words),
        target=load[:, LOOKBACK:],
        train=train & (origins < cut),
        val=train & (origins >= cut),
        test=test,
    )


def fit_direct(windows: DirectWindows, epochs: int, seed: int, device: str) -> TextRegressor:
    """A ``text_regressor`` fitted (with a progress bar) and calibrated on ``windows``."""
    from gridbrain.cli.progress import epoch_bar

    cities = windows.batch.text.shape[-1] if windows.batch.text is not None else 1
    model = TextRegressor(
        LOOKBACK,
        STEPS,
        n_exog=windows.batch.exog.shape[-1],
        places=cities,
        train={"epochs": epochs, "seed": seed},
    ).to(device)
    train = (windows.batch.take(windows.train), windows.target[windows.train])
    val = (windows.batch.take(windows.val), windows.target[windows.val])
    with epoch_bar("fitting text_regressor", model) as progress:
        model.fit(train, val, progress)
    return model


def predict_hours(model: TextRegressor, windows: DirectWindows, study: Study) -> np.ndarray:
    """The median forecast of every test hour of ``study`` (others NaN)."""
    median = model.forecast(windows.batch.take(windows.test))[..., P50]
    position = {int(o): i for i, o in enumerate(windows.origins[windows.test])}
    out = np.full(len(study.rows), np.nan)
    for k in np.flatnonzero(study.test):
        i = position[int(study.origin[k])]
        out[k] = median[i, study.rows[k] - study.origin[k]]
    return out
