"""Series for training and back-tests: from files + mappings, or from Postgres history.

Values are converted to canonical units, readings outside the physical range dropped,
and everything averaged onto the platform's step grid, as the clean stage does (without
its spike and flatline checks: files are taken as published). Weather comes from the
mapping's ``weather:`` columns and from readings of weather-like quantities (a site's own
temperature, irradiance and wind speed). Stored weather observations with a description
give the series its weather text (for ``text_regressor``).
"""

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from gridbrain.cli.replay import load_mapping, read_mapped
from gridbrain.errors import ConfigurationError
from gridbrain.processors.forecast.dataset import Series
from gridbrain.processors.forecast.history import EXOG_VARIABLES
from gridbrain.processors.quantities import QUANTITIES
from gridbrain.processors.sites import SiteProfile
from gridbrain.storage.history import load_series_frames

__all__ = ["SeriesSource", "series_from_database", "series_from_files"]

#: Reading quantities that serve as weather of their own site.
_AS_WEATHER = {
    "temperature": "temperature_c",
    "irradiance": "ghi_wm2",
    "wind_speed": "wind_speed_ms",
}


_NO_TEXT = pd.Series(dtype=object)


@dataclass(frozen=True)
class SeriesSource:
    """A file and the mapping that reads it."""

    path: Path
    mapping: Path


def _step_means(ts_ms: np.ndarray, values: np.ndarray, step_ms: int) -> pd.Series:
    ok = np.isfinite(values)
    steps = pd.Series(values[ok]).groupby(ts_ms[ok] // step_ms * step_ms).mean()
    return steps


def _grid(steps: pd.Series, step_ms: int) -> np.ndarray:
    """Every step from a series' first value to its last."""
    if steps.empty:
        raise ConfigurationError("no values to build a series from")
    return np.arange(int(steps.index.min()), int(steps.index.max()) + step_ms, step_ms)


def _weather_matrix(weather: dict[str, pd.Series], grid: np.ndarray, step_ms: int) -> np.ndarray:
    """Weather on the grid; gaps up to 2 h (e.g. hourly data in 15-min steps) interpolated."""
    out = np.full((len(grid), len(EXOG_VARIABLES)), np.nan)
    limit = max(1, 2 * 3_600_000 // step_ms)
    for k, name in enumerate(EXOG_VARIABLES):
        if name in weather:
            column = weather[name].reindex(grid).interpolate(limit=limit, limit_area="inside")
            out[:, k] = column.to_numpy()
    return out


def _text_on_grid(text: pd.Series, grid: np.ndarray, step_ms: int) -> np.ndarray:
    """Per step, the newest weather text at or before its end, at most 2 h old ("": none).

    As the stream picks a target step's forecast text (the newest valid at its end).
    """
    out = np.full(len(grid), "", dtype=object)
    if text.empty:
        return out
    times, ends = text.index.to_numpy(dtype=np.int64), grid + step_ms
    at = np.searchsorted(times, ends, side="right") - 1
    fresh = (at >= 0) & (ends - times[np.maximum(at, 0)] <= 2 * 3_600_000)
    out[fresh] = text.to_numpy(dtype=object)[at[fresh]]
    return out


def _build(
    values: dict[tuple[str, str], pd.Series],
    weather: dict[str, dict[str, pd.Series]],
    profiles: dict[str, SiteProfile],
    quantity: str,
    step_ms: int,
    texts: dict[str, pd.Series] | None = None,
) -> list[Series]:
    """The series of ``quantity``; ``texts``: site -> weather text per time (None: no text)."""
    out = []
    for (site, q), steps in sorted(values.items()):
        if q != quantity:
            continue
        grid = _grid(steps, step_ms)
        profile = profiles.get(site)
        out.append(
            Series(
                site_id=site,
                quantity=q,
                start_ms=int(grid[0]),
                step_ms=step_ms,
                values=steps.reindex(grid).to_numpy(dtype=np.float64),
                exog=_weather_matrix(weather.get(site, {}), grid, step_ms),
                latitude=np.nan
                if profile is None or profile.latitude is None
                else profile.latitude,
                longitude=(
                    np.nan if profile is None or profile.longitude is None else profile.longitude
                ),
                capacity=None if profile is None else profile.capacity_kw,
                calendar=None if profile is None else profile.calendar,
                text=None
                if texts is None
                else _text_on_grid(texts.get(site, _NO_TEXT), grid, step_ms),
            )
        )
    if not out:
        raise ConfigurationError(f"no {quantity} series in the given data")
    return out


def series_from_files(sources: list[SeriesSource], quantity: str, step_ms: int) -> list[Series]:
    """Series of ``quantity`` per site from mapped files (weather from every file).

    Raises:
        ConfigurationError: a mapping is invalid, or no series of ``quantity`` exists.
    """
    values: dict[tuple[str, str], pd.Series] = {}
    weather: dict[str, dict[str, pd.Series]] = defaultdict(dict)
    profiles: dict[str, SiteProfile] = {}
    for source in sources:
        mapping = load_mapping(source.mapping)
        profiles.update({p.site_id: p for p in mapping.sites})
        table = read_mapped(source.path, mapping)
        for site in pd.unique(table.sites):
            rows = table.sites == site
            ts = table.event_ms[rows]
            for column, target in mapping.columns.items():
                spec = QUANTITIES[target.quantity]
                raw = table.values[column][rows]
                canonical = raw * spec.factors[target.unit] + spec.offsets.get(target.unit, 0.0)
                canonical[(canonical < spec.low) | (canonical > spec.high)] = np.nan
                steps = _step_means(ts, canonical, step_ms)
                if target.quantity in _AS_WEATHER:
                    weather[str(target.site_id or site)][_AS_WEATHER[target.quantity]] = steps
                values[(str(target.site_id or site), target.quantity)] = steps
            for column, variable in mapping.weather.items():
                weather[str(site)][variable] = _step_means(ts, table.values[column][rows], step_ms)
            # A column's own site (e.g. one zone of a feeder file) shares the row's weather.
            for target in mapping.columns.values():
                if target.site_id and not weather.get(target.site_id):
                    weather[target.site_id] = weather[str(site)]
    return _build(values, weather, profiles, quantity, step_ms)


def series_from_database(
    session: Session, quantity: str, step_ms: int, sites: list[str] | None = None
) -> list[Series]:
    """Series of ``quantity`` from the clean readings and weather stored by the platform.

    Raises:
        ConfigurationError: no stored series of ``quantity``.
    """
    values: dict[tuple[str, str], pd.Series] = {}
    weather: dict[str, dict[str, pd.Series]] = {}
    texts: dict[str, pd.Series] = {}
    profiles: dict[str, SiteProfile] = {}
    for frame in load_series_frames(session, quantity, sites):
        if not frame.text.empty:
            texts[frame.profile.site_id] = frame.text
        values[(frame.profile.site_id, quantity)] = frame.values
        weather[frame.profile.site_id] = {
            name: series.groupby(series.index // step_ms * step_ms).mean()
            for name, series in frame.weather.items()
        }
        profiles[frame.profile.site_id] = frame.profile
    return _build(values, weather, profiles, quantity, step_ms, texts)
