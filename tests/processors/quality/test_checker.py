import json

import numpy as np

from gridbrain.processors.quality.checker import QualityChecker
from gridbrain.processors.quality.flags import Flag
from tests.builders import batch

HOUR = 3_600_000


def _rows(site: str, quantity: str, values: list[float], start: int = 0) -> list:
    return [(site, "m", quantity, start + i * HOUR, v) for i, v in enumerate(values)]


def test_each_series_is_checked_on_its_own_in_time_order() -> None:
    c = QualityChecker()
    calm = [20.0, 21, 20, 22, 21, 20, 21, 20, 22, 21, 20, 21]
    c.check(batch(_rows("a", "pm25", calm) + _rows("b", "pm25", calm)))
    rows = _rows("a", "pm25", [600.0], 12 * HOUR) + _rows("b", "pm25", [22.0], 12 * HOUR)
    flags = c.check(batch(rows[::-1]))  # order in the message does not matter
    assert flags.tolist() == [Flag.OK, Flag.SPIKE]


def test_pv_zero_at_night_is_not_a_flatline_but_zero_at_noon_is() -> None:
    c = QualityChecker()
    c.configure_site("pv", (39.74, -105.18))
    night = np.datetime64("2024-06-20T04:00", "ms").astype(np.int64)  # 22:00 local
    noon = np.datetime64("2024-06-20T15:00", "ms").astype(np.int64)  # 09:00 local
    at_night = c.check(batch(_rows("pv", "pv_power", [0.0] * 7, int(night))))
    assert (at_night == Flag.OK).all()
    daytime = c.check(batch(_rows("pv", "pv_power", [0.0] * 7, int(noon))))
    assert daytime.tolist() == [0, 0, 0, 0, 0, Flag.FLATLINE, Flag.FLATLINE]


def test_overrides_apply_per_site() -> None:
    c = QualityChecker()
    c.configure_site("strict", None, {"load": {"flatline_minutes": 60}})
    rows = _rows("strict", "load", [5.0] * 3) + _rows("lax", "load", [5.0] * 3)
    assert c.check(batch(rows)).tolist() == [0, Flag.FLATLINE, Flag.FLATLINE, 0, 0, 0]


def test_out_of_order_reading_gets_the_spike_check_only() -> None:
    c = QualityChecker()
    c.check(batch(_rows("s", "temperature", [10.0] * 12)))
    late = c.check(batch([("s", "m", "temperature", 5 * HOUR + 1, 10.0)]))
    assert late.tolist() == [Flag.OK]


def test_export_restore_gives_the_same_flags() -> None:
    values = [5.0] * 30 + [6.0] + [5.0] * 30
    rows = _rows("s", "load", values)
    whole = QualityChecker().check(batch(rows))
    one = QualityChecker()
    first = one.check(batch(rows[:20]))
    two = QualityChecker()
    two.restore("s", json.loads(json.dumps(one.export("s"))))
    assert np.concatenate([first, two.check(batch(rows[20:]))]).tolist() == whole.tolist()
    assert (whole == Flag.FLATLINE).sum() == 6 + 6


def test_forget_drops_a_site_and_its_export_and_profile_bring_it_back() -> None:
    """An idle site evicted mid-flatline is flagged as if it had never left memory."""
    values = [5.0] * 30 + [6.0] + [5.0] * 30
    rows = _rows("s", "load", values) + _rows("other", "load", values)
    whole = QualityChecker()
    whole.configure_site("s", (52.5, 13.4), {"load": {"flatline_minutes": 300}})
    expected = whole.check(batch(rows))

    c = QualityChecker()
    c.configure_site("s", (52.5, 13.4), {"load": {"flatline_minutes": 300}})
    first = c.check(batch(rows[:20] + rows[61:81]))
    saved = json.loads(json.dumps(c.export("s")))
    c.forget("s")
    c.forget("never-seen")
    assert c.sites() == 1 and c.export("s") == {}
    assert "s" not in c._locations and "s" not in c._overrides and "s" not in c._checks
    c.restore("s", saved)
    c.configure_site("s", (52.5, 13.4), {"load": {"flatline_minutes": 300}})
    rest = c.check(batch(rows[20:61] + rows[81:]))
    got = np.concatenate([first[:20], rest[:41], first[20:], rest[41:]])
    assert got.tolist() == expected.tolist()
    assert (expected[:61] == Flag.FLATLINE).sum() > (expected[61:] == Flag.FLATLINE).sum()


def test_a_batch_of_many_series_flags_as_each_series_alone() -> None:
    """Checking every series at once gives each series exactly its own flags, batch
    after batch (spikes, rates, flatlines, night exemptions, out-of-order readings)."""
    rng = np.random.default_rng(7)
    sites = {"north": (48.0, 11.0), "south": (-33.0, 151.0), "nowhere": None}
    overrides = {"south": {"load": {"flatline_minutes": 30}, "pm25": {"spike_window": 5}}}
    together = QualityChecker()
    alone: dict[tuple[str, str], QualityChecker] = {}
    for site, location in sites.items():
        together.configure_site(site, location, overrides.get(site))
    base = {"pm25": 20.0, "temperature": 15.0, "pv_power": 0.0, "load": 5.0, "ph": 7.0}
    for b in range(30):
        rows = []
        for _ in range(rng.integers(1, 200)):
            site = str(rng.choice(list(sites)))
            quantity = str(rng.choice(list(base)))
            jump = rng.choice([0.0, 0.0, 0.5, -0.3, 500.0, 30.0, rng.normal(0, 2)])
            ts = 1719144000000 + int(rng.integers(0, 200)) * 60_000 * (b + 1) // 3
            rows.append((site, "m", quantity, ts, base[quantity] + float(jump)))
        flags = together.check(batch(rows))
        for key in {(r[0], r[2]) for r in rows}:
            if key not in alone:
                alone[key] = QualityChecker()
                alone[key].configure_site(key[0], sites[key[0]], overrides.get(key[0]))
            mine = [i for i, r in enumerate(rows) if (r[0], r[2]) == key]
            expected = alone[key].check(batch([rows[i] for i in mine]))
            assert flags[mine].tolist() == expected.tolist()
    assert (flags != Flag.OK).any()
