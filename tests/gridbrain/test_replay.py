import itertools
import json
from pathlib import Path

import pytest

from gridbrain.errors import ConfigurationError
from gridbrain.replay import load_mapping, replay_file
from processors.validate import decode_items, validate_readings

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
