"""The MiniLM text encoder, loaded for real from its wheel: cache, determinism, meaning."""

import numpy as np
import pytest

from gridbrain.processors.text.descriptions import PARAPHRASES, join_descriptions, rewrite
from gridbrain.processors.text.encoder import TextEncoder, model_path

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder(device="cpu")


def test_the_model_comes_from_the_wheel() -> None:
    path = model_path()
    assert (path / "model.safetensors").exists() and (path / "tokenizer.json").exists()


def test_each_distinct_text_runs_the_network_once(encoder: TextEncoder) -> None:
    encoder.embed(["fog"])  # warm; counts below are deltas
    encoded, hits = encoder.encoded, encoder.hits
    texts = ["sky is clear", "fog", "sky is clear", "light rain", "sky is clear"]
    out = encoder.embed(texts)
    assert out.shape == (5, 384) and out.dtype == np.float32
    assert encoder.encoded - encoded == 2  # "sky is clear", "light rain"; "fog" was cached
    assert encoder.hits - hits == 3
    np.testing.assert_array_equal(out[0], out[2])
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert encoder.embed([]).shape == (0, 384)


def test_embeddings_are_deterministic_and_batch_independent(encoder: TextEncoder) -> None:
    texts = ["moderate rain", "thunderstorm with rain", "haze"]
    again = TextEncoder(device="cpu", batch_size=1)
    np.testing.assert_allclose(encoder.embed(texts), again.embed(texts), atol=1e-5)


def test_a_paraphrase_is_closer_than_an_unrelated_description(encoder: TextEncoder) -> None:
    a, b, c = encoder.embed(["light intensity drizzle", "a little drizzle", "sky is clear"])
    assert float(a @ b) > 0.6 > float(a @ c) + 0.2


def test_texts_of_an_hour_and_paraphrases() -> None:
    text = join_descriptions(["mist", "light intensity drizzle", "mist"])
    assert text == "light intensity drizzle, mist"
    assert rewrite(text, PARAPHRASES) == "a little drizzle, misty"
    assert all(k != v for k, v in PARAPHRASES.items())
