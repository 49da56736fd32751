"""Loading recent fused history from the database (to warm a restarted forecaster)."""

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridbrain.processors.fuse import ForecastAsOf, FusedStep, WeatherAsOf, fuse
from gridbrain.processors.resample import ClosedStep
from gridbrain.processors.sites import SiteProfile
from gridbrain.processors.timestamps import ms_to_datetime
from gridbrain.storage.models import Reading
from gridbrain.storage.sites import site_profiles
from gridbrain.storage.weather import forecasts_between, weather_between

__all__ = ["SeriesFrame", "load_fused_history", "load_series_frames"]


def load_fused_history(
    session: Session,
    site_id: str,
    station_id: str,
    window: tuple[int, int],
    step_ms: int,
    staleness_ms: int,
) -> list[FusedStep]:
    """Steps of a site in ``[since_ms, until_ms]`` joined with weather as the stream does.

    Only measured values are loaded (quality ``ok`` or ``cleaned``), as the stream delivers
    them; interpolation is the forecaster's business.
    """
    since_ms, until_ms = window
    # Unbounded: the whole window's weather is joined (a bounded cache keeps only the
    # newest hours, and a restarted forecaster would lose the weather of its windows).
    observed = WeatherAsOf(staleness_ms, bounded=False)
    forecast = ForecastAsOf(staleness_ms, bounded=False)
    windows = {station_id: (since_ms - staleness_ms, until_ms + step_ms)}
    for observation in weather_between(session, windows):
        observed.add(observation)
    for item in forecasts_between(session, windows):
        forecast.add(item)
    steps: dict[int, dict[str, float]] = {}
    for ts, quantity, value in session.execute(
        select(Reading.ts, Reading.quantity, Reading.value).where(
            Reading.site_id == site_id,
            Reading.ts >= ms_to_datetime(since_ms),
            Reading.ts <= ms_to_datetime(until_ms),
            Reading.quality.in_(("ok", "cleaned")),
        )
    ):
        if value is not None:
            steps.setdefault(int(ts.timestamp() * 1000), {})[quantity] = value
    return [
        fuse(
            ClosedStep(site_id, ts, values, dict.fromkeys(values, 1)),
            step_ms,
            station_id,
            observed,
            forecast,
        )
        for ts, values in sorted(steps.items())
    ]


@dataclass(frozen=True)
class SeriesFrame:
    """The stored clean steps of one quantity at one site, with its station's weather.

    Attributes:
        profile: the site's registered profile.
        values: value per step start (epoch ms).
        weather: variable -> value per observation time (epoch ms).
    """

    profile: SiteProfile
    values: pd.Series
    weather: dict[str, pd.Series]


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
        for observation in weather_between(session, {station: span}):
            for name, value in observation.variables.items():
                weather.setdefault(name, {})[observation.ts_ms] = value
        out.append(
            SeriesFrame(
                profile,
                pd.Series(group["value"].to_numpy(), index=group["ms"].to_numpy()),
                {name: pd.Series(values).sort_index() for name, values in weather.items()},
            )
        )
    return out
