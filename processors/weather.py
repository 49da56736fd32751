"""Validation of weather observations and weather forecasts.

An observation names a site or station (``site_id`` or ``station_id``), a time ``ts`` and
any of the variables in :data:`~processors.quantities.WEATHER_VARIABLES` and/or a
``description`` (weather text such as "light rain, mist": printable, at most 200
characters). A forecast item
has the same plus ``issued_at`` and ``valid_at`` instead of ``ts``; a forecast must not be
issued in the future nor be valid before it was issued.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from gridbrain.errors import InvalidMessageError
from gridbrain.processors.identifiers import check_identifier
from gridbrain.processors.quantities import WEATHER_VARIABLES
from gridbrain.processors.timestamps import parse_ts_ms
from gridbrain.processors.validate import Rejection, check_not_future, require_number

#: Longest weather description kept (OpenWeather's are under 40 characters).
_MAX_DESCRIPTION = 200

_T = TypeVar("_T")

__all__ = [
    "WeatherForecast",
    "WeatherObservation",
    "validate_weather",
    "validate_weather_forecasts",
]


@dataclass(frozen=True)
class WeatherObservation:
    """A validated weather observation for one site (or station) and time."""

    site_id: str
    ts_ms: int
    variables: dict[str, float]
    description: str | None = None


@dataclass(frozen=True)
class WeatherForecast:
    """A validated forecast of weather variables at ``valid_ms``, issued at ``issued_ms``."""

    site_id: str
    issued_ms: int
    valid_ms: int
    variables: dict[str, float]
    description: str | None = None


def _description(item: dict[str, Any]) -> str | None:
    """The item's weather text (e.g. "light rain, mist"), checked; None when absent or empty."""
    description = item.get("description")
    if description is None:
        return None
    if not isinstance(description, str):
        raise InvalidMessageError("bad_description", "description must be a string")
    if len(description) > _MAX_DESCRIPTION or not description.isprintable():
        raise InvalidMessageError(
            "bad_description",
            f"description must be printable text of at most {_MAX_DESCRIPTION} characters",
        )
    return description.strip() or None


def _site_and_variables(item: Any) -> tuple[str, dict[str, float]]:
    if not isinstance(item, dict):
        raise InvalidMessageError("not_an_object", f"expected an object, got {type(item).__name__}")
    key = "site_id" if "site_id" in item else "station_id"
    site_id = check_identifier(item.get(key), key)
    variables: dict[str, float] = {}
    for name, (low, high) in WEATHER_VARIABLES.items():
        if item.get(name) is None:
            continue
        value = require_number(item[name], name)
        if not low <= value <= high:
            raise InvalidMessageError("out_of_range", f"{name}={value} outside [{low}, {high}]")
        variables[name] = value
    return site_id, variables


def _required_ts(item: dict[str, Any], key: str) -> int:
    if key not in item:
        raise InvalidMessageError(f"missing_{key}", f"{key} is required")
    return parse_ts_ms(item[key])


def _one_observation(item: Any, now_ms: int, max_future_ms: int) -> WeatherObservation:
    site_id, variables = _site_and_variables(item)
    ts_ms = _required_ts(item, "ts")
    check_not_future(ts_ms, now_ms, max_future_ms)
    description = _description(item)
    if not variables and not description:
        raise InvalidMessageError("no_variables", "no known weather variable in the observation")
    return WeatherObservation(site_id, ts_ms, variables, description)


def _each(
    items: list[Any], one: Callable[[Any, int, int], _T], now_ms: int, max_future_ms: int
) -> tuple[list[_T], list[Rejection]]:
    """Validate every item with ``one``; collect the valid ones and the rejections."""
    valid: list[_T] = []
    rejections: list[Rejection] = []
    for index, item in enumerate(items):
        try:
            valid.append(one(item, now_ms, max_future_ms))
        except InvalidMessageError as exc:
            rejections.append(Rejection(index, exc.reason, exc.detail, item))
    return valid, rejections


def validate_weather(
    items: list[Any], now_ms: int, max_future_ms: int
) -> tuple[list[WeatherObservation], list[Rejection]]:
    """Validate the items of one ``weather.observations`` message."""
    return _each(items, _one_observation, now_ms, max_future_ms)


def _one_forecast(item: Any, now_ms: int, max_future_ms: int) -> WeatherForecast:
    site_id, variables = _site_and_variables(item)
    issued = _required_ts(item, "issued_at")
    valid = _required_ts(item, "valid_at")
    check_not_future(issued, now_ms, max_future_ms)
    if valid < issued:
        raise InvalidMessageError("valid_before_issued", "valid_at lies before issued_at")
    description = _description(item)
    if not variables and not description:
        raise InvalidMessageError("no_variables", "no known weather variable in the forecast")
    return WeatherForecast(site_id, issued, valid, variables, description)


def validate_weather_forecasts(
    items: list[Any], now_ms: int, max_future_ms: int
) -> tuple[list[WeatherForecast], list[Rejection]]:
    """Validate the items of one ``weather.forecasts`` message."""
    return _each(items, _one_forecast, now_ms, max_future_ms)
