"""The Spanish national load beside the five cities' hourly weather and weather text.

Reads ``spain_energy_weather`` (see its PROVENANCE.md): the energy file's hourly load and
the operator's day-ahead load forecast, and per city and hour the numeric weather (Kelvin
turned into Celsius; pressure outside 850-1090 hPa and wind above 50 m/s taken as missing
and carried forward) and the weather text: every description OpenWeather lists for the
hour (several rows when conditions coincide), joined (:func:`join_descriptions`).
"""

from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np
import pandas as pd

from gridbrain.processors.text.descriptions import join_descriptions

__all__ = ["CITIES", "NUMERIC", "SERIES", "SpainHours", "load_spain", "spain_folder"]

#: The energy series with an operator's day-ahead forecast: name -> (actual, forecast).
SERIES = {
    "load": ("total load actual", "total load forecast"),
    "solar": ("generation solar", "forecast solar day ahead"),
    "wind": ("generation wind onshore", "forecast wind onshore day ahead"),
}

CITIES = ("Madrid", "Barcelona", "Valencia", "Seville", "Bilbao")
#: Numeric weather per city, in this order.
NUMERIC = (
    "temp_c",
    "pressure",
    "humidity",
    "wind_speed",
    "clouds_all",
    "rain_1h",
    "rain_3h",
    "snow_3h",
)


@dataclass(frozen=True)
class SpainHours:
    """Hourly national load with the cities' weather, on the complete UTC grid.

    Attributes:
        stamps: start of each hour (UTC).
        load: the series' actual values (MW; the national load unless another of
            :data:`SERIES` was asked for), NaN where missing, shape (N,).
        operator: the operator's day-ahead forecast of it (MW), shape (N,).
        weather: numeric weather (N, len(CITIES), len(NUMERIC)).
        text: the hour's weather text per city (N, len(CITIES)).
    """

    stamps: pd.DatetimeIndex
    load: np.ndarray
    operator: np.ndarray
    weather: np.ndarray
    text: np.ndarray

    def __len__(self) -> int:
        return len(self.load)


def spain_folder(data_dir: Path | None) -> Path:
    """The spain_energy_weather folder (``--data-dir``, else the shared data's).

    Raises:
        click.ClickException: the files are not there.
    """
    from gridbrain.settings import Settings

    folder = data_dir or Settings().shared_data_dir / "spain_energy_weather"
    if not all((folder / n).exists() for n in ("energy_dataset.csv", "weather_features.csv")):
        raise click.ClickException(
            f"spain_energy_weather not found in {folder} (set GRIDBRAIN_SHARED_DATA_DIR)"
        )
    return folder


def _clean(weather: pd.DataFrame) -> pd.DataFrame:
    weather = weather.assign(
        city_name=weather["city_name"].str.strip(),
        temp_c=weather["temp"] - 273.15,
        pressure=weather["pressure"].where(weather["pressure"].between(850, 1090)),
        wind_speed=weather["wind_speed"].where(weather["wind_speed"] <= 50),
    )
    return weather


def load_spain(folder: Path, hours: int | None = None, series: str = "load") -> SpainHours:
    """The data set, or its first ``hours`` hours; ``series`` (:data:`SERIES`) as ``load``."""
    energy = pd.read_csv(folder / "energy_dataset.csv")
    stamps = pd.DatetimeIndex(pd.to_datetime(energy["time"], utc=True))
    weather = _clean(pd.read_csv(folder / "weather_features.csv"))
    weather["dt_iso"] = pd.to_datetime(weather["dt_iso"], utc=True)
    if hours is not None:
        energy, stamps = energy.iloc[:hours], stamps[:hours]
        weather = weather[weather["dt_iso"] <= stamps[-1]]
    keys = ["city_name", "dt_iso"]
    numeric = weather.groupby(keys)[list(NUMERIC)].first()
    text = weather.groupby(keys)["weather_description"].agg(join_descriptions)
    values = np.empty((len(stamps), len(CITIES), len(NUMERIC)))
    words = np.empty((len(stamps), len(CITIES)), dtype=object)
    for c, city in enumerate(CITIES):
        frame = numeric.loc[city].reindex(stamps).ffill().bfill()
        values[:, c] = frame.to_numpy(dtype=float)
        words[:, c] = text.loc[city].reindex(stamps).ffill().bfill().to_numpy()
    return SpainHours(
        stamps=stamps,
        load=energy[SERIES[series][0]].to_numpy(dtype=float),
        operator=energy[SERIES[series][1]].to_numpy(dtype=float),
        weather=values,
        text=words,
    )
