"""Rendering query results as a table, CSV or JSON."""

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

__all__ = ["render"]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def render(rows: Sequence[dict[str, Any]], fmt: str) -> str:
    """Render ``rows`` (dicts with the same keys) as ``table``, ``csv`` or ``json``."""
    if fmt == "json":
        return json.dumps(list(rows), default=lambda v: v.isoformat(), indent=1)
    if not rows:
        return "(no rows)" if fmt == "table" else ""
    columns = list(rows[0])
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row[c]) for c in columns])
        return buffer.getvalue().rstrip("\n")
    cells = [[_cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells)
    return "\n".join(lines)
