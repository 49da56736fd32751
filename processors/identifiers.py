"""Identifiers the database always accepts, and text made safe to store.

Site, sensor and station ids must be printable text (no control characters, no NUL, no
lone surrogates: PostgreSQL refuses those), without surrounding blanks, at most
:data:`MAX_ID_LENGTH` characters (the columns' size).
"""

from typing import Any

from gridbrain.errors import InvalidMessageError

__all__ = ["MAX_ID_LENGTH", "check_identifier", "is_identifier", "printable"]

#: Longest identifier (the size of the id columns).
MAX_ID_LENGTH = 128


def is_identifier(value: Any) -> bool:
    r"""Whether ``value`` is an acceptable identifier.

    >>> is_identifier("pv-north"), is_identifier("bad\x00site"), is_identifier(" x")
    (True, False, False)
    """
    return (
        type(value) is str
        and 0 < len(value) <= MAX_ID_LENGTH
        and value.isprintable()
        and value == value.strip()
    )


def check_identifier(value: Any, name: str) -> str:
    """``value`` if it is an acceptable identifier (``missing_<name>``/``bad_<name>`` otherwise).

    >>> check_identifier("aq-port", "site_id")
    'aq-port'
    """
    if value is None:
        raise InvalidMessageError(f"missing_{name}", f"{name} is required")
    if is_identifier(value):
        return str(value)
    if not isinstance(value, str):
        raise InvalidMessageError(
            f"bad_{name}", f"{name} must be a string, got {type(value).__name__}"
        )
    if not value.strip():
        raise InvalidMessageError(f"bad_{name}", f"{name} must be a non-empty string")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidMessageError(
            f"bad_{name}", f"{name} is {len(value)} characters long (at most {MAX_ID_LENGTH})"
        )
    if value != value.strip():
        raise InvalidMessageError(
            f"bad_{name}", f"{name} {printable(value)!r} has surrounding blanks"
        )
    raise InvalidMessageError(
        f"bad_{name}", f"{name} {printable(value)!r} holds control or unprintable characters"
    )


def printable(text: str) -> str:
    r"""``text`` with every unprintable character escaped (``\x00``, ``\ud800``, ...).

    >>> printable("bad\x00site\n")
    'bad\\x00site\\n'
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)
