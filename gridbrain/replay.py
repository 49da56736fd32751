"""Replaying a CSV file as readings, driven by a YAML column mapping.

A mapping file::

    time_column: datetime          # column holding the timestamp
    time_format: "%Y-%m-%d %H:%M"  # optional strptime format (default: ISO-8601 parsing)
    timezone: Australia/Melbourne  # zone of naive timestamps (default UTC)
    site_id: vic                   # every reading's site
    missing_values: ["NA", "-200"] # markers of missing values
    batch_rows: 50                 # CSV rows per Kafka message
    columns:                       # column -> quantity and unit
      Demand: {quantity: load, unit: MW}
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel, Field, ValidationError

from gridbrain.errors import ConfigurationError

__all__ = ["ColumnMapping", "CsvMapping", "csv_messages", "load_mapping"]


class ColumnMapping(BaseModel):
    """Where one CSV column goes."""

    quantity: str
    unit: str
    sensor_id: str | None = None


class CsvMapping(BaseModel):
    """How a CSV file becomes readings."""

    time_column: str
    time_format: str | None = None
    timezone: str = "UTC"
    site_id: str
    missing_values: list[str] = Field(default_factory=list)
    batch_rows: int = Field(default=50, ge=1)
    encoding: str = "utf-8"
    separator: str = ","
    columns: dict[str, ColumnMapping]


def load_mapping(path: Path) -> CsvMapping:
    """Read and validate a mapping file.

    Raises:
        ConfigurationError: the file is not a valid mapping.
    """
    try:
        return CsvMapping.model_validate(yaml.safe_load(path.read_text()))
    except (ValidationError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{path}: {exc}") from exc


def _timestamps(frame: pd.DataFrame, mapping: CsvMapping) -> pd.Series:
    raw = frame[mapping.time_column]
    parsed = pd.to_datetime(raw, format=mapping.time_format)
    if parsed.dt.tz is None:
        parsed = parsed.dt.tz_localize(mapping.timezone, ambiguous="NaT", nonexistent="NaT")
    return parsed


def csv_messages(
    path: Path, mapping: CsvMapping
) -> tuple[Iterator[tuple[str, bytes | None, bytes]], int]:
    """Messages of readings from a CSV file, and how many there will be."""
    frame = pd.read_csv(
        path,
        sep=mapping.separator,
        encoding=mapping.encoding,
        na_values=mapping.missing_values,
        keep_default_na=True,
    )
    missing = [c for c in [mapping.time_column, *mapping.columns] if c not in frame.columns]
    if missing:
        raise ConfigurationError(f"{path}: columns not found: {missing}")
    ts = _timestamps(frame, mapping)
    total = -(-len(frame) // mapping.batch_rows)

    def generate() -> Iterator[tuple[str, bytes | None, bytes]]:
        key = mapping.site_id.encode()
        for start in range(0, len(frame), mapping.batch_rows):
            batch: list[dict[str, Any]] = []
            for i in range(start, min(start + mapping.batch_rows, len(frame))):
                if pd.isna(ts.iloc[i]):
                    continue
                stamp = ts.iloc[i].isoformat()
                for column, target in mapping.columns.items():
                    value = frame[column].iloc[i]
                    if pd.isna(value):
                        continue
                    batch.append(
                        {
                            "site_id": mapping.site_id,
                            "sensor_id": target.sensor_id or column,
                            "quantity": target.quantity,
                            "value": float(value),
                            "unit": target.unit,
                            "ts": stamp,
                        }
                    )
            if batch:
                yield "sensor.readings", key, json.dumps(batch).encode()

    return generate(), total
