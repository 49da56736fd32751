"""The day-ahead load design of ``benchmark weather-text``, and its ridge model per hour.

Every hour t is forecast from the local midnight that starts its day (Europe/Madrid): the
load up to that origin (the value 24 h before t, or the origin's last hour on a 25-hour
day; a week before t; each of the last 24 hours), the calendar (weekday, month,
Spanish national holidays, day of the year, a trend) and the cities' weather at t (the
observed weather, a perfect forecast). Weather text adds columns per city: a multi-hot of
the descriptions or fine-tuned text features. One ridge regression per local hour of the
day, its penalty chosen on the validation hours, fits every variant the same way; the text
columns get a penalty of their own (also chosen on validation), so columns that do not pay
fade out instead of adding noise.

In this data the day's load profile often differs from the day before (a third of the days
correlate below 0.9 with the previous day's profile, hour by hour), which the operator's
forecast column follows; the lags include the whole last day to catch what can be caught.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from gridbrain.cli.spain_weather import SpainHours
from gridbrain.processors.text.descriptions import parts

__all__ = [
    "ALPHAS",
    "EXTRA_FACTORS",
    "HourlyRidge",
    "Study",
    "easter",
    "fit_select",
    "mae",
    "multi_hot",
    "out_of_fold",
    "spanish_holidays",
    "text_columns",
]

#: Ridge penalties tried (on standardised columns).
ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)
#: Factors tried on the penalty of the weather-text columns.
EXTRA_FACTORS = (1.0, 10.0, 100.0, 1000.0, 10000.0)
_HOUR = pd.Timedelta(hours=1)


def easter(year: int) -> date:
    """Easter Sunday (Gregorian; the anonymous algorithm).

    >>> easter(2018), easter(2016)
    (datetime.date(2018, 4, 1), datetime.date(2016, 3, 27))
    """
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


def spanish_holidays(years: Sequence[int]) -> set[date]:
    """Spain's national holidays (fixed dates and Good Friday) of ``years``."""
    fixed = [(1, 1), (1, 6), (5, 1), (8, 15), (10, 12), (11, 1), (12, 6), (12, 8), (12, 25)]
    out = {date(y, m, d) for y in years for m, d in fixed}
    return out | {easter(y) - timedelta(days=2) for y in years}


@dataclass(frozen=True)
class Study:
    """The hours forecast, their origins and the base design.

    Attributes:
        rows: hour indices into the data.
        origin: row of each hour's origin (its local midnight).
        group: local hour of the day (one ridge each).
        y: actual load.
        base: lags, calendar and numeric weather (n, F).
        text: the weather text per city (n, C).
        train: hours before the split; val: the last tenth of them; test: the rest.
    """

    rows: np.ndarray
    origin: np.ndarray
    group: np.ndarray
    y: np.ndarray
    base: np.ndarray
    text: np.ndarray
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    @classmethod
    def build(cls, data: SpainHours, split: int) -> "Study":
        """Every hour with a week of history before its origin; test from ``split`` on."""
        local = data.stamps.tz_convert("Europe/Madrid")
        midnight = local.normalize().tz_convert("UTC")
        origin_all = np.asarray((midnight - data.stamps[0]) // _HOUR, dtype=np.int64)
        rows = np.flatnonzero(origin_all >= 168)
        origin = origin_all[rows]
        train = rows < split
        cut = rows[train][int(0.9 * train.sum())] if train.any() else split
        return cls(
            rows=rows,
            origin=origin,
            group=local.hour.to_numpy()[rows],
            y=data.load[rows],
            base=_base(data, rows, origin, local[rows]),
            text=data.text[rows],
            train=train,
            val=train & (rows >= cut),
            test=rows >= split,
        )


def _base(
    data: SpainHours, rows: np.ndarray, origin: np.ndarray, local: pd.DatetimeIndex
) -> np.ndarray:
    load = pd.Series(data.load).ffill().bfill().to_numpy()
    day = np.minimum(rows - 24, origin - 1)
    last_day = np.stack([load[origin - k] for k in range(1, 25)], axis=1)  # newest first
    lags = np.column_stack([load[day], load[rows - 168], last_day])
    holidays = spanish_holidays(sorted(set(local.year)))
    dates = local.date
    calendar = np.column_stack(
        [
            np.eye(7)[local.day_of_week],
            np.eye(12)[local.month - 1],
            [d in holidays for d in dates],
            np.sin(2 * np.pi * local.day_of_year / 365.25),
            np.cos(2 * np.pi * local.day_of_year / 365.25),
            (local.year - 2015) + local.day_of_year / 365.25,
        ]
    )
    weather = data.weather[rows]  # (n, C, V); V[0] is the temperature in Celsius
    temp = weather[..., :1]
    heat, cool = np.maximum(16.0 - temp, 0.0), np.maximum(temp - 22.0, 0.0)
    climate = np.concatenate([weather, heat, cool], axis=-1).reshape(len(rows), -1)
    return np.column_stack([lags, calendar.astype(float), climate])


def multi_hot(text: np.ndarray, vocabulary: Sequence[str]) -> np.ndarray:
    """Per city, one column per description in ``vocabulary`` (others: no column), (n, C*V).

    >>> multi_hot(np.array([["fog, mist", "rain"]]), ["fog", "mist"]).tolist()
    [[1.0, 1.0, 0.0, 0.0]]
    """
    position = {d: i for i, d in enumerate(vocabulary)}
    n, cities = text.shape
    out = np.zeros((n, cities, len(position)))
    distinct, inverse = np.unique(text.astype(str), return_inverse=True)
    rows = np.zeros((len(distinct), len(position)))
    for k, joined in enumerate(distinct):
        for part in parts(joined):
            if part in position:
                rows[k, position[part]] = 1.0
    out[:] = rows[inverse.reshape(text.shape)]
    return out.reshape(n, -1)


def text_columns(text: np.ndarray, featurize: Callable[[Sequence[str]], np.ndarray]) -> np.ndarray:
    """Per city, the features ``featurize`` gives each text (computed once per text), (n, C*k)."""
    distinct, inverse = np.unique(text.astype(str), return_inverse=True)
    table = featurize(list(distinct))
    return table[inverse.reshape(text.shape)].reshape(len(text), -1)


class HourlyRidge:
    """One ridge regression per group (local hour), on columns standardised over training.

    Args:
        alpha: the penalty of every column.
        extra: the last ``extra`` columns (weather text) are penalised ``extra_factor``
            times as much, so that columns which do not pay on validation fade out.
        extra_factor: see ``extra``.
    """

    def __init__(self, alpha: float, extra: int = 0, extra_factor: float = 1.0) -> None:
        self.alpha = alpha
        self.extra, self.extra_factor = extra, extra_factor
        self.coef: dict[int, tuple[np.ndarray, float]] = {}
        self.mean = np.zeros(0)
        self.std = np.ones(0)

    def fit(self, x: np.ndarray, y: np.ndarray, group: np.ndarray) -> "HourlyRidge":
        """Fit on rows with a finite ``y``."""
        keep = np.isfinite(y)
        self.mean = x[keep].mean(axis=0)
        std = x[keep].std(axis=0)
        self.std = np.where(std > 1e-9, std, 1.0)
        z = (x - self.mean) / self.std
        penalty = np.full(x.shape[1], self.alpha)
        if self.extra:
            penalty[-self.extra :] *= self.extra_factor
        eye = np.diag(penalty)
        for g in np.unique(group[keep]):
            m = keep & (group == g)
            zm, ym = z[m], y[m]
            zc, yc = zm.mean(axis=0), ym.mean()
            a = zm - zc
            beta = np.linalg.solve(a.T @ a + eye, a.T @ (ym - yc))
            self.coef[int(g)] = (beta, float(yc - zc @ beta))
        return self

    def predict(self, x: np.ndarray, group: np.ndarray) -> np.ndarray:
        """Predictions (NaN for groups never fitted)."""
        z = (x - self.mean) / self.std
        out = np.full(len(x), np.nan)
        for g, (beta, intercept) in self.coef.items():
            m = group == g
            out[m] = z[m] @ beta + intercept
        return out


def mae(prediction: np.ndarray, actual: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute error over ``mask`` where the actual value is known."""
    use = mask & np.isfinite(actual)
    return float(np.mean(np.abs(prediction[use] - actual[use])))


def fit_select(
    x: np.ndarray, study: Study, train: np.ndarray | None = None, extra: int = 0
) -> HourlyRidge:
    """A ridge per hour, its penalties chosen on the validation hours, refitted on ``train``.

    ``train`` defaults to the study's training hours; its validation hours choose the
    penalty (among :data:`ALPHAS`) and, for the last ``extra`` columns, its factor (among
    :data:`EXTRA_FACTORS`) of a fit on the rest of it.
    """
    train = study.train if train is None else train
    val = train & study.val
    fit_rows = train & ~study.val
    scores = {}
    for alpha in ALPHAS:
        for factor in EXTRA_FACTORS if extra else (1.0,):
            model = HourlyRidge(alpha, extra, factor)
            model.fit(x[fit_rows], study.y[fit_rows], study.group[fit_rows])
            error = mae(model.predict(x[val], study.group[val]), study.y[val], val[val])
            scores[alpha, factor] = error
    alpha, factor = min(scores, key=lambda k: scores[k])
    return HourlyRidge(alpha, extra, factor).fit(x[train], study.y[train], study.group[train])


def out_of_fold(
    x: np.ndarray, study: Study, train: np.ndarray, alpha: float, folds: int = 5
) -> np.ndarray:
    """Residuals (actual - prediction) of the training hours, each fold predicted by the rest.

    Folds are contiguous blocks of time. Other hours: NaN.
    """
    index = np.flatnonzero(train)
    out = np.full(len(x), np.nan)
    for block in np.array_split(index, folds):
        rest = train.copy()
        rest[block] = False
        model = HourlyRidge(alpha).fit(x[rest], study.y[rest], study.group[rest])
        out[block] = study.y[block] - model.predict(x[block], study.group[block])
    return out
