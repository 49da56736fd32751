"""Hiding secrets in what is printed or logged: database URLs and connection strings."""

import re

__all__ = ["MASK", "mask_url"]

MASK = "***"

# ``scheme://`` then an optional username and a ``:``: the password follows. A username
# holds no ``:/@?#`` or whitespace (as SQLAlchemy reads it).
_USERINFO = re.compile(r"^[A-Za-z][\w+.-]*://[^:/@?#\s]*:")
# The same without a scheme (a mangled URL); no ``=`` either, to leave libpq strings alone.
_BARE_USERINFO = re.compile(r"^[^:/@?#=\s]*:")
# A password parameter of a URL query: its value runs to the next ``&`` or ``#``.
_QUERY_PASSWORD = re.compile(r"(?i)(?P<key>[?&;](?:ssl)?password=)[^&#]+")
# A password of a libpq keyword/value string: quoted (with backslash escapes) or up to a space.
_DSN_PASSWORD = re.compile(
    r"(?i)(?P<key>(?:^|\s)(?:ssl)?password\s*=\s*)(?:'(?:[^'\\]|\\.)*'?|[^\s']\S*)"
)


def _mask_userinfo(url: str) -> str:
    """Mask the password between ``user:`` and the ``@`` that ends the credentials.

    The password ends at the first ``@`` (as SQLAlchemy reads it), or at a later ``@`` when
    no ``/``, ``?`` or ``#`` comes between (as a URL parser reads an unescaped ``@``): the
    longer reading is masked, so neither leaks a piece of the password.
    """
    match = _USERINFO.match(url) or (None if "://" in url else _BARE_USERINFO.match(url))
    if match is None:
        return url
    start = match.end()
    end = url.find("@", start)
    if end <= start:  # no "@" (then "user:" is host:port), or an empty password
        return url
    while True:
        after = url.find("@", end + 1)
        if after < 0 or any(c in url[end + 1 : after] for c in "/?#"):
            break
        end = after
    return f"{url[:start]}{MASK}{url[end:]}"


def mask_url(url: str) -> str:
    """Hide the password of a database URL or libpq connection string, for printing.

    Handles ``scheme://user:password@host/db`` URLs (SQLAlchemy and libpq), a ``password``
    (or ``sslpassword``) query parameter, and libpq ``key=value`` strings. A URL without a
    password (or with an empty one) comes back unchanged.

    Args:
        url: The URL as configured, possibly holding a password.

    Returns:
        ``url`` with every password replaced by ``***``; ``***`` alone for a value that is
        not even a string.

    Examples:
        >>> mask_url("postgresql://u:secret@h:5432/db")
        'postgresql://u:***@h:5432/db'
        >>> mask_url("postgresql://u@h/db?sslmode=require&password=secret")
        'postgresql://u@h/db?sslmode=require&password=***'
        >>> mask_url("host=h user=u password=secret")
        'host=h user=u password=***'
        >>> mask_url("postgresql://u@h/db")
        'postgresql://u@h/db'
    """
    try:
        masked = _QUERY_PASSWORD.sub(rf"\g<key>{MASK}", _mask_userinfo(url))
        return _DSN_PASSWORD.sub(rf"\g<key>{MASK}", masked)
    except Exception:  # never let printing a URL fail, nor print what could not be read
        return MASK
