"""``gridbrain benchmark scenarios``: GAN and copula scenarios of household load, and their use.

On the EMHASS household (``emhass_household``): every whole local day of 48 half hours
gets Gridbrain's quantile forecast of its load made at the previous day's noon (the
``linear`` model of ``benchmark household``, fitted on the first 70 % of the year). The
days before the test period (the last ``--test-fraction``) teach the scenario makers: a
Gaussian copula on the forecast's quantiles (its step correlation learnt from those days)
and a conditional Wasserstein GAN. On the test days each makes ``--scenarios`` scenarios,
scored by the energy and variogram scores, and a scenario (two-stage) dispatch of the
household battery on them is lived on the actual load and PV beside the dispatch on the
median forecast. The battery is EMHASS's, allowed to export (so that one plan serves every
scenario); PV is its median forecast in every plan.
"""

import json
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from gridbrain.cli.bench_household import (
    EXPORT_PRICE,
    HORIZON,
    LOOKBACK,
    OFF_PEAK,
    STEP_MS,
    emhass_battery,
    household_folder,
    household_options,
    household_series,
    import_prices,
)

__all__ = ["scenarios"]

_STEPS = 48


@click.command("scenarios")
@household_options
@click.option("--scenarios", "count", type=int, default=100, show_default=True)
@click.option("--iterations", type=int, default=2000, show_default=True, help="GAN steps.")
@click.option("--epochs", type=int, default=20, show_default=True, help="Forecast model.")
@click.option(
    "--learn-every",
    type=click.IntRange(1, 24),
    default=24,
    show_default=True,
    help="Hours between the starts of the GAN's learning windows (24: whole days only).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench-scenarios"))
def scenarios(
    data_dir: Path | None,
    mapping: Path,
    test_fraction: float,
    count: int,
    iterations: int,
    epochs: int,
    learn_every: int,
    seed: int,
    out: Path,
) -> None:
    """Energy and variogram scores of GAN and copula scenarios; scenario vs median dispatch.

    The last line is JSON: energy_score and variogram_score per method, the realised costs
    of each dispatch and whether the GAN beat the copula.
    """
    from tqdm import tqdm

    from gridbrain.cli.output import render
    from gridbrain.cli.progress import epoch_bar
    from gridbrain.cli.training import TrainOptions, make_model
    from gridbrain.processors.evaluation.backtest import fit, plan_backtest
    from gridbrain.processors.forecast.batch import LEVELS, P50
    from gridbrain.processors.forecast.dataset import padded, windows_at
    from gridbrain.processors.scenarios.copula import GaussianCopula
    from gridbrain.processors.scenarios.gan import ScenarioGAN
    from gridbrain.processors.scenarios.scores import energy_score, variogram_score

    folder = household_folder(data_dir)
    load, pv, stamps, local = household_series(folder, mapping)
    n = len(load)
    test_start = int(n * (1 - test_fraction))
    days = _days(local, load.values, load.start_ms)
    forecasts = {}
    origins = np.array([cutoff - 1 for _, _, cutoff in days])
    models = {}
    for series in (load, pv):
        model = make_model("linear", TrainOptions(LOOKBACK, HORIZON, STEP_MS, epochs=epochs))
        plan = plan_backtest([series], LOOKBACK, HORIZON, (1 - test_fraction - 0.1, 0.1))
        with epoch_bar(f"fitting linear ({series.quantity})", model) as progress:
            fit(model, plan, progress)
        windows = windows_at(padded(series, HORIZON), origins, LOOKBACK, HORIZON, False)
        forecasts[series.quantity] = np.clip(model.forecast(windows), 0.0, None)
        models[series.quantity] = model
    quantiles = np.array([forecasts["load"][k, rows - c] for k, (_, rows, c) in enumerate(days)])
    pv_p50 = np.array(
        [forecasts["pv_power"][k, rows - c, P50] for k, (_, rows, c) in enumerate(days)]
    )
    actual = np.array([load.values[rows] for _, rows, _ in days])
    learn = np.array([rows[-1] < test_start for _, rows, _ in days])
    test = np.flatnonzero([rows[0] >= test_start for _, rows, _ in days])
    if not learn.any() or not len(test):
        raise click.ClickException("need whole days both before and in the test period")
    levels = np.asarray(LEVELS)
    copula = GaussianCopula(levels, low=0.0)
    copula.fit(quantiles[learn], actual[learn])
    independent = GaussianCopula(levels, low=0.0, correlation=np.eye(_STEPS))
    gan = ScenarioGAN(levels, _STEPS, low=0.0, seed=seed)
    q_windows, y_windows, phases = _windows(models["load"], load, local, test_start, learn_every)
    with tqdm(total=iterations, desc="training the GAN", unit="step") as bar:
        gan.fit(q_windows, y_windows, iterations, progress=lambda _: bar.update(), phase=phases)
    makers: dict[str, GaussianCopula | ScenarioGAN] = {
        "gan": gan,
        "copula": copula,
        "independent": independent,
    }
    rng = np.random.default_rng(seed)
    made = {name: [m.sample(quantiles[k], count, rng) for k in test] for name, m in makers.items()}
    scores = {
        name: {
            "energy_score": float(
                np.mean([energy_score(s, actual[k]) for s, k in zip(sets, test, strict=True)])
            ),
            "variogram_score": float(
                np.mean([variogram_score(s, actual[k]) for s, k in zip(sets, test, strict=True)])
            ),
        }
        for name, sets in made.items()
    }
    costs = _dispatch(
        days, test, quantiles[:, :, P50], pv_p50, made, load.values, pv.values, stamps
    )
    none = costs.pop("no battery")
    perfect = costs["perfect foresight"]
    rows = [
        {"method": name, **{k: round(v, 4) for k, v in s.items()}} for name, s in scores.items()
    ]
    click.echo(render(rows, "table"))
    table = [{"plan": "no battery", "cost_eur": round(none, 2), "savings_captured": ""}]
    for name, cost in costs.items():
        captured = (none - cost) / (none - perfect) if none != perfect else None
        share = round(captured, 4) if captured is not None else ""
        table.append({"plan": name, "cost_eur": round(cost, 2), "savings_captured": share})
    click.echo(render(table, "table"))
    png = _plot(actual[test[0]], quantiles[test[0]], made, out / "scenarios_day.png")
    result: dict[str, Any] = {
        "benchmark": "scenarios",
        "learn_days": int(learn.sum()),
        "test_days": len(test),
        "first_day": str(days[test[0]][0]),
        "last_day": str(days[test[-1]][0]),
        "scenarios": count,
        "gan_windows": len(y_windows),
        "energy_score": {k: round(v["energy_score"], 4) for k, v in scores.items()},
        "variogram_score": {k: round(v["variogram_score"], 4) for k, v in scores.items()},
        "gan_beats_copula_energy": scores["gan"]["energy_score"] < scores["copula"]["energy_score"],
        "gan_beats_copula_variogram": scores["gan"]["variogram_score"]
        < scores["copula"]["variogram_score"],
        "costs": {"no battery": round(none, 2), **{k: round(v, 2) for k, v in costs.items()}},
        "plot": str(png),
    }
    click.echo(f"{len(test)} test days; one day's scenarios plotted in {png}")
    click.echo(json.dumps(result))


def _days(local: Any, values: np.ndarray, start_ms: int) -> list[tuple[Any, np.ndarray, int]]:
    """(day, rows, index of the previous noon) of whole 48-step days with load and history."""
    dates = np.asarray(local.date)
    out = []
    for day in pd.unique(dates):
        rows = np.flatnonzero(dates == day)
        noon = pd.Timestamp(day) - pd.Timedelta(days=1) + pd.Timedelta(hours=12)
        cutoff = (round(noon.tz_localize(local.tz).timestamp() * 1000) - start_ms) // STEP_MS
        if len(rows) == _STEPS and cutoff > LOOKBACK and np.isfinite(values[rows]).all():
            out.append((day, rows, int(cutoff)))
    return out


def _windows(
    model: Any, load: Any, local: Any, test_start: int, every_hours: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Day-long learning windows before the test period, starting every ``every_hours``.

    Windows start at local midnight and every ``every_hours`` after it (24: whole days).

    Each is forecast 12 hours before its start, as a day is at the previous noon: the
    forecasts (N, 48, K), the outcomes (N, 48) and the local time of day each starts at.
    """
    from gridbrain.processors.forecast.dataset import padded, windows_at

    lead = 24  # steps from the issue to the window's first step
    starts = np.arange(LOOKBACK + lead + 1, test_start - _STEPS + 1)
    of_day = np.asarray(local.hour * 60 + local.minute)
    starts = starts[of_day[starts] % (60 * every_hours) == 0]  # local midnight and on
    actual = load.values[starts[:, None] + np.arange(_STEPS)[None, :]]
    starts, actual = (
        starts[np.isfinite(actual).all(axis=1)],
        actual[np.isfinite(actual).all(axis=1)],
    )
    windows = windows_at(padded(load, HORIZON), starts - lead - 1, LOOKBACK, HORIZON, False)
    quantiles = np.clip(model.forecast(windows), 0.0, None)[:, lead : lead + _STEPS]
    return quantiles, actual, of_day[starts] / 1440.0


def _dispatch(
    days: list[tuple[Any, np.ndarray, int]],
    test: np.ndarray,
    p50: np.ndarray,
    pv_p50: np.ndarray,
    made: dict[str, list[np.ndarray]],
    load: np.ndarray,
    pv: np.ndarray,
    stamps: np.ndarray,
) -> dict[str, float]:
    """Realised cost of each plan over the test days (energy left valued off-peak)."""
    from gridbrain.processors.dispatch.realise import follow
    from gridbrain.processors.dispatch.stochastic import scenario_plan

    battery = emhass_battery().model_copy(update={"discharge_to_grid": True})
    none = battery.model_copy(update={"charge_kw": 0.0, "discharge_kw": 0.0})
    costs: dict[str, float] = {}
    for i, k in enumerate(test):
        rows = days[k][1]
        buy, sell = import_prices(stamps[rows]), np.full(_STEPS, EXPORT_PRICE)
        plans = {
            "no battery": (none, load[rows][None]),
            "perfect foresight": (battery, load[rows][None]),
            "median forecast": (battery, p50[k][None]),
            **{f"{name} scenarios": (battery, sets[i]) for name, sets in made.items()},
        }
        for name, (asset, loads) in plans.items():
            plan_pv = pv[rows] if name == "perfect foresight" else pv_p50[k]
            plan = scenario_plan(asset, 0.5, loads, plan_pv, buy, sell)
            lived = follow(plan, asset, asset.soc_target, load[rows], pv[rows], buy, sell, 0.5)
            left = (lived.soc - asset.soc_target) * asset.capacity_kwh * OFF_PEAK
            costs[name] = costs.get(name, 0.0) + lived.cost - left
    return costs


def _plot(actual: np.ndarray, quantiles: np.ndarray, made: dict[str, list[np.ndarray]],
          path: Path) -> Path:  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gridbrain.processors.forecast.batch import P10, P50, P90

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    hours = np.arange(_STEPS) / 2
    for ax, name in zip(axes, ("copula", "gan"), strict=True):
        for scenario in made[name][0][:20]:
            ax.plot(hours, scenario, color="tab:gray", lw=0.6, alpha=0.6)
        ax.fill_between(hours, quantiles[:, P10], quantiles[:, P90], color="tab:blue", alpha=0.2,
                        label="forecast p10-p90")  # fmt: skip
        ax.plot(hours, quantiles[:, P50], color="tab:blue", label="forecast p50")
        ax.plot(hours, actual, color="black", lw=1.5, label="actual")
        ax.set_title(f"{name}: 20 of the scenarios")
        ax.set_xlabel("hour of the first test day")
    axes[0].set_ylabel("load (kW)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
