import json
from pathlib import Path

import pytest

from gridbrain.errors import ConfigurationError
from gridbrain.replay import csv_messages, load_mapping
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
    messages, total = csv_messages(tmp_path / "d.csv", load_mapping(tmp_path / "m.yaml"))
    produced = list(messages)
    assert total == 2 and len(produced) == 2
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
