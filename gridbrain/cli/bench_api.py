"""``gridbrain benchmark api``: ``/forecasts/latest`` latency with a full forecasts table.

Fills a fresh embedded PostgreSQL with ``--series`` series x ``--days`` days of forecast
issues (``--per-day`` issues a day, ``--targets`` hourly targets each: 1,000 x 90 x 24 =
2.16 M issues, 52 M targets by default), starts ``gridbrain api`` on it as its own
process (its rate limit lifted: one client), and times ``--requests`` calls of
``/forecasts/latest?site=S&quantity=Q`` for random series over one keep-alive connection.
Beside it, in the same run: the same SQL through a bare psycopg2 cursor (the database's
share) and ``/health`` (the HTTP floor).
The last line is JSON.
"""

import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import click

__all__ = ["api_latency"]

_FILL = """
INSERT INTO forecast_issues (site_id, quantity, issued_at, model, model_version,
    first_target, step_ms, p10, p50, p90, completeness)
SELECT 'site-' || s, 'load', i, 'arx', '1', i + interval '1 hour', 3600000,
    array_fill((s % 97)::float8, ARRAY[:targets]),
    array_fill((s % 97 + 5)::float8, ARRAY[:targets]),
    array_fill((s % 97 + 9)::float8, ARRAY[:targets]), 1.0
FROM generate_series(0, :series - 1) AS s,
     generate_series(CAST(:start AS timestamptz), CAST(:end AS timestamptz) - interval '1 second',
                     :every) AS i
"""


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": at(1.0)}


@click.command("api")
@click.option("--series", type=int, default=1000, show_default=True)
@click.option("--days", type=int, default=90, show_default=True)
@click.option("--per-day", type=int, default=24, show_default=True, help="Issues a day.")
@click.option("--targets", type=int, default=24, show_default=True, help="Targets an issue.")
@click.option("--requests", "calls", type=int, default=2000, show_default=True)
def api_latency(series: int, days: int, per_day: int, targets: int, calls: int) -> None:
    """p50/p95/p99 of /forecasts/latest with a full table (target: p99 < 50 ms)."""
    import httpx
    from sqlalchemy import text
    from sqlalchemy.orm import Session
    from tqdm import tqdm

    from gridbrain.cli.embedded import free_port, open_database_url
    from gridbrain.storage.db import make_engine, migrate
    from gridbrain.storage.forecast_queries import latest_forecasts
    from gridbrain.storage.sites import ensure_sites

    with (
        tempfile.TemporaryDirectory(prefix="gridbrain-bench-api-") as state,
        open_database_url(None, Path(state) / "pgdata") as url,
    ):
        migrate(url)
        engine = make_engine(url)
        began = time.perf_counter()
        with engine.begin() as connection:
            ensure_sites(Session(bind=connection), {f"site-{s}" for s in range(series)})
        every = f"{24 // per_day} hours" if 24 % per_day == 0 else f"{1440 // per_day} minutes"
        t0 = time.time() // 86_400 * 86_400 - days * 86_400
        for day in tqdm(range(days), desc="filling forecast_issues", unit="day"):
            with engine.begin() as connection:
                connection.execute(
                    text(_FILL.replace(":every", "CAST(:every AS interval)")),
                    {
                        "targets": targets,
                        "series": series,
                        "start": _ts(t0 + day * 86_400),
                        "end": _ts(t0 + (day + 1) * 86_400),
                        "every": every,
                    },
                )
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO forecast_latest SELECT site_id, quantity, max(issued_at) "
                    "FROM forecast_issues GROUP BY 1, 2 ON CONFLICT DO NOTHING"
                )
            )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE forecast_issues"))
            issues = connection.execute(text("SELECT count(*) FROM forecast_issues")).scalar()
            size = connection.execute(
                text("SELECT pg_total_relation_size('forecast_issues')")
            ).scalar()
        fill_s = time.perf_counter() - began
        click.echo(
            f"{issues:,} issues ({int(issues or 0) * targets:,} targets, "
            f"{int(size or 0) / 2**30:.2f} GiB) in {fill_s:.0f} s"
        )
        rng = random.Random(0)
        picks = [f"site-{rng.randrange(series)}" for _ in range(calls)]

        sql: list[float] = []
        with Session(engine) as session:
            for site in picks[: min(calls, 1000)]:
                start = time.perf_counter()
                latest_forecasts(session, site, "load", 0)
                sql.append(time.perf_counter() - start)
        engine.dispose()

        port = free_port()
        argv = [sys.executable, "-m", "gridbrain.cli", "api", "--port", str(port)]
        unlimited = {"GRIDBRAIN_API_RATE_PER_S": "1e9", "GRIDBRAIN_API_RATE_BURST": "1000000000"}
        api = subprocess.Popen(
            [*argv, "--database-url", url],
            env={**os.environ, **unlimited},  # one client here: the rate limit is not measured
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(base, api)
            http: list[float] = []
            floor: list[float] = []
            rows = 0
            with httpx.Client(base_url=base, timeout=10) as client:
                for _ in range(50):  # warm the pool and the plan cache
                    client.get("/forecasts/latest", params={"site": picks[0], "quantity": "load"})
                for site in tqdm(picks, desc="GET /forecasts/latest", unit="req"):
                    start = time.perf_counter()
                    answer = client.get(
                        "/forecasts/latest", params={"site": site, "quantity": "load"}
                    )
                    http.append(time.perf_counter() - start)
                    answer.raise_for_status()
                    rows += len(answer.json())
                for _ in range(min(calls, 1000)):
                    start = time.perf_counter()
                    client.get("/health")
                    floor.append(time.perf_counter() - start)
        finally:
            api.terminate()
            api.wait(10)
    ours, db, bare = _percentiles(http), _percentiles(sql), _percentiles(floor)
    click.echo(f"/forecasts/latest: {ours}  ({rows / calls:.0f} rows an answer)")
    click.echo(f"the same SQL, bare psycopg2: {db}")
    click.echo(f"/health (HTTP floor, one database round trip): {bare}")
    result = {
        "series": series,
        "days": days,
        "issues": issues,
        "fill_s": round(fill_s, 1),
        **ours,
        "sql_p99_ms": db["p99_ms"],
        "health_p99_ms": bare["p99_ms"],
        "ratio_p99_to_sql": round(ours["p99_ms"] / max(db["p99_ms"], 1e-6), 2),
        "target_p99_ms": 50.0,
        "met": ours["p99_ms"] < 50.0,
    }
    click.echo(json.dumps(result))


def _ts(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _wait(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise click.ClickException("the API did not start") from None
            time.sleep(0.2)
