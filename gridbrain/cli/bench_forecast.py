"""``gridbrain benchmark forecast-stage``: the forecast stage as a real worker beside its ceiling.

Starts the embedded broker and PostgreSQL in a temporary directory, stores a week of
history for ``--series`` load series (so that every forecast of the run comes from the
chosen model), promotes an untrained ``--model`` (its weights do not change the cost;
``arx`` is built in), produces ``--steps`` fused 15-minute steps per series, and measures
in the same run, on ``--threads`` torch threads:

1. the stage: a real worker running only the forecast stage (decode, history, windows,
   models, forecasts written to PostgreSQL and published), timed by the start times of
   its committed batches once every site's stored history is loaded (a warm-up step
   first: the steady state, not the start);
2. the ceiling: the model's own batched ``forecast()`` on the same windows (windows/s);
3. optionally (``--replay-days``) a half-hourly replay of one series through the stage's
   computation (history, windows, models, messages; no database), scaled to 3 years.

The last line is JSON.
"""

import json
import math
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

if TYPE_CHECKING:
    from gridbrain.processors.forecast.base import QuantileModel
    from gridbrain.processors.forecast.batch import WindowBatch
    from gridbrain.settings import Settings

__all__ = ["forecast_stage", "load_values", "replay_seconds"]

_DAY_MS = 86_400_000
_T0 = 1_735_689_600_000  # 2025-01-01 00:00 UTC
_YEARS_3_DAYS = 3 * 365


def load_values(series: int, start_ms: int, steps: int, step_ms: int, seed: int = 0) -> np.ndarray:
    """(series, steps) of a temperature-driven daily load cycle with noise.

    >>> load_values(2, 0, 4, 900_000).shape
    (2, 4)
    """
    rng = np.random.default_rng(seed)
    ts = start_ms + step_ms * np.arange(steps)
    day = 2 * math.pi * (ts % _DAY_MS) / _DAY_MS
    level = rng.uniform(50, 500, (series, 1))
    return np.asarray(level * (1 + 0.3 * np.sin(day - 2.0)) + rng.normal(0, 5, (series, steps)))


def _make_model(name: str, settings: "Settings") -> "QuantileModel":
    from gridbrain.cli.training import TrainOptions, make_model

    options = TrainOptions(
        lookback=settings.history_days * _DAY_MS // settings.step_ms,
        horizon=settings.horizon_hours * 3_600_000 // settings.step_ms,
        step_ms=settings.step_ms,
        device="cpu",
    )
    return make_model(name, options)


def _store_history(url: str, values: np.ndarray, step_ms: int, model: "QuantileModel") -> None:
    """Sites, a week of readings before ``_T0``, and the promoted model (unless built in)."""
    from gridbrain.processors.sites import SiteProfile
    from gridbrain.processors.timestamps import ms_to_datetime
    from gridbrain.storage.bulk import execute_batch
    from gridbrain.storage.db import make_engine, make_sessionmaker
    from gridbrain.storage.registry import promote, register_model
    from gridbrain.storage.sites import upsert_sites

    sites = [f"fc-{k}" for k in range(len(values))]
    start = _T0 - values.shape[1] * step_ms
    times = [ms_to_datetime(start + i * step_ms) for i in range(values.shape[1])]
    with make_sessionmaker(make_engine(url))() as session:
        upsert_sites(
            session, [SiteProfile(site_id=s, latitude=48.1, longitude=11.6) for s in sites]
        )
        rows = [
            (site, "load", ts, float(v), float(v), 1, 0, "ok")
            for site, row in zip(sites, values, strict=True)
            for ts, v in zip(times, row.tolist(), strict=True)
        ]
        execute_batch(
            session,
            "INSERT INTO readings (site_id, quantity, ts, value, value_sum, n_samples, "
            "n_flagged, quality) VALUES %s",
            rows,
            page_size=10_000,
        )
        if model.kind != "arx":
            version = register_model(
                session, "bench", "load", model.kind, None, {}, model.to_bytes()
            )
            promote(session, version.id)
        session.commit()


def _produce(
    bootstrap: str,
    values: np.ndarray,
    step_ms: int,
    per_message: int,
    since: int = 0,
    until: int | None = None,
) -> int:
    """Send fused steps ``since`` to ``until`` (excluded); returns the messages sent.

    ``values[:, i]`` is the step at ``_T0 + i * step_ms``; ``per_message`` steps of one
    series per message, in time order.
    """
    from kafka import KafkaProducer

    from gridbrain.streams.envelope import encode
    from gridbrain.streams.topics import FUSED

    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=1 << 20)
    sent, end = 0, values.shape[1] if until is None else until
    for first in range(since, end, per_message):
        for k, row in enumerate(values):
            site = f"fc-{k}"
            chunk = [
                {
                    "site_id": site,
                    "ts_ms": _T0 + i * step_ms,
                    "values": {"load": float(row[i])},
                    "weather": {},
                    "weather_age_ms": None,
                    "quality": {"load": "ok"},
                }
                for i in range(first, min(first + per_message, end))
            ]
            producer.send(FUSED, key=site.encode(), value=encode(chunk))
            sent += 1
    producer.flush()
    return sent


def _stage_rate(
    bootstrap: str,
    url: str,
    live: np.ndarray,
    step_ms: int,
    per_message: int,
    log: Path,
    threads: int,
    stall_s: float = 120.0,
) -> tuple[float, int]:
    """Series-forecasts/s of one worker running the forecast stage, and forecasts timed.

    Warm-up, not timed: the first live step of every series (no forecast is due at it)
    makes the worker load each site's stored history, as after a start. Then the other
    steps are sent; the run waits for every forecast due (failing with the worker's log
    when none comes for ``stall_s`` seconds) and times the batches by their own
    transaction start (``forecast_issues.created_at``): the forecasts of every batch but
    the last, over the time from the first batch's start to the last one's.
    """
    from sqlalchemy import text

    from gridbrain.cli.services import embedded_kafka_env, worker_command
    from gridbrain.settings import Settings
    from gridbrain.storage.db import make_engine, make_sessionmaker
    from gridbrain.storage.queries import applied_offsets, stage_counts
    from gridbrain.streams.topics import FORECASTS, FUSED

    sessions = make_sessionmaker(make_engine(url))
    env = {
        **embedded_kafka_env(),
        "GRIDBRAIN_TORCH_THREADS": str(threads),
        "GRIDBRAIN_DEVICE": "cpu",
    }
    command = worker_command(bootstrap, url, ("forecast",))
    warm = _produce(bootstrap, live, step_ms, 1, until=1)
    worker = subprocess.Popen(command, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env)

    def applied() -> int:
        with sessions() as session:
            offsets = applied_offsets(session).get(("forecast", FUSED), {})
        return sum(o + 1 for o in offsets.values())

    def forecasts() -> int:
        with sessions() as session:
            counts = stage_counts(session).get(("forecast", FORECASTS), {})
        return counts.get("series_forecast", 0)

    try:
        _watch(applied, warm, worker, log, stall_s, "warm-up messages applied")
        _produce(bootstrap, live, step_ms, per_message, since=1)
        interval = Settings().forecast_interval_minutes * 60_000 // step_ms  # as the worker
        expected = live.shape[0] * sum(
            1 for i in range(1, live.shape[1]) if (i + 1) % interval == 0
        )
        _watch(forecasts, expected, worker, log, stall_s, "forecasts")
    finally:
        worker.terminate()
        worker.wait(30)
    with sessions() as session:
        batches = session.execute(
            text(
                "SELECT extract(epoch FROM created_at), count(*) "
                "FROM forecast_issues GROUP BY created_at ORDER BY created_at"
            )
        ).all()
    if len(batches) < 2:
        raise click.ClickException("every forecast came in one batch: send more")
    span = float(batches[-1][0]) - float(batches[0][0])
    return sum(n for _, n in batches[:-1]) / span, expected


def _watch(
    count: Callable[[], int],
    expected: int,
    worker: "subprocess.Popen[bytes]",
    log: Path,
    stall_s: float,
    what: str,
) -> None:
    """Wait until ``count()`` reaches ``expected``.

    Fails with the worker's log when it stalls for ``stall_s`` seconds or the worker exits.
    """
    progress = (time.monotonic(), -1)
    while (done := count()) < expected:
        if done != progress[1]:
            progress = (time.monotonic(), done)
        elif time.monotonic() - progress[0] > stall_s:
            tail = log.read_text(errors="replace")[-3000:]
            raise click.ClickException(f"{done} of {expected} {what}, stalled:\n{tail}")
        if worker.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise click.ClickException(f"the worker exited:\n{tail}")
        time.sleep(0.25)


def _windows(values: np.ndarray, settings: "Settings", count: int) -> "WindowBatch":
    """The stage's windows of the first issue instant after the history, ``count`` of them."""
    from gridbrain.processors.forecast.batch import WindowBatch

    length = settings.history_days * _DAY_MS // settings.step_ms
    horizon = settings.horizon_hours * 3_600_000 // settings.step_ms
    rows = np.resize(np.arange(len(values)), count)
    return WindowBatch(
        y=values[rows, -length:],
        exog=np.full((count, length + horizon, 3), np.nan),
        last_ts_ms=np.full(count, _T0 - settings.step_ms, dtype=np.int64),
        step_ms=settings.step_ms,
        horizon=horizon,
        latitude=np.full(count, 48.1),
        longitude=np.full(count, 11.6),
    )


def _ceiling(model: "QuantileModel", batch: "WindowBatch", seconds: float) -> float:
    """Windows/s of the model's batched ``forecast()`` (at least two calls)."""
    model.forecast(batch)
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds or calls < 2:
        model.forecast(batch)
        calls += 1
    return calls * len(batch) / (time.perf_counter() - started)


def replay_seconds(model: "QuantileModel", settings: "Settings", days: int) -> tuple[float, int]:
    """Seconds and forecasts of a half-hourly replay of one series through the stage's work.

    The steps come in micro-batches of ``forecast_batch_max``; every due instant is
    forecast as the stage does (history ring, windows, one batched call per model,
    messages), without the database.
    """
    from gridbrain.processors.forecast.forecaster import (
        ForecastConfig,
        ServingModel,
        forecast_batch,
    )
    from gridbrain.processors.forecast.history import SeriesHistory
    from gridbrain.processors.fuse import FusedStep
    from gridbrain.streams.forecasting import forecast_bytes

    step_ms = settings.step_ms
    half_hours = days * 48
    values = load_values(1, _T0, half_hours, 1_800_000)[0]
    steps = [
        FusedStep("replay", _T0 + i * 1_800_000, {"load": float(v)}, {}, None)
        for i, v in enumerate(values.tolist())
    ]
    length = settings.history_days * _DAY_MS // step_ms
    config = ForecastConfig(step_ms, settings.horizon_hours * 3_600_000 // step_ms)
    served = {} if model.kind == "arx" else {"load": [ServingModel(model, "bench:1")]}
    history = SeriesHistory(step_ms, length, settings.forecast_interval_minutes * 60_000)
    issued = 0
    started = time.perf_counter()
    for first in range(0, len(steps), settings.forecast_batch_max):
        due = []
        for step in steps[first : first + settings.forecast_batch_max]:
            due += history.add(step)
        windows = [history.window(s, q, ts) for s, q, ts in due]
        forecasts = forecast_batch(windows, config, served=served)
        issued += len([forecast_bytes(f) for f in forecasts])
    return time.perf_counter() - started, issued


@click.command("forecast-stage")
@click.option(
    "--model",
    "model_name",
    type=click.Choice(["linear", "linear_daily", "patchtst", "arx"]),
    default="linear",
    show_default=True,
)
@click.option("--series", type=int, default=200, show_default=True, help="Load series (sites).")
@click.option("--steps", type=int, default=96, show_default=True, help="15-min steps per series.")
@click.option("--per-message", type=int, default=4, show_default=True, help="Steps per message.")
@click.option("--threads", type=int, default=1, show_default=True, help="Torch threads.")
@click.option("--seconds", type=float, default=3.0, show_default=True, help="Ceiling timing.")
@click.option(
    "--replay-days",
    type=int,
    default=0,
    show_default=True,
    help="Also replay this many days of one half-hourly series (scaled to 3 years).",
)
def forecast_stage(
    model_name: str,
    series: int,
    steps: int,
    per_message: int,
    threads: int,
    seconds: float,
    replay_days: int,
) -> None:
    """Series-forecasts/s of the forecast stage as a worker, beside the model's ceiling.

    The last line is JSON: stage, model, rate, ceiling, ratio and replay_3y_s.
    """
    import torch

    from gridbrain.cli.bench_worker import embedded_services
    from gridbrain.cli.output import render
    from gridbrain.settings import Settings

    torch.set_num_threads(threads)
    settings = Settings()
    step_ms = settings.step_ms
    history_steps = settings.history_days * _DAY_MS // step_ms
    model = _make_model(model_name, settings)
    all_values = load_values(series, _T0 - history_steps * step_ms, history_steps + steps, step_ms)
    history, live = all_values[:, :history_steps], all_values[:, history_steps:]
    with embedded_services(settings.partitions) as (tmp, bootstrap, url):
        _store_history(url, history, step_ms, model)
        rate, expected = _stage_rate(
            bootstrap, url, live, step_ms, per_message, tmp / "worker.log", threads
        )
    batch = _windows(history, settings, min(max(series, 64), settings.forecast_batch_max * 8))
    ceiling = _ceiling(model, batch, seconds)
    one = _ceiling(model, batch.take(slice(0, 1)), seconds)
    replay: dict[str, Any] = {}
    if replay_days:
        replay_s, forecasts = replay_seconds(model, settings, replay_days)
        replay = {
            "replay_days": replay_days,
            "replay_forecasts": forecasts,
            "replay_s": round(replay_s, 2),
            "replay_3y_s": round(replay_s * _YEARS_3_DAYS / replay_days, 1),
        }
    result = {
        "stage": "forecast",
        "model": model.name,
        "threads": threads,
        "series": series,
        "forecasts": expected,
        "rate": round(rate, 1),
        "ceiling": round(ceiling, 1),
        "ratio": round(rate / ceiling, 3),
        "one_window_per_s": round(one, 1),
        "batch_vs_one": round(ceiling / one, 1),
        "replay_3y_s": replay.get("replay_3y_s"),
        **replay,
    }
    rows = [
        {"measure": "forecast stage, worker to Postgres", "per_s": result["rate"]},
        {"measure": f"{model.name}.forecast(), batch {len(batch)}", "per_s": result["ceiling"]},
        {"measure": f"{model.name}.forecast(), one window", "per_s": result["one_window_per_s"]},
    ]
    if replay:
        rows.append(
            {
                "measure": f"replay {replay_days} d, forecasts",
                "per_s": replay["replay_forecasts"] / replay["replay_s"],
            }
        )
    click.echo(render(rows, "table"))
    click.echo(json.dumps(result))
