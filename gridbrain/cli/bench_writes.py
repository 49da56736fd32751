"""``gridbrain benchmark writes``: the stages' database writes beside a raw COPY, same run.

Writes the same rows three ways into the embedded PostgreSQL, each into an empty table,
in batches as a worker does:
1. the ceiling: a bare ``COPY`` of the rows into a copy of the table (no conflict handling),
2. the repository function the stage uses (COPY into a staging table, one
   ``INSERT ... ON CONFLICT`` per batch),
3. for reference, the same upsert with psycopg2 ``execute_values`` (the previous way).
The last line is JSON.
"""

import io
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from gridbrain.processors.resample import BucketIncrement

__all__ = ["writes"]


@click.command("writes")
@click.option("--rows", type=int, default=200_000, show_default=True)
@click.option("--batch", type=int, default=20_000, show_default=True, help="Rows per commit.")
def writes(rows: int, batch: int) -> None:
    """Rows/s of the reading and forecast upserts beside a raw COPY of the same rows."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from gridbrain.cli.embedded import open_database_url
    from gridbrain.processors.resample import BucketIncrement
    from gridbrain.storage.bulk import copy_text, execute_batch
    from gridbrain.storage.db import make_engine, make_sessionmaker, migrate
    from gridbrain.storage.repositories import add_reading_increments
    from gridbrain.storage.sites import ensure_sites

    start = 1_700_000_000_000
    increments = [
        BucketIncrement(f"site-{i % 1000}", "load", start + (i // 1000) * 900_000, 12.5 * i, 4, 1)
        for i in range(rows)
    ]
    chunks = [increments[i : i + batch] for i in range(0, rows, batch)]

    def timed(sessions: Callable[[], Session], write: Callable[[Session, list], None]) -> float:
        with sessions() as session:
            session.execute(text("TRUNCATE readings"))
            session.commit()
        began = time.perf_counter()
        for chunk in chunks:
            with sessions() as session:
                write(session, chunk)
                session.commit()
        return rows / (time.perf_counter() - began)

    def raw_copy(session: Session, chunk: list[BucketIncrement]) -> None:
        # The rows as the table stores them, straight in: what no upsert can beat.
        body = copy_text(_stored(i) for i in chunk)
        cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.copy_expert(
            "COPY readings (site_id, quantity, ts, value, value_sum, n_samples, n_flagged, "
            "quality) FROM STDIN WITH (FORMAT csv)",
            io.StringIO(body),
        )

    def values_upsert(session: Session, chunk: list[BucketIncrement]) -> None:
        execute_batch(
            session,
            "INSERT INTO readings (site_id, quantity, ts, value, value_sum, n_samples, "
            "n_flagged, quality) VALUES %s ON CONFLICT (site_id, quantity, ts) DO UPDATE SET "
            "value_sum = readings.value_sum + EXCLUDED.value_sum",
            [_stored(i) for i in chunk],
        )

    with tempfile.TemporaryDirectory() as tmp, open_database_url(None, Path(tmp) / "pg") as url:
        migrate(url)
        sessions = make_sessionmaker(make_engine(url))
        with sessions() as session:
            ensure_sites(session, {i.site_id for i in increments})
            session.commit()
        ceiling = timed(sessions, raw_copy)
        ours = timed(sessions, add_reading_increments)
        values = timed(sessions, values_upsert)
    click.echo(f"{rows:,} reading rows in batches of {batch:,}")
    click.echo(f"raw COPY into readings:                 {ceiling:>10,.0f} rows/s")
    click.echo(f"staged COPY + INSERT ON CONFLICT (ours): {ours:>10,.0f} rows/s")
    click.echo(f"execute_values upsert (before):         {values:>10,.0f} rows/s")
    result = {
        "stage": "writes",
        "rows": rows,
        "rate": round(ours),
        "ceiling": round(ceiling),
        "ratio": round(ours / ceiling, 3),
        "execute_values": round(values),
    }
    click.echo(json.dumps(result))


def _stored(i: "BucketIncrement") -> tuple[object, ...]:
    """An increment as the ``readings`` table stores it (a new step)."""
    from gridbrain.processors.timestamps import ms_to_datetime

    ts = ms_to_datetime(i.ts_ms).isoformat()
    mean = i.value_sum / i.count
    return (i.site_id, i.quantity, ts, mean, i.value_sum, i.count, i.flagged, "cleaned")
