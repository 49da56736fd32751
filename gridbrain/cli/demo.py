"""A simulated fleet for the demo: PV, wind, feeders and air-quality monitors with weather.

The simulation is physical enough to forecast (diurnal load and PV, wind through a power
curve, PM2.5 episodes) and deliberately faulty: ~1% of messages carry a fault (malformed
JSON, unknown unit, out-of-range value, missing field, future timestamp, a PM2.5 spike, a
resent batch). The NO2 analyser of ``aq-port`` is off from 01:00 to 05:00 local time every
other day (UTC day numbers that are odd): the ``no2_stale`` sensor-health alert fires
after three hours of it and resolves when the analyser is back.
"""

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from gridbrain.processors.dispatch.assets import StorageAsset, Tariff
from gridbrain.processors.sites import SiteProfile

__all__ = ["DEMO_SITES", "DemoMessage", "DemoSite", "market_price", "simulate"]


@dataclass(frozen=True)
class DemoSite:
    """A simulated site."""

    site_id: str
    kind: str
    latitude: float
    longitude: float
    capacity_kw: float | None = None
    no2_outage: bool = False  # the NO2 analyser is off 01:00-05:00 every other day
    storage: StorageAsset | None = None  # a battery: the site also reads its market price
    tariff: Tariff | None = None
    timezone: str = "Europe/Amsterdam"
    holidays: str = "NL"  # the local calendar the load follows

    def profile(self) -> SiteProfile:
        """Metadata for the ``sites`` table."""
        return SiteProfile(
            site_id=self.site_id,
            name=self.site_id.replace("-", " ").title(),
            kind=self.kind,
            latitude=self.latitude,
            longitude=self.longitude,
            capacity_kw=self.capacity_kw,
            timezone=self.timezone,
            holidays=self.holidays,
            storage=self.storage,
            tariff=self.tariff,
        )


DEMO_SITES: tuple[DemoSite, ...] = (
    DemoSite("pv-north", "pv", 52.1, 5.1, 500.0),
    DemoSite("pv-south", "pv", 43.6, 3.9, 1200.0, timezone="Europe/Paris", holidays="FR"),
    DemoSite("wind-coast", "wind", 53.4, 6.8, 3600.0),
    DemoSite("wind-ridge", "wind", 47.2, 7.4, 2000.0, timezone="Europe/Zurich", holidays="CH"),
    DemoSite(
        "feeder-a",
        "load",
        52.4,
        4.9,
        storage=StorageAsset(
            capacity_kwh=1500.0, charge_kw=500.0, discharge_kw=500.0, soc_min=0.1, soc_max=0.9
        ),
        tariff=Tariff(import_adder=0.04, export_adder=-0.005),
    ),
    DemoSite("feeder-b", "load", 51.9, 4.5),
    DemoSite("aq-city", "air", 52.37, 4.89),
    DemoSite("aq-port", "air", 51.95, 4.14, no2_outage=True),
)


@dataclass(frozen=True)
class DemoMessage:
    """A message to produce: topic, key and the raw value bytes."""

    topic: str
    key: str
    value: bytes
    ts_ms: int


def _solar_elevation_sin(lat: float, lon: float, ts_ms: int) -> float:
    day = ts_ms / 86_400_000.0
    decl = math.radians(23.44) * math.sin(2 * math.pi * ((day % 365.25) - 80) / 365.25)
    solar_hour = (ts_ms % 86_400_000) / 3_600_000.0 + lon / 15.0
    hour_angle = math.radians(15.0 * (solar_hour - 12.0))
    la = math.radians(lat)
    return math.sin(la) * math.sin(decl) + math.cos(la) * math.cos(decl) * math.cos(hour_angle)


def _wind_power_fraction(speed: float) -> float:
    if speed < 3.0 or speed > 25.0:
        return 0.0
    return min(1.0, ((speed - 3.0) / 9.5) ** 3)


@dataclass
class _SiteWeather:
    cloud: float
    wind: float
    temp_offset: float


_FORECAST_EVERY_MS = 6 * 3_600_000
#: Weather text by cloud cover (OpenWeather's words), as observations and forecasts carry it.
_SKY = (
    (0.1, "sky is clear"),
    (0.25, "few clouds"),
    (0.5, "scattered clouds"),
    (0.85, "broken clouds"),
    (1.01, "overcast clouds"),
)


def sky(cloud: float) -> str:
    """The weather text of a cloud cover fraction.

    >>> sky(0.05), sky(0.6), sky(1.0)
    ('sky is clear', 'broken clouds', 'overcast clouds')
    """
    return next(text for upper, text in _SKY if cloud < upper)


def _weather_forecast(site: DemoSite, w: _SiteWeather, issued: int) -> list[dict[str, object]]:
    """A simple NWP stand-in: the next 24 hours from today's state, relaxing to climate."""
    items: list[dict[str, object]] = []
    for hours in range(1, 25):
        valid = issued + hours * 3_600_000
        relax = 0.97 ** (hours * 12)  # the simulator's 5-minute mean reversion
        cloud = 0.3 + (w.cloud - 0.3) * relax
        hour = _local_hour(site, valid)
        elevation = max(0.0, _solar_elevation_sin(site.latitude, site.longitude, valid))
        items.append(
            {
                "site_id": site.site_id,
                "issued_at": issued,
                "valid_at": valid,
                "temperature_c": round(
                    12 + w.temp_offset + 6 * math.sin(2 * math.pi * (hour - 9) / 24), 2
                ),
                "ghi_wm2": round(1000 * elevation**1.2 * (1 - 0.75 * cloud**3), 1),
                "wind_speed_ms": round(7.5 + (w.wind - 7.5) * relax, 2),
                "cloud_cover_pct": round(100 * cloud, 0),
                "description": sky(cloud),
            }
        )
    return items


def market_price(ts_ms: int) -> float:
    """A day-ahead market price (EUR/MWh) of the hour of ``ts_ms``, as traded in Europe.

    Morning and evening peaks, a midday solar dip (below zero on some days), and a
    day-to-day level that wanders; the same for every minute of an hour.
    """
    hour_index = ts_ms // 3_600_000
    hour = (hour_index + 1) % 24  # Central European time, roughly
    level = 70 + 20 * math.sin(hour_index / 24 * 0.9)
    shape = 30 * math.exp(-((hour - 8) ** 2) / 3) + 45 * math.exp(-((hour - 19) ** 2) / 4)
    solar = 75 * math.exp(-((hour - 13) ** 2) / 6)
    return round(level + shape - solar + 6 * math.sin(hour_index * 2.39996), 2)


def _local_hour(site: DemoSite, ts_ms: int) -> float:
    return ((ts_ms % 86_400_000) / 3_600_000.0 + site.longitude / 15.0) % 24


def simulate(
    start_ms: int, end_ms: int, seed: int = 7, tick_ms: int = 300_000, fault_rate: float = 0.01
) -> Iterator[DemoMessage]:
    """Yield weather and sensor messages of every demo site from ``start_ms`` to ``end_ms``.

    Every ``tick_ms`` each site sends one batch of 1-minute readings and one weather
    observation, and every 6 hours a 24-hour hourly weather forecast, in event-time order.
    """
    rng = np.random.default_rng(seed)
    state = {s.site_id: _SiteWeather(0.3, 7.0, float(rng.normal(0, 2))) for s in DEMO_SITES}
    start_ms -= start_ms % tick_ms
    for tick in range(start_ms, end_ms, tick_ms):
        for site in DEMO_SITES:
            w = state[site.site_id]
            w.cloud = float(np.clip(w.cloud + rng.normal(0, 0.05), 0, 1))
            w.wind = float(np.clip(0.97 * w.wind + 0.03 * 7.5 + rng.normal(0, 0.5), 0, 30))
            hour = _local_hour(site, tick)
            temp = 12 + w.temp_offset + 6 * math.sin(2 * math.pi * (hour - 9) / 24)
            elevation = max(0.0, _solar_elevation_sin(site.latitude, site.longitude, tick))
            ghi = 1000 * elevation**1.2 * (1 - 0.75 * w.cloud**3)
            weather = {
                "site_id": site.site_id,
                "ts": tick,
                "temperature_c": round(temp, 2),
                "ghi_wm2": round(ghi, 1),
                "wind_speed_ms": round(w.wind, 2),
                "wind_dir_deg": round(float(rng.uniform(0, 360)), 0),
                "humidity_pct": round(60 + 20 * w.cloud, 1),
                "cloud_cover_pct": round(100 * w.cloud, 0),
                "description": sky(w.cloud),
            }
            yield DemoMessage(
                "weather.observations", site.site_id, json.dumps(weather).encode(), tick
            )
            if tick % _FORECAST_EVERY_MS == 0:
                forecast = _weather_forecast(site, w, tick)
                yield DemoMessage(
                    "weather.forecasts", site.site_id, json.dumps(forecast).encode(), tick
                )
            readings = list(_readings(site, tick, tick_ms, temp, ghi, w.wind, rng))
            yield from _with_faults(site.site_id, tick, readings, rng, fault_rate)


def _readings(
    site: DemoSite,
    tick: int,
    tick_ms: int,
    temp: float,
    ghi: float,
    wind: float,
    rng: np.random.Generator,
) -> Iterator[dict[str, object]]:
    for minute in range(0, tick_ms, 60_000):
        ts = tick + minute
        hour = _local_hour(site, ts)
        cap = site.capacity_kw or 0.0
        if site.kind == "pv":
            power = max(
                0.0, cap * ghi / 1000 * (1 - 0.004 * (temp - 25)) + rng.normal(0, cap * 0.005)
            )
            yield _r(site, "inv-1", "pv_power", round(power, 2), "kW", ts)
            yield _r(
                site, "pyr-1", "irradiance", round(max(ghi + rng.normal(0, 5), 0), 1), "W/m2", ts
            )
        elif site.kind == "wind":
            speed = max(0.0, wind + rng.normal(0, 0.6))
            power = cap * _wind_power_fraction(speed) * (1 + rng.normal(0, 0.02))
            yield _r(site, "scada", "wind_power", round(power / 1000, 4), "MW", ts)
            yield _r(site, "anemo-1", "wind_speed", round(speed, 2), "m/s", ts)
        elif site.kind == "load":
            base = 900 if site.site_id.endswith("a") else 1500
            profile = (
                0.6
                + 0.25 * math.exp(-((hour - 8) ** 2) / 4)
                + 0.4 * math.exp(-((hour - 19) ** 2) / 6)
            )
            load = base * profile * (1 + 0.01 * max(0.0, 15 - temp)) + rng.normal(0, base * 0.01)
            yield _r(site, "meter-1", "load", round(load * 1000, 0), "W", ts)
            if site.storage is not None:
                yield _r(site, "tariff", "price", market_price(ts), "EUR/MWh", ts)
        else:
            day = ts // 86_400_000
            evening = (hour - 20 + 12) % 24 - 12  # hours from 20:00, -12..12
            episode = 70 * math.exp(-(evening**2) / 4) if day % 2 == 0 else 0.0
            pm25 = max(
                1.0, 10 + 4 * math.sin(2 * math.pi * hour / 24) + episode + rng.normal(0, 1.5)
            )
            yield _r(site, "opc-1", "pm25", round(pm25, 1), "ug/m3", ts)
            yield _r(site, "opc-1", "pm10", round(pm25 * 1.6, 1), "ug/m3", ts)
            no2 = round(max(0.0, 15 + rng.normal(0, 3)), 1)
            if not (site.no2_outage and day % 2 == 1 and 1 <= hour < 5):
                yield _r(site, "no2-1", "no2", no2, "ppb", ts)


def _r(
    site: DemoSite, sensor: str, quantity: str, value: float, unit: str, ts: int
) -> dict[str, object]:
    return {
        "site_id": site.site_id,
        "sensor_id": sensor,
        "quantity": quantity,
        "value": value,
        "unit": unit,
        "ts": ts,
    }


def _with_faults(
    site_id: str,
    tick: int,
    readings: list[dict[str, object]],
    rng: np.random.Generator,
    fault_rate: float,
) -> Iterator[DemoMessage]:
    topic = "sensor.readings"
    if rng.random() < fault_rate:
        fault = int(rng.integers(0, 7))
        victim = readings[int(rng.integers(0, len(readings)))]
        if fault == 0:
            yield DemoMessage(
                topic, site_id, b'{"site_id": "' + site_id.encode() + b'", "value": ', tick
            )
        elif fault == 1:
            victim["unit"] = "furlongs"
        elif fault == 2:
            victim["value"] = -1e12  # impossible in any accepted unit
        elif fault == 3:
            del victim["ts"]
        elif fault == 4:
            victim["ts"] = int(victim["ts"]) + 7 * 86_400_000  # type: ignore[call-overload]
        elif fault == 5 and any(r["quantity"] == "pm25" for r in readings):
            spiked = next(r for r in readings if r["quantity"] == "pm25")
            spiked["value"] = float(spiked["value"]) + 600.0  # type: ignore[arg-type]
        else:
            yield DemoMessage(topic, site_id, json.dumps(readings).encode(), tick)  # resent batch
    yield DemoMessage(topic, site_id, json.dumps(readings).encode(), tick)
