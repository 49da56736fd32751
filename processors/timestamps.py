"""Timestamp parsing: ISO-8601 with an offset, or epoch milliseconds, to epoch milliseconds."""

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gridbrain.errors import InvalidMessageError

__all__ = ["EARLIEST_MS", "LATEST_MS", "localize", "ms_to_datetime", "parse_ts_ms"]

#: Timestamps before this are rejected: they are usually epoch seconds sent as milliseconds.
EARLIEST_MS = 631_152_000_000  # 1990-01-01T00:00:00Z
LATEST_MS = 7_258_118_400_000  # 2200-01-01T00:00:00Z: any later instant is a unit error


def parse_ts_ms(raw: object, tz: object = None) -> int:
    """Parse a reading timestamp to epoch milliseconds (UTC).

    Args:
        raw: an ISO-8601 string with a UTC offset, or a number of epoch milliseconds; or
            a local ISO-8601 time without offset when ``tz`` is given.
        tz: IANA time zone of a local time (e.g. ``Europe/Berlin``), if the source sends
            local times.

    Raises:
        InvalidMessageError: ``bad_timestamp`` when it is neither, has no offset (and no
            zone), or lies before 1990; see :func:`localize` for local times.

    >>> parse_ts_ms("2024-05-01T12:00:00+02:00")
    1714557600000
    >>> parse_ts_ms(1714557600000)
    1714557600000
    """
    if isinstance(raw, bool):
        raise InvalidMessageError("bad_timestamp", "a boolean is not a timestamp")
    if isinstance(raw, int | float):
        if isinstance(raw, float) and not math.isfinite(raw):  # JSON's NaN and Infinity
            raise InvalidMessageError("bad_timestamp", f"not finite: {raw}")
        ms = int(raw)
    elif isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidMessageError("bad_timestamp", f"not ISO-8601: {raw!r}") from exc
        if parsed.tzinfo is None:
            if tz is None:
                raise InvalidMessageError("bad_timestamp", f"no UTC offset and no tz: {raw!r}")
            parsed = localize(parsed, tz)
        ms = int(parsed.timestamp() * 1000)
    else:
        raise InvalidMessageError("bad_timestamp", f"unsupported type {type(raw).__name__}")
    if ms < EARLIEST_MS:
        raise InvalidMessageError("bad_timestamp", f"{raw!r} is before 1990 (epoch seconds?)")
    if ms > LATEST_MS:
        raise InvalidMessageError("bad_timestamp", f"{raw!r} is after 2200 (microseconds?)")
    return ms


def ms_to_datetime(ms: int) -> datetime:
    """Epoch milliseconds to an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def localize(local: datetime, tz: object) -> datetime:
    """Attach a time zone to a naive local time, refusing the ambiguous and the impossible.

    Raises:
        InvalidMessageError: ``bad_tz`` (unknown zone), ``ambiguous_local_time`` (the
            repeated hour when clocks go back: the reading must carry an offset) or
            ``nonexistent_local_time`` (the skipped hour when clocks go forward).

    >>> localize(datetime(2024, 7, 1, 12), "Europe/Berlin").isoformat()
    '2024-07-01T12:00:00+02:00'
    >>> localize(datetime(2024, 10, 27, 2, 30), "Europe/Berlin")
    Traceback (most recent call last):
    gridbrain.errors.InvalidMessageError: ambiguous_local_time: ...
    """
    if not isinstance(tz, str):
        raise InvalidMessageError("bad_tz", f"tz must be an IANA zone name, got {tz!r}")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidMessageError("bad_tz", f"unknown time zone {tz!r}") from exc
    early, late = local.replace(tzinfo=zone, fold=0), local.replace(tzinfo=zone, fold=1)
    if early.utcoffset() == late.utcoffset():
        return early
    # Offsets differ: either the hour repeats (both map back to it) or it never happened.
    if early.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == local:
        raise InvalidMessageError(
            "ambiguous_local_time", f"{local.isoformat()} occurs twice in {tz}: send an offset"
        )
    raise InvalidMessageError(
        "nonexistent_local_time", f"{local.isoformat()} never happens in {tz}"
    )
