"""Every model kind: forecasts of the right shape, calibrated quantiles, save/load round trips."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gridbrain.errors import ModelError
from gridbrain.processors.forecast.arx import Arx
from gridbrain.processors.forecast.base import QuantileModel, clip_quantiles, load_model
from gridbrain.processors.forecast.baselines import Persistence, SeasonalNaive
from gridbrain.processors.forecast.batch import LEVELS, P10, P50, P90, WindowBatch
from gridbrain.processors.forecast.dataset import Series, split_origins, window_targets, windows_at
from gridbrain.processors.forecast.linear import LinearModel
from gridbrain.processors.forecast.patchtst import PatchTst

STEP = 3_600_000  # hourly keeps the tests fast
DAY = 24
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def series(days: int = 120, noise: float = 0.3, seed: int = 0) -> Series:
    """A daily cycle driven partly by a temperature random walk, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(days * DAY)
    temp = 10 + np.cumsum(rng.normal(0, 0.2, len(t)))
    y = 10 + 3 * np.sin(2 * np.pi * t / DAY) + 0.5 * temp + rng.normal(0, noise, len(t))
    exog = np.stack([temp, np.zeros(len(t)), np.zeros(len(t))], axis=-1)
    return Series("site", "load", T0, STEP, y, exog, 48.0, 11.0)


def parts(s: Series, lookback: int = 7 * DAY, horizon: int = DAY):  # type: ignore[no-untyped-def]
    split = split_origins(len(s), lookback, horizon, (0.6, 0.2), train_stride=2, test_stride=DAY)
    make = lambda o: (  # noqa: E731
        windows_at(s, o, lookback, horizon, future_weather=True),
        window_targets(s, o, horizon),
    )
    return make(split.train), make(split.val), make(split.test)


def small_models() -> list[QuantileModel]:
    quick = {"n_exog": 3, "train": {"epochs": 4, "batch_size": 64}}
    return [
        Persistence(),
        SeasonalNaive(1),
        SeasonalNaive(7),
        Arx(),
        LinearModel(7 * DAY, DAY, **quick),
        LinearModel(7 * DAY, DAY, period=DAY, **quick),
        PatchTst(7 * DAY, DAY, d_model=8, layers=1, heads=2, ffn=16, **quick),
    ]


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    return parts(series())


@pytest.mark.parametrize("model", small_models(), ids=lambda m: m.name)
def test_model_fits_forecasts_and_round_trips(model: QuantileModel, data) -> None:  # type: ignore[no-untyped-def]
    train, val, (test_x, test_y) = data
    model.fit(train, val)
    q = model.forecast(test_x)
    assert q.shape == (len(test_x), DAY, len(LEVELS))
    assert np.all(np.diff(q, axis=-1) >= 0), "quantiles are sorted"
    coverage = np.mean((test_y >= q[..., P10]) & (test_y <= q[..., P90]))
    assert 0.5 < coverage < 0.995, coverage  # the calibration is tested on its own below
    again = load_model(model.to_bytes())
    assert again.name == model.name
    np.testing.assert_allclose(again.forecast(test_x), q, rtol=1e-5, atol=1e-5)


def test_trained_models_beat_the_seasonal_naive(data) -> None:  # type: ignore[no-untyped-def]
    train, val, (test_x, test_y) = data
    naive = SeasonalNaive(1).fit(train, val).forecast(test_x)[..., P50]
    naive_mae = np.mean(np.abs(naive - test_y))
    for model in small_models()[4:5]:
        p50 = model.fit(train, val).forecast(test_x)[..., P50]
        assert np.mean(np.abs(p50 - test_y)) < naive_mae, model.name


def test_calibration_makes_intervals_cover_their_share() -> None:
    # A stationary daily cycle with noise: the raw in-window error quantiles of
    # persistence misjudge its spread by horizon; the calibration learns it.
    rng = np.random.default_rng(4)
    t = np.arange(200 * DAY)
    y = 10 + 3 * np.sin(2 * np.pi * t / DAY) + rng.normal(0, 1.0, len(t))
    s = Series("site", "load", T0, STEP, y, np.full((len(t), 3), np.nan))
    split = split_origins(len(s), 7 * DAY, DAY, (0.6, 0.2), train_stride=2, test_stride=3)
    train, val, (test_x, test_y) = (
        (windows_at(s, o, 7 * DAY, DAY, False), window_targets(s, o, DAY))
        for o in (split.train, split.val, split.test)
    )
    raw = Persistence().forecast(test_x)
    model = Persistence().fit(train, val)
    q = model.forecast(test_x)

    def cover(x: np.ndarray) -> float:
        return float(np.mean((test_y >= x[..., P10]) & (test_y <= x[..., P90])))

    assert abs(cover(q) - 0.8) < 0.05, cover(q)
    assert abs(cover(q) - 0.8) < abs(cover(raw) - 0.8)


def test_seasonal_naive_and_persistence_point_forecasts() -> None:
    t = np.arange(10 * DAY)  # a pure cycle: the rules' in-window median errors are 0
    y = 10 + 3 * np.sin(2 * np.pi * t / DAY)
    s = Series("site", "load", T0, STEP, y, np.full((len(t), 3), np.nan))
    batch = windows_at(s, np.array([8 * DAY - 1]), 8 * DAY, DAY, future_weather=False)
    day = SeasonalNaive(1).forecast(batch)[0, :, P50]
    np.testing.assert_allclose(day, s.values[7 * DAY : 8 * DAY], rtol=1e-5)
    week = SeasonalNaive(7).forecast(batch)[0, :, P50]
    np.testing.assert_allclose(week, s.values[DAY : 2 * DAY], rtol=1e-5)
    # Persistence: the last value plus the window's median change at that horizon.
    last = Persistence().forecast(batch)[0, :, P50]
    diffs = [np.median(s.values[h : 8 * DAY] - s.values[: 8 * DAY - h]) for h in range(1, DAY + 1)]
    np.testing.assert_allclose(last, s.values[8 * DAY - 1] + np.array(diffs), rtol=1e-5)


def test_model_refuses_too_short_history_and_wrong_horizon() -> None:
    s = series(days=10)
    short = windows_at(s, np.array([3 * DAY]), 2 * DAY, DAY, future_weather=False)
    with pytest.raises(ModelError, match="needs 168 steps"):
        SeasonalNaive(7).forecast(short)
    model = LinearModel(2 * DAY, 2 * DAY)
    with pytest.raises(ModelError, match="forecasts 48 steps, not 24"):
        model.forecast(short)


def test_load_model_rejects_garbage() -> None:
    with pytest.raises(ModelError, match="not a model artifact"):
        load_model(b"not a model")


@pytest.mark.parametrize(
    ("quantity", "capacity", "expected"),
    [
        pytest.param("pv_power", 10.0, [0.0, 5.0, 10.0], id="pv-clipped-to-capacity"),
        pytest.param("wind_power", None, [0.0, 5.0, 12.0], id="wind-without-capacity"),
        pytest.param("pm25", None, [0.0, 5.0, 12.0], id="concentration-non-negative"),
        pytest.param("load", None, [-1.0, 5.0, 12.0], id="load-unclipped"),
    ],
)
def test_clip_quantiles(quantity: str, capacity: float | None, expected: list[float]) -> None:
    out = clip_quantiles(np.array([-1.0, 5.0, 12.0]), quantity, capacity)
    assert out.tolist() == expected


def test_artifact_loads_where_its_module_was_never_imported(tmp_path: Path) -> None:
    # A forecaster process imports only the base; the artifact names its kind.
    path = tmp_path / "model.bin"
    path.write_bytes(LinearModel(48, 24, period=24).to_bytes())
    code = (
        "from gridbrain.processors.forecast.base import load_model; "
        f"print(load_model(open({str(path)!r}, 'rb').read()).name)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "linear_p24"


class _Point(QuantileModel):
    """A point forecast (the last value) given as every quantile: no band of its own."""

    kind = "point_test"

    def predict_raw(self, batch: WindowBatch) -> np.ndarray:
        last = np.nan_to_num(batch.y[:, -1])
        return np.broadcast_to(last[:, None, None], (len(batch), batch.horizon, len(LEVELS)))


def test_few_validation_windows_calibrate_on_every_horizon_pooled() -> None:
    train, val, test = parts(series(days=40))
    few = (val[0].take(slice(0, 5)), val[1][:5])  # 5 windows: under 20 per horizon
    q = _Point().fit(train, few).forecast(test[0])
    assert (q[..., P90] - q[..., P10] > 0).all()  # a band, not p10 = p50 = p90
    covered = (test[1] >= q[..., P10]) & (test[1] <= q[..., P90])
    assert 0.5 < covered.mean() <= 1.0
    one = (val[0].take(slice(0, 1)), val[1][:1])  # 24 errors pooled: still a band
    band = _Point().fit(train, one).forecast(test[0])
    assert (band[..., P90] - band[..., P10] > 0).all()
    nothing = _Point().fit(train, (val[0].take(slice(0, 0)), val[1][:0])).forecast(test[0])
    np.testing.assert_array_equal(nothing[..., P10], nothing[..., P90])  # no errors: raw


def test_a_linear_model_with_the_local_calendar_learns_holidays() -> None:
    from tests.processors.forecast.workdays import workdays

    days = workdays()
    test, target = days.part(days.holidays)
    errors = {}
    for calendar in (False, True):
        model = LinearModel(
            7 * DAY, DAY, n_exog=3, local_calendar=calendar, train={"epochs": 30, "seed": 1}
        ).fit(days.train, days.val)
        errors[calendar] = np.mean(np.abs(model.forecast(test)[..., P50] - target)[days.off])
        again = load_model(model.to_bytes())
        np.testing.assert_allclose(again.forecast(test), model.forecast(test), rtol=1e-5)
    # The effect is 40, the noise 2; holidays are 1 % of the steps, and the learning rate
    # falls fast (tuned for RLinear), so the linear model learns them only in part.
    assert errors[True] < 0.85 * errors[False], errors
    old = dict(model.config())
    del old["local_calendar"]  # a model saved before the calendar: reads the UTC clock
    assert LinearModel(**old).n_covariates == model.n_covariates - 6
