"""Site metadata: registration, profiles for the checks and fusion, capacities."""

import json
import logging
from collections.abc import Iterable

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridbrain.processors.sites import SiteProfile
from gridbrain.storage.bulk import execute_batch
from gridbrain.storage.models import Site

__all__ = [
    "ensure_sites",
    "site_ids",
    "site_profiles",
    "station_locations",
    "upsert_sites",
]

_log = logging.getLogger(__name__)

#: The ``kind`` of sites that are weather stations other sites can take weather from.
STATION_KIND = "weather_station"


def ensure_sites(session: Session, site_ids: Iterable[str]) -> None:
    """Register unknown site ids (metadata can be filled in later)."""
    rows = [(s,) for s in sorted(set(site_ids))]
    execute_batch(session, "INSERT INTO sites (site_id) VALUES %s ON CONFLICT DO NOTHING", rows)


def upsert_sites(session: Session, sites: Iterable[SiteProfile]) -> None:
    """Insert or replace the metadata of sites."""
    rows = [
        (
            s.site_id,
            s.name,
            s.kind,
            s.latitude,
            s.longitude,
            s.capacity_kw,
            s.timezone,
            s.holidays,
            s.weather_station,
            json.dumps(s.quality) if s.quality else None,
            json.dumps(d) if (d := s.dispatch_settings()) else None,
        )
        for s in sites
    ]
    execute_batch(
        session,
        "INSERT INTO sites (site_id, name, kind, latitude, longitude, capacity_kw, timezone, "
        "holidays, weather_station, quality, dispatch) VALUES %s "
        "ON CONFLICT (site_id) DO UPDATE SET "
        "name = EXCLUDED.name, kind = EXCLUDED.kind, latitude = EXCLUDED.latitude, "
        "longitude = EXCLUDED.longitude, capacity_kw = EXCLUDED.capacity_kw, "
        "timezone = EXCLUDED.timezone, holidays = EXCLUDED.holidays, "
        "weather_station = EXCLUDED.weather_station, "
        "quality = EXCLUDED.quality, dispatch = EXCLUDED.dispatch",
        rows,
    )


def site_ids(session: Session) -> list[str]:
    """Every registered site id, sorted."""
    return list(session.scalars(select(Site.site_id).order_by(Site.site_id)))


def site_profiles(session: Session, site_ids: Iterable[str]) -> dict[str, SiteProfile]:
    """The profile of each of ``site_ids`` that is registered.

    A time zone or holiday calendar stored before they were checked, and unknown now,
    is left out (with a warning) rather than failing every stage that reads the site.
    """
    rows = session.scalars(select(Site).where(Site.site_id.in_(list(site_ids))))
    out = {}
    for s in rows:
        fields = {
            "site_id": s.site_id,
            "name": s.name,
            "kind": s.kind,
            "latitude": s.latitude,
            "longitude": s.longitude,
            "capacity_kw": s.capacity_kw,
            "timezone": s.timezone,
            "holidays": s.holidays,
            "weather_station": s.weather_station,
            "quality": s.quality or {},
            **(s.dispatch or {}),
        }
        try:
            out[s.site_id] = SiteProfile.model_validate(fields)
        except ValidationError as exc:
            _log.warning("site %s: calendar left out (%s)", s.site_id, exc.errors()[0]["msg"])
            out[s.site_id] = SiteProfile.model_validate(
                fields | {"timezone": None, "holidays": None}
            )
    return out


def station_locations(session: Session) -> dict[str, tuple[float, float]]:
    """Position of every weather station that has one."""
    rows = session.execute(
        select(Site.site_id, Site.latitude, Site.longitude).where(
            Site.kind == STATION_KIND, Site.latitude.is_not(None), Site.longitude.is_not(None)
        )
    )
    return {
        site_id: (float(lat), float(lon))
        for site_id, lat, lon in rows
        if lat is not None and lon is not None
    }
