"""Train into the registry, promote only a better version, serve it without a restart.

Runs after test_pipeline (file order): that test counts every reading on the shared broker.
"""

import json
import math
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from kafka import KafkaProducer
from sqlalchemy import text

from gridbrain.cli.main import cli
from gridbrain.streams.forecasting import ModelRefresher
from gridbrain.streams.topics import SENSOR_READINGS
from tests.integration.conftest import Services, wait_for

pytestmark = pytest.mark.integration

HOUR = 3_600_000
DAY = 24 * HOUR
NOW = int(time.time() * 1000) // HOUR * HOUR
SITE = "it-reg"


def load_kw(ts: np.ndarray) -> np.ndarray:
    day = 2 * np.pi * (ts % DAY) / DAY
    week = 2 * np.pi * (ts % (7 * DAY)) / (7 * DAY)
    return 800 + 300 * np.sin(day) + 60 * np.cos(week)


@pytest.fixture(scope="module")
def history_csv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("registry")
    ts = np.arange(NOW - 45 * DAY, NOW - 4 * DAY, HOUR)
    noise = np.random.default_rng(0).normal(0, 20, len(ts))
    rows = [
        f"{np.datetime64(int(t), 'ms')}Z,{v:.3f}"
        for t, v in zip(ts, load_kw(ts) + noise, strict=True)
    ]
    csv = folder / "feeder.csv"
    csv.write_text("time,kw\n" + "\n".join(rows) + "\n")
    mapping = folder / "feeder.yaml"
    mapping.write_text(
        f"time_column: time\nsite_id: {SITE}\ncolumns:\n  kw: {{quantity: load, unit: kW}}\n"
    )
    return csv, mapping


def train(services: Services, csv: Path, mapping: Path, model: str = "linear") -> dict[str, object]:
    env = {"GRIDBRAIN_DATABASE_URL": services.database_url}
    args = ["train", "--quantity", "load", "--csv", str(csv), "--mapping", str(mapping)]
    args += ["--sites", SITE, "--lookback-days", "2", "--epochs", "3", "--format", "json"]
    args += ["--model", model]
    result = CliRunner(env=env).invoke(cli, args)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout)[0])


def test_better_version_is_promoted_and_served_without_restart(
    services: Services, worker: subprocess.Popen[bytes], history_csv: tuple[Path, Path]
) -> None:
    first = train(services, *history_csv)
    assert first["promoted"] is True and first["version"] == 1
    assert float(first["skill_crps_vs_persistence"]) > 0  # type: ignore[arg-type]
    # The same training again is not better than the serving version: registered only.
    second = train(services, *history_csv)
    assert second["version"] == 2 and second["promoted"] is False
    assert second["serving_crps"] == first["crps"]
    with services.sessions() as session:
        statuses = dict(session.execute(text("SELECT version, status FROM models")).all())
        assert statuses == {1: "promoted", 2: "candidate"}
        refresher = ModelRefresher("cpu", interval_s=0.0)
        refresher.refresh(session)
    (serving,) = refresher.served["load"]
    assert serving.version == "load-linear:1" and serving.sites == frozenset({SITE})

    # The running worker (started before the promotion) forecasts the site with it.
    producer = KafkaProducer(bootstrap_servers=services.bootstrap)
    for start in range(NOW - 3 * DAY, NOW - HOUR, 6 * HOUR):
        ticks = np.arange(start, start + 6 * HOUR, 15 * 60_000)
        items = [
            {"site_id": SITE, "quantity": "load", "value": float(v), "unit": "kW", "ts": int(t)}
            for t, v in zip(ticks, load_kw(ticks), strict=True)
        ]
        producer.send(SENSOR_READINGS, json.dumps(items).encode(), key=SITE.encode())
    producer.flush()
    producer.close()

    def served_forecast() -> bool:
        with services.sessions() as session:
            return bool(
                session.scalar(
                    text(
                        "SELECT count(*) FROM forecasts WHERE site_id = :s "
                        "AND model_version = 'load-linear:1' AND model = 'linear'"
                    ),
                    {"s": SITE},
                )
            )

    wait_for(served_forecast, 150, "a forecast of it-reg by the promoted model")
    with services.sessions() as session:
        p50 = session.execute(
            text(
                "SELECT p50, target_ts FROM forecasts WHERE site_id = :s AND model = 'linear' "
                "ORDER BY issued_at DESC, target_ts LIMIT 24"
            ),
            {"s": SITE},
        ).all()
    expected = load_kw(np.array([int(t.timestamp() * 1000) for _, t in p50]))
    assert math.isclose(
        float(np.mean(np.abs(np.array([v for v, _ in p50]) - expected))), 0, abs_tol=120
    )


def test_backtest_reads_history_from_the_database(
    services: Services, worker: subprocess.Popen[bytes]
) -> None:
    """Runs after the test above has streamed three days of it-reg into ``readings``."""

    def history_stored() -> bool:
        with services.sessions() as session:
            count = session.scalar(
                text("SELECT count(*) FROM readings WHERE site_id = :s"), {"s": SITE}
            )
            return bool(count and count >= 250)

    wait_for(history_stored, 60, "three days of it-reg readings")
    env = {"GRIDBRAIN_DATABASE_URL": services.database_url}
    args = ["backtest", "--quantity", "load", "--sites", SITE, "--models", "linear"]
    args += ["--lookback-days", "1", "--horizon-hours", "4", "--epochs", "2", "--format", "json"]
    result = CliRunner(env=env).invoke(cli, args)
    assert result.exit_code == 0, result.output
    rows = {r["model"]: r for r in json.loads(result.stdout)}
    assert set(rows) == {"persistence", "seasonal_naive", "linear"}
    assert rows["linear"]["windows"] > 0


def test_an_ensemble_is_weighed_registered_and_loads_for_serving(
    services: Services, history_csv: tuple[Path, Path]
) -> None:
    from gridbrain.cli.model_names import ENSEMBLE_MEMBERS
    from gridbrain.processors.forecast.base import load_model
    from gridbrain.processors.forecast.ensemble import Ensemble
    from gridbrain.processors.forecast.forecaster import (
        ForecastConfig,
        ServingModel,
        forecast_batch,
    )
    from gridbrain.processors.forecast.history import Window
    from gridbrain.storage.registry import load_artifact

    trained = train(services, *history_csv, model="ensemble")
    assert trained["name"] == "load-ensemble" and trained["version"] == 1
    assert float(trained["skill_crps_vs_persistence"]) > 0  # type: ignore[arg-type]
    with services.sessions() as session:
        model = load_model(load_artifact(session, int(trained["id"])))  # type: ignore[call-overload]
    assert isinstance(model, Ensemble)
    assert {m.name for m in model.members} <= set(ENSEMBLE_MEMBERS)
    assert sum(model.weights) == pytest.approx(1.0) and min(model.weights) > 0

    step = 15 * 60_000  # the stream's step, which training resampled the hourly file to
    ts = np.arange(NOW - 4 * DAY, NOW - 2 * DAY, step)  # the two days after the training data
    w = Window(SITE, "load", int(ts[-1]), load_kw(ts), np.full((len(ts), 3), np.nan), len(ts))
    served = {"load": [ServingModel(model, "load-ensemble:1")]}
    (f,) = forecast_batch([w], ForecastConfig(step_ms=step, horizon_steps=96), served=served)
    assert f.fallback is None and f.model == model.name
    expected = load_kw(ts[-1] + step * np.arange(1, 97))
    assert float(np.mean(np.abs(f.p50 - expected))) < 60  # noise sd 20, daily swing 600
