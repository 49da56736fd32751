"""Training into the registry: a new version is promoted only if it beats the serving one.

Both are scored on the same back-test windows (the new data's test part), so the
comparison is like for like; a version that does not beat persistence is never promoted.
"""

from typing import Any

from gridbrain.cli.progress import epoch_bar
from gridbrain.cli.services import database
from gridbrain.cli.training import TrainOptions, make_model
from gridbrain.errors import ModelError
from gridbrain.processors.evaluation.backtest import BacktestPlan, fit, score
from gridbrain.processors.evaluation.metrics import skill
from gridbrain.processors.forecast.base import load_model
from gridbrain.settings import Settings
from gridbrain.storage.registry import load_artifact, promote, promoted_versions, register_model

__all__ = ["train_and_register"]


def train_and_register(
    settings: Settings,
    plan: BacktestPlan,
    options: TrainOptions,
    model_name: str,
    name: str,
    sites: list[str] | None,
    allow_promotion: bool = True,
) -> dict[str, Any]:
    """Fit, back-test, register; promote when better than the promoted version.

    Returns:
        What happened: id, name, version, crps, the serving version's crps on the same
        windows, skill against persistence, and whether it was promoted.
    """
    quantity = plan.series[0].quantity
    model = make_model(model_name, options)
    with epoch_bar(f"training {model_name}", model) as progress:
        fit(model, plan, progress)
    scored = score(model, plan)
    persistence = make_model("persistence", options)
    fit(persistence, plan)
    reference = score(persistence, plan).metrics
    metrics: dict[str, Any] = {
        **scored.metrics,
        "skill_crps_vs_persistence": skill(scored.metrics["crps"], reference["crps"]),
        "skill_mae_vs_persistence": skill(scored.metrics["mae"], reference["mae"]),
        "lookback": options.lookback,
        "horizon": options.horizon,
        "series": [s.site_id for s in plan.series],
    }
    group = sorted(sites) if sites else None
    with database(settings) as sessions:
        with sessions() as session:
            serving = [v for v in promoted_versions(session, quantity) if v.sites == group]
            current = (serving[0], load_artifact(session, serving[0].id)) if serving else None
        current_crps = None
        if current is not None:
            try:
                current_crps = score(load_model(current[1]), plan).metrics["crps"]
            except ModelError:  # e.g. it needs more history than these windows hold
                current_crps = None
        better = metrics["skill_crps_vs_persistence"] > 0 and (
            current is None or current_crps is None or metrics["crps"] < current_crps
        )
        with sessions.begin() as session:
            version = register_model(
                session, name, quantity, model.name, group, metrics, model.to_bytes()
            )
            promoted = allow_promotion and better
            if promoted:
                promote(session, version.id)
    return {
        "id": version.id,
        "name": name,
        "version": version.version,
        "crps": round(metrics["crps"], 4),
        "serving_crps": None if current_crps is None else round(current_crps, 4),
        "skill_crps_vs_persistence": round(metrics["skill_crps_vs_persistence"], 4),
        "coverage_80": round(metrics["coverage_80"], 3),
        "promoted": promoted,
    }
