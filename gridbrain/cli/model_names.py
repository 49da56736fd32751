"""The model names the CLI accepts (no heavy imports: ``--help`` stays fast)."""

__all__ = ["BASELINES", "ENSEMBLE_MEMBERS", "MODEL_NAMES", "TEXT_MODELS", "TRAINABLE"]

BASELINES = ("persistence", "seasonal_naive", "seasonal_naive_7d")
#: What ``gridbrain train --model`` fits into the registry.
TRAINABLE = (
    "arx",
    "linear",
    "linear_daily",
    "patchtst",
    "lightgbm",
    "lightgbm_calibrated",
    "lightgbm_weather",
    "text_regressor",
    "ensemble",
)
#: What ``ensemble`` fits and weighs on validation (weight 0 drops a member).
ENSEMBLE_MEMBERS = ("arx", "linear", "lightgbm_calibrated", "lightgbm_weather")
MODEL_NAMES = (*BASELINES, *TRAINABLE)
#: Models that read the weather text of the target steps.
TEXT_MODELS = ("text_regressor",)
