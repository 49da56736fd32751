"""Benchmark: the cleaning computation alone (no broker, no database) vs raw JSON decode.

Replays a shared data file through the pure stages the cleaning agent runs per batch
(decode, validate, range, admit, quality checks, resample) and, in the same run, times a
bare ``json.loads`` of the same messages: the ratio is the share of the decode ceiling
the computation reaches. The worker benchmark (pipeline_throughput.py) adds the broker,
Faust and the database transaction on top.

Usage: .venv/bin/python benchmarks/cleaning_compute.py [--mapping NAME] [--file PATH]
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from gridbrain.cli.replay import load_mapping, replay_file
from gridbrain.processors.clean import range_mask
from gridbrain.processors.quality.checker import QualityChecker
from gridbrain.processors.resample import Resampler
from gridbrain.processors.validate import ReadingBatch, decode_items, validate_readings
from gridbrain.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def clean(messages: list[bytes], batch_messages: int) -> tuple[int, int]:
    """Run the cleaning computation in batches of messages; returns (readings, steps)."""
    resampler, checker = Resampler(900_000, 300_000, {"load": 3_600_000}), QualityChecker()
    readings = steps = 0
    for start in range(0, len(messages), batch_messages):
        admitted = ReadingBatch()
        for raw in messages[start : start + batch_messages]:
            batch, rejected = validate_readings(decode_items(raw), 2_000_000_000_000, 0)
            readings += len(batch) + len(rejected)
            batch = batch.take(range_mask(batch))
            is_open, first = resampler.admit(batch)
            admitted.extend(batch.take(is_open & first))
        flags = checker.check(admitted)
        steps += len(resampler.aggregate(admitted, flags).closed)
    return readings, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mapping", default="beijing_multisite_air_quality")
    parser.add_argument(
        "--file", default="beijing_multisite_air_quality/PRSA_Data_12stations_part1_of_2.parquet"
    )
    parser.add_argument("--batch-messages", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = Settings().shared_data_dir / args.file
    replay = replay_file(path, load_mapping(ROOT / "deploy" / "mappings" / f"{args.mapping}.yaml"))
    messages = [value for topic, _, value in replay.messages if topic == "sensor.readings"]
    print(f"{len(messages)} messages, {replay.readings} readings from {path.name}")
    decode, compute = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        decoded = sum(len(json.loads(m)) for m in messages)
        t1 = time.perf_counter()
        readings, steps = clean(messages, args.batch_messages)
        t2 = time.perf_counter()
        assert decoded == readings
        decode.append(decoded / (t1 - t0))
        compute.append(readings / (t2 - t1))
    d, c = float(np.median(decode)), float(np.median(compute))
    print(f"raw json decode: {d:,.0f} readings/s (median of {args.repeat})")
    print(f"cleaning compute: {c:,.0f} readings/s, {steps} steps closed; ratio {c / d:.3f}")
    print(json.dumps({"decode_rps": round(d), "clean_rps": round(c), "ratio": round(c / d, 4)}))


if __name__ == "__main__":
    main()
