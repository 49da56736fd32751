"""``gridbrain retention``: delete rows older than the configured retention of each table."""

from typing import Any

import click

from gridbrain.cli.output import render
from gridbrain.settings import Settings

__all__ = ["retention"]


@click.command()
@click.option("--dry-run", is_flag=True, help="Only count the rows that would be deleted.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
@click.pass_obj
def retention(settings: Settings, dry_run: bool, fmt: str) -> None:
    """Delete old forecasts, dead letters, alert history (and readings, if configured).

    Ages come from the GRIDBRAIN_RETENTION_*_DAYS settings (0: keep forever). Rows go in
    short transactions of GRIDBRAIN_RETENTION_BATCH_ROWS rows each, so it can run (e.g.
    daily from cron) while the workers ingest.
    """
    from tqdm import tqdm

    from gridbrain.cli.services import database
    from gridbrain.storage.retention import apply_retention, retention_rules

    rules = retention_rules(
        readings_days=settings.retention_readings_days,
        forecasts_days=settings.retention_forecasts_days,
        dead_letters_days=settings.retention_dead_letters_days,
        alert_history_days=settings.retention_alert_history_days,
    )
    # The bar shows only once a table takes over a second: silent when there is little to do.
    bars: dict[str, tqdm[Any]] = {}

    def progress(table: str, rows: int) -> None:
        if table not in bars:
            bars[table] = tqdm(desc=f"deleting {table}", unit=" rows", delay=1.0, leave=False)
        bars[table].update(rows)

    try:
        with database(settings) as sessions:
            results = apply_retention(
                sessions, rules, settings.retention_batch_rows, dry_run=dry_run, progress=progress
            )
    finally:
        for bar in bars.values():
            bar.close()
    rows = [
        {
            "table": r.table,
            "column": r.column,
            "days": r.days,
            "cutoff": r.cutoff if r.cutoff or fmt == "json" else "keep forever",
            "would_delete" if dry_run else "deleted": r.rows,
            "seconds": round(r.seconds, 3),
        }
        for r in results
    ]
    click.echo(render(rows, fmt))
