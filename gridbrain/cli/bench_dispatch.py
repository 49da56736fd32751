"""``gridbrain benchmark dispatch``: a merchant battery trading on Gridbrain's price forecasts.

The protocol: the ``price`` series of a mapped file, hourly; the last ``--test-fraction``
of the hours is the test period; each whole local calendar day in it is planned on prices
known at the previous day's noon (Gridbrain's forecast, persistence prices, and the
cheapest/dearest-hours rule on each) and paid the actual prices; the perfect-foresight
plan on the actual prices is the yardstick (the capture ratio is the share of its profit
a plan earns). The SOC starts and ends every day at ``--soc-start``. The days and
forecasts are those of :mod:`~gridbrain.cli.trading_days`.
"""

import json
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from gridbrain.cli.trading_days import (
    HOUR_MS,
    best_hurdle,
    lp_profits,
    trading_days,
    trading_options,
    usable,
)

__all__ = ["dispatch"]


@click.command("dispatch")
@trading_options
@click.option(
    "--anchor-column",
    help="Another price column of the file to plan on as well (e.g. 'price day ahead').",
)
def dispatch(csv_path: Path, mapping: Path, anchor_column: str | None, **options: Any) -> None:
    """Capture ratio of forecast-price dispatch against perfect foresight, and solve times.

    The last line is JSON: perfect_foresight_profit, forecast_profit, capture_ratio,
    persistence_capture_ratio, rule_capture_ratio, days, solve_s_p95 and more.
    """
    from tqdm import tqdm

    from gridbrain.cli.output import render
    from gridbrain.processors.dispatch.trading import (
        independent_profit,
        persistence_prices,
        plan_profit,
        rule_profit,
    )

    setup = trading_days(csv_path, mapping, **options)
    series, asset, val_days, test_days = setup.series, setup.asset, setup.validation, setup.test
    model_name, values, n = options["model_name"], series.values, len(series)
    test_start = int(n * (1 - options["test_fraction"]))
    every = val_days + test_days
    planned: dict[str, dict[Any, np.ndarray]] = {"forecast": {}, "persistence": {}}
    for d, rows in every:
        planned["forecast"][d] = setup.forecast[d]
        planned["persistence"][d] = usable(persistence_prices(values, rows, setup.cutoffs[d]))
    if anchor_column:
        planned["anchor"] = _anchor_prices(csv_path, mapping, anchor_column, series, every)

    hurdles = {name: best_hurdle(setup, planned[name]) for name in planned}
    perfect_days = [plan_profit(asset, 1.0, values[r], values[r]) for _, r in test_days]
    perfect = float(sum(p for p, _ in perfect_days))
    totals = {
        name: float(
            sum(lp_profits(setup, planned[name], tqdm(test_days, desc=name), hurdles[name]))
        )
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
    index = (table.event_ms - series.start_ms) // HOUR_MS
    keep = (index >= 0) & (index < len(hourly))
    hourly[index[keep]] = table.values[column][keep]
    return {d: usable(hourly[rows]) for d, rows in every}


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
