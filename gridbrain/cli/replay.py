"""Replaying a CSV or Parquet file as readings, driven by a YAML column mapping.

A mapping file (``deploy/mappings/`` has one per shared data set)::

    time_column: Time              # timestamp column; a list of columns is joined with " "
    # time_parts: {year: year, month: month, day: day, hour: hour}   # ... or date parts
    time_format: "%Y-%m-%d %H:%M"  # optional format for pd.to_datetime ("mixed" allowed)
    timezone: Australia/Melbourne  # zone of naive timestamps (default UTC)
    ambiguous: infer               # repeated autumn DST hour: infer (default), NaT or raise
    nonexistent: NaT               # skipped spring DST hour: NaT (default), shift_forward, raise
    site_id: vic                   # every reading's site ...
    # site_column: station         # ... or a column naming it (site_prefix is prepended)
    missing_values: ["NA", "-200"] # markers of missing values
    encoding: latin-1              # CSV only (default utf-8); separator and decimal too
    batch_rows: 48                 # rows per Kafka message (per site)
    columns:                       # column -> quantity and unit (site_id overrides per column)
      Demand: {quantity: load, unit: MW}
    weather:                       # column -> weather variable, sent as observations
      Temperature: temperature_c
    sites:                         # site metadata registered before the replay
      - {site_id: vic, kind: feeder, latitude: -37.8, longitude: 145.0}

Messages go out in event-time order across sites (by each message's first row), so that
every site advances together; ``speed`` paces them at N times real time.
"""

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from gridbrain.errors import ConfigurationError
from gridbrain.processors.quantities import WEATHER_VARIABLES
from gridbrain.processors.sites import SiteProfile

__all__ = [
    "ColumnMapping",
    "FileMapping",
    "MappedTable",
    "Pacer",
    "Replay",
    "load_mapping",
    "read_mapped",
    "replay_file",
]


class ColumnMapping(BaseModel):
    """Where one column goes."""

    quantity: str
    unit: str
    sensor_id: str | None = None
    site_id: str | None = None


class FileMapping(BaseModel):
    """How a CSV or Parquet file becomes readings."""

    time_column: str | list[str] | None = None
    time_parts: dict[str, str] | None = None
    time_format: str | None = None
    timezone: str = "UTC"
    ambiguous: Literal["infer", "NaT", "raise"] = "infer"
    nonexistent: Literal["shift_forward", "NaT", "raise"] = "NaT"
    site_id: str | None = None
    site_column: str | None = None
    site_prefix: str = ""
    missing_values: list[str] = Field(default_factory=list)
    batch_rows: int = Field(default=50, ge=1)
    encoding: str = "utf-8"
    separator: str = ","
    decimal: str = "."
    columns: dict[str, ColumnMapping] = Field(default_factory=dict)
    weather: dict[str, str] = Field(default_factory=dict)
    sites: list[SiteProfile] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_time_and_one_site(self) -> "FileMapping":
        unknown = sorted(set(self.weather.values()) - set(WEATHER_VARIABLES))
        if unknown:
            raise ValueError(
                f"unknown weather variables {unknown}; known: {list(WEATHER_VARIABLES)}"
            )
        if not self.columns and not self.weather:
            raise ValueError("map at least one column (columns or weather)")
        if (self.time_column is None) == (self.time_parts is None):
            raise ValueError("give exactly one of time_column and time_parts")
        if (self.site_id is None) == (self.site_column is None):
            raise ValueError("give exactly one of site_id and site_column")
        return self

    @property
    def time_columns(self) -> list[str]:
        """The columns the timestamp is made of."""
        if self.time_parts is not None:
            return list(self.time_parts.values())
        if isinstance(self.time_column, str):
            return [self.time_column]
        return list(self.time_column or [])

    def source_columns(self) -> list[str]:
        """Every column the mapping reads."""
        site = [self.site_column] if self.site_column else []
        return [*self.time_columns, *site, *self.columns, *self.weather]


def load_mapping(path: Path) -> FileMapping:
    """Read and validate a mapping file.

    Raises:
        ConfigurationError: the file is not a valid mapping.
    """
    try:
        return FileMapping.model_validate(yaml.safe_load(path.read_text()))
    except (ValidationError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{path}: {exc}") from exc


def _timestamps(frame: pd.DataFrame, mapping: FileMapping) -> pd.Series:
    if mapping.time_parts is not None:
        parts = frame[list(mapping.time_parts.values())]
        parsed = pd.to_datetime(parts.set_axis(list(mapping.time_parts), axis=1), errors="coerce")
    else:
        names = mapping.time_columns
        raw = frame[names[0]]
        if len(names) > 1:  # e.g. a date and a time column
            raw = raw.astype(str).str.cat([frame[n].astype(str) for n in names[1:]], sep=" ")
        try:
            parsed = pd.to_datetime(raw, format=mapping.time_format, errors="coerce")
        except ValueError:  # offsets that differ between rows (CET and CEST)
            parsed = pd.to_datetime(raw, format=mapping.time_format, errors="coerce", utc=True)
    if parsed.dt.tz is None:
        try:
            parsed = parsed.dt.tz_localize(
                mapping.timezone, ambiguous=mapping.ambiguous, nonexistent=mapping.nonexistent
            )
        except (ValueError, TypeError) as exc:  # zoneinfo ambiguity errors are ValueErrors
            raise ConfigurationError(f"local times in {mapping.timezone}: {exc}") from exc
    return parsed


def _read(path: Path, mapping: FileMapping) -> pd.DataFrame:
    if path.suffix.lower() in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
        if mapping.missing_values:
            frame = frame.replace(
                {m: np.nan for m in mapping.missing_values}
                | {float(m): np.nan for m in mapping.missing_values if _is_number(m)}
            )
        return frame
    return pd.read_csv(
        path,
        sep=mapping.separator,
        decimal=mapping.decimal,
        encoding=mapping.encoding,
        na_values=mapping.missing_values,
        keep_default_na=True,
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Replay:
    """The messages of a replay and what it could not send.

    Attributes:
        messages: (topic, key, value) to produce, lazily built, in event-time order.
        total: number of messages.
        readings: number of readings in them.
        skipped_rows: rows without a usable timestamp (unparseable, or a local time that
            does not exist with the mapping's ``nonexistent`` policy).
        missing_values: cells that held a missing-value marker (or were empty).
        observations: number of weather observations in them.
    """

    messages: Iterator[tuple[str, bytes | None, bytes]]
    total: int
    readings: int
    skipped_rows: int
    missing_values: int
    observations: int = 0


@dataclass(frozen=True)
class MappedTable:
    """The rows of a file with a usable timestamp, as the mapping reads them.

    Attributes:
        ts: timestamps (timezone-aware).
        event_ms: the same in epoch milliseconds.
        sites: the site of each row.
        values: mapped column -> float values (NaN where missing).
        usable: which rows of the file had a usable timestamp.
    """

    ts: pd.Series
    event_ms: np.ndarray
    sites: np.ndarray
    values: dict[str, np.ndarray]
    usable: np.ndarray


def read_mapped(path: Path, mapping: FileMapping) -> MappedTable:
    """Read the mapped columns of a CSV or Parquet file.

    Raises:
        ConfigurationError: a mapped column is not in the file.
    """
    frame = _read(path, mapping)
    absent = [c for c in mapping.source_columns() if c not in frame.columns]
    if absent:
        raise ConfigurationError(f"{path}: columns not found: {absent}")
    ts = _timestamps(frame, mapping)
    usable = ts.notna().to_numpy()
    event_ms = (ts[usable].astype("datetime64[ms, UTC]").astype("int64")).to_numpy()
    if mapping.site_column:
        sites = (mapping.site_prefix + frame[mapping.site_column].astype(str)).to_numpy()[usable]
    else:
        sites = np.full(len(event_ms), mapping.site_id, dtype=object)
    values = {
        c: pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)[usable]
        for c in [*mapping.columns, *mapping.weather]
    }
    return MappedTable(ts[usable], event_ms, sites, values, usable)


def replay_file(path: Path, mapping: FileMapping, speed: float | None = None) -> Replay:
    """Messages from a CSV or Parquet file, ``batch_rows`` rows per message and site.

    Args:
        path: the file.
        mapping: how its columns become readings and weather observations.
        speed: pace messages at this many times real time (event time); None: unpaced.
    """
    table = read_mapped(path, mapping)
    event_ms, sites, values, usable = table.event_ms, table.sites, table.values, table.usable
    stamps = table.ts.map(lambda t: t.isoformat()).to_numpy()
    present = {c: ~np.isnan(v) for c, v in values.items()}
    chunks = [
        (int(event_ms[rows[start]]), str(site), rows[start : start + mapping.batch_rows])
        for site, rows in ((s, np.flatnonzero(sites == s)) for s in pd.unique(sites))
        for start in range(0, len(rows), mapping.batch_rows)
    ]
    chunks.sort(key=lambda c: c[0])  # stable: sites stay in file order within an instant

    def readings(site: str, rows: np.ndarray) -> list[dict[str, Any]]:
        return [
            {
                "site_id": target.site_id or site,
                "sensor_id": target.sensor_id or column,
                "quantity": target.quantity,
                "value": float(values[column][i]),
                "unit": target.unit,
                "ts": stamps[i],
            }
            for i in rows
            for column, target in mapping.columns.items()
            if present[column][i]
        ]

    def observations(site: str, rows: np.ndarray) -> list[dict[str, Any]]:
        out = []
        for i in rows:
            variables = {
                v: float(values[c][i]) for c, v in mapping.weather.items() if present[c][i]
            }
            if variables:
                out.append({"site_id": site, "ts": stamps[i], **variables})
        return out

    def generate() -> Iterator[tuple[str, bytes | None, bytes]]:
        clock = Pacer(speed)
        for first_ms, site, rows in chunks:
            clock.wait_until(first_ms)
            for topic, items in (
                ("weather.observations", observations(site, rows)),
                ("sensor.readings", readings(site, rows)),
            ):
                if items:
                    yield topic, site.encode(), json.dumps(items).encode()

    def count(cols: list[str]) -> int:
        return int(sum(present[c].sum() for c in cols))

    n_obs = (
        int(np.any([present[c] for c in mapping.weather], axis=0).sum()) if mapping.weather else 0
    )
    n_messages = sum(
        any(present[c][rows].any() for c in group)
        for _, _, rows in chunks
        for group in (list(mapping.columns), list(mapping.weather))
        if group
    )
    missing = int(sum((~p).sum() for p in present.values()))
    return Replay(
        generate(), n_messages, count(list(mapping.columns)), int((~usable).sum()), missing, n_obs
    )


class Pacer:
    """Sleeps so that event time advances ``speed`` times faster than the wall clock."""

    def __init__(
        self,
        speed: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._speed = speed
        self._clock = clock
        self._sleep = sleep
        self._start: tuple[float, int] | None = None

    def wait_until(self, event_ms: int) -> None:
        """Return when the wall clock has caught up with ``event_ms`` (at once if unpaced)."""
        if not self._speed:
            return
        if self._start is None:
            self._start = (self._clock(), event_ms)
        wall, first = self._start
        ahead = (event_ms - first) / 1000 / self._speed - (self._clock() - wall)
        if ahead > 0:
            self._sleep(ahead)
