"""Gradient boosting in the OpenSTEF style: LightGBM on lags, calendar and covariates.

One row per window and target step: the step's lead time, the history's values one day,
two days and a week before the target (where they lie in the history), the newest value
and the last day's mean, the target's calendar (hour, day of week, day of year) and the
sine of the sun's elevation, with ``local_calendar`` the target's local hour, local day
of the week and public holiday (:mod:`~processors.forecast.local_calendar`; NaN where the
site's calendar is unknown), and the weather at the target step (a forecast in the
stream; NaN where unknown, which LightGBM routes by itself). One booster per quantile
level with the quantile (pinball) objective, early-stopped on the validation windows.

``calibrated=False`` keeps LightGBM's raw quantiles (the baseline as OpenSTEF runs it);
by default the platform's conformal calibration follows, as for every model.
"""

import warnings
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
from typing_extensions import override

from gridbrain.errors import ModelError
from gridbrain.processors.forecast.band_scale import BandScale, target_hours
from gridbrain.processors.forecast.base import Progress, QuantileModel, sort_levels
from gridbrain.processors.forecast.batch import LEVELS, WindowBatch, calendar_features
from gridbrain.processors.forecast.local_calendar import local_features

__all__ = ["GbmTrainConfig", "LightGbm", "gbm_features"]

_DAY_MS = 86_400_000


@dataclass(frozen=True)
class GbmTrainConfig:
    """How the boosters are grown.

    Attributes:
        rounds: at most this many trees per level.
        learning_rate: shrinkage.
        leaves: leaves per tree.
        min_rows: rows per leaf, at least.
        patience: stop a level after this many rounds without a better validation loss.
        max_rows: training rows kept (a random subset beyond it; windows overlap anyway).
        seed: seeds the subset and LightGBM.
    """

    rounds: int = 400
    learning_rate: float = 0.05
    leaves: int = 31
    min_rows: int = 40
    patience: int = 30
    max_rows: int = 150_000
    seed: int = 0


def _weather_days(batch: WindowBatch, steps_per_day: int) -> list[np.ndarray]:
    """Per weather variable, its mean, minimum and maximum over the day up to each target.

    Heat builds up in buildings and in the air: yesterday's and today's weather so far
    explain load and pollution beyond the hour's own value.
    """
    lookback, h = batch.lookback, batch.horizon
    first = lookback - steps_per_day + 1  # window of the first target step starts here
    exog = batch.exog[:, max(first, 0) : lookback + h]
    if first < 0:  # shorter history than a day: pad with unknowns
        pad = np.full((len(batch), -first, exog.shape[-1]), np.nan)
        exog = np.concatenate([pad, exog], axis=1)
    days = np.lib.stride_tricks.sliding_window_view(exog, steps_per_day, axis=1)  # (B,H,E,D)
    out: list[np.ndarray] = []
    with warnings.catch_warnings():  # a day without a value: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        for reduce in (np.nanmean, np.nanmin, np.nanmax):
            stat = reduce(days, axis=-1)  # (B, H, E)
            out.extend(stat[..., k] for k in range(stat.shape[-1]))
    return out


def gbm_features(
    batch: WindowBatch, weather_days: bool = False, local_calendar: bool = False
) -> np.ndarray:
    """One row per window and target step, shape (B * H, F), window-major.

    ``weather_days`` adds the weather's mean, minimum and maximum over the 24 hours up to
    each target step; ``local_calendar`` the target's local hour, weekday and holiday.
    """
    b, h, lookback = len(batch), batch.horizon, batch.lookback
    steps_per_day = max(1, _DAY_MS // batch.step_ms)
    lead = np.arange(1, h + 1)
    columns: list[np.ndarray] = [np.broadcast_to(lead, (b, h)).astype(np.float64)]
    for back in (1, 2, 7):
        index = lookback - 1 + lead - back * steps_per_day  # position in the history
        ok = (index >= 0) & (index < lookback)
        lag = np.full((b, h), np.nan)
        lag[:, ok] = batch.y[:, index[ok]]
        columns.append(lag)
    y = batch.y.astype(np.float64)
    columns.append(np.broadcast_to(y[:, -1:], (b, h)))
    with warnings.catch_warnings():  # a window without values: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        day_mean = np.nanmean(y[:, -steps_per_day:], axis=1)
    columns.append(np.broadcast_to(day_mean[:, None], (b, h)))
    target = batch.target_ts_ms()
    columns.append((target % _DAY_MS) / 3_600_000.0)  # hour of day (UTC)
    columns.append(((target // _DAY_MS + 3) % 7).astype(np.float64))  # 0 = Monday
    days = target.astype("datetime64[ms]").astype("datetime64[D]")
    columns.append((days - days.astype("datetime64[Y]")).astype(np.float64))  # day of year
    columns.append(calendar_features(batch)[..., 4])  # sine of the sun's elevation
    if local_calendar:
        local = local_features(target, batch.calendar)
        columns.extend(local[..., k] for k in range(local.shape[-1]))
    exog = batch.exog[:, lookback : lookback + h]
    columns.extend(exog[..., k] for k in range(exog.shape[-1]))
    if weather_days:
        columns.extend(_weather_days(batch, steps_per_day))
    return np.stack([np.asarray(c, dtype=np.float64) for c in columns], axis=-1).reshape(b * h, -1)


class LightGbm(QuantileModel):
    """LightGBM quantile regression of every target step from lags, calendar and weather.

    Args:
        lookback: history steps it reads (at least a week for the weekly lag).
        horizon: steps ahead H.
        n_exog: weather variables in the windows.
        calibrated: widen or narrow the band on the validation windows (False: raw
            quantiles): each level's distance from the median is scaled by the factors
            with the least pinball loss per step and per hour of the day
            (:class:`~processors.forecast.band_scale.BandScale`). The median stays as
            trained (a shift learnt on the validation season can hurt the next).
        weather_days: add the day's weather statistics (:func:`gbm_features`).
        local_calendar: add the site's local hour, weekday and public holidays (False
            in models saved before they existed).
        train: :class:`GbmTrainConfig` fields.
    """

    kind = "lightgbm"

    def __init__(
        self,
        lookback: int,
        horizon: int,
        n_exog: int = 0,
        calibrated: bool = True,
        weather_days: bool = False,
        local_calendar: bool = False,
        train: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.lookback, self.horizon, self.n_exog = lookback, horizon, n_exog
        self.calibrated, self.weather_days = calibrated, weather_days
        self.local_calendar = local_calendar
        self.train_config = GbmTrainConfig(**(train or {}))
        self.boosters: list[Any] = []
        self.band = BandScale.identity()

    @property
    @override
    def name(self) -> str:
        """What forecasts record: the variant.

        ``lightgbm`` (raw quantiles: the OpenSTEF-style baseline), ``lightgbm_calibrated``,
        ``lightgbm_weather`` (day weather features, calibrated) or ``lightgbm_weather_raw``.
        """
        name = f"{self.kind}_weather" if self.weather_days else self.kind
        if self.calibrated != self.weather_days:
            name += "_calibrated" if self.calibrated else "_raw"
        return name

    @override
    def config(self) -> dict[str, Any]:
        return {
            "lookback": self.lookback,
            "horizon": self.horizon,
            "n_exog": self.n_exog,
            "calibrated": self.calibrated,
            "weather_days": self.weather_days,
            "local_calendar": self.local_calendar,
            "train": asdict(self.train_config),
        }

    @override
    def parameters_state(self) -> dict[str, Any]:
        return {
            **self.band.state(),
            **{
                f"level_{q}": torch.frombuffer(
                    bytearray(b.model_to_string().encode()), dtype=torch.uint8
                )
                for q, b in enumerate(self.boosters)
            },
        }

    @override
    def load_parameters_state(self, state: dict[str, Any]) -> None:
        import lightgbm

        self.boosters = [
            lightgbm.Booster(model_str=bytes(state[f"level_{q}"].numpy()).decode())
            for q in range(len(LEVELS))
        ]
        self.band = BandScale.from_state(state)

    def _check(self, batch: WindowBatch) -> None:
        if batch.horizon != self.horizon:
            raise ModelError(f"{self.kind} forecasts {self.horizon} steps, not {batch.horizon}")
        if batch.exog.shape[-1] != self.n_exog:
            raise ModelError(f"{self.kind} reads {self.n_exog} weather variables")

    def _features(self, batch: WindowBatch) -> np.ndarray:
        return gbm_features(self._window(batch), self.weather_days, self.local_calendar)

    def _window(self, batch: WindowBatch) -> WindowBatch:
        """The batch cut to this model's look-back."""
        self._check(batch)
        if batch.lookback == self.lookback:
            return batch
        cut = batch.lookback - self.lookback
        return replace(batch, y=batch.y[:, cut:], exog=batch.exog[:, cut:])

    @override
    def predict_raw(self, batch: WindowBatch) -> np.ndarray:
        if not self.boosters:
            raise ModelError(f"{self.kind} is not trained")
        features = self._features(batch)
        out = np.stack([b.predict(features) for b in self.boosters], axis=-1)
        out = sort_levels(out.reshape(len(batch), self.horizon, len(LEVELS)))
        return self.band.apply(out, target_hours(batch))

    @override
    def calibrate(self, batch: WindowBatch, target: np.ndarray) -> None:
        """Scale the band per step and hour (:class:`BandScale`); the median stays."""
        if not self.calibrated:
            return
        self.band = BandScale.identity()
        raw = self.predict_raw(batch)
        self.band = BandScale.fit(raw, target[:, : self.horizon], target_hours(batch))

    @override
    def fit_parameters(
        self,
        train: tuple[WindowBatch, np.ndarray],
        val: tuple[WindowBatch, np.ndarray],
        progress: Progress | None = None,
    ) -> None:
        """One early-stopped booster per level; ``progress`` hears each level's losses."""
        import lightgbm

        config = self.train_config
        x, y = _rows(*train, self)
        vx, vy = _rows(*val, self)
        if len(y) > config.max_rows:
            keep = np.random.default_rng(config.seed).choice(len(y), config.max_rows, False)
            x, y = x[keep], y[keep]
        if len(y) < 10 * config.min_rows or len(vy) == 0:
            raise ModelError(f"{self.kind} needs more training and validation targets")
        self.boosters = []
        for q, level in enumerate(LEVELS):
            params = {
                "objective": "quantile",
                "alpha": level,
                "learning_rate": config.learning_rate,
                "num_leaves": config.leaves,
                "min_data_in_leaf": config.min_rows,
                "seed": config.seed,
                "verbose": -1,
                "num_threads": torch.get_num_threads(),
            }
            booster = lightgbm.train(
                params,
                lightgbm.Dataset(x, y),
                num_boost_round=config.rounds,
                valid_sets=[lightgbm.Dataset(vx, vy)],
                callbacks=[lightgbm.early_stopping(config.patience, verbose=False)],
            )
            self.boosters.append(booster)
            if progress is not None:
                best = booster.best_score["valid_0"]["quantile"]
                progress(q, float("nan"), float(best))


def _rows(batch: WindowBatch, target: np.ndarray, model: LightGbm) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows and targets of the known target steps."""
    x = model._features(batch)
    y = np.asarray(target[:, : model.horizon], dtype=np.float64).reshape(-1)
    known = np.isfinite(y)
    return x[known], y[known]
