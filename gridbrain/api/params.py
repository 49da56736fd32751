"""Query parameters shared by the routes: bounded, and free of control characters."""

from typing import Annotated

from fastapi import Query

from gridbrain.api.responses import Format

__all__ = [
    "PRINTABLE",
    "Fmt",
    "Limit",
    "Offset",
    "OptQuantity",
    "OptSite",
    "Quantity",
    "Site",
    "Tz",
]

#: No NUL or other control character reaches a query (PostgreSQL refuses NUL anyway).
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"

Site = Annotated[
    str, Query(min_length=1, max_length=128, pattern=PRINTABLE, description="Site id.")
]
OptSite = Annotated[str | None, Query(max_length=128, pattern=PRINTABLE, description="Site id.")]
Quantity = Annotated[
    str, Query(min_length=1, max_length=32, pattern=PRINTABLE, description="e.g. pv_power.")
]
OptQuantity = Annotated[
    str | None, Query(max_length=32, pattern=PRINTABLE, description="e.g. pv_power.")
]
Limit = Annotated[int, Query(ge=1, le=10_000, description="Rows per page.")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Rows skipped (paging).")]
Tz = Annotated[
    str | None, Query(max_length=64, pattern=PRINTABLE, description="IANA zone of times out.")
]
Fmt = Annotated[Format, Query(alias="format", description="json or csv.")]
