"""The README's first command, run to completion with --duration on a fresh state directory."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from gridbrain.embedded import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_up_demo_runs_to_completion(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "GRIDBRAIN_STATE_DIR": str(tmp_path / "state"),
        "GRIDBRAIN_EMBEDDED_KAFKA_PORT": str(free_port()),
    }
    env.pop("GRIDBRAIN_KAFKA_BOOTSTRAP", None)
    env.pop("GRIDBRAIN_DATABASE_URL", None)
    run = subprocess.run(
        [str(ROOT / "dev"), "up", "--demo", "--duration", "75"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Kafka bootstrap" in run.stdout and "stopped." in run.stdout

    def cli(*args: str) -> list[dict[str, object]]:
        out = subprocess.run(
            [str(ROOT / "dev"), *args, "--format", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return list(json.loads(out.stdout))

    forecasts = cli("forecasts")
    assert {f["quantity"] for f in forecasts} >= {"load", "pv_power", "wind_power", "pm25"}
    assert any(f["model"] == "arx" for f in forecasts)
    alerts = cli("alerts")
    assert any(a["rule"] == "pm25_aqi_usg" for a in alerts)
    status = cli("status")
    assert all(row["balanced"] for row in status if row["balanced"] != "")
    # Nothing is left running: the embedded broker's port is free again.
    with subprocess.Popen(["true"]):
        pass
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == "", leftovers.stdout
