"""``gridbrain benchmark pipeline`` and ``writes``: the load they make, and both end to end."""

import json

import pytest
from click.testing import CliRunner

from gridbrain.cli.bench_pipeline import readings_messages
from gridbrain.cli.benchmark import benchmark
from gridbrain.processors.validate import decode_items, validate_readings


@pytest.mark.parametrize("per_message", [1, 7, 100])
def test_readings_messages_hold_exactly_the_readings_asked_for(per_message: int) -> None:
    messages = readings_messages(1234, per_message, 10, 1_700_000_000_000)
    items = [item for _, value in messages for item in decode_items(value)]
    assert len(items) == 1234
    assert all(len(decode_items(v)) <= per_message for _, v in messages)
    assert all(key.decode() == decode_items(v)[0]["site_id"] for key, v in messages)
    batch, rejected = validate_readings(items, 1_800_000_000_000, 0)
    assert not rejected and len(set(batch.site_id)) == 10


@pytest.mark.integration
def test_pipeline_command_runs_end_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDBRAIN_INGEST_BATCH_MAX", "100")  # several committed batches
    result = CliRunner().invoke(
        benchmark, ["pipeline", "--readings", "3000", "--per-message", "1", "--sites", "20"]
    )
    assert result.exit_code == 0, result.output
    last = json.loads(result.output.strip().splitlines()[-1])
    assert last["stage"] == "clean" and last["readings"] == 3000
    assert last["rate"] > 0 and abs(last["ratio"] - last["rate"] / last["ceiling"]) < 0.002


@pytest.mark.integration
def test_writes_command_compares_the_upsert_with_a_raw_copy() -> None:
    result = CliRunner().invoke(benchmark, ["writes", "--rows", "3000", "--batch", "1000"])
    assert result.exit_code == 0, result.output
    last = json.loads(result.output.strip().splitlines()[-1])
    assert last["rows"] == 3000 and last["rate"] > 0 and last["ceiling"] > 0
