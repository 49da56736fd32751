"""Tables of cases for each quality check."""

import numpy as np
import pytest

from gridbrain.processors.quality.config import QualityConfig, QuantityChecks
from gridbrain.processors.quality.flatline import FlatRun, flatline_mask
from gridbrain.processors.quality.gaps import fill_gap, fill_short_gaps
from gridbrain.processors.quality.rate import rate_mask
from gridbrain.processors.quality.solar import solar_elevation_deg
from gridbrain.processors.quality.spikes import hampel_mask

MIN = 60_000
HOUR = 3_600_000
CALM = np.array([10.0, 11, 10, 12, 11, 10, 11, 10, 12, 11, 10, 11])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([11.0, 60, 10], [False, True, False], id="isolated-spike"),
        pytest.param([11.0, 10, 12], [False, False, False], id="calm"),
        pytest.param([-40.0], [True], id="negative-spike"),
        pytest.param([14.0, 18, 22, 26, 30, 34], [False] * 6, id="gradual-rise-is-no-spike"),
        pytest.param(
            [60.0, 61, 60, 62],
            [True, False, False, False],
            id="level-shift-flags-only-the-jump",
        ),
    ],
)
def test_hampel(values: list[float], expected: list[bool]) -> None:
    assert hampel_mask(CALM, np.array(values), 12, 5.0).tolist() == expected


def test_hampel_needs_half_a_window_of_history() -> None:
    assert hampel_mask(np.array([10.0, 10]), np.array([500.0]), 12, 5.0).tolist() == [False]


def test_hampel_min_deviation_protects_flat_series() -> None:
    flat = np.full(12, 5.0)
    assert hampel_mask(flat, np.array([5.5]), 12, 5.0).tolist() == [True]
    assert hampel_mask(flat, np.array([5.5]), 12, 5.0, min_deviation=1.0).tolist() == [False]


@pytest.mark.parametrize(
    ("previous", "values", "minutes", "expected"),
    [
        pytest.param((10.0, 0), [11.0, 12.0], [1, 2], [False, False], id="slow"),
        pytest.param((10.0, 0), [30.0], [1], [True], id="too-fast"),
        pytest.param((10.0, 0), [30.0], [10], [False], id="same-change-over-longer-time"),
        pytest.param((10.0, 0), [40.0, 11.0], [1, 2], [True, False], id="return-after-outlier"),
        pytest.param(None, [10.0, 40.0], [1, 2], [False, True], id="no-history"),
    ],
)
def test_rate(
    previous: tuple[float, int] | None,
    values: list[float],
    minutes: list[int],
    expected: list[bool],
) -> None:
    ts = np.array(minutes) * MIN
    excluded = np.zeros(len(values), dtype=bool)
    assert rate_mask(previous, np.array(values), ts, excluded, 5.0).tolist() == expected


def test_rate_ignores_excluded_references() -> None:
    ts = np.array([1, 2, 3]) * MIN
    excluded = np.array([False, True, False])
    mask = rate_mask((10.0, 0), np.array([10.0, 500.0, 12.0]), ts, excluded, 5.0)
    assert mask.tolist() == [False, True, False]


@pytest.mark.parametrize(
    ("run", "values", "exempt", "expected"),
    [
        pytest.param(None, [5, 5, 5, 5, 6], [0] * 5, [0, 0, 1, 1, 0], id="stuck-then-moves"),
        pytest.param(None, [5, 5.5, 5, 5.5], [0] * 4, [0, 0, 0, 0], id="varying"),
        pytest.param(FlatRun(-5 * HOUR, 5.0), [5, 5], [0, 0], [1, 1], id="run-from-before"),
        pytest.param(FlatRun(-5 * HOUR, 5.0), [7, 7], [0, 0], [0, 0], id="run-ends"),
        pytest.param(None, [0, 0, 0, 0, 0], [1, 1, 1, 1, 1], [0] * 5, id="pv-at-night"),
        pytest.param(
            None,
            [0, 0, 0, 0, 0],
            [1, 1, 0, 0, 0],
            [0, 0, 0, 0, 1],
            id="zero-after-sunrise-counts-from-sunrise",
        ),
    ],
)
def test_flatline(
    run: FlatRun | None, values: list[float], exempt: list[int], expected: list[int]
) -> None:
    ts = np.arange(len(values)) * HOUR
    mask, _ = flatline_mask(
        run, np.array(values, dtype=float), ts, np.array(exempt, dtype=bool), 0.0, 2 * HOUR
    )
    assert mask.astype(int).tolist() == expected


def test_flatline_state_carries_across_batches() -> None:
    values = np.full(6, 3.0)
    ts = np.arange(6) * HOUR
    whole, _ = flatline_mask(None, values, ts, np.zeros(6, bool), 0.0, 2 * HOUR)
    first, run = flatline_mask(None, values[:2], ts[:2], np.zeros(2, bool), 0.0, 2 * HOUR)
    second, _ = flatline_mask(run, values[2:], ts[2:], np.zeros(4, bool), 0.0, 2 * HOUR)
    assert np.concatenate([first, second]).tolist() == whole.tolist()


@pytest.mark.parametrize(
    ("gap_minutes", "max_gap_minutes", "filled"),
    [
        pytest.param(15, 60, True, id="one-step"),
        pytest.param(60, 60, True, id="at-limit"),
        pytest.param(75, 60, False, id="too-long"),
        pytest.param(30, 0, False, id="interpolation-off"),
    ],
)
def test_fill_gap(gap_minutes: int, max_gap_minutes: int, filled: bool) -> None:
    step = 15 * MIN
    after = gap_minutes * MIN + step
    fill = fill_gap((0, 0.0), (after, 1.0), step, max_gap_minutes * MIN)
    assert fill.steps == gap_minutes // 15
    assert (fill.values is not None) == filled


def test_fill_short_gaps_leaves_edges_and_long_runs() -> None:
    y = np.array([[np.nan, 1.0, np.nan, 3.0, np.nan, np.nan, np.nan, 7.0, np.nan]])
    filled, mask = fill_short_gaps(y, 2)
    assert mask.astype(int).tolist() == [[0, 0, 1, 0, 0, 0, 0, 0, 0]]
    assert filled[0, 2] == 2.0 and np.isnan(filled[0, 0]) and np.isnan(filled[0, 8])


@pytest.mark.parametrize(
    ("iso", "lat", "lon", "low", "high"),
    [
        pytest.param("2024-06-20T18:00:00Z", 39.74, -105.18, 60, 75, id="golden-summer-noon"),
        pytest.param("2024-12-21T19:00:00Z", 39.74, -105.18, 20, 30, id="golden-winter-noon"),
        pytest.param("2024-06-20T06:00:00Z", 39.74, -105.18, -90, 0, id="golden-midnight"),
        pytest.param("2024-06-20T04:00:00Z", 39.9, 116.4, 60, 75, id="beijing-noon"),
        pytest.param("2024-06-20T02:00:00Z", -37.8, 145.0, 20, 30, id="melbourne-winter-noon"),
    ],
)
def test_solar_elevation(iso: str, lat: float, lon: float, low: float, high: float) -> None:
    ts = np.array([np.datetime64(iso.rstrip("Z"), "ms").astype(np.int64)])
    assert low <= solar_elevation_deg(ts, lat, lon)[0] <= high


def test_site_overrides_are_validated() -> None:
    config = QualityConfig()
    assert config.for_series("load", {"flatline_minutes": 60}).flatline_minutes == 60
    with pytest.raises(ValueError, match="flatline_minuts"):
        config.for_series("load", {"flatline_minuts": 60})
    assert config.for_series("unknown") == QuantityChecks()
