"""Benchmark: the alert stage's fused steps/s next to a raw aiokafka consumer, same run.

Reads a shared data file (default: the Beijing PM2.5 record, from the setting
GRIDBRAIN_SHARED_DATA_DIR) into fused steps, copies them to S sites, and measures
1. the alert engine alone with the built-in rules (pure, in this process),
2. a bare aiokafka consumer + json.loads reading the fused topic (the Python ceiling),
3. a real worker running only the alert stage, timed from its first counted step to the
   last (decode, every rule, incidents, history and site state written to PostgreSQL,
   notifications published).

Usage: .venv/bin/python benchmarks/alert_throughput.py [--sites 4]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from kafka import KafkaProducer
from tqdm import tqdm

from gridbrain.cli.alert_eval import fused_steps_from_file
from gridbrain.cli.bench_worker import worker_rate
from gridbrain.cli.embedded import EmbeddedBroker, free_port, open_database_url
from gridbrain.processors.alerting.engine import AlertEngine
from gridbrain.processors.alerting.rules import load_rules
from gridbrain.processors.fuse import FusedStep
from gridbrain.settings import Settings
from gridbrain.storage.db import migrate
from gridbrain.streams.envelope import encode
from gridbrain.streams.throughput import raw_consumer_rate
from gridbrain.streams.topics import FUSED, create_topics

ROOT = Path(__file__).resolve().parents[1]
BEIJING = "beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv"


def copies(steps: list[FusedStep], sites: int) -> dict[str, list[FusedStep]]:
    """The steps of one site, as ``sites`` sites."""
    return {
        f"site-{k}": [FusedStep.from_dict({**s.to_dict(), "site_id": f"site-{k}"}) for s in steps]
        for k in range(sites)
    }


def engine_rate(per_site: dict[str, list[FusedStep]]) -> float:
    engine = AlertEngine(load_rules())
    ordered = sorted((s for steps in per_site.values() for s in steps), key=lambda s: s.ts_ms)
    start = time.perf_counter()
    for step in tqdm(ordered, unit="step", desc="engine alone", mininterval=1.0):
        engine.on_step(step, step.ts_ms)
    return len(ordered) / (time.perf_counter() - start)


def produce(bootstrap: str, per_site: dict[str, list[FusedStep]], per_message: int) -> int:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=1 << 20)
    sent = 0
    for site, steps in per_site.items():
        for i in range(0, len(steps), per_message):
            chunk = [s.to_dict() for s in steps[i : i + per_message]]
            producer.send(FUSED, key=site.encode(), value=encode(chunk))
            sent += len(chunk)
    producer.flush()
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, help=f"default: <shared data>/{BEIJING}")
    parser.add_argument("--mapping", type=Path, default=ROOT / "deploy/mappings/beijing_pm25.yaml")
    parser.add_argument("--sites", type=int, default=4, help="copies of the file's site")
    parser.add_argument(
        "--steps-per-message",
        type=int,
        default=24,
        help="fused steps per message (the cleaning stage sends 1-200: what one batch closed)",
    )
    args = parser.parse_args()
    settings = Settings()
    path = args.csv or settings.shared_data_dir / BEIJING
    if not path.exists():
        sys.exit(f"{path} not found: set GRIDBRAIN_SHARED_DATA_DIR or pass --csv")
    steps = fused_steps_from_file(path, args.mapping, settings.step_ms)
    per_site = copies(steps, args.sites)
    engine = engine_rate(per_site)
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmbeddedBroker(Path(tmp), free_port()) as broker,
        open_database_url(None, Path(tmp) / "pgdata") as url,
    ):
        migrate(url)
        create_topics(broker.bootstrap, settings.partitions)
        sent = produce(broker.bootstrap, per_site, args.steps_per_message)
        raw_steps, raw_seconds = raw_consumer_rate(broker.bootstrap, FUSED)
        ceiling = raw_steps / raw_seconds
        log = Path(tmp) / "worker.log"
        stage = worker_rate(broker.bootstrap, url, ("alert",), ("alert", FUSED), sent, log)
    print(
        f"fused steps: {sent} ({len(steps)} of {path.name} x {args.sites} sites, "
        f"{args.steps_per_message} per message)"
    )
    print(f"raw aiokafka consumer + json.loads : {ceiling:10,.0f} steps/s")
    print(f"alert engine alone (built-in rules) : {engine:10,.0f} steps/s")
    print(f"alert stage in a worker (to Postgres): {stage:10,.0f} steps/s")
    print(f"ratio stage / raw                  : {stage / ceiling:10.3f}")
    print(f"ratio stage / engine alone         : {stage / engine:10.3f}")


if __name__ == "__main__":
    main()
