"""Benchmark: memory a worker holds per site, measured with tracemalloc.

Builds N sites' state by feeding synthetic readings through the pure processors the
stages run, one component at a time, and prints bytes per site:

- clean stage: ``Resampler`` (open steps, duplicate keys, last values) and
  ``QualityChecker`` (per series: the spike window, last good value, flat run), fed
  readings every ``--cadence-s`` seconds for ``--minutes`` (default 124: 4 minutes into a
  step, so the previous step is still open too: the most a site holds), in gateway
  batches of every site's reading of one instant; plus the stage's own maps
  (``_stations``, ``_known_sites``, ``_seen``);
- forecast stage: ``SeriesHistory`` fed ``--history-days`` of 15-minute fused steps of the
  quantities (its ring buffers hold twice that).

Also prints the size of a site's saved clean state (the JSON in ``site_state``). The
site id strings (shared by the components) are counted once, in the stage maps.

Usage: .venv/bin/python benchmarks/site_memory.py [--sites 1000] [--quantities load]
"""

import argparse
import gc
import json
import math
import tracemalloc
from collections.abc import Callable, Iterator
from functools import partial

import numpy as np

from gridbrain.processors.forecast.history import SeriesHistory
from gridbrain.processors.fuse import FusedStep
from gridbrain.processors.quality.checker import QualityChecker
from gridbrain.processors.quality.config import QualityConfig
from gridbrain.processors.resample import Resampler
from gridbrain.processors.validate import ReadingBatch

STEP_MS = 900_000
LATENESS_MS = 300_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00Z
#: Readings per batch (the clean stage's batches are about this size).
BATCH = 5000


def site_ids(n: int) -> list[str]:
    return [f"site-{i:06d}-{'x' * 8}" for i in range(n)]  # ~20 characters, like real ids


def value(site: int, ts_ms: int) -> float:
    return 100.0 + 10.0 * math.sin(ts_ms / 3_600_000 + site) + (ts_ms // 60_000 % 7) * 0.1


def batches(
    sites: list[str], quantities: list[str], minutes: int, cadence_s: int
) -> Iterator[ReadingBatch]:
    """Every site's readings of each instant, in batches of at most BATCH readings."""
    current = ReadingBatch()
    for ts in range(T0, T0 + minutes * 60_000, cadence_s * 1000):
        for k, site in enumerate(sites):
            for quantity in quantities:
                current.append(site, "s1", quantity, ts, value(k, ts), len(current))
                if len(current) >= BATCH:
                    yield current
                    current = ReadingBatch()
    if len(current):
        yield current


def measure(build: Callable[[], object]) -> tuple[int, object]:
    """Bytes still allocated after ``build`` returns (its result kept alive), and it."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    result = build()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before, result


def build_resampler(
    feed: Callable[[], Iterator[ReadingBatch]], max_gap: dict[str, float]
) -> Resampler:
    r = Resampler(STEP_MS, LATENESS_MS, max_gap)
    for b in feed():
        is_open, first = r.admit(b)
        kept = b.take(is_open & first)
        r.aggregate(kept, np.zeros(len(kept), dtype=np.int8))
    return r


def build_checker(
    feed: Callable[[], Iterator[ReadingBatch]], sites: list[str], config: QualityConfig
) -> QualityChecker:
    c = QualityChecker(config)
    for site in sites:
        c.configure_site(site, (52.5, 13.4))
    for b in feed():
        c.check(b)
    return c


def build_stage_maps(sites: list[str]) -> tuple[dict[str, str], set[str], dict[str, float]]:
    """The clean stage's maps, with new id strings (a worker's come from decoded JSON)."""
    ids = ["".join(list(s)) for s in sites]
    return {s: s for s in ids}, set(ids), dict.fromkeys(ids, 1.0e9)


def build_history(sites: list[str], quantities: list[str], length: int) -> SeriesHistory:
    h = SeriesHistory(STEP_MS, length, 3_600_000)
    for step in range(length):
        ts = T0 + step * STEP_MS
        for k, site in enumerate(sites):
            values = {q: value(k, ts) for q in quantities}
            h.add(FusedStep(site, ts, values, {"temperature_c": 5.0}, 0))
    return h


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, nargs="+", default=[1000])
    parser.add_argument("--quantities", default="load", help="comma-separated")
    parser.add_argument("--cadence-s", type=int, default=60, help="seconds between readings")
    parser.add_argument("--minutes", type=int, default=124, help="minutes of readings fed")
    parser.add_argument("--history-days", type=int, default=7)
    args = parser.parse_args()
    quantities = args.quantities.split(",")
    config = QualityConfig()
    max_gap = {q: c.max_gap_minutes * 60_000 for q, c in config.quantities.items()}
    length = args.history_days * 86_400_000 // STEP_MS

    header = (
        f"{'sites':>7} {'resampler':>10} {'checker':>9} {'stage maps':>10} "
        f"{'clean total':>11} {'forecast hist':>13} {'total':>8} {'saved JSON':>10}"
    )
    print(f"bytes per site; quantities: {', '.join(quantities)}; readings every "
          f"{args.cadence_s} s for {args.minutes} min; forecast history {args.history_days} "
          f"days of 15-min steps")  # fmt: skip
    print(header)
    for n in args.sites:
        sites = site_ids(n)

        feed = partial(batches, sites, quantities, args.minutes, args.cadence_s)
        r_bytes, r = measure(partial(build_resampler, feed, max_gap))
        c_bytes, c = measure(partial(build_checker, feed, sites, config))
        m_bytes, _ = measure(partial(build_stage_maps, sites))
        h_bytes, _ = measure(partial(build_history, sites, quantities, length))
        assert isinstance(r, Resampler) and isinstance(c, QualityChecker)
        saved = sum(
            len(json.dumps({"resample": r.export(s), "quality": c.export(s)})) for s in sites
        )
        clean = r_bytes + c_bytes + m_bytes
        print(
            f"{n:>7} {r_bytes / n:>10.0f} {c_bytes / n:>9.0f} {m_bytes / n:>10.0f} "
            f"{clean / n:>11.0f} {h_bytes / n:>13.0f} {(clean + h_bytes) / n:>8.0f} "
            f"{saved / n:>10.0f}"
        )


if __name__ == "__main__":
    main()
