"""``gridbrain benchmark pareto``: NSGA-II's front of a day's trading against the exact one.

The days are Spanish: the price is `price actual`, the carbon intensity of each hour is
computed from the generation mix of the same file (IPCC AR5 life-cycle medians, g CO2-eq
per kWh: hard coal 820, lignite 1,054 (coal's upper range), gas 490, oil 650 (as
electricityMap), biomass 230, waste 400, nuclear 12, hydro 24, wind 11, solar 48, other
renewable 38, other 700). The battery is the one of ``benchmark dispatch`` (1 MWh, 0.5 MW
each way, 90 % round trip, SOC 10-90 %, 50 % at the start and end). The default days are
the first Wednesday of March, June, September and December 2018 (test period of the
trading benchmark: every season, working days).
"""

import json
import time
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

__all__ = ["EMISSION_FACTORS", "carbon_intensity", "pareto"]

#: kg CO2-eq per MWh generated, by column of the Spanish generation mix.
EMISSION_FACTORS = {
    "generation fossil hard coal": 820.0,
    "generation fossil brown coal/lignite": 1054.0,
    "generation fossil gas": 490.0,
    "generation fossil coal-derived gas": 490.0,
    "generation fossil oil": 650.0,
    "generation biomass": 230.0,
    "generation waste": 400.0,
    "generation nuclear": 12.0,
    "generation hydro run-of-river and poundage": 24.0,
    "generation hydro water reservoir": 24.0,
    "generation wind onshore": 11.0,
    "generation solar": 48.0,
    "generation other renewable": 38.0,
    "generation other": 700.0,
}
_DAYS = ("2018-03-07", "2018-06-06", "2018-09-05", "2018-12-05")
_TZ = "Europe/Madrid"


def carbon_intensity(frame: pd.DataFrame) -> pd.Series:
    """The CO2-eq (kg) per MWh of each row's generation mix (rows without generation: NaN).

    >>> carbon_intensity(pd.DataFrame({"generation fossil gas": [100.0, 0.0],
    ...                                "generation nuclear": [100.0, 0.0]})).round(1).tolist()
    [251.0, nan]
    """
    columns = [c for c in EMISSION_FACTORS if c in frame.columns]
    generation = frame[columns].clip(lower=0)
    total = generation.sum(axis=1)
    emitted = (generation * pd.Series(EMISSION_FACTORS)[columns]).sum(axis=1)
    return (emitted / total).where(total > 0)


@click.command("pareto")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), help="Default: shared data.")
@click.option("--days", help="Local dates, comma separated (default: four 2018 Wednesdays).")
@click.option("--co2-levels", type=int, default=64, show_default=True, help="Epsilon CO2 bounds.")
@click.option("--wear-levels", type=int, default=8, show_default=True, help="Throughput bounds.")
@click.option("--population", type=int, default=200, show_default=True)
@click.option("--generations", type=int, default=400, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench-pareto"))
def pareto(
    csv_path: Path | None,
    days: str | None,
    co2_levels: int,
    wear_levels: int,
    population: int,
    generations: int,
    seed: int,
    out: Path,
) -> None:
    """Hypervolume and IGD+ of NSGA-II against the epsilon-constraint front; GA cost gap.

    The last line is JSON: hypervolume_ratio, igd_plus, ga_cost_gap, points (means and
    per day), and the PNG of the fronts is written under ``--out``.
    """
    from gridbrain.cli.output import render
    from gridbrain.processors.dispatch.assets import StorageAsset
    from gridbrain.processors.dispatch.pareto import (
        ParetoDay,
        exact_front,
        front_quality,
        ga_front,
        ga_min_cost,
    )
    from gridbrain.settings import Settings

    path = csv_path or Settings().shared_data_dir / "spain_energy_weather" / "energy_dataset.csv"
    if not path.exists():
        raise click.ClickException(f"{path} not found (set GRIDBRAIN_SHARED_DATA_DIR or --csv)")
    frame = pd.read_csv(path)
    local = pd.to_datetime(frame["time"], utc=True).dt.tz_convert(_TZ)
    frame["carbon"] = carbon_intensity(frame)
    leg = 0.9**0.5
    asset = StorageAsset(
        capacity_kwh=1.0, charge_kw=0.5, discharge_kw=0.5, charge_efficiency=leg,
        discharge_efficiency=leg, soc_min=0.1, soc_max=0.9, soc_target=0.5,
    )  # fmt: skip
    rows: list[dict[str, Any]] = []
    fronts = {}
    for date in days.split(",") if days else _DAYS:
        today = frame[local.dt.strftime("%Y-%m-%d") == date.strip()]
        if len(today) < 23 or today[["price actual", "carbon"]].isna().any().any():
            raise click.ClickException(f"{date}: no whole day of prices and generation")
        day = ParetoDay(asset, 1.0, today["price actual"].to_numpy(), today["carbon"].to_numpy())
        started = time.perf_counter()
        exact = exact_front(day, co2_levels, wear_levels)
        exact_s = time.perf_counter() - started
        started = time.perf_counter()
        found = ga_front(day, population, generations, seed)
        ga_s = time.perf_counter() - started
        started = time.perf_counter()
        best = ga_min_cost(day, "de", seed=seed)
        de_s = time.perf_counter() - started
        plain = ga_min_cost(day, "ga", generations=600, seed=seed)
        optimum = float(exact[:, 0].min())

        def gap(cost: float, optimum: float = optimum) -> float | None:
            return round((cost - optimum) / abs(optimum), 4) if optimum else None

        fronts[date] = (exact, found)
        rows.append(
            {
                "day": date,
                "points": len(exact),
                "ga_points": len(found),
                **{k: round(v, 4) for k, v in front_quality(found, exact).items()},
                "lp_cost": round(optimum, 3),
                "ga_cost": round(best, 3),
                "ga_cost_gap": gap(best),
                "plain_ga_cost_gap": gap(plain),
                "exact_s": round(exact_s, 2),
                "nsga2_s": round(ga_s, 2),
                "de_s": round(de_s, 2),
            }
        )
    click.echo(render(rows, "table"))
    png = _plot(fronts, out / "pareto_fronts.png")
    result = {
        "benchmark": "pareto",
        "days": len(rows),
        "points": int(sum(r["points"] for r in rows)),
        "hypervolume_ratio": round(float(np.mean([r["hypervolume_ratio"] for r in rows])), 4),
        "igd_plus": round(float(np.mean([r["igd_plus"] for r in rows])), 4),
        "ga_cost_gap": round(float(np.mean([r["ga_cost_gap"] for r in rows])), 4),
        "ga_cost_gap_max": round(float(np.max([r["ga_cost_gap"] for r in rows])), 4),
        "plain_ga_cost_gap": round(float(np.mean([r["plain_ga_cost_gap"] for r in rows])), 4),
        "single_objective": "differential evolution DE/rand/1/bin, 100 x 1500 (pymoo)",
        "per_day": rows,
        "plot": str(png),
    }
    click.echo(f"fronts plotted in {png}")
    click.echo(json.dumps(result))


def _plot(fronts: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(fronts), figsize=(4.2 * len(fronts), 3.8), squeeze=False)
    for ax, (date, (exact, found)) in zip(axes[0], fronts.items(), strict=True):
        ax.scatter(exact[:, 0], exact[:, 1], c=exact[:, 2], cmap="viridis", marker="s",
                   s=28, label="exact (epsilon LP)")  # fmt: skip
        ax.scatter(found[:, 0], found[:, 1], c=found[:, 2], cmap="viridis", marker="x",
                   s=14, label="NSGA-II")  # fmt: skip
        ax.set_title(date)
        ax.set_xlabel("cost (EUR)")
        ax.set_ylabel("net CO2 (kg)")
        ax.legend(fontsize=7)
    fig.suptitle("A day's trading: cost vs CO2, colour = throughput (MWh)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
