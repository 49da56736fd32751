"""Site metadata the pipeline needs (position, capacity, weather source, check overrides)."""

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gridbrain.processors.dispatch.assets import Objective, StorageAsset, Tariff
from gridbrain.processors.forecast.local_calendar import LocalCalendar

__all__ = ["SiteProfile", "nearest_station"]

_EARTH_RADIUS_KM = 6371.0


class SiteProfile(BaseModel):
    """One site, as a user describes it (``gridbrain sites load``, or a mapping's ``sites:``).

    Attributes:
        site_id: the id readings use.
        kind: e.g. ``pv``, ``wind``, ``feeder``, ``air_quality``, or ``weather_station``
            for a source of weather that other sites can take their weather from.
        latitude: degrees north (needed for solar position and the nearest station).
        longitude: degrees east.
        capacity_kw: rated power of PV and wind sites (forecasts are clipped to it).
        timezone: IANA zone of the site's local time (for people, local-time sources and
            the models that read the local calendar).
        holidays: the public-holiday calendar of the site: an ISO country code and
            optionally a subdivision (``AU-VIC``, ``ES``, ``US-CO``); needs ``timezone``.
        weather_station: take weather from this station; default: the nearest station
            within the configured distance, else the site's own weather.
        quality: per-quantity overrides of the quality checks, e.g.
            ``{"pv_power": {"flatline_minutes": 120}}``.
        storage: a battery the dispatch stage plans for (None: the site is not dispatched).
        tariff: what the site pays and earns for energy (default: a flat tariff, or the
            market price when the site has ``price`` forecasts).
        objective: what dispatch minimises (default: cost).
        policy: how the dispatch stage decides the plan: ``lp`` (exact), ``ga``
            (differential evolution) or ``qlearning`` (the promoted Q-table).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    site_id: str = Field(min_length=1)
    name: str | None = None
    kind: str | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    capacity_kw: float | None = Field(default=None, gt=0)
    timezone: str | None = None
    holidays: str | None = None
    weather_station: str | None = None
    quality: dict[str, dict[str, Any]] = Field(default_factory=dict)
    storage: StorageAsset | None = None
    tariff: Tariff | None = None
    objective: Objective | None = None
    policy: Literal["lp", "ga", "qlearning"] = "lp"

    @model_validator(mode="after")
    def _known_calendar(self) -> "SiteProfile":
        if self.holidays is not None and self.timezone is None:
            raise ValueError("holidays need the site's timezone")
        self.calendar  # noqa: B018 - raises ValueError for an unknown zone or calendar
        return self

    @property
    def calendar(self) -> LocalCalendar | None:
        """The site's local calendar, when its time zone is known."""
        if self.timezone is None:
            return None
        return LocalCalendar(self.timezone, self.holidays)

    def dispatch_settings(self) -> dict[str, Any] | None:
        """``storage``, ``tariff``, ``objective`` and ``policy`` as one JSON-able document."""
        parts: dict[str, Any] = {
            name: value.model_dump()
            for name, value in (
                ("storage", self.storage),
                ("tariff", self.tariff),
                ("objective", self.objective),
            )
            if value is not None
        }
        if self.policy != "lp":
            parts["policy"] = self.policy
        return parts or None

    @property
    def location(self) -> tuple[float, float] | None:
        """(latitude, longitude) when both are known."""
        if self.latitude is None or self.longitude is None:
            return None
        return self.latitude, self.longitude


def _distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * _EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def nearest_station(
    location: tuple[float, float], stations: dict[str, tuple[float, float]], max_km: float
) -> str | None:
    """The closest station (great-circle distance) within ``max_km``, if any.

    >>> stations = {"golden": (39.74, -105.18), "denver": (39.76, -104.87)}
    >>> nearest_station((39.75, -105.0), stations, 50.0)
    'denver'
    >>> nearest_station((40.0, 116.0), stations, 50.0) is None
    True
    """
    best = min(stations.items(), key=lambda kv: _distance_km(location, kv[1]), default=None)
    if best is None or _distance_km(location, best[1]) > max_km:
        return None
    return best[0]
