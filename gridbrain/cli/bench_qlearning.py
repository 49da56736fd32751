"""``gridbrain benchmark qlearning``: a tabular Q-learning trader against the LP.

The days, battery and forecasts are those of ``benchmark dispatch``
(:mod:`~gridbrain.cli.trading_days`): the policy learns on every whole day before the
test period (its state's price bin from the forecast made at the previous day's noon, its
rewards at the actual prices) and is scored on the test days against the perfect-
foresight LP and the LP on the same forecast. Two more figures explain the result: the
policy's capture on the days it learnt from, and the capture of the same table design
learnt and acted on the actual prices (what the state can hold at best).
"""

import json
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from gridbrain.cli.trading_days import best_hurdle, lp_profits, trading_days, trading_options

__all__ = ["qlearning"]


@click.command("qlearning")
@trading_options
@click.option("--q-epochs", type=int, default=20, show_default=True, help="Sweeps of history.")
@click.option("--alpha", type=float, default=0.5, show_default=True, help="First learning rate.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench-qlearning"))
@click.option(
    "--register",
    metavar="NAME",
    help="Store the learnt table in the model registry under NAME and promote it for the "
    "price site (sites with policy qlearning trading on it then use it).",
)
def qlearning(
    csv_path: Path,
    mapping: Path,
    q_epochs: int,
    alpha: float,
    seed: int,
    out: Path,
    register: str | None,
    **options: Any,
) -> None:
    """Share of the perfect-foresight profit the Q-learning policy captures out of sample.

    The last line is JSON: capture_ratio, lp_forecast_capture_ratio, train_years,
    test_days and more; the PNG of cumulative profits is written under ``--out``.
    """
    from gridbrain.cli.output import render
    from gridbrain.processors.dispatch.qlearning import QPolicy
    from gridbrain.processors.dispatch.trading import plan_profit

    setup = trading_days(csv_path, mapping, with_history=True, **options)
    values, asset = setup.series.values, setup.asset
    learnt = setup.history + setup.validation
    if not learnt:
        raise click.ClickException("no whole day with prices before the test period")
    actual = {d: values[r] for d, r in learnt + setup.test}

    def trained(planned: dict[Any, np.ndarray]) -> tuple[QPolicy, float]:
        policy = QPolicy(asset)
        started = time.perf_counter()
        policy.learn([(planned[d], actual[d]) for d, _ in learnt], q_epochs, alpha, seed)
        return policy, time.perf_counter() - started

    policy, learn_s = trained(setup.forecast)
    ceiling, _ = trained(actual)
    perfect = np.array([plan_profit(asset, 1.0, actual[d], actual[d])[0] for d, _ in setup.test])
    started = time.perf_counter()
    q_days = np.array([policy.profit(setup.forecast[d], actual[d]) for d, _ in setup.test])
    decision_ms = (time.perf_counter() - started) / len(setup.test) * 1e3
    hurdle = best_hurdle(setup, setup.forecast)
    lp_days = np.array(lp_profits(setup, setup.forecast, setup.test, hurdle))
    in_sample = sum(policy.profit(setup.forecast[d], actual[d]) for d, _ in learnt)
    in_sample_perfect = sum(plan_profit(asset, 1.0, actual[d], actual[d])[0] for d, _ in learnt)
    informed = sum(ceiling.profit(actual[d], actual[d]) for d, _ in setup.test)
    total = float(perfect.sum())
    result = {
        "benchmark": "qlearning",
        "site": setup.series.site_id,
        "model": options["model_name"],
        "train_years": round(len(learnt) / 365.25, 2),
        "train_days": len(learnt),
        "test_days": len(setup.test),
        "first_day": str(setup.test[0][0]),
        "last_day": str(setup.test[-1][0]),
        "perfect_foresight_profit": round(total, 2),
        "qlearning_profit": round(float(q_days.sum()), 2),
        "capture_ratio": round(float(q_days.sum()) / total, 4),
        "lp_forecast_profit": round(float(lp_days.sum()), 2),
        "lp_forecast_capture_ratio": round(float(lp_days.sum()) / total, 4),
        "lp_forecast_hurdle": hurdle,
        "in_sample_capture_ratio": round(in_sample / in_sample_perfect, 4),
        "perfect_information_capture_ratio": round(informed / total, 4),
        "learn_s": round(learn_s, 2),
        "decision_ms": round(decision_ms, 3),
        "states": int(np.prod(policy.table.shape[:3])),
        "actions": len(policy.actions),
    }
    rows = [
        {"policy": "perfect foresight (LP on actual prices)", "profit": total},
        {"policy": f"LP on the {options['model_name']} forecast", "profit": lp_days.sum()},
        {"policy": "Q-learning on the same forecast", "profit": q_days.sum()},
        {"policy": "Q-learning table on actual prices", "profit": informed},
    ]
    for row in rows:
        row["capture"] = round(float(row["profit"]) / total, 4)
        row["profit"] = round(float(row["profit"]), 2)
    click.echo(render(rows, "table"))
    png = _plot(perfect, lp_days, q_days, out / "qlearning_profit.png")
    click.echo(
        f"learnt on {len(learnt)} days ({learn_s:.1f} s, {result['states']} states x "
        f"{result['actions']} actions), tested on {len(setup.test)} days; plot: {png}"
    )
    if register:
        result["registered"] = _register(register, setup.series.site_id, policy, result)
    click.echo(json.dumps(result))


def _register(name: str, site: str, policy: Any, metrics: dict[str, Any]) -> dict[str, Any]:
    from gridbrain.cli.services import database
    from gridbrain.processors.dispatch.qlearning import POLICY_QUANTITY
    from gridbrain.settings import Settings
    from gridbrain.storage.registry import promote, register_model

    with database(Settings()) as sessions, sessions.begin() as session:
        version = register_model(
            session, name, POLICY_QUANTITY, "qlearning", [site], metrics, policy.to_bytes()
        )
        promote(session, version.id)
    return {"id": version.id, "name": name, "version": version.version, "promoted": True}


def _plot(perfect: np.ndarray, lp: np.ndarray, q: np.ndarray, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for days, label in ((perfect, "perfect foresight"), (lp, "LP on forecast"), (q, "Q-learning")):
        ax.plot(np.cumsum(days), label=f"{label} ({days.sum():.0f})")
    ax.set_xlabel("test day")
    ax.set_ylabel("cumulative profit")
    ax.set_title("A battery trading out of sample")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
