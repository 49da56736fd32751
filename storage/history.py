"""Loading recent fused history from the database (to warm a restarted forecaster)."""

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridbrain.processors.fuse import ForecastAsOf, FusedStep, WeatherAsOf, fuse
from gridbrain.processors.resample import ClosedStep
from gridbrain.processors.sites import SiteProfile
from gridbrain.storage.models import Reading
from gridbrain.storage.sites import site_profiles
from gridbrain.storage.weather import WINDOWS, forecasts_between, weather_between, window_params

__all__ = ["SeriesFrame", "load_fused_histories", "load_series_frames"]


def load_fused_histories(
    session: Session,
    wanted: Mapping[str, tuple[str, int, int]],
    step_ms: int,
    staleness_ms: int,
) -> dict[str, list[FusedStep]]:
    """Steps of each site in its window joined with weather as the stream does.

    ``wanted``: site -> (weather station, since_ms, until_ms), bounds included. Three
    queries whatever the number of sites. Only measured values are loaded (quality
    ``ok`` or ``cleaned``), as the stream delivers them; interpolation is the
    forecaster's business.
    """
    if not wanted:
        return {}
    # Unbounded: the whole window's weather is joined (a bounded cache keeps only the
    # newest hours, and a restarted forecaster would lose the weather of its windows).
    observed = WeatherAsOf(staleness_ms, bounded=False)
    forecast = ForecastAsOf(staleness_ms, bounded=False)
    stations: dict[str, tuple[int, int]] = {}
    for station, since_ms, until_ms in wanted.values():
        lo, hi = stations.get(station, (since_ms - staleness_ms, until_ms + step_ms))
        stations[station] = (min(lo, since_ms - staleness_ms), max(hi, until_ms + step_ms))
    for observation in weather_between(session, stations):
        observed.add(observation)
    for item in forecasts_between(session, stations):
        forecast.add(item)
    steps: dict[str, dict[int, dict[str, float]]] = {site: {} for site in wanted}
    rows = session.execute(
        text(
            "SELECT r.site_id, (extract(epoch FROM r.ts) * 1000)::bigint, r.quantity, r.value "
            f"FROM readings r JOIN {WINDOWS} ON r.site_id = w.site_id "
            "AND r.ts BETWEEN w.lo AND w.hi "
            "WHERE r.quality IN ('ok', 'cleaned') AND r.value IS NOT NULL"
        ),
        window_params({site: (lo, hi) for site, (_, lo, hi) in wanted.items()}),
    )
    for site_id, ts, quantity, value in rows:
        steps[site_id].setdefault(ts, {})[quantity] = value
    return {
        site_id: [
            fuse(
                ClosedStep(site_id, ts, values, dict.fromkeys(values, 1)),
                step_ms,
                wanted[site_id][0],
                observed,
                forecast,
            )
            for ts, values in sorted(by_ts.items())
        ]
        for site_id, by_ts in steps.items()
    }


@dataclass(frozen=True)
class SeriesFrame:
    """The stored clean steps of one quantity at one site, with its station's weather.

    Attributes:
        profile: the site's registered profile.
        values: value per step start (epoch ms).
        weather: variable -> value per observation time (epoch ms).
        text: weather text per observation time (epoch ms) of the observations with one.
    """

    profile: SiteProfile
    values: pd.Series
    weather: dict[str, pd.Series]
    text: pd.Series


def load_series_frames(
    session: Session, quantity: str, sites: list[str] | None = None
) -> list[SeriesFrame]:
    """Every stored series of ``quantity`` (measured or interpolated steps), site by site."""
    query = select(Reading.site_id, Reading.ts, Reading.value).where(
        Reading.quantity == quantity,
        Reading.quality.in_(("ok", "cleaned", "interpolated")),
        Reading.value.is_not(None),
    )
    if sites:
        query = query.where(Reading.site_id.in_(sites))
    rows = pd.DataFrame(
        session.execute(query.order_by(Reading.ts)).all(), columns=["site", "ts", "value"]
    )
    if rows.empty:
        return []
    rows["ms"] = rows["ts"].map(lambda t: int(t.timestamp() * 1000))
    profiles = site_profiles(session, rows["site"].unique().tolist())
    out = []
    for site, group in rows.groupby("site"):
        profile = profiles.get(str(site)) or SiteProfile(site_id=str(site))
        station = profile.weather_station or profile.site_id
        span = (int(group["ms"].min()), int(group["ms"].max()))
        weather: dict[str, dict[int, float]] = {}
        text: dict[int, str] = {}
        for observation in weather_between(session, {station: span}):
            for name, value in observation.variables.items():
                weather.setdefault(name, {})[observation.ts_ms] = value
            if observation.description:
                text[observation.ts_ms] = observation.description
        out.append(
            SeriesFrame(
                profile,
                pd.Series(group["value"].to_numpy(), index=group["ms"].to_numpy()),
                {name: pd.Series(values).sort_index() for name, values in weather.items()},
                pd.Series(text, dtype=object).sort_index(),
            )
        )
    return out
