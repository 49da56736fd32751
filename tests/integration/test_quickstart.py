"""The README's first command, run to completion with --duration on a fresh state directory."""

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from gridbrain.cli.embedded import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def fresh_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a first run: a new state directory, embedded services only."""
    env = {
        **os.environ,
        "GRIDBRAIN_STATE_DIR": str(tmp_path / "state"),
        "GRIDBRAIN_EMBEDDED_KAFKA_PORT": str(free_port()),
        "GRIDBRAIN_API_PORT": "0",  # any free port: the API and the workers' metrics
        "GRIDBRAIN_METRICS_PORT": "0",
    }
    env.pop("GRIDBRAIN_KAFKA_BOOTSTRAP", None)
    env.pop("GRIDBRAIN_DATABASE_URL", None)
    return env


def test_up_demo_runs_to_completion(tmp_path: Path) -> None:
    env = fresh_env(tmp_path)
    run = subprocess.run(
        [str(ROOT / "dev"), "up", "--demo", "--duration", "75"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Kafka bootstrap" in run.stdout and "stopped." in run.stdout
    assert re.search(r"Live page +: http://127\.0\.0\.1:\d+/", run.stdout), run.stdout[:2000]

    def cli(*args: str) -> list[dict[str, object]]:
        out = subprocess.run(
            [str(ROOT / "dev"), *args, "--format", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return json.loads(out.stdout)

    forecasts = cli("forecasts")
    assert {f["quantity"] for f in forecasts} >= {"load", "pv_power", "wind_power", "pm25", "price"}
    assert any(f["model"] == "arx" for f in forecasts)
    alerts = cli("alerts")
    assert any(a["rule"] == "pm25_aqi_usg" for a in alerts)
    assert any(a["rule"] == "no2_stale" and a["site_id"] == "aq-port" for a in alerts)
    status = cli("status")
    assert all(row["balanced"] for row in status["stages"] if row["balanced"] != "")
    assert {w["roles"] for w in status["workers"]} == {"clean,alert,dispatch", "forecast"}
    plan = cli("schedule", "--site", "feeder-a")
    assert plan and {p["status"] for p in plan} == {"optimal"}
    assert max(p["charge_kw"] for p in plan) > 0 and max(p["discharge_kw"] for p in plan) > 0
    assert all(w["state"] == "running" and w["quarantined"] == 0 for w in status["workers"])
    assert_nothing_left(tmp_path)


def assert_nothing_left(tmp_path: Path) -> None:
    """No broker, database or worker of this state directory is still running."""
    leftovers = subprocess.run(["pgrep", "-af", str(tmp_path)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == "", leftovers.stdout


def test_ctrl_c_stops_everything(tmp_path: Path) -> None:
    env = fresh_env(tmp_path)
    process = subprocess.Popen(
        [str(ROOT / "dev"), "up", "--demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("["):  # the first progress line: everything is running
            break
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    rest, _ = process.communicate(timeout=90)
    assert process.returncode == 0, rest
    assert "stopped." in rest
    assert_nothing_left(tmp_path)
