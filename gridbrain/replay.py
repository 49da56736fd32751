"""Replaying a CSV file as readings, driven by a YAML column mapping.

A mapping file::

    time_column: datetime          # column holding the timestamp
    time_format: "%Y-%m-%d %H:%M"  # optional format for pd.to_datetime ("mixed" allowed)
    timezone: Australia/Melbourne  # zone of naive timestamps (default UTC)
    ambiguous: infer               # repeated autumn DST hour: infer (default), NaT or raise
    nonexistent: NaT               # skipped spring DST hour: NaT (default), shift_forward, raise
    site_id: vic                   # every reading's site
    missing_values: ["NA", "-200"] # markers of missing values
    batch_rows: 50                 # CSV rows per Kafka message
    columns:                       # column -> quantity and unit
      Demand: {quantity: load, unit: MW}
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, Field, ValidationError

from gridbrain.errors import ConfigurationError

__all__ = ["ColumnMapping", "CsvMapping", "Replay", "csv_messages", "load_mapping"]


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
    ambiguous: Literal["infer", "NaT", "raise"] = "infer"
    nonexistent: Literal["shift_forward", "NaT", "raise"] = "NaT"
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
    parsed = pd.to_datetime(frame[mapping.time_column], format=mapping.time_format, errors="coerce")
    if parsed.dt.tz is None:
        try:
            parsed = parsed.dt.tz_localize(
                mapping.timezone, ambiguous=mapping.ambiguous, nonexistent=mapping.nonexistent
            )
        except (ValueError, TypeError) as exc:  # pytz/zoneinfo ambiguity errors are ValueErrors
            raise ConfigurationError(f"local times in {mapping.timezone}: {exc}") from exc
    return parsed


@dataclass(frozen=True)
class Replay:
    """The messages of a replay and what it could not send.

    Attributes:
        messages: (topic, key, value) to produce, lazily built.
        total: number of messages.
        skipped_rows: rows without a usable timestamp (unparseable, or a local time that
            does not exist with the mapping's ``nonexistent`` policy).
    """

    messages: Iterator[tuple[str, bytes | None, bytes]]
    total: int
    skipped_rows: int


def csv_messages(path: Path, mapping: CsvMapping) -> Replay:
    """Messages of readings from a CSV file, a batch of ``batch_rows`` rows per message."""
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
    usable = ts.notna().to_numpy()
    stamps = ts[usable].map(lambda t: t.isoformat()).to_numpy()
    values = {
        c: pd.to_numeric(frame[c], errors="coerce").to_numpy()[usable] for c in mapping.columns
    }
    rows = len(stamps)

    def generate() -> Iterator[tuple[str, bytes | None, bytes]]:
        key = mapping.site_id.encode()
        for start in range(0, rows, mapping.batch_rows):
            batch: list[dict[str, Any]] = []
            for i in range(start, min(start + mapping.batch_rows, rows)):
                for column, target in mapping.columns.items():
                    value = values[column][i]
                    if value != value:  # NaN: a missing-value marker
                        continue
                    batch.append(
                        {
                            "site_id": mapping.site_id,
                            "sensor_id": target.sensor_id or column,
                            "quantity": target.quantity,
                            "value": float(value),
                            "unit": target.unit,
                            "ts": stamps[i],
                        }
                    )
            if batch:
                yield "sensor.readings", key, json.dumps(batch).encode()

    return Replay(generate(), -(-rows // mapping.batch_rows), int((~usable).sum()))
