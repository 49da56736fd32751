"""The understanding measured on questions written by someone else than its phrasings.

Two sets, each written by a different author who saw only the intents and their slot rules
(not ``phrasings.py``), give the intent and slots each question must map to at a fixed now:
``heldout_questions.yaml`` (368) was then used as a development set while the understanding
was improved; ``test_questions.yaml`` (408) was written afterwards and measured once, as
it stands. ``hostile_questions.yaml`` holds inputs written to break a question front end.
The real MiniLM encoder (from its wheel) is used.
"""

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from gridbrain.processors.language.intents import INTENTS
from gridbrain.processors.language.understand import SiteInfo, Understander, Understanding
from gridbrain.processors.text.encoder import TextEncoder

HERE = Path(__file__).parent
NOW = datetime(2026, 12, 2, 15, 20, tzinfo=UTC)
SITES = {
    "pv-north": SiteInfo("pv"), "pv-south": SiteInfo("pv"), "wind-coast": SiteInfo("wind"),
    "wind-ridge": SiteInfo("wind"), "feeder-a": SiteInfo("load", None, True),
    "feeder-b": SiteInfo("load"), "aq-city": SiteInfo("air"), "aq-port": SiteInfo("air"),
    "spain-grid": SiteInfo("load", "Europe/Madrid"), "es": SiteInfo("market", "Europe/Madrid"),
}  # fmt: skip


def load(name: str) -> list[dict[str, Any]]:
    entries = yaml.safe_load((HERE / name).read_text())
    for entry in entries:
        entry["q"] = str(entry["q"]) * int(entry.get("repeat", 1))
    return entries


@pytest.fixture(scope="module")
def understander(tmp_path_factory: pytest.TempPathFactory) -> Understander:
    torch.set_num_threads(1)  # the target is per question on one core
    return Understander(TextEncoder("cpu").embed, cache=tmp_path_factory.mktemp("ask"))


def got(u: Understanding) -> dict[str, Any]:
    return {
        "intent": u.intent,
        "site": u.slots.site,
        "quantity": u.slots.quantity,
        "period": [t.timestamp() for t in u.period] if u.period else None,
        "threshold": u.slots.threshold,
        "aggregation": u.slots.aggregation,
    }


@pytest.mark.parametrize("name", ["test_questions.yaml", "heldout_questions.yaml"])
def test_held_out_questions_map_to_the_right_intent_and_slots(
    understander: Understander, name: str
) -> None:
    questions = load(name)
    assert len(questions) >= 300
    assert {q["intent"] for q in questions} == {i.name for i in INTENTS}
    wrong = []
    latencies = []
    for q in questions:
        started = time.perf_counter()
        u = understander.understand(q["q"], SITES, NOW)
        latencies.append(time.perf_counter() - started)
        expected = {k: q.get(k) for k in ("intent", "site", "quantity", "period", "threshold",
                                            "aggregation")}  # fmt: skip
        if expected["period"] is not None:
            expected["period"] = [datetime.fromisoformat(t).timestamp() for t in expected["period"]]
        if expected["threshold"] is not None:
            expected["threshold"] = float(expected["threshold"])
        if got(u) != expected or u.missing:
            wrong.append((q["q"], {k: (v, got(u)[k]) for k, v in expected.items()
                                   if got(u)[k] != v}, u.missing))  # fmt: skip
    share = 1 - len(wrong) / len(questions)
    latencies.sort()
    p95 = latencies[int(0.95 * len(latencies))]
    p50 = latencies[len(latencies) // 2]
    right = len(questions) - len(wrong)
    print(f"\n{name}: {share:.3f} ({right}/{len(questions)}); p95 {p95 * 1000:.1f} ms, "
          f"p50 {p50 * 1000:.1f} ms")  # fmt: skip
    for miss in wrong:
        print("MISS", miss)
    assert share >= 0.95
    assert p95 < 0.050


def test_hostile_inputs_are_refused_or_scoped(understander: Understander) -> None:
    entries = load("hostile_questions.yaml")
    assert len(entries) >= 100
    for entry in entries:
        u = understander.understand(entry["q"], SITES, NOW)
        # Whatever it says, every slot is a known site, a known quantity, a number or a time.
        assert u.slots.site in (None, *SITES), entry["q"][:80]
        assert u.slots.threshold is None or isinstance(u.slots.threshold, float)
        assert len(u.text) <= 500
