"""``gridbrain benchmark weather-text``: weather text as an input to day-ahead load forecasts.

On ``spain_energy_weather`` every hour of the last 20 % is forecast from the local midnight
that starts its day, with the cities' observed weather of the target hours as a perfect
weather forecast (:mod:`~gridbrain.cli.weather_text_design`). One ridge per local hour is
fitted three times: numeric weather only; plus a multi-hot of each city's descriptions
(a closed set of 43 strings, so one-hot is the fair baseline); plus fine-tuned text
features (MiniLM fine-tuned to explain what the numeric model left over, out of fold, then
``--features`` projected values per city). Robustness: (a) a third of the descriptions
(drawn with ``--seed`` from all but the four plain sky states) is held out, every training
hour that shows one of them dropped, so the test hours' held-out descriptions are unseen;
(b) the test hours' descriptions are paraphrased with a fixed table. The direct variant,
``text_regressor``, regresses the load from the text with a fine-tuned
``BertForSequenceClassification(num_labels=1)`` beside a linear model of the load and
numeric weather. The operator's own day-ahead forecast is the anchor.
"""

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np

__all__ = ["weather_text"]

#: The plain sky states, never held out (they cover four fifths of the city-hours).
_SKY = ("sky is clear", "few clouds", "scattered clouds", "broken clouds")
_KEYS = {
    "mae_numeric": "ridge with lags, calendar and numeric weather",
    "mae_onehot": "+ multi-hot of each city's descriptions",
    "mae_text": "+ fine-tuned MiniLM text features per city",
    "mae_direct": "text_regressor: fine-tuned BertForSequenceClassification + linear model",
    "mae_direct_no_text": "the same text_regressor given empty texts (what its text adds)",
    "mae_operator": "the operator's day-ahead load forecast (total load forecast)",
    "mae_*_unseen": "(a) held-out descriptions: trained without any hour showing one; all test "
    "hours (_affected: the test hours showing one)",
    "mae_*_paraphrase": "(b) trained on every description; test descriptions paraphrased",
}


@dataclass(frozen=True)
class _Fitted:
    """The three ridge variants of one training set, and what their columns need."""

    numeric: Any
    onehot: Any
    text: Any
    vocabulary: list[str]
    features: Any


def _fine_tune(
    study: Any, rows: np.ndarray, residual: np.ndarray, config: Any, device: str, label: str
) -> Any:
    from tqdm import tqdm

    from gridbrain.processors.text.finetune import fine_tune

    keep = rows & np.isfinite(residual)
    vocabulary, inverse = np.unique(study.text[keep].astype(str), return_inverse=True)
    index = inverse.reshape(-1, study.text.shape[1])
    with tqdm(total=config.epochs, desc=f"fine-tuning MiniLM ({label})", unit="epoch") as bar:

        def done(epoch: int, loss: float) -> None:
            bar.set_postfix(loss=f"{loss:.4f}")
            bar.update(1)

        return fine_tune(list(vocabulary), index, residual[keep], config, device, done)


def _fit_variants(study: Any, train: np.ndarray, config: Any, device: str, label: str) -> _Fitted:
    from gridbrain.cli.weather_text_design import (
        fit_select,
        multi_hot,
        out_of_fold,
        text_columns,
    )
    from gridbrain.processors.text.descriptions import parts

    numeric = fit_select(study.base, study, train)
    distinct = np.unique(study.text[train].astype(str))
    vocabulary = sorted({p for t in distinct for p in parts(t)})
    hot = multi_hot(study.text, vocabulary)
    onehot = fit_select(np.column_stack([study.base, hot]), study, train, hot.shape[1])
    fit_rows = train & ~study.val  # the text network never sees a validation hour
    residual = out_of_fold(study.base, study, fit_rows, numeric.alpha)
    features = _fine_tune(study, fit_rows, residual, config, device, label)
    columns = text_columns(study.text, features)
    text = fit_select(np.column_stack([study.base, columns]), study, train, columns.shape[1])
    return _Fitted(numeric, onehot, text, vocabulary, features)


def _maes(fitted: _Fitted, study: Any, text: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """MAE of each variant over ``mask`` when the hours' text is ``text``."""
    from gridbrain.cli.weather_text_design import mae, multi_hot, text_columns

    base, group = study.base, study.group
    x = {
        "numeric": base,
        "onehot": np.column_stack([base, multi_hot(text, fitted.vocabulary)]),
        "text": np.column_stack([base, text_columns(text, fitted.features)]),
    }
    return {
        name: mae(
            getattr(fitted, name).predict(x[name][mask], group[mask]), study.y[mask], mask[mask]
        )
        for name in x
    }


def _held_out(study: Any, seed: int) -> tuple[list[str], np.ndarray]:
    """The held-out descriptions, and the hours (any city) that show one."""
    from gridbrain.processors.text.descriptions import parts

    distinct, inverse = np.unique(study.text.astype(str), return_inverse=True)
    every = sorted({p for t in distinct for p in parts(t)})
    pool = [d for d in every if d not in _SKY]
    held = sorted(np.random.default_rng(seed).choice(pool, len(pool) // 3, replace=False))
    shows = np.array([any(p in held for p in parts(t)) for t in distinct])
    hours = np.asarray(shows[inverse.reshape(study.text.shape)].any(axis=1))
    return [str(d) for d in held], hours


def _number(value: float) -> float | None:
    return round(float(value), 2) if np.isfinite(value) else None


@click.command("weather-text")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Default: shared data.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--epochs", type=int, default=15, show_default=True, help="Fine-tuning epochs.")
@click.option(
    "--direct-epochs", type=int, default=10, show_default=True, help="text_regressor epochs."
)
@click.option("--features", type=int, default=4, show_default=True, help="Text features/city.")
@click.option("--hours", type=int, help="Only the first N hours (quick looks, tests).")
@click.option(
    "--direct/--no-direct",
    default=True,
    show_default=True,
    help="Also fit the direct text_regressor.",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
def weather_text(
    data_dir: Path | None,
    seed: int,
    epochs: int,
    direct_epochs: int,
    features: int,
    hours: int | None,
    direct: bool,
    device: str,
) -> None:
    """Day-ahead load MAE with numeric weather, a one-hot of the descriptions and text features.

    The last line is JSON: mae_numeric, mae_onehot, mae_text, mae_operator,
    mae_text_unseen, mae_onehot_unseen (MW, the last 20 % of the hours) and more.
    """
    from gridbrain.cli.output import render
    from gridbrain.cli.spain_weather import load_spain, spain_folder
    from gridbrain.cli.weather_text_design import Study, mae
    from gridbrain.processors.device import resolve_device
    from gridbrain.processors.text.descriptions import PARAPHRASES, rewrite
    from gridbrain.processors.text.finetune import FineTuneConfig

    started = time.perf_counter()
    data = load_spain(spain_folder(data_dir), hours)
    split = int(0.8 * len(data))
    study = Study.build(data, split)
    device = resolve_device(device)
    config = FineTuneConfig(features=features, epochs=epochs, seed=seed)
    test = study.test & np.isfinite(study.y)
    full = _fit_variants(study, study.train, config, device, "every description")
    seen = _maes(full, study, study.text, test)
    paraphrased = study.text.copy()
    paraphrased[test] = np.vectorize(lambda t: rewrite(t, PARAPHRASES))(study.text[test])
    para = _maes(full, study, paraphrased, test)
    held, shows = _held_out(study, seed)
    fit_unseen = _fit_variants(study, study.train & ~shows, config, device, "held out")
    unseen = _maes(fit_unseen, study, study.text, test)
    affected = _maes(fit_unseen, study, study.text, test & shows)
    result: dict[str, Any] = {f"mae_{k}": _number(v) for k, v in seen.items()}
    result["mae_operator"] = _number(mae(data.operator[study.rows], study.y, test))
    if direct:
        result |= _direct(data, study, split, paraphrased, direct_epochs, seed, device)
    result |= {f"mae_{k}_unseen": _number(v) for k, v in unseen.items()}
    result |= {f"mae_{k}_unseen_affected": _number(v) for k, v in affected.items()}
    result |= {f"mae_{k}_paraphrase": _number(v) for k, v in para.items() if k != "numeric"}
    gain = {k: 1.0 - seen[k] / seen["numeric"] for k in ("onehot", "text")}
    result |= {
        "gain_onehot_pct": _number(gain["onehot"] * 100),
        "gain_text_pct": _number(gain["text"] * 100),
        "text_on_by_default": bool(gain["text"] >= 0.02),
        "held_out": held,
        "test_hours": int(test.sum()),
        "affected_test_hours": int((test & shows).sum()),
        "dropped_train_hours": int((study.train & shows).sum()),
        "paraphrased_share": round(float(np.mean(paraphrased[test] != study.text[test])), 4),
        "fine_tune_loss": [
            round(full.features.initial_loss, 4),
            round(full.features.final_loss, 4),
        ],
        "penalties": {
            k: [getattr(full, k).alpha, getattr(full, k).extra_factor]
            for k in ("numeric", "onehot", "text")
        },
        "first_test_hour": str(data.stamps[split]),
        "device": device,
        "seconds": round(time.perf_counter() - started, 1),
        "weather": "observed weather of the target hours (a perfect forecast)",
        "keys": _KEYS,
    }
    rows = [
        {
            "forecast": k.removeprefix("mae_"),
            "mae_mw": v,
            "vs_numeric_pct": _number(100 * (v / result["mae_numeric"] - 1)) if v else None,
        }
        for k, v in result.items()
        if k.startswith("mae_") and not k.endswith("_affected")
    ]
    click.echo(render(rows, "table"))
    click.echo(
        f"text features on by default: {'yes' if result['text_on_by_default'] else 'no'} "
        f"(MAE gain {result['gain_text_pct']} %, needs >= 2 %); held out: {', '.join(held)}"
    )
    click.echo(json.dumps({"benchmark": "weather-text", **result}))


def _direct(
    data: Any, study: Any, split: int, paraphrased: np.ndarray, epochs: int, seed: int, device: str
) -> dict[str, float | None]:
    """MAE of the direct model on the test hours: text as written, paraphrased, left out."""
    from gridbrain.cli.weather_text_design import mae
    from gridbrain.cli.weather_text_direct import direct_windows, fit_direct, predict_hours

    windows = direct_windows(data, study, split, data.text)
    model = fit_direct(windows, epochs, seed, device)
    test = study.test & np.isfinite(study.y)
    text = data.text.copy()
    text[study.rows] = paraphrased
    variants = {
        "mae_direct": windows,
        "mae_direct_paraphrase": direct_windows(data, study, split, text),
        "mae_direct_no_text": direct_windows(data, study, split, np.full_like(text, "")),
    }
    return {
        key: _number(mae(predict_hours(model, w, study), study.y, test))
        for key, w in variants.items()
    }
