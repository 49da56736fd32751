"""Timestamp parsing: ISO-8601 with an offset, or epoch milliseconds, to epoch milliseconds."""

from datetime import UTC, datetime

from gridbrain.errors import InvalidMessageError

__all__ = ["EARLIEST_MS", "ms_to_datetime", "parse_ts_ms"]

#: Timestamps before this are rejected: they are usually epoch seconds sent as milliseconds.
EARLIEST_MS = 631_152_000_000  # 1990-01-01T00:00:00Z


def parse_ts_ms(raw: object) -> int:
    """Parse a reading timestamp to epoch milliseconds (UTC).

    Args:
        raw: an ISO-8601 string with a UTC offset, or a number of epoch milliseconds.

    Raises:
        InvalidMessageError: ``bad_timestamp`` when it is neither, has no offset, or lies
            before 1990.

    >>> parse_ts_ms("2024-05-01T12:00:00+02:00")
    1714557600000
    >>> parse_ts_ms(1714557600000)
    1714557600000
    """
    if isinstance(raw, bool):
        raise InvalidMessageError("bad_timestamp", "a boolean is not a timestamp")
    if isinstance(raw, int | float):
        if raw != raw:  # NaN
            raise InvalidMessageError("bad_timestamp", "NaN")
        ms = int(raw)
    elif isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidMessageError("bad_timestamp", f"not ISO-8601: {raw!r}") from exc
        if parsed.tzinfo is None:
            raise InvalidMessageError("bad_timestamp", f"no UTC offset: {raw!r}")
        ms = int(parsed.timestamp() * 1000)
    else:
        raise InvalidMessageError("bad_timestamp", f"unsupported type {type(raw).__name__}")
    if ms < EARLIEST_MS:
        raise InvalidMessageError("bad_timestamp", f"{raw!r} is before 1990 (epoch seconds?)")
    return ms


def ms_to_datetime(ms: int) -> datetime:
    """Epoch milliseconds to an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
