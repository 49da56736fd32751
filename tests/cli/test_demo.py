from collections import Counter

from gridbrain.cli.demo import DEMO_SITES, simulate
from gridbrain.processors.quality.checker import QualityChecker
from gridbrain.processors.quality.flags import Flag
from gridbrain.processors.validate import decode_items, validate_readings
from gridbrain.processors.weather import validate_weather, validate_weather_forecasts

DAY = 86_400_000
START = 1_767_225_600_000  # 2026-01-01


def test_demo_is_deterministic_and_covers_every_kind() -> None:
    first = list(simulate(START, START + DAY))
    assert first == list(simulate(START, START + DAY))
    kinds = {s.kind for s in DEMO_SITES}
    assert kinds == {"pv", "wind", "load", "air"}
    topics = Counter(m.topic for m in first)
    assert topics["weather.observations"] == len(DEMO_SITES) * 288
    assert topics["weather.forecasts"] == len(DEMO_SITES) * 4  # every 6 h


def test_demo_weather_forecasts_are_valid_and_ahead() -> None:
    messages = [m for m in simulate(START, START + DAY) if m.topic == "weather.forecasts"]
    items = [item for m in messages for item in decode_items(m.value)]
    forecasts, rejections = validate_weather_forecasts(items, START + DAY, 0)
    assert rejections == [] and len(forecasts) == len(DEMO_SITES) * 4 * 24
    assert all(0 < f.valid_ms - f.issued_ms <= DAY for f in forecasts)
    # Each carries weather text that follows its cloud cover, as the observations do.
    texts = {f.description for f in forecasts}
    assert texts <= {
        "sky is clear",
        "few clouds",
        "scattered clouds",
        "broken clouds",
        "overcast clouds",
    }
    assert len(texts) >= 2
    overcast = [
        f.variables["cloud_cover_pct"] for f in forecasts if f.description == "overcast clouds"
    ]
    assert all(c >= 85 for c in overcast)
    observed = [m for m in simulate(START, START + DAY) if m.topic == "weather.observations"]
    obs, refused = validate_weather(
        [i for m in observed for i in decode_items(m.value)], START + DAY, 0
    )
    assert refused == [] and all(o.description for o in obs)


def test_demo_contains_faults_and_a_pm25_episode() -> None:
    reasons: Counter[str] = Counter()
    pm25 = []
    checker = QualityChecker()
    flags: Counter[str] = Counter()
    for message in simulate(START, START + 2 * DAY, fault_rate=0.05):
        if message.topic != "sensor.readings":
            continue
        try:
            items = decode_items(message.value)
        except ValueError:
            reasons["malformed_json"] += 1
            continue
        batch, rejections = validate_readings(items, START + 2 * DAY, 0)
        reasons.update(r.reason for r in rejections)
        flags.update(Flag(f).label for f in checker.check(batch).tolist())
        pm25 += [v for q, v in zip(batch.quantity, batch.value, strict=True) if q == "pm25"]
    assert {"malformed_json", "unknown_unit", "missing_ts", "future_timestamp"} <= set(reasons)
    assert max(pm25) > 35.5 > min(pm25)
    assert flags["spike"] >= 1  # the injected PM2.5 spikes (+600 ug/m3)


def test_the_port_no2_analyser_is_off_four_hours_every_other_day() -> None:
    hours: Counter[int] = Counter()
    for message in simulate(START, START + 2 * DAY, fault_rate=0.0):
        if message.topic == "sensor.readings" and message.key == "aq-port":
            items = decode_items(message.value)
            hours.update(int(r["ts"]) // 3_600_000 for r in items if r["quantity"] == "no2")
    first = START // 3_600_000
    silent = [h - first for h in range(first, first + 48) if hours[h] == 0]
    # 2026-01-01 is UTC day 20454 (even): the outage is on the second day; aq-port's
    # local time (longitude 4.14 E) runs 17 minutes ahead of UTC.
    assert silent == [25, 26, 27]
    assert hours[first + 24] < 60 and hours[first + 28] < 60  # partial hours at both ends
