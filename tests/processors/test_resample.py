import json

from processors.resample import Resampler
from tests.builders import batch

STEP = 900_000
LATE = 300_000


def test_means_and_event_time_closing() -> None:
    r = Resampler(STEP, LATE)
    increments, closed = r.add(
        batch(
            [
                ("s", "m", "load", 0, 10.0),
                ("s", "m", "load", 60_000, 20.0),
                ("s", "m", "pm25", 120_000, 5.0),
                ("t", "m", "load", 0, 1.0),
            ]
        )
    )
    assert closed == []
    sums = {(i.site_id, i.quantity, i.ts_ms): (i.value_sum, i.count) for i in increments}
    assert sums[("s", "load", 0)] == (30.0, 2)
    # Site s reaches 20 min: its first step [0, 15 min) closes (lateness 5 min); t does not.
    _, closed = r.add(batch([("s", "m", "load", STEP + LATE, 40.0)]))
    assert [(c.site_id, c.ts_ms, c.values) for c in closed] == [
        ("s", 0, {"load": 15.0, "pm25": 5.0})
    ]


def test_readings_for_closed_steps_are_too_late() -> None:
    r = Resampler(STEP, LATE)
    r.add(batch([("s", "m", "load", 0, 10.0), ("s", "m", "load", 2 * STEP, 1.0)]))
    late = batch(
        [
            ("s", "m", "load", 60_000, 30.0),
            ("s", "m", "load", 2 * STEP + 1, 1.0),
            ("new-site", "m", "load", 0, 1.0),
        ]
    )
    assert r.open_mask(late).tolist() == [False, True, True]


def test_out_of_order_within_open_window_is_kept() -> None:
    r = Resampler(STEP, LATE)
    r.add(batch([("s", "m", "load", 600_000, 3.0)]))
    r.add(batch([("s", "m", "load", 60_000, 1.0)]))
    _, closed = r.add(batch([("s", "m", "load", 3 * STEP, 0.0)]))
    assert closed[0].values == {"load": 2.0}
    assert closed[0].counts == {"load": 2}


def test_duplicates_within_and_across_batches_while_the_step_is_open() -> None:
    r = Resampler(STEP, LATE)
    first = r.first_seen_mask(
        batch(
            [
                ("s", "a", "load", 1000, 1.0),
                ("s", "a", "load", 1000, 1.0),
                ("s", "b", "load", 1000, 1.0),
            ]
        )
    )
    assert first.tolist() == [True, False, True]
    again = r.first_seen_mask(batch([("s", "a", "load", 1000, 2.0), ("s", "a", "load", 2000, 1.0)]))
    assert again.tolist() == [False, True]


def test_export_restore_resumes_exactly() -> None:
    one = Resampler(STEP, LATE)
    one.first_seen_mask(batch([("s", "m", "load", 0, 10.0)]))
    one.add(batch([("s", "m", "load", 0, 10.0)]))
    two = Resampler(STEP, LATE)
    two.restore("s", json.loads(json.dumps(one.export("s"))))
    later = batch([("s", "m", "load", 0, 10.0), ("s", "m", "load", 60_000, 20.0)])
    assert two.first_seen_mask(later).tolist() == [False, True]
    _, closed = two.add(
        batch([("s", "m", "load", 60_000, 20.0), ("s", "m", "load", 3 * STEP, 0.0)])
    )
    assert closed[0].values == {"load": 15.0} and closed[0].counts == {"load": 2}
    assert two.open_mask(batch([("s", "m", "load", 0, 1.0)])).tolist() == [False]
