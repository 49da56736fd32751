"""A site's local calendar: its clock (time zone) and its public holidays.

Demand follows the local clock and stops on public holidays: a working day starts at 08:00
local time whatever the UTC hour, and Christmas looks like a Sunday. Models that read
the calendar get, per target step, the local hour, the local day of the week and whether
the local date is a public holiday (the ``holidays`` package's calendars; ``AU-VIC`` is
Australia's calendar with Victoria's own days, ``ES`` Spain's national one).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

__all__ = ["FEATURES", "LocalCalendar", "local_covariates", "local_features"]

#: Columns of :func:`local_features`, in order.
FEATURES = ("local_hour", "local_weekday", "public_holiday")
_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=256)
def _holiday_days(code: str, year: int) -> frozenset[int]:
    """Days since the epoch that are public holidays of ``code`` in ``year``."""
    import holidays  # ~0.1 s to import: only where a calendar has holidays

    country, _, subdivision = code.partition("-")
    days = holidays.country_holidays(country, subdiv=subdivision or None, years=year)
    epoch = datetime(1970, 1, 1).date()
    return frozenset((day - epoch).days for day in days)


@dataclass(frozen=True)
class LocalCalendar:
    """Where a site's days begin and which of them are public holidays.

    Attributes:
        timezone: IANA zone (``Australia/Melbourne``).
        holidays: ISO country code, optionally ``-`` and a subdivision (``AU-VIC``, ``ES``,
            ``US-CO``); None: no holidays known.

    Raises:
        ValueError: an unknown zone or holiday calendar.
    """

    timezone: str
    holidays: str | None = None

    def __post_init__(self) -> None:
        try:
            _zone(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        if self.holidays is not None:
            try:
                _holiday_days(self.holidays, 2020)
            except NotImplementedError as exc:
                raise ValueError(f"unknown holiday calendar {self.holidays!r}") from exc

    def local_ms(self, ts_ms: np.ndarray) -> np.ndarray:
        """Epoch milliseconds moved to the local wall clock (same shape).

        >>> LocalCalendar("Europe/Madrid").local_ms(np.array([0])).tolist()  # CET in winter
        [3600000]
        """
        ts = np.asarray(ts_ms, dtype=np.int64)
        hours, inverse = np.unique(ts // _HOUR_MS, return_inverse=True)
        zone = _zone(self.timezone)
        offsets = np.array(
            [_offset_ms(int(h) * _HOUR_MS, zone) for h in hours.tolist()], dtype=np.int64
        )
        return ts + offsets[inverse.reshape(ts.shape)]

    def features(self, ts_ms: np.ndarray) -> np.ndarray:
        """:data:`FEATURES` at each time, shape (*ts_ms.shape, 3); holiday NaN if unknown."""
        local = self.local_ms(ts_ms)
        days = local // _DAY_MS
        out = np.empty((*local.shape, len(FEATURES)))
        out[..., 0] = (local % _DAY_MS) / _HOUR_MS
        out[..., 1] = (days + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
        if self.holidays is None:
            out[..., 2] = np.nan
        else:
            years = _years(days)
            known = np.array(sorted(set().union(*(_holiday_days(self.holidays, y) for y in years))))
            out[..., 2] = np.isin(days, known)
        return out


def _offset_ms(ts_ms: int, zone: ZoneInfo) -> int:
    offset = datetime.fromtimestamp(ts_ms / 1000, zone).utcoffset()
    return 0 if offset is None else int(offset.total_seconds() * 1000)


def _years(days: np.ndarray) -> list[int]:
    first = datetime.fromtimestamp(int(days.min()) * 86_400, UTC).year
    last = datetime.fromtimestamp(int(days.max()) * 86_400, UTC).year
    return list(range(first, last + 1))


def local_features(target_ms: np.ndarray, calendars: np.ndarray | None) -> np.ndarray:
    """:data:`FEATURES` of every target step (B, H) of windows with ``calendars`` (B,).

    NaN for windows without a calendar (``calendars`` None, or a None in it).
    """
    out = np.full((*target_ms.shape, len(FEATURES)), np.nan)
    if calendars is None:
        return out
    rows: dict[LocalCalendar, list[int]] = {}
    for i, calendar in enumerate(calendars.tolist()):
        if calendar is not None:
            rows.setdefault(calendar, []).append(i)
    for calendar, index in rows.items():
        out[index] = calendar.features(target_ms[index])
    return out


def local_covariates(target_ms: np.ndarray, calendars: np.ndarray | None) -> np.ndarray:
    """The local calendar as network inputs (B, H, 6), zeros where it is unknown.

    Sine and cosine of the local hour and of the local week, the public holiday, and
    whether the calendar is known at all.
    """
    local = local_features(target_ms, calendars)
    known = np.isfinite(local[..., 0])
    day = 2 * np.pi * np.nan_to_num(local[..., 0]) / 24
    week = 2 * np.pi * (np.nan_to_num(local[..., 1]) + np.nan_to_num(local[..., 0]) / 24) / 7
    out = np.stack(
        [np.sin(day), np.cos(day), np.sin(week), np.cos(week), np.nan_to_num(local[..., 2])],
        axis=-1,
    )
    out[~known] = 0.0
    return np.concatenate([out, known[..., None].astype(np.float64)], axis=-1)
