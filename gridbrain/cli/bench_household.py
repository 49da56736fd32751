"""``gridbrain benchmark household``: the EMHASS household's battery, dispatched day-ahead.

Two parts, both on ``emhass_household`` (see its PROVENANCE.md), with EMHASS's default
battery (5 kWh, 1 kW each way, 95 % each leg, SOC 30-90 %, target 60 %, no discharge to
the grid) and its tariffs (peak 0.1907 / off-peak 0.1419 EUR/kWh, export 0.065):

1. EMHASS's stored optimiser outputs (``opt_res_*.csv``): the same inputs (its load with
   the deferrable loads as it scheduled them, its PV, its prices) planned by Gridbrain's LP
   without a battery (must cost what EMHASS's plan costs) and with the battery.
2. The household year: each whole local day of the last ``--test-fraction`` planned on
   Gridbrain's forecasts of load and PV made at the previous day's noon (models fitted on
   the days before the test period), lived through on the actual load and PV, beside no
   battery, persistence forecasts and perfect foresight.
"""

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

__all__ = [
    "EXPORT_PRICE",
    "HORIZON",
    "LOOKBACK",
    "OFF_PEAK",
    "STEP_MS",
    "emhass_battery",
    "household",
    "household_folder",
    "household_options",
    "household_series",
    "import_prices",
]

STEP_MS = 1_800_000
LOOKBACK = 7 * 48
HORIZON = 80  # previous day's noon to the end of a 25-hour day, and a margin
_TZ = "Europe/Paris"
_PEAK, OFF_PEAK, EXPORT_PRICE = 0.1907, 0.1419, 0.065
_PLANS = (
    "day-ahead forecast",
    "hourly re-planned forecast",
    "day-ahead persistence",
    "perfect foresight",
)
_OPT_RES = (
    "latest",
    "perfect_optim_cost",
    "perfect_optim_profit",
    "perfect_optim_self-consumption",
)


def emhass_battery() -> Any:
    """EMHASS's default battery (no discharge to the grid), as its examples configure it."""
    from gridbrain.processors.dispatch.assets import StorageAsset

    return StorageAsset(
        capacity_kwh=5.0,
        charge_kw=1.0,
        discharge_kw=1.0,
        charge_efficiency=0.95,
        discharge_efficiency=0.95,
        soc_min=0.3,
        soc_max=0.9,
        soc_target=0.6,
        grid_import_kw=9.0,
        grid_export_kw=9.0,
        discharge_to_grid=False,
    )


def import_prices(start_ms: np.ndarray) -> np.ndarray:
    """EMHASS's peak / off-peak price of each 30-min slot starting at ``start_ms``.

    Peak periods 02:54-15:24 and 17:24-20:24 local time (a slot is peak when it starts
    inside one), as in EMHASS's configuration and its stored outputs.

    >>> ms = pd.Timestamp("2024-06-04 03:00", tz=_TZ).value // 10**6
    >>> import_prices(np.array([ms, ms + 26 * 1_800_000])).tolist()  # 03:00 and 16:00
    [0.1907, 0.1419]
    """
    local = pd.to_datetime(start_ms, unit="ms", utc=True).tz_convert(_TZ)
    minutes = np.asarray(local.hour * 60 + local.minute)
    peak = ((minutes >= 174) & (minutes < 924)) | ((minutes >= 1044) & (minutes < 1224))
    return np.where(peak, _PEAK, OFF_PEAK)


def _emhass_days(folder: Path) -> list[dict[str, Any]]:
    """EMHASS's stored plans beside Gridbrain's LP on the same inputs."""
    from gridbrain.processors.dispatch.lp import solve
    from gridbrain.processors.dispatch.problem import DispatchProblem

    rows = []
    for name in _OPT_RES:
        frame = pd.read_csv(folder / f"opt_res_{name}.csv")
        deferrable = frame.filter(like="P_deferrable").sum(axis=1)
        inputs = {
            "load": (frame["P_Load"] + deferrable).to_numpy() / 1000,
            "pv": frame["P_PV"].to_numpy() / 1000,
            "import_price": frame["unit_load_cost"].to_numpy(),
            "export_price": frame["unit_prod_price"].to_numpy(),
        }
        battery = emhass_battery()
        none = battery.model_copy(update={"charge_kw": 0.0, "discharge_kw": 0.0})
        without = solve(DispatchProblem.build(none, 0.5, **inputs))
        with_battery = solve(DispatchProblem.build(battery, 0.5, **inputs))
        rows.append(
            {
                "emhass_run": name,
                "steps": len(frame),
                "emhass_cost": round(-float(frame["cost_profit"].sum()), 3),
                "gridbrain_no_battery": round(without.objective, 3),
                "gridbrain_battery": round(with_battery.objective, 3),
            }
        )
    return rows


def household_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--data-dir, --mapping and --test-fraction of the household benchmarks."""
    options = [
        click.option("--data-dir", type=click.Path(path_type=Path), help="Default: shared data."),
        click.option(
            "--mapping",
            type=click.Path(exists=True, path_type=Path),
            default=Path("deploy/mappings/emhass_household.yaml"),
            show_default=True,
        ),
        click.option("--test-fraction", type=float, default=0.2, show_default=True),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def household_folder(data_dir: Path | None) -> Path:
    """The emhass_household folder (``--data-dir``, else the shared data's)."""
    from gridbrain.settings import Settings

    folder = data_dir or Settings().shared_data_dir / "emhass_household"
    if not (folder / "long_train_data.csv").exists():
        raise click.ClickException(
            f"emhass_household not found in {folder} (set GRIDBRAIN_SHARED_DATA_DIR)"
        )
    return folder


@click.command("household")
@household_options
@click.option("--model", "model_name", default="linear", show_default=True)
@click.option("--epochs", type=int, default=20, show_default=True)
def household(
    data_dir: Path | None, mapping: Path, test_fraction: float, model_name: str, epochs: int
) -> None:
    """Household battery cost: EMHASS's stored plans, and a year of day-ahead dispatch.

    The last line is JSON: the EMHASS comparison per stored run, and the year's costs.
    """
    from gridbrain.cli.output import render

    folder = household_folder(data_dir)
    emhass = _emhass_days(folder)
    click.echo(render(emhass, "table"))
    year = _year(folder, mapping, test_fraction, model_name, epochs)
    table = [
        {"plan": k, "cost_eur": v, "savings_captured": year["savings_captured"].get(k, "")}
        for k, v in year["costs"].items()
    ]
    click.echo(render(table, "table"))
    click.echo(
        f"{year['days']} days {year['first_day']} .. {year['last_day']} ({model_name} "
        f"forecasts of load and PV; savings against no battery, as a share of perfect "
        f"foresight's); {year['replans']['fallback']} of {year['replans']['plans']} plans fell back"
    )
    click.echo(json.dumps({"benchmark": "household", "emhass": emhass, **year}))


def household_series(folder: Path, mapping: Path) -> tuple[Any, Any, np.ndarray, Any]:
    """The household's load and PV series on one 30-min grid, the step starts, local times.

    PV is NaN at night and before its first reading: taken as 0.
    """
    from gridbrain.cli.datasets import SeriesSource, series_from_files

    source = [SeriesSource(folder / "long_train_data.csv", mapping)]
    load = series_from_files(source, "load", STEP_MS)[0]
    pv = series_from_files(source, "pv_power", STEP_MS)[0]
    n = len(load)
    at = (pv.start_ms - load.start_ms) // STEP_MS + np.arange(len(pv))
    inside = (at >= 0) & (at < n)
    pv_values = np.zeros(n)
    pv_values[at[inside]] = np.nan_to_num(pv.values[inside])
    pv = dataclasses.replace(
        load, quantity="pv_power", values=pv_values, exog=np.full_like(load.exog, np.nan)
    )
    stamps = load.start_ms + np.arange(n, dtype=np.int64) * STEP_MS
    local = pd.to_datetime(stamps, unit="ms", utc=True).tz_convert(_TZ)
    return load, pv, stamps, local


def _year(
    folder: Path, mapping: Path, test_fraction: float, model_name: str, epochs: int
) -> dict[str, Any]:
    """Costs over the test days of the year, each plan lived on actual load and PV."""
    from tqdm import tqdm

    from gridbrain.cli.progress import epoch_bar
    from gridbrain.cli.training import TrainOptions, make_model
    from gridbrain.processors.dispatch.lp import solve
    from gridbrain.processors.dispatch.problem import DispatchProblem
    from gridbrain.processors.dispatch.realise import follow
    from gridbrain.processors.dispatch.rules import idle_schedule
    from gridbrain.processors.evaluation.backtest import fit, plan_backtest
    from gridbrain.processors.forecast.batch import P50
    from gridbrain.processors.forecast.dataset import padded, windows_at

    load, pv, stamps, local = household_series(folder, mapping)
    n = len(load)
    dates = np.asarray(local.date)
    test_start = int(n * (1 - test_fraction))
    days = []
    for day in pd.unique(dates[test_start:]):
        rows = np.flatnonzero(dates == day)
        whole = local[rows[0]].hour == 0 and local[rows[-1]].hour == 23
        if whole and rows[0] >= test_start and np.isfinite(load.values[rows]).all():
            noon = pd.Timestamp(day) - pd.Timedelta(days=1) + pd.Timedelta(hours=12)
            cutoff = (round(noon.tz_localize(_TZ).timestamp() * 1000) - load.start_ms) // STEP_MS
            days.append((day, rows, int(cutoff)))
    if not days:
        raise click.ClickException("no whole day with load in the test period")
    # Day-ahead origins (the previous day's noon), then every hour of every day (MPC).
    hourly = [rows[0] + h - 1 for _, rows, _ in days for h in range(0, len(rows), 2)]
    origins = np.array([c - 1 for _, _, c in days] + hourly)
    forecasts = {}
    for series in (load, pv):
        model = make_model(model_name, TrainOptions(LOOKBACK, HORIZON, STEP_MS, epochs=epochs))
        plan = plan_backtest([series], LOOKBACK, HORIZON, (1 - test_fraction - 0.1, 0.1))
        with epoch_bar(f"fitting {model_name} ({series.quantity})", model) as progress:
            fit(model, plan, progress)
        forecasts[series.quantity] = np.clip(
            model.forecast(windows_at(padded(series, HORIZON), origins, LOOKBACK, HORIZON, False))[
                ..., P50
            ],
            0.0,
            None,
        )
    battery = emhass_battery()
    start = battery.soc_target
    costs: dict[str, float] = dict.fromkeys(("none", *_PLANS), 0.0)
    replans = {"plans": 0, "fallback": 0}
    next_hourly = len(days)

    def live(planned: dict[str, np.ndarray], soc: float, first: int, rows: np.ndarray,
             steps: int) -> tuple[float, float]:  # fmt: skip
        """Plan rows[first:] on ``planned`` from ``soc``; live its first ``steps`` steps."""
        part = rows[first:]
        buy, sell = import_prices(stamps[part]), np.full(len(part), EXPORT_PRICE)
        problem = DispatchProblem.build(
            battery, 0.5, load=planned["load"], pv=planned["pv_power"], import_price=buy,
            export_price=sell, soc_initial=soc, soc_final=start,
        )  # fmt: skip
        schedule = solve(problem)
        replans["plans"] += 1
        replans["fallback"] += schedule.status == "fallback"
        now = part[:steps]
        lived = follow(
            schedule, battery, soc, load.values[now], pv.values[now], buy[:steps],
            sell[:steps], 0.5,
        )  # fmt: skip
        return lived.cost, lived.soc

    for k, (_, rows, cutoff) in enumerate(tqdm(days, desc="household days", unit="day")):
        back = np.where(rows - 48 < cutoff, rows - 48, rows - 96)
        day_ahead = {
            "day-ahead forecast": {q: forecasts[q][k, rows - cutoff] for q in forecasts},
            "day-ahead persistence": {"load": load.values[back], "pv_power": pv.values[back]},
            "perfect foresight": {"load": load.values[rows], "pv_power": pv.values[rows]},
        }
        for name, planned in day_ahead.items():
            clean = {q: np.nan_to_num(v, nan=float(np.nanmean(v))) for q, v in planned.items()}
            cost, soc = live(clean, start, 0, rows, len(rows))
            costs[name] += cost - (soc - start) * battery.capacity_kwh * OFF_PEAK
        # MPC: re-planned every hour from the SOC reached, on that hour's forecasts.
        soc, cost = start, 0.0
        for first in range(0, len(rows), 2):
            ahead = np.arange(1, len(rows) - first + 1)
            planned = {q: forecasts[q][next_hourly, ahead - 1] for q in forecasts}
            next_hourly += 1
            part_cost, soc = live(planned, soc, first, rows, 2)
            cost += part_cost
        costs["hourly re-planned forecast"] += (
            cost - (soc - start) * battery.capacity_kwh * OFF_PEAK
        )
        buy = import_prices(stamps[rows])
        idle = idle_schedule(DispatchProblem.build(battery, 0.5, import_price=buy), "none")
        costs["none"] += follow(
            idle, battery, start, load.values[rows], pv.values[rows], buy,
            np.full(len(rows), EXPORT_PRICE), 0.5,
        ).cost  # fmt: skip
    saved = costs["none"] - costs["perfect foresight"]
    return {
        "days": len(days),
        "first_day": str(days[0][0]),
        "last_day": str(days[-1][0]),
        "costs": {k: round(v, 2) for k, v in costs.items()},
        "savings_captured": {
            k: round((costs["none"] - v) / saved, 4) if saved else None
            for k, v in costs.items()
            if k != "none"
        },
        "replans": replans,
    }
