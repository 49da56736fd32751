"""The days a trading benchmark plays: a price series, its battery and day-ahead forecasts.

Shared by ``benchmark dispatch`` and ``benchmark qlearning`` so both test on the same days
with the same forecasts: the ``price`` series of a mapped file, hourly; the last
``--test-fraction`` of the hours is the test period and the 10 % before it the
validation period; each whole local calendar day is planned on prices known at the
previous day's noon. The forecasting model is fitted on the hours before the validation
period and calibrated on it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

__all__ = [
    "HURDLES",
    "TradingDays",
    "best_hurdle",
    "lp_profits",
    "trading_days",
    "trading_options",
    "usable",
]

HOUR_MS = 3_600_000
_LOOKBACK = 14 * 24
_HORIZON = 40  # from the previous day's noon to the end of a 25-hour day, and a margin

Day = tuple[Any, np.ndarray]
#: Planning margins (price per unit of energy through the battery) tried on the
#: validation days; each plan kind takes its best there into the test period.
HURDLES = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0)


def trading_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options naming the data, the battery and the forecasting model."""
    options = [
        click.option("--csv", "csv_path", type=click.Path(exists=True, path_type=Path),
                     required=True),
        click.option("--mapping", type=click.Path(exists=True, path_type=Path), required=True),
        click.option("--site", help="The price site (default: the file's only one)."),
        click.option("--test-fraction", type=float, default=0.2, show_default=True),
        click.option("--capacity-mwh", type=float, default=1.0, show_default=True),
        click.option("--power-mw", type=float, default=0.5, show_default=True),
        click.option("--efficiency", type=float, default=0.9, show_default=True,
                     help="Round trip."),
        click.option("--soc-min", type=float, default=0.1, show_default=True),
        click.option("--soc-max", type=float, default=0.9, show_default=True),
        click.option("--soc-start", type=float, default=0.5, show_default=True),
        click.option("--model", "model_name", default="linear", show_default=True),
        click.option("--epochs", type=int, default=20, show_default=True),
        click.option("--timezone", help="Local calendar (default: the site profile's, else UTC)."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


@dataclass(frozen=True)
class TradingDays:
    """Whole local days of a price series with the forecast made for each.

    Attributes:
        series: the hourly price series.
        asset: the battery (MWh and MW read as kWh and kW: profits in the price's unit).
        tz: the local calendar.
        history: days before the validation period (with ``with_history``, else none).
        validation: days of the validation period.
        test: days of the test period.
        forecast: the p50 forecast made at the previous day's noon, by day.
        cutoffs: index of the first hour not known at that noon, by day.
    """

    series: Any
    asset: Any
    tz: str
    history: list[Day]
    validation: list[Day]
    test: list[Day]
    forecast: dict[Any, np.ndarray]
    cutoffs: dict[Any, int]


def trading_days(
    csv_path: Path,
    mapping: Path,
    site: str | None,
    test_fraction: float,
    capacity_mwh: float,
    power_mw: float,
    efficiency: float,
    soc_min: float,
    soc_max: float,
    soc_start: float,
    model_name: str,
    epochs: int,
    timezone: str | None,
    with_history: bool = False,
) -> TradingDays:
    """Fit the model, find the days and forecast each (history days too with ``with_history``)."""
    from gridbrain.cli.datasets import SeriesSource, series_from_files
    from gridbrain.cli.progress import epoch_bar
    from gridbrain.cli.replay import load_mapping
    from gridbrain.cli.training import TrainOptions, make_model
    from gridbrain.processors.dispatch.assets import StorageAsset
    from gridbrain.processors.evaluation.backtest import fit, plan_backtest
    from gridbrain.processors.forecast.batch import P50
    from gridbrain.processors.forecast.dataset import padded, windows_at

    if not 0 < test_fraction < 0.9:
        raise click.BadParameter("must be in (0, 0.9)", param_hint="--test-fraction")
    found = series_from_files([SeriesSource(csv_path, mapping)], "price", HOUR_MS)
    chosen = [s for s in found if site is None or s.site_id == site]
    if not chosen:
        raise click.ClickException(f"no price series of site {site!r} in {csv_path}")
    series = chosen[0]
    profiles = {p.site_id: p for p in load_mapping(mapping).sites}
    profile = profiles.get(series.site_id)
    tz = timezone or (profile.timezone if profile and profile.timezone else "UTC")
    leg = float(np.sqrt(efficiency))
    asset = StorageAsset(
        capacity_kwh=capacity_mwh,
        charge_kw=power_mw,
        discharge_kw=power_mw,
        charge_efficiency=leg,
        discharge_efficiency=leg,
        soc_min=soc_min,
        soc_max=soc_max,
        soc_target=soc_start,
    )
    n = len(series)
    model = make_model(model_name, TrainOptions(_LOOKBACK, _HORIZON, HOUR_MS, epochs=epochs))
    plan = plan_backtest([series], _LOOKBACK, _HORIZON, (1 - test_fraction - 0.1, 0.1))
    with epoch_bar(f"fitting {model_name}", model) as progress:
        fit(model, plan, progress)

    days, stamps = _local_days(series.start_ms, n, tz)
    local = stamps.tz_convert(tz)
    test_start = int(n * (1 - test_fraction))
    val_start = int(n * (1 - test_fraction - 0.1))
    first = _LOOKBACK + 48 if with_history else val_start
    parts = [
        _whole_days(days, local, first, val_start),
        _whole_days(days, local, val_start, test_start),
        _whole_days(days, local, test_start, n),
    ]
    values = series.values
    history, validation, test = (
        [(d, r) for d, r in part if np.isfinite(values[r]).all()] for part in parts
    )
    if not test:
        raise click.ClickException("no whole day with prices in the test period")
    every = history + validation + test
    cutoffs = {d: _cutoff_index(d, tz, series.start_ms) for d, _ in every}
    origins = np.array([cutoffs[d] - 1 for d, _ in every])
    windows = windows_at(padded(series, _HORIZON), origins, _LOOKBACK, _HORIZON, False)
    p50 = model.forecast(windows)[..., P50]
    forecast = {d: usable(p50[k, rows - cutoffs[d]]) for k, (d, rows) in enumerate(every)}
    return TradingDays(series, asset, tz, history, validation, test, forecast, cutoffs)


def _local_days(start_ms: int, n: int, tz: str) -> tuple[np.ndarray, pd.DatetimeIndex]:
    stamps = pd.to_datetime(start_ms + np.arange(n, dtype=np.int64) * HOUR_MS, unit="ms", utc=True)
    local = stamps.tz_convert(tz)
    return np.asarray(local.normalize().date), stamps


def _cutoff_index(day: Any, tz: str, start_ms: int) -> int:
    """Index of the first hour not known at the previous local day's noon."""
    noon = (pd.Timestamp(day) - pd.Timedelta(days=1) + pd.Timedelta(hours=12)).tz_localize(tz)
    return (round(noon.timestamp() * 1000) - start_ms) // HOUR_MS


def _whole_days(days: np.ndarray, local: pd.DatetimeIndex, start: int, end: int) -> list[Day]:
    """(day, row indices) of each whole local day within rows [start, end)."""
    out = []
    for day in pd.unique(days[start:end]):
        rows = np.flatnonzero(days == day)
        whole = local[rows[0]].hour == 0 and local[rows[-1]].hour == 23
        if whole and rows[0] >= start and rows[-1] < end:
            out.append((day, rows))
    return out


def usable(prices: np.ndarray) -> np.ndarray:
    """Planned prices with unknown hours at the plan's mean (flat: no trade there)."""
    known = np.isfinite(prices)
    fill = float(prices[known].mean()) if known.any() else 0.0
    return np.where(known, prices, fill)


def lp_profits(
    setup: TradingDays, planned: dict[Any, np.ndarray], days: list[Day], hurdle: float
) -> list[float]:
    """Profit at actual prices of the LP plan made on ``planned`` prices, day by day."""
    from gridbrain.processors.dispatch.trading import plan_profit

    values = setup.series.values
    return [plan_profit(setup.asset, 1.0, planned[d], values[r], hurdle)[0] for d, r in days]


def best_hurdle(setup: TradingDays, planned: dict[Any, np.ndarray]) -> float:
    """The margin of :data:`HURDLES` that earns most on the validation days."""
    return max(HURDLES, key=lambda h: sum(lp_profits(setup, planned, setup.validation, h)))
