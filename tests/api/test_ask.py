"""Questions answered from the real database: the rows behind each answer, the CLI's exit
codes, /ask, and hostile input that changes and reveals nothing."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from gridbrain.api.asking import Asker
from gridbrain.api.database import ApiDatabase
from gridbrain.processors.language.understand import Understander
from gridbrain.processors.text.encoder import TextEncoder
from tests.api.conftest import STEP, T0, Seeded, running_api
from tests.api.test_security import table_sizes
from tests.integration.conftest import Services

pytestmark = pytest.mark.integration

HOSTILE = Path(__file__).parents[1] / "processors" / "language" / "hostile_questions.yaml"
AT = datetime.fromtimestamp((T0 + 2 * STEP) / 1000, UTC)  # "now" inside the seeded forecast


@pytest.fixture(scope="module")
def asker(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Asker:
    db = ApiDatabase.connect(services.database_url, 5000, own_login=False)
    cache = tmp_path_factory.mktemp("ask")
    return Asker(db, Understander(TextEncoder("cpu").embed, cache=cache))


def test_answers_carry_the_rows_of_their_query(asker: Asker, seeded: Seeded) -> None:
    answer = asker.ask(f"what is the forecast for {seeded.site} in the next hour?", AT)
    assert answer.answered and answer.intent == "forecast_at"
    newest = max(seeded.issues, key=lambda f: f.issued_at_ms)
    assert answer.rows and {r["model"] for r in answer.rows} == {newest.model}
    assert str(round(float(answer.rows[0]["p50"]))) in answer.sentence.replace(",", "")

    peak = asker.ask(f"when will {seeded.site} peak?", AT)
    assert peak.intent == "forecast_peak" and "2099-01-01" in peak.sentence

    history = asker.ask(f"what happened to the last alert at {seeded.site}?", AT)
    assert history.intent == "alert_history"
    assert [r["state"] for r in history.rows] == ["pending", "firing"]

    latest = asker.ask(f"latest reading at {seeded.site}", AT)
    assert latest.intent == "reading_latest"
    assert latest.rows[0]["value"] == max(v for _, v, _ in seeded.readings if v is not None)


def test_questions_it_cannot_map_get_the_nearest_intents(asker: Asker, seeded: Seeded) -> None:
    answer = asker.ask("what is the meaning of life", AT)
    assert not answer.answered and answer.sentence.startswith("I can't answer that")
    assert answer.rows == []
    no_site = asker.ask("what will it produce tomorrow at noon?", AT)
    assert not no_site.answered and "without a site" in no_site.sentence


def test_hostile_questions_change_and_reveal_nothing(
    asker: Asker, services: Services, seeded: Seeded
) -> None:
    before = table_sizes(services)
    entries = yaml.safe_load(HOSTILE.read_text())
    allowed_keys = {"site_id", "quantity", "ts", "value", "quality", "target_ts", "p10", "p50",
                    "p90", "model", "model_version", "issued_at", "completeness", "fallback",
                    "id", "rule", "severity", "state", "started_at", "fired_at", "resolved_at",
                    "peak", "flags", "expected_at", "message", "n_samples", "n_flagged",
                    "reason", "at", "notified", "messages", "first", "last", "matchers",
                    "status", "starts_at", "ends_at", "created_by", "comment", "kind",
                    "capacity_kw", "timezone", "stage", "topic", "worker", "roles",
                    "partitions", "retries", "reported", "actual", "received", "clean",
                    "spike", "rate", "flatline", "duplicate", "deadlettered",
                    "gap_interpolated_steps", "gap_missing_steps", "rejected", "processed",
                    "duplicates", "redelivered", "charge_kw", "discharge_kw", "soc",
                    "grid_import_kw", "grid_export_kw", "curtail_kw", "load_kw", "pv_kw",
                    "price", "export_price", "policy", "objective", "solve_s"}  # fmt: skip
    refused = 0
    for entry in entries:
        question = str(entry["q"]) * int(entry.get("repeat", 1))
        answer = asker.ask(question, AT)
        refused += not answer.answered
        for row in answer.rows:
            assert set(row) <= allowed_keys, (question[:80], set(row) - allowed_keys)
        assert "password" not in json.dumps(answer.as_json(), default=str).lower() or (
            "password" in question.lower()
        )
    assert refused >= len(entries) // 2, refused
    assert table_sizes(services) == before


def test_cli_exits_0_with_an_answer_and_3_when_it_cannot(
    services: Services, seeded: Seeded
) -> None:
    env = {**os.environ, "GRIDBRAIN_STATE_DIR": str(services.state_dir)}
    base = [sys.executable, "-m", "gridbrain.cli", "ask", "--database-url", services.database_url]
    known = subprocess.run([*base, f"which model forecasts {seeded.site}?", "--format", "json"],
                           env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert known.returncode == 0, known.stderr
    body = json.loads(known.stdout)
    assert body["intent"] == "forecast_model" and body["slots"]["site"] == seeded.site
    assert body["rows"] and body["sentence"]
    unknown = subprocess.run([*base, "please order me a pizza"], env=env, capture_output=True,
                             text=True, timeout=120)  # fmt: skip
    assert unknown.returncode == 3
    assert unknown.stdout.startswith("I can't answer that")


def test_ask_endpoint(services: Services, seeded: Seeded) -> None:
    with running_api(services) as url:
        answer = httpx.get(f"{url}/ask", params={"q": "sites list"}, timeout=60)
        assert answer.status_code == 200 and answer.json()["intent"] == "sites_list"
        refused = httpx.get(f"{url}/ask", params={"q": "tell me a joke"}, timeout=60)
        assert refused.status_code == 422 and not refused.json()["answered"]
        assert httpx.get(f"{url}/ask", params={"q": "x" * 501}, timeout=10).status_code == 422
