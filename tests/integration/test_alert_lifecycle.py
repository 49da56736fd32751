"""Alert lifecycle end to end: a worker restart mid-incident, silences made with the CLI,
and the webhook sink, against the real broker, Postgres and a local HTTP receiver."""

import json
import operator
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from gridbrain.streams.producer import produce
from gridbrain.streams.topics import SENSOR_READINGS
from tests.http_receiver import Receiver, receiving
from tests.integration.conftest import Services, running_services, running_worker, wait_for

pytestmark = pytest.mark.integration

H = 3_600_000
DAY = 86_400_000
START = (int(time.time() * 1000) - 3 * DAY) // DAY * DAY


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with running_services(tmp_path_factory.mktemp("alert-lifecycle")) as running:
        yield running


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """The webhook receiver; its first POST fails, so the notifier must retry."""
    with receiving(failures=1, status=503) as server:
        yield server


def webhook_alerts(receiver: Receiver) -> list[dict[str, Any]]:
    return [alert for body in receiver.bodies for alert in body["alerts"]]


def readings(site: str, hours: range, pm25: float) -> list[tuple[str, bytes | None, bytes]]:
    """PM2.5 every 5 minutes of ``hours`` (hours after START) at one site."""
    out = []
    for hour in hours:
        rows = [
            {"site_id": site, "sensor_id": "opc", "quantity": "pm25",
             "value": pm25 + (i % 2) * 0.1, "unit": "ug/m3", "ts": START + hour * H + i * 300_000}
            for i in range(12)
        ]  # fmt: skip
        out.append((SENSOR_READINGS, site.encode(), json.dumps(rows).encode()))
    return out


def episode(site: str, part: int) -> list[tuple[str, bytes | None, bytes]]:
    """Clean air, 4 hours at 80 ug/m3, clean air (part 1: up to the middle of the episode)."""
    if part == 1:
        return readings(site, range(0, 12), 8.0) + readings(site, range(12, 15), 80.0)
    return readings(site, range(15, 16), 80.0) + readings(site, range(16, 26), 8.0)


def history(services: Services, site: str) -> list[tuple[str, str, bool]]:
    with services.sessions() as session:
        rows = session.execute(
            text(
                "SELECT h.state, h.reason, h.notified FROM alert_history h JOIN alerts a "
                "USING (dedup_key, started_at) WHERE a.site_id = :site "
                "AND a.rule = 'pm25_aqi_usg' ORDER BY h.at, h.id"
            ),
            {"site": site},
        ).all()
    return [(r.state, r.reason, r.notified) for r in rows]


def cli(services: Services, *args: str) -> str:
    env = {**os.environ, "GRIDBRAIN_DATABASE_URL": services.database_url}
    result = subprocess.run(
        [sys.executable, "-m", "gridbrain.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_restart_silence_and_webhook(services: Services, receiver: Receiver) -> None:
    silenced = cli(services, "silence", "add", "-m", "site_id=it-quiet", "-m", "alertname=~pm25_.*",
                   "--duration", "1h", "--comment", "maintenance")  # fmt: skip
    assert silenced.startswith("silence 1: site_id=it-quiet alertname=~pm25_.*")
    env = {
        "GRIDBRAIN_ALERT_WEBHOOK_URL": receiver.url,
        "GRIDBRAIN_ALERT_WEBHOOK_BACKOFF_S": "0.2",
        "GRIDBRAIN_SILENCE_REFRESH_S": "1",
    }
    roles = ("clean", "alert")
    with running_worker(services, roles, env) as first:
        produce(services.bootstrap, episode("it-loud", 1) + episode("it-quiet", 1))
        wait_for(lambda: ("firing", "for_elapsed", True) in history(services, "it-loud"), 120,
                 "the first worker fires it-loud's alert")  # fmt: skip
        wait_for(lambda: ("firing", "for_elapsed", False) in history(services, "it-quiet"), 60,
                 "it-quiet fires silenced")  # fmt: skip

        def now_and_at_firing() -> tuple[float, float]:
            with services.sessions() as session:
                row = session.execute(
                    text(
                        "SELECT a.value AS now, h.value AS fired FROM alerts a JOIN alert_history "
                        "h USING (dedup_key, started_at) WHERE a.site_id = 'it-loud' "
                        "AND a.rule = 'pm25_aqi_usg' AND h.reason = 'for_elapsed'"
                    )
                ).one()
            return row.now, row.fired

        # The incident's row follows the rising NowCast after it fired (no state change).
        wait_for(lambda: operator.gt(*now_and_at_firing()), 60, "it-loud's current AQI")
        assert first.poll() is None
    # A new worker takes over with the incidents open.
    with running_worker(services, roles, env):
        produce(services.bootstrap, episode("it-loud", 2) + episode("it-quiet", 2))
        wait_for(lambda: history(services, "it-loud")[-1][0] == "resolved", 120,
                 "the second worker resolves it-loud's incident")  # fmt: skip
        wait_for(lambda: history(services, "it-quiet")[-1:] == [("resolved", "recovered", False)],
                 60, "it-quiet resolves, still silenced")  # fmt: skip
        wait_for(lambda: len(webhook_alerts(receiver)) >= 5, 30, "the webhook deliveries")
    assert history(services, "it-loud") == [
        ("pending", "breach", False),
        ("firing", "for_elapsed", True),
        ("resolved", "recovered", True),
    ]
    with services.sessions() as session:
        rows = session.execute(
            text(
                "SELECT site_id, state, silenced FROM alerts WHERE rule = 'pm25_aqi_usg' "
                "ORDER BY site_id"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("it-loud", "resolved", False),
        ("it-quiet", "resolved", True),
    ]
    # 80 ug/m3 is also "Unhealthy": that rule fires and resolves too (a separate incident);
    # and the day's mean passes the WHO guideline (an info alert still firing at the end).
    hooks = [(a["site_id"], a["rule"], a["status"]) for a in webhook_alerts(receiver)]
    assert ("it-loud", "pm25_who_24h", "firing") in hooks
    assert sorted(h for h in hooks if "aqi" in h[1]) == [
        ("it-loud", "pm25_aqi_unhealthy", "firing"),
        ("it-loud", "pm25_aqi_unhealthy", "resolved"),
        ("it-loud", "pm25_aqi_usg", "firing"),
        ("it-loud", "pm25_aqi_usg", "resolved"),
    ]
    assert receiver.attempts == 3  # the first POST failed and was retried
    listed = json.loads(cli(services, "silence", "list", "--format", "json"))
    assert [(s["id"], s["status"], s["comment"]) for s in listed] == [(1, "active", "maintenance")]
    assert cli(services, "silence", "expire", "1").strip() == "silence 1 expired"
    assert json.loads(cli(services, "silence", "list", "--format", "json")) == []
    incident = json.loads(cli(services, "alerts", "--site", "it-loud", "--rule", "pm25_aqi_usg",
                              "--format", "json"))  # fmt: skip
    steps = json.loads(
        cli(services, "alerts", "--history", str(incident[0]["id"]), "--format", "json")
    )
    assert [s["state"] for s in steps] == ["pending", "firing", "resolved"]


def test_a_site_sending_bad_readings_raises_the_dead_letter_alert(services: Services) -> None:
    messages = []
    for hour in range(4):
        good = [
            {"site_id": "it-noisy", "sensor_id": "opc", "quantity": "pm25",
             "value": 10.0 + i % 3, "unit": "ug/m3", "ts": START + hour * H + i * 300_000}
            for i in range(12)
        ]  # fmt: skip
        bad = [{**row, "unit": "furlongs"} for row in good[:6]]
        messages.append((SENSOR_READINGS, b"it-noisy", json.dumps(good + bad).encode()))
    with running_worker(services, ("clean", "alert")):
        produce(services.bootstrap, messages)

        def fired() -> list[tuple[str, str]]:
            with services.sessions() as session:
                rows = session.execute(
                    text(
                        "SELECT state, message FROM alerts WHERE site_id = 'it-noisy' "
                        "AND rule = 'deadletter_ratio_high'"
                    )
                ).all()
            return [(r.state, r.message) for r in rows]

        wait_for(lambda: bool(fired()) and fired()[0][0] == "firing", 120, "the dead-letter alert")
    # 24 of at most 72 readings were rejected: 33 % or more (100 % when the dead letters
    # reach the alert stage before any fused step of the site).
    _, message = fired()[0]
    assert message.endswith("of the readings of it-noisy dead-lettered in the last hour")
    assert 33 <= int(message.split("%")[0]) <= 100


STALE_RULES = """
rules:
  - name: pm25_stale
    quantity: pm25
    expression: stale
    op: ">"
    threshold: 0.01   # hours: 36 s
    labels: {category: sensor_health}
    message: "{quantity} sensor at {site_id} silent for {value:.3f} h"
"""


def test_a_monitor_gone_offline_goes_stale_by_the_wall_clock(
    services: Services, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(STALE_RULES)
    env = {"GRIDBRAIN_ALERT_RULES_FILE": str(rules), "GRIDBRAIN_ALERT_WATCHDOG_S": "1"}
    now = int(time.time() * 1000) // H * H

    def live(first: int, last: int) -> list[tuple[str, bytes | None, bytes]]:
        rows = [
            {"site_id": "it-offline", "sensor_id": "opc", "quantity": "pm25",
             "value": 10.0 + (ts // 300_000) % 3, "unit": "ug/m3", "ts": ts}
            for ts in range(first, last, 300_000)
        ]  # fmt: skip
        return [(SENSOR_READINGS, b"it-offline", json.dumps(rows).encode())]

    def incident() -> list[tuple[str, str]]:
        with services.sessions() as session:
            rows = session.execute(
                text("SELECT state, message FROM alerts WHERE site_id = 'it-offline'")
            ).all()
        return [(r.state, r.message) for r in rows]

    def saved() -> bool:
        with services.sessions() as session:
            return bool(
                session.execute(
                    text("SELECT 1 FROM site_state WHERE stage = 'alert' AND site_id = :s"),
                    {"s": "it-offline"},
                ).first()
            )

    # The monitor reports live (up to an hour ago), then nothing more; the worker that saw
    # it stops before the staleness is due, and the next one judges it by the wall clock.
    with running_worker(services, ("clean", "alert"), env):
        produce(services.bootstrap, live(now - 2 * H, now - H))
        wait_for(saved, 60, "the alert stage has seen it-offline")
        assert incident() == []
    with running_worker(services, ("clean", "alert"), env) as second:
        wait_for(lambda: [s for s, _ in incident()] == ["firing"], 120, "it-offline goes stale")
        ((_, message),) = incident()
        assert message.startswith("pm25 sensor at it-offline silent for ")
        assert float(message.split()[-2]) >= 0.01
        produce(services.bootstrap, live(now - H, int(time.time() * 1000)))
        wait_for(lambda: [s for s, _ in incident()] == ["resolved"], 60, "it-offline is back")
        assert second.poll() is None
