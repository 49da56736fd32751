"""``gridbrain benchmark dispatch``: a merchant battery trading on Gridbrain's price forecasts.

The protocol: the ``price`` series of a mapped file, hourly; the last ``--test-fraction``
of the hours is the test period; each whole local calendar day in it is planned on prices
known at the previous day's noon (Gridbrain's forecast, persistence prices, and the
cheapest/dearest-hours rule on each) and paid the actual prices; the perfect-foresight
plan on the actual prices is the yardstick (the capture ratio is the share of its profit
a plan earns). The SOC starts and ends every day at ``--soc-start``. The model is fitted
on the hours before the test period (the last 10 % of them for calibration).
"""

import json
import time
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

__all__ = ["dispatch"]

_HOUR_MS = 3_600_000
_LOOKBACK = 14 * 24
_HORIZON = 40  # from the previous day's noon to the end of a 25-hour day, and a margin
#: Planning margins (price per unit of energy through the battery) tried on the
#: validation days; each plan kind takes its best there into the test period.
_HURDLES = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0)


def _local_days(start_ms: int, n: int, tz: str) -> tuple[np.ndarray, pd.DatetimeIndex]:
    stamps = pd.to_datetime(start_ms + np.arange(n, dtype=np.int64) * _HOUR_MS, unit="ms", utc=True)
    local = stamps.tz_convert(tz)
    return np.asarray(local.normalize().date), stamps


def _cutoff_index(day: Any, tz: str, start_ms: int) -> int:
    """Index of the first hour not known at the previous local day's noon."""
    noon = (pd.Timestamp(day) - pd.Timedelta(days=1) + pd.Timedelta(hours=12)).tz_localize(tz)
    return (round(noon.timestamp() * 1000) - start_ms) // _HOUR_MS


@click.command("dispatch")
@click.option("--csv", "csv_path", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--mapping", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--site", help="The price site (default: the file's only one).")
@click.option("--test-fraction", type=float, default=0.2, show_default=True)
@click.option("--capacity-mwh", type=float, default=1.0, show_default=True)
@click.option("--power-mw", type=float, default=0.5, show_default=True)
@click.option("--efficiency", type=float, default=0.9, show_default=True, help="Round trip.")
@click.option("--soc-min", type=float, default=0.1, show_default=True)
@click.option("--soc-max", type=float, default=0.9, show_default=True)
@click.option("--soc-start", type=float, default=0.5, show_default=True)
@click.option("--model", "model_name", default="linear", show_default=True)
@click.option("--epochs", type=int, default=20, show_default=True)
@click.option("--timezone", help="Local calendar (default: the site profile's, else UTC).")
@click.option(
    "--anchor-column",
    help="Another price column of the file to plan on as well (e.g. 'price day ahead').",
)
def dispatch(
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
    anchor_column: str | None,
) -> None:
    """Capture ratio of forecast-price dispatch against perfect foresight, and solve times.

    The last line is JSON: perfect_foresight_profit, forecast_profit, capture_ratio,
    persistence_capture_ratio, rule_capture_ratio, days, solve_s_p95 and more.
    """
    from tqdm import tqdm

    from gridbrain.cli.datasets import SeriesSource, series_from_files
    from gridbrain.cli.output import render
    from gridbrain.cli.progress import epoch_bar
    from gridbrain.cli.replay import load_mapping
    from gridbrain.cli.training import TrainOptions, make_model
    from gridbrain.processors.dispatch.assets import StorageAsset
    from gridbrain.processors.dispatch.trading import (
        independent_profit,
        persistence_prices,
        plan_profit,
        rule_profit,
    )
    from gridbrain.processors.evaluation.backtest import fit, plan_backtest
    from gridbrain.processors.forecast.dataset import padded, windows_at

    if not 0 < test_fraction < 0.9:
        raise click.BadParameter("must be in (0, 0.9)", param_hint="--test-fraction")
    found = series_from_files([SeriesSource(csv_path, mapping)], "price", _HOUR_MS)
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
    model = make_model(model_name, TrainOptions(_LOOKBACK, _HORIZON, _HOUR_MS, epochs=epochs))
    plan = plan_backtest([series], _LOOKBACK, _HORIZON, (1 - test_fraction - 0.1, 0.1))
    with epoch_bar(f"fitting {model_name}", model) as progress:
        fit(model, plan, progress)

    days, stamps = _local_days(series.start_ms, n, tz)
    test_start = int(n * (1 - test_fraction))
    val_start = int(n * (1 - test_fraction - 0.1))
    val_days = _whole_days(days, stamps.tz_convert(tz), val_start, test_start)
    test_days = _whole_days(days, stamps.tz_convert(tz), test_start, n)
    values = series.values
    val_days, test_days = (
        [(d, r) for d, r in part if np.isfinite(values[r]).all()] for part in (val_days, test_days)
    )
    if not test_days:
        raise click.ClickException("no whole day with prices in the test period")
    every = val_days + test_days
    cutoffs = {d: _cutoff_index(d, tz, series.start_ms) for d, _ in every}
    origins = np.array([cutoffs[d] - 1 for d, _ in every])
    p50 = model.forecast(windows_at(padded(series, _HORIZON), origins, _LOOKBACK, _HORIZON, False))[
        ..., 1
    ]
    planned: dict[str, dict[Any, np.ndarray]] = {"forecast": {}, "persistence": {}}
    for k, (d, rows) in enumerate(every):
        planned["forecast"][d] = _usable(p50[k, rows - cutoffs[d]])
        planned["persistence"][d] = _usable(persistence_prices(values, rows, cutoffs[d]))
    if anchor_column:
        planned["anchor"] = _anchor_prices(csv_path, mapping, anchor_column, series, every)

    def profits(days_rows: list[tuple[Any, np.ndarray]], name: str, hurdle: float) -> list[float]:
        return [
            plan_profit(asset, 1.0, planned[name][d], values[rows], hurdle)[0]
            for d, rows in days_rows
        ]

    def best_hurdle(name: str) -> float:
        return max(_HURDLES, key=lambda h: sum(profits(val_days, name, h)))

    hurdles = {name: best_hurdle(name) for name in planned}
    perfect_days = [plan_profit(asset, 1.0, values[r], values[r]) for _, r in test_days]
    perfect = float(sum(p for p, _ in perfect_days))
    totals = {
        name: float(sum(profits(tqdm(test_days, desc=name, unit="day"), name, hurdles[name])))
        for name in planned
    }
    rules = {
        name: float(sum(rule_profit(asset, 1.0, planned[name][d], values[r]) for d, r in test_days))
        for name in ("forecast", "persistence")
    }
    independent = sum(independent_profit(asset, 1.0, values[r]) for _, r in test_days)
    solve_s = np.array(
        [plan_profit(asset, 1.0, planned["forecast"][d], values[r])[1] for d, r in test_days]
    )
    year = values[-min(n, 8760) :]
    year_s = _year_solve_s(asset, np.where(np.isfinite(year), year, np.nanmean(year)))
    mip_s = _mip_48h_5min_s(asset, values[test_start:])
    result: dict[str, Any] = {
        "benchmark": "dispatch",
        "site": series.site_id,
        "model": model_name,
        "days": len(test_days),
        "first_day": str(test_days[0][0]),
        "last_day": str(test_days[-1][0]),
        "validation_days": len(val_days),
        "perfect_foresight_profit": round(perfect, 2),
        "independent_lp_profit": round(independent, 2),
        "lp_vs_independent": round(perfect / independent - 1, 6) if independent else None,
        "forecast_profit": round(totals["forecast"], 2),
        "capture_ratio": round(totals["forecast"] / perfect, 4),
        "forecast_hurdle": hurdles["forecast"],
        "persistence_profit": round(totals["persistence"], 2),
        "persistence_capture_ratio": round(totals["persistence"] / perfect, 4),
        "persistence_hurdle": hurdles["persistence"],
        "rule_capture_ratio": round(rules["forecast"] / perfect, 4),
        "persistence_rule_capture_ratio": round(rules["persistence"] / perfect, 4),
        "solve_s_p95": round(float(np.percentile(solve_s, 95)), 4),
        "year_hourly_solve_s": round(year_s, 3),
        "mip_48h_5min_p95_s": round(float(np.percentile(mip_s, 95)), 3),
    }
    labels = {
        "forecast": f"LP on {model_name} forecast",
        "persistence": "LP on persistence prices",
        "anchor": f"LP on column {anchor_column!r}",
    }
    table: list[dict[str, Any]] = [{"plan": "perfect foresight", "profit": perfect}]
    for name, value in totals.items():
        table.append({"plan": labels[name], "profit": value, "hurdle": hurdles[name]})
        if name == "anchor":
            result["anchor_column"] = anchor_column
            result["anchor_capture_ratio"] = round(value / perfect, 4)
    table.append({"plan": f"rule on {model_name} forecast", "profit": rules["forecast"]})
    table.append({"plan": "rule on persistence prices", "profit": rules["persistence"]})
    for row in table:
        row["capture"] = round(row["profit"] / perfect, 4)
        row["profit"] = round(row["profit"], 2)
        row.setdefault("hurdle", "")
    click.echo(render(table, "table"))
    click.echo(
        f"{len(test_days)} days {result['first_day']} .. {result['last_day']} (hurdles chosen "
        f"on {len(val_days)} validation days before); independent LP {independent:.2f} "
        f"({result['lp_vs_independent']:+.2e}); a year hourly solved in {year_s:.3f} s; "
        f"48 h at 5 min with binaries p95 {result['mip_48h_5min_p95_s']} s"
    )
    click.echo(json.dumps(result))


def _whole_days(
    days: np.ndarray, local: pd.DatetimeIndex, start: int, end: int
) -> list[tuple[Any, np.ndarray]]:
    """(day, row indices) of each whole local day within rows [start, end)."""
    out = []
    for day in pd.unique(days[start:end]):
        rows = np.flatnonzero(days == day)
        whole = local[rows[0]].hour == 0 and local[rows[-1]].hour == 23
        if whole and rows[0] >= start and rows[-1] < end:
            out.append((day, rows))
    return out


def _anchor_prices(
    csv_path: Path, mapping: Path, column: str, series: Any, every: list[tuple[Any, np.ndarray]]
) -> dict[Any, np.ndarray]:
    """Another price column of the file (e.g. the day-ahead market price) on the same hours."""
    from gridbrain.cli.replay import ColumnMapping, load_mapping, read_mapped

    spec = load_mapping(mapping).model_copy(
        update={"columns": {column: ColumnMapping(quantity="price", unit="EUR/MWh")}}
    )
    table = read_mapped(csv_path, spec)
    hourly = np.full(len(series), np.nan)
    index = (table.event_ms - series.start_ms) // _HOUR_MS
    keep = (index >= 0) & (index < len(hourly))
    hourly[index[keep]] = table.values[column][keep]
    return {d: _usable(hourly[rows]) for d, rows in every}


def _usable(prices: np.ndarray) -> np.ndarray:
    """Planned prices with unknown hours at the plan's mean (flat: no trade there)."""
    known = np.isfinite(prices)
    fill = float(prices[known].mean()) if known.any() else 0.0
    return np.where(known, prices, fill)


def _year_solve_s(asset: Any, prices: np.ndarray) -> float:
    """Seconds to plan a year of hourly prices in one LP (best of two)."""
    from gridbrain.processors.dispatch.lp import solve
    from gridbrain.processors.dispatch.problem import DispatchProblem

    problem = DispatchProblem.build(asset, 1.0, import_price=prices)
    times = []
    for _ in range(2):
        started = time.perf_counter()
        solve(problem)
        times.append(time.perf_counter() - started)
    return min(times)


def _mip_48h_5min_s(asset: Any, prices: np.ndarray, windows: int = 20) -> np.ndarray:
    """Seconds per 48 h plan at 5 min with the binaries forced on, over ``windows`` starts."""
    from gridbrain.processors.dispatch.lp import solve
    from gridbrain.processors.dispatch.problem import DispatchProblem

    starts = np.linspace(0, max(len(prices) - 48, 0), windows).astype(int)
    out = []
    for start in starts:
        hourly = prices[start : start + 48]
        hourly = np.where(np.isfinite(hourly), hourly, np.nanmean(hourly))
        problem = DispatchProblem.build(asset, 5 / 60, import_price=np.repeat(hourly, 12))
        started = time.perf_counter()
        solve(problem, binaries=True)
        out.append(time.perf_counter() - started)
    return np.array(out)
