"""Windows cut from series: the weather text of the target steps travels with them."""

import numpy as np

from gridbrain.processors.forecast.batch import concat
from gridbrain.processors.forecast.dataset import Series, padded, windows_at

STEP = 3_600_000


def _series(text: bool) -> Series:
    n = 10
    words = np.array([f"t{i}" for i in range(n)], dtype=object) if text else None
    return Series("s", "load", 0, STEP, np.arange(n, dtype=float), np.zeros((n, 3)), text=words)


def test_target_text_is_given_only_with_future_weather() -> None:
    s = _series(text=True)
    known = windows_at(s, np.array([2, 5]), 3, 2, future_weather=True)
    unknown = windows_at(s, np.array([2, 5]), 3, 2, future_weather=False)
    assert known.text is not None and unknown.text is not None
    assert known.text.shape == (2, 2, 1)
    assert known.text[:, :, 0].tolist() == [["t3", "t4"], ["t6", "t7"]]
    assert (unknown.text == "").all()
    assert known.take(np.array([1])).text.tolist() == [[["t6"], ["t7"]]]  # type: ignore[union-attr]


def test_series_without_text_give_windows_without_and_padding_keeps_text() -> None:
    assert windows_at(_series(text=False), np.array([2]), 3, 2, True).text is None
    p = padded(_series(text=True), 2)
    assert p.text is not None and p.text[-3:].tolist() == ["t9", "", ""]


def test_concat_keeps_text_only_when_every_batch_has_it() -> None:
    a = windows_at(_series(text=True), np.array([2]), 3, 2, True)
    b = windows_at(_series(text=False), np.array([4]), 3, 2, True)
    both = concat([a, a])
    assert both.text is not None and both.text.shape == (2, 2, 1)
    assert concat([a, b]).text is None
