import json

import numpy as np

from gridbrain.processors.quality.flags import Flag
from gridbrain.processors.resample import Aggregation, Resampler
from gridbrain.processors.validate import ReadingBatch
from tests.builders import batch

STEP = 900_000
LATE = 300_000
HOUR = 3_600_000


def feed(r: Resampler, b: ReadingBatch, flags: list[int] | None = None) -> Aggregation:
    """Admit one message and aggregate it alone (a batch of one message)."""
    is_open, first = r.admit(b)
    kept = b.take(is_open & first)
    f = np.asarray(flags, dtype=np.int8)[is_open & first] if flags else np.zeros(len(kept), np.int8)
    return r.aggregate(kept, f)


def test_means_and_event_time_closing() -> None:
    r = Resampler(STEP, LATE)
    result = feed(
        r,
        batch(
            [
                ("s", "m", "load", 0, 10.0),
                ("s", "m", "load", 60_000, 20.0),
                ("s", "m", "pm25", 120_000, 5.0),
                ("t", "m", "load", 0, 1.0),
            ]
        ),
    )
    assert result.closed == []
    sums = {(i.site_id, i.quantity, i.ts_ms): (i.value_sum, i.count) for i in result.increments}
    assert sums[("s", "load", 0)] == (30.0, 2)
    # Site s reaches 20 min: its first step [0, 15 min) closes (lateness 5 min); t does not.
    closed = feed(r, batch([("s", "m", "load", STEP + LATE, 40.0)])).closed
    assert [(c.site_id, c.ts_ms, c.values) for c in closed] == [
        ("s", 0, {"load": 15.0, "pm25": 5.0})
    ]


def test_readings_for_closed_steps_are_too_late() -> None:
    r = Resampler(STEP, LATE)
    feed(r, batch([("s", "m", "load", 0, 10.0), ("s", "m", "load", 2 * STEP, 1.0)]))
    late = batch(
        [
            ("s", "m", "load", 60_000, 30.0),
            ("s", "m", "load", 2 * STEP + 1, 1.0),
            ("new-site", "m", "load", 0, 1.0),
        ]
    )
    assert r.admit(late)[0].tolist() == [False, True, True]


def test_out_of_order_within_open_window_is_kept() -> None:
    r = Resampler(STEP, LATE)
    feed(r, batch([("s", "m", "load", 600_000, 3.0)]))
    feed(r, batch([("s", "m", "load", 60_000, 1.0)]))
    closed = feed(r, batch([("s", "m", "load", 3 * STEP, 0.0)])).closed
    assert closed[0].values == {"load": 2.0}
    assert closed[0].counts == {"load": 2}


def test_duplicates_within_and_across_messages_while_the_step_is_open() -> None:
    r = Resampler(STEP, LATE)
    _, first = r.admit(
        batch(
            [
                ("s", "a", "load", 1000, 1.0),
                ("s", "a", "load", 1000, 1.0),
                ("s", "b", "load", 1000, 1.0),
            ]
        )
    )
    assert first.tolist() == [True, False, True]
    _, again = r.admit(batch([("s", "a", "load", 1000, 2.0), ("s", "a", "load", 2000, 1.0)]))
    assert again.tolist() == [False, True]


def test_batch_boundaries_do_not_change_the_result() -> None:
    rows = [("s", "m", "load", t * 300_000, float(t)) for t in range(40)]
    rows.insert(20, ("s", "m", "load", 0, 99.0))  # too late by then
    one = Resampler(STEP, LATE)
    per_message = [feed(one, batch([row])) for row in rows]
    closed_one = [c for a in per_message for c in a.closed]
    two = Resampler(STEP, LATE)
    admitted = ReadingBatch()
    for row in rows:  # admit message by message, aggregate once
        b = batch([row])
        is_open, first = two.admit(b)
        admitted.extend(b.take(is_open & first))
    closed_two = two.aggregate(admitted, np.zeros(len(admitted), np.int8)).closed
    assert closed_one == closed_two and len(closed_one) == 12


def test_flagged_readings_are_left_out_of_the_mean() -> None:
    r = Resampler(STEP, LATE)
    feed(
        r,
        batch(
            [
                ("s", "m", "pm25", 0, 10.0),
                ("s", "m", "pm25", 60_000, 900.0),
                ("s", "m", "load", 0, 5.0),
            ]
        ),
        [Flag.OK, Flag.SPIKE, Flag.FLATLINE],
    )
    step = feed(r, batch([("s", "m", "pm25", 3 * STEP, 1.0)])).closed[0]
    assert step.values == {"pm25": 10.0}
    assert step.flagged == {"pm25": 1, "load": 1}
    assert (step.quality("pm25"), step.quality("load")) == ("cleaned", "flagged")


def test_short_gaps_are_interpolated_and_long_ones_flagged() -> None:
    r = Resampler(STEP, LATE, max_gap_ms={"load": HOUR})
    for k, value in [(0, 0.0), (1, 0.0), (5, 40.0), (25, 0.0), (35, 0.0)]:
        gaps = feed(r, batch([("s", "m", "load", k * STEP, value)])).gaps
        if k == 25:  # closes step 5: steps 2, 3, 4 were missing on the 15-min cadence
            assert len(gaps) == 1 and gaps[0].fill.ts_ms == [2 * STEP, 3 * STEP, 4 * STEP]
            assert gaps[0].fill.values == [10.0, 20.0, 30.0]
        if k == 35:  # closes step 25: 19 missing steps are too many to fill
            assert gaps[0].fill.steps == 19 and gaps[0].fill.values is None


def test_hourly_series_has_no_gaps_between_its_hours() -> None:
    r = Resampler(STEP, LATE, max_gap_ms={"load": 2 * HOUR})
    gaps = [g for k in range(6) for g in feed(r, batch([("s", "m", "load", k * HOUR, 1.0)])).gaps]
    assert gaps == []
    gaps = feed(r, batch([("s", "m", "load", 9 * HOUR, 1.0)])).gaps  # closes hour 5
    gaps = feed(r, batch([("s", "m", "load", 10 * HOUR, 1.0)])).gaps  # closes hour 9
    assert gaps[0].fill.ts_ms == [6 * HOUR, 7 * HOUR, 8 * HOUR]


def test_export_restore_resumes_exactly() -> None:
    one = Resampler(STEP, LATE)
    feed(one, batch([("s", "m", "load", 0, 10.0)]))
    two = Resampler(STEP, LATE)
    two.restore("s", json.loads(json.dumps(one.export("s"))))
    later = batch([("s", "m", "load", 0, 10.0), ("s", "m", "load", 60_000, 20.0)])
    assert two.admit(later)[1].tolist() == [False, True]
    two.aggregate(later.take(np.array([False, True])), np.zeros(1, np.int8))
    closed = feed(two, batch([("s", "m", "load", 3 * STEP, 0.0)])).closed
    assert closed[0].values == {"load": 15.0} and closed[0].counts == {"load": 2}
    assert two.admit(batch([("s", "m", "load", 0, 1.0)]))[0].tolist() == [False]


def test_state_saved_before_the_compact_form_still_restores() -> None:
    one = Resampler(STEP, LATE)
    feed(one, batch([("s", "m", "load", 0, 10.0), ("s", "m", "load", 60_000, 12.0)]))
    saved = one.export("s")
    assert saved["seen"] == {"0": {"load\x1fm": [0, 60_000]}}
    earlier = {k: v for k, v in saved.items() if k != "seen"}
    earlier["keys"] = {"0": [["load", "m", 0], ["load", "m", 60_000]]}
    two = Resampler(STEP, LATE)
    two.restore("s", earlier)
    assert two.export("s") == saved


def test_forget_drops_only_that_site() -> None:
    r = Resampler(STEP, LATE)
    feed(r, batch([("a", "m", "load", 0, 1.0), ("b", "m", "load", 0, 2.0)]))
    assert r.sites() == 2
    r.forget("a")
    r.forget("never-seen")
    assert r.sites() == 1
    assert r.export("b")["buckets"] == {"0": {"load": [2.0, 1, 0, 0]}}


def test_forgotten_site_with_open_steps_resumes_exactly_from_its_export() -> None:
    """Evicted between two messages (open buckets, duplicate keys, a pending gap)."""
    messages = [
        batch(
            [
                ("s", "m", "load", t, float(t // 60_000 % 7))
                for t in range(i, i + 5 * 60_000, 60_000)
            ]
        )
        for i in range(0, 2 * HOUR, 5 * 60_000)
    ]
    messages.insert(9, messages[8])  # a resend right after the eviction
    messages = messages[:13] + messages[16:]  # the step [60, 75) min is missing: a gap

    def run(r: Resampler, evict_at: int | None) -> list[tuple[list[bool], list[bool], Aggregation]]:
        out = []
        for i, m in enumerate(messages):
            if i == evict_at:
                saved = json.loads(json.dumps(r.export("s")))
                assert saved["buckets"] and saved["seen"]  # open steps are saved
                r.forget("s")
                assert r.sites() == 0
                r.restore("s", saved)
            is_open, first = r.admit(m)
            result = r.aggregate(
                m.take(is_open & first), np.zeros(int((is_open & first).sum()), np.int8)
            )
            out.append((is_open.tolist(), first.tolist(), result))
        return out

    whole = run(Resampler(STEP, LATE, {"load": 3_600_000}), None)
    evicted = run(Resampler(STEP, LATE, {"load": 3_600_000}), 9)
    assert evicted == whole
    assert any(result.gaps for _, _, result in whole)
    assert whole[9][1] == [False] * 5  # the resend is recognised after the eviction
