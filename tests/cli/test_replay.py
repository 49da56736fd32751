import itertools
import json
from pathlib import Path

import pytest

from gridbrain.cli.replay import Pacer, load_mapping, replay_file
from gridbrain.errors import ConfigurationError
from gridbrain.processors.validate import decode_items, validate_readings

MAPPING = """
time_column: when
time_format: "%d/%m/%Y %H:%M"
timezone: Europe/Amsterdam
site_id: feeder-x
missing_values: ["-200", "NA"]
batch_rows: 2
columns:
  Demand: {quantity: load, unit: MW}
  Temp: {quantity: temperature, unit: degC, sensor_id: t1}
"""

CSV = """when,Demand,Temp
01/07/2024 00:00,1.5,20
01/07/2024 00:30,-200,21
01/07/2024 01:00,1.7,NA
"""


def test_csv_rows_become_valid_batched_readings(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MAPPING)
    (tmp_path / "d.csv").write_text(CSV)
    replay = replay_file(tmp_path / "d.csv", load_mapping(tmp_path / "m.yaml"))
    produced = list(replay.messages)
    assert replay.total == 2 and len(produced) == 2 and replay.skipped_rows == 0
    topic, key, _ = produced[0]
    assert (topic, key) == ("sensor.readings", b"feeder-x")
    items = [i for _, _, v in produced for i in decode_items(v)]
    assert len(items) == 4  # two missing markers skipped
    batch, rejections = validate_readings(items, 2_000_000_000_000, 0)
    assert rejections == []
    assert batch.ts_ms[0] == 1719784800000  # 2024-06-30T22:00Z: Amsterdam is UTC+2 in July
    assert json.loads(produced[0][2])[0]["value"] == 1.5


def test_bad_mapping_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("site_id: x\n")
    with pytest.raises(ConfigurationError):
        load_mapping(tmp_path / "m.yaml")


def test_dst_repeated_hour_is_inferred_and_missing_hour_skipped(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MAPPING.replace('"%d/%m/%Y %H:%M"', '"%Y-%m-%d %H:%M"'))
    rows = (
        ["when,Demand,Temp"]
        + [f"2024-10-27 {t},1,1" for t in ("01:30", "02:00", "02:30", "02:00", "02:30", "03:00")]
        + ["2024-03-31 02:30,1,1"]
    )  # does not exist in Amsterdam
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    replay = replay_file(tmp_path / "d.csv", load_mapping(tmp_path / "m.yaml"))
    items = [i for _, _, v in replay.messages for i in decode_items(v)]
    batch, _ = validate_readings(items, 2_000_000_000_000, 0)
    assert replay.skipped_rows == 1
    stamps = sorted(set(batch.ts_ms))
    assert len(stamps) == 6 and all(b - a == 1_800_000 for a, b in itertools.pairwise(stamps))


TWO_SITES = """
time_column: t
site_column: site
batch_rows: 1
columns:
  v: {quantity: load, unit: kW}
weather:
  temp: temperature_c
sites:
  - {site_id: a, kind: feeder, latitude: 52.0, longitude: 5.0}
"""


def test_messages_follow_event_time_across_sites_with_weather(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(TWO_SITES)
    rows = ["t,site,v,temp"] + [
        f"2024-07-01T0{h}:00Z,{site},{h},{10 + h}" for site in ("a", "b") for h in range(3)
    ]
    (tmp_path / "d.csv").write_text("\n".join(rows))
    mapping = load_mapping(tmp_path / "m.yaml")
    assert mapping.sites[0].location == (52.0, 5.0)
    replay = replay_file(tmp_path / "d.csv", mapping)
    produced = list(replay.messages)
    assert replay.total == len(produced) == 12 and replay.observations == 6
    order = [(json.loads(v)[0]["ts"], k, topic) for topic, k, v in produced]
    assert order == sorted(order, key=lambda o: o[0])  # the file lists site a, then b
    assert [topic for topic, _, _ in produced[:2]] == ["weather.observations", "sensor.readings"]


def test_unknown_weather_variable_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(TWO_SITES.replace("temperature_c", "temp_kelvin"))
    with pytest.raises(ConfigurationError, match="temp_kelvin"):
        load_mapping(tmp_path / "m.yaml")


def test_pacer_follows_event_time_at_the_given_speed() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(60.0, clock=lambda: now[0], sleep=sleep)
    for minute in (0, 30, 60, 60, 120):
        pacer.wait_until(minute * 60_000)
    assert slept == [30.0, 30.0, 60.0]  # one event-time hour per wall-clock minute
    assert now[0] == 220.0
