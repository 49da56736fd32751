"""Fine-tuning MiniLM on tiny synthetic data, and the ``text_regressor`` kind."""

import numpy as np
import pytest

from gridbrain.errors import ModelError
from gridbrain.processors.forecast.base import _KIND_MODULES, MODEL_KINDS, load_model
from gridbrain.processors.forecast.batch import LEVELS, WindowBatch
from gridbrain.processors.text.finetune import FineTuneConfig, fine_tune

pytestmark = pytest.mark.timeout(90)

WORDS = ["sky is clear", "light rain", "heavy intensity rain", "fog", "few clouds"]
EFFECT = {
    "sky is clear": 0.0,
    "light rain": 1.0,
    "heavy intensity rain": 2.0,
    "fog": 0.5,
    "few clouds": 0.2,
}


def test_fine_tuning_lowers_the_loss_and_features_unseen_text() -> None:
    rng = np.random.default_rng(0)
    index = rng.integers(0, len(WORDS), size=(600, 2))
    target = np.array([EFFECT[WORDS[i]] + EFFECT[WORDS[j]] for i, j in index])
    target += rng.normal(0, 0.1, len(target))
    target[0] = np.nan  # unused
    config = FineTuneConfig(features=2, epochs=3, batch_size=64, head_lr=1e-2, seed=1)
    seen: list[tuple[int, float]] = []
    result = fine_tune(WORDS, index, target, config, "cpu", lambda e, loss: seen.append((e, loss)))
    assert [e for e, _ in seen] == [0, 1, 2]
    assert result.final_loss < 0.5 * result.initial_loss
    values = result(["light rain", "a little rain", "light rain"])
    assert values.shape == (3, 2) and np.isfinite(values).all()
    np.testing.assert_array_equal(values[0], values[2])
    again = fine_tune(WORDS, index, target, config, "cpu")
    np.testing.assert_allclose(again(["fog"]), result(["fog"]), atol=1e-5)  # seeded


def test_fine_tuning_needs_a_target() -> None:
    with pytest.raises(ModelError):
        fine_tune(WORDS, np.zeros((3, 1), dtype=int), np.full(3, np.nan), device="cpu")


def _windows(count: int, seed: int) -> tuple[WindowBatch, np.ndarray]:
    """Daily windows (48 h history, 24 h ahead) whose load rises by 5 on rainy hours."""
    rng = np.random.default_rng(seed)
    hours = np.arange(72)
    y = np.empty((count, 72))
    text = np.empty((count, 24, 1), dtype=object)
    for b in range(count):
        rainy = rng.random(72) < 0.3
        y[b] = 50 + 10 * np.sin(2 * np.pi * hours / 24) + 5 * rainy + rng.normal(0, 0.3, 72)
        text[b, :, 0] = np.where(rainy[48:], "moderate rain", "sky is clear")
    batch = WindowBatch(
        y[:, :48],
        np.zeros((count, 72, 0)),
        np.full(count, 1_704_067_200_000 - 3_600_000),
        3_600_000,
        24,
        np.full(count, np.nan),
        np.full(count, np.nan),
    )
    return batch.with_text(text), y[:, 48:]


def test_text_regressor_is_a_registered_kind_that_round_trips() -> None:
    from gridbrain.processors.text.regressor import TextRegressor

    assert _KIND_MODULES["text_regressor"] == "gridbrain.processors.text.regressor"
    assert MODEL_KINDS["text_regressor"] is TextRegressor
    train, val, test = _windows(64, 0), _windows(32, 1), _windows(8, 2)
    model = TextRegressor(48, 24, train={"epochs": 3, "batch_size": 16, "head_lr": 1e-2})
    losses: list[float] = []
    model.fit(train, val, lambda epoch, t, v: losses.append(v))
    out = model.forecast(test[0])
    assert out.shape == (8, 24, len(LEVELS)) and np.isfinite(out).all()
    assert (np.diff(out, axis=-1) >= 0).all()
    median = out[..., LEVELS.index(0.5)]
    assert np.mean(np.abs(median - test[1])) < 2.5  # the rain effect is 5
    copy = load_model(model.to_bytes())
    assert isinstance(copy, TextRegressor)
    np.testing.assert_allclose(copy.forecast(test[0]), out, atol=1e-4)
    plain = WindowBatch(
        *(
            getattr(test[0], f)
            for f in ("y", "exog", "last_ts_ms", "step_ms", "horizon", "latitude", "longitude")
        )
    )
    with pytest.raises(ModelError, match="weather text"):
        copy.forecast(plain)
