"""``gridbrain benchmark alert-stage``: the alert stage's fused steps/s beside its ceiling.

Reads a shared data file (default: the Beijing PM2.5 record under the setting
GRIDBRAIN_SHARED_DATA_DIR) into fused steps, copies them to N sites, and measures in one
run:

1. the alert engine alone with the built-in rules, fed as a worker feeds it (a batch of
   messages at a time, each site's steps at once), and one step at a time as before;
2. a bare aiokafka consumer + ``json.loads`` reading the fused topic (the Python ceiling);
3. a real worker running only the alert stage, timed from its first committed batch to
   the last (decode, every rule, incidents, history and site state written to
   PostgreSQL, notifications published).

Without the file (and without ``--csv``) it runs on a synthetic hourly PM2.5 series and
says so. The last line printed is one JSON object: stage, rate, ceiling, ratio,
engine_rate and the rest of the figures.
"""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from gridbrain.processors.fuse import FusedStep

__all__ = ["BEIJING", "alert_stage", "engine_rates", "synthetic_steps"]

#: The default data file, under the shared data directory.
BEIJING = "beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv"
_MAPPING = Path(__file__).resolve().parents[2] / "deploy" / "mappings" / "beijing_pm25.yaml"
_ONE_BY_ONE_MAX = 20_000  # steps timed one at a time (the old path is slow)


def synthetic_steps(count: int, step_ms: int, seed: int = 0) -> "list[FusedStep]":
    """An hourly-varying PM2.5 series of ``count`` steps (log-normal, autocorrelated)."""
    import numpy as np

    from gridbrain.processors.fuse import FusedStep

    rng = np.random.default_rng(seed)
    level = np.empty(count)
    level[0] = 0.0
    noise = rng.normal(0.0, 0.35, count)
    for i in range(1, count):
        level[i] = 0.95 * level[i - 1] + noise[i]
    pm25 = np.round(np.exp(3.6 + level), 1).tolist()
    start = 1_262_304_000_000  # 2010-01-01
    return [
        FusedStep("synthetic", start + i * step_ms, {"pm25": v}, {}, None, {"pm25": "ok"})
        for i, v in enumerate(pm25)
    ]


def _copies(steps: "list[FusedStep]", sites: int) -> "dict[str, list[FusedStep]]":
    """The steps of one site, as ``sites`` sites."""
    from gridbrain.processors.fuse import FusedStep

    return {
        f"site-{k}": [FusedStep.from_dict({**s.to_dict(), "site_id": f"site-{k}"}) for s in steps]
        for k in range(sites)
    }


def _messages(
    per_site: "dict[str, list[FusedStep]]", per_message: int
) -> "Iterator[tuple[str, list[FusedStep]]]":
    for site, steps in per_site.items():
        for i in range(0, len(steps), per_message):
            yield site, steps[i : i + per_message]


def engine_rates(
    per_site: "dict[str, list[FusedStep]]", per_message: int, batch_messages: int
) -> tuple[float, float]:
    """Steps/s of the engine with the built-in rules: as a worker feeds it, one by one.

    A worker's batch holds ``batch_messages`` messages; sites are read one after the
    other (as from one partition each), so a batch holds a few sites' runs of steps.
    The one-by-one rate is timed on the first steps only.
    """
    from gridbrain.processors.alerting.engine import AlertEngine
    from gridbrain.processors.alerting.rules import load_rules

    messages = list(_messages(per_site, per_message))
    engine = AlertEngine(load_rules())
    total = sum(len(steps) for _, steps in messages)
    start = time.perf_counter()
    for first in range(0, len(messages), batch_messages):
        batch: dict[str, list[FusedStep]] = {}
        for site, steps in messages[first : first + batch_messages]:
            batch.setdefault(site, []).extend(steps)
        now_ms = int(time.time() * 1000)
        for site, steps in batch.items():
            engine.on_steps(site, steps, now_ms)
        engine.take_touched()
    bulk = total / (time.perf_counter() - start)
    engine = AlertEngine(load_rules())
    ordered = [s for _, steps in messages for s in steps][:_ONE_BY_ONE_MAX]
    start = time.perf_counter()
    now_ms = int(time.time() * 1000)
    for step in ordered:
        engine.on_step(step, now_ms)
    return bulk, len(ordered) / (time.perf_counter() - start)


def _produce(bootstrap: str, per_site: "dict[str, list[FusedStep]]", per_message: int) -> int:
    from kafka import KafkaProducer

    from gridbrain.streams.envelope import encode
    from gridbrain.streams.topics import FUSED

    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=1 << 20)
    sent = 0
    for site, steps in _messages(per_site, per_message):
        producer.send(FUSED, key=site.encode(), value=encode([s.to_dict() for s in steps]))
        sent += len(steps)
    producer.flush()
    producer.close()
    return sent


@click.command("alert-stage")
@click.option("--sites", type=click.IntRange(min=1), default=4, show_default=True)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help=f"fused steps of this file [default: <shared data>/{BEIJING}; synthetic if absent]",
)
@click.option("--mapping", type=click.Path(path_type=Path), default=_MAPPING, show_default=True)
@click.option(
    "--steps",
    "limit",
    type=click.IntRange(min=1),
    help="only the first N steps of the file per site (synthetic: N steps) [default: all; "
    "synthetic: 43,824]",
)
@click.option(
    "--steps-per-message",
    type=click.IntRange(min=1),
    default=24,
    show_default=True,
    help="fused steps per message (the cleaning stage sends what one batch closed)",
)
def alert_stage(
    sites: int, csv_path: Path | None, mapping: Path, limit: int | None, steps_per_message: int
) -> None:
    """Fused steps/s of the alert stage as a worker, beside the raw consumer's."""
    from gridbrain.cli.alert_eval import fused_steps_from_file
    from gridbrain.cli.bench_worker import embedded_services, worker_rate
    from gridbrain.settings import Settings
    from gridbrain.streams.throughput import raw_consumer_rate
    from gridbrain.streams.topics import FUSED

    settings = Settings()
    path = csv_path or settings.shared_data_dir / BEIJING
    if path.exists():
        steps, source = fused_steps_from_file(path, mapping, settings.step_ms), path.name
        steps = steps[:limit] if limit else steps
    elif csv_path is not None:
        raise click.ClickException(f"{csv_path} not found")
    else:
        click.echo(f"{path} not found (GRIDBRAIN_SHARED_DATA_DIR): synthetic hourly PM2.5 steps")
        steps, source = synthetic_steps(limit or 43_824, 3_600_000), "synthetic"
    per_site = _copies(steps, sites)
    engine, one_by_one = engine_rates(per_site, steps_per_message, settings.forecast_batch_max)
    with embedded_services(settings.partitions) as (tmp, bootstrap, url):
        sent = _produce(bootstrap, per_site, steps_per_message)
        raw_steps, raw_seconds = raw_consumer_rate(bootstrap, FUSED)
        ceiling = raw_steps / raw_seconds
        rate = worker_rate(bootstrap, url, ("alert",), ("alert", FUSED), sent, tmp / "worker.log")
    result: dict[str, Any] = {
        "stage": "alert",
        "rate": round(rate),
        "ceiling": round(ceiling),
        "ratio": round(rate / ceiling, 3),
        "engine_rate": round(engine),
        "engine_rate_one_by_one": round(one_by_one),
        "steps": sent,
        "sites": sites,
        "steps_per_message": steps_per_message,
        "source": source,
    }
    click.echo(
        f"fused steps: {sent:,} ({len(steps):,} of {source} x {sites} sites, "
        f"{steps_per_message} per message)"
    )
    for label, value in (
        ("raw aiokafka consumer + json.loads", f"{ceiling:12,.0f} steps/s"),
        ("alert engine alone, per site batch", f"{engine:12,.0f} steps/s"),
        ("alert engine alone, step by step", f"{one_by_one:12,.0f} steps/s"),
        ("alert stage in a worker (Postgres)", f"{rate:12,.0f} steps/s"),
        ("ratio stage / raw", f"{rate / ceiling:12.3f}"),
        ("ratio stage / engine alone", f"{rate / engine:12.3f}"),
    ):
        click.echo(f"{label:<38}{value}")
    click.echo(json.dumps(result))
