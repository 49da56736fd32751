"""Small builders of plain test data."""

from gridbrain.processors.validate import ReadingBatch


def batch(rows: list[tuple[str, str, str, int, float]]) -> ReadingBatch:
    """A ReadingBatch from (site, sensor, quantity, ts_ms, value) rows."""
    b = ReadingBatch()
    for i, (site, sensor, quantity, ts, value) in enumerate(rows):
        b.append(site, sensor, quantity, ts, value, i)
    return b
