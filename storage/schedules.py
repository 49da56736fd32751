"""Dispatch plans: written one row per step, read back newest first."""

from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from gridbrain.processors.alerting.site_state import ForecastIssue
from gridbrain.processors.dispatch.problem import DispatchProblem, Schedule
from gridbrain.processors.timestamps import ms_to_datetime
from gridbrain.storage.bulk import execute_batch
from gridbrain.storage.models import ScheduleStep

__all__ = ["add_schedule", "latest_schedule", "newest_issues", "planned_soc"]

_COLUMNS = (
    "site_id, issued_at, ts, charge_kw, discharge_kw, soc, grid_import_kw, grid_export_kw, "
    "curtail_kw, load_kw, pv_kw, price, export_price, policy, objective, status, reason, "
    "solve_s"
)


def add_schedule(
    session: Session,
    site_id: str,
    issued_at_ms: int,
    step_ms: int,
    problem: DispatchProblem,
    schedule: Schedule,
    policy: str = "lp",
) -> int:
    """Store a plan (replacing one of the same site and issue time); return its steps.

    Two workers planning the same issue at once (a rebalance) leave one of the two.

    The steps start at ``problem.start_ms`` and are ``step_ms`` apart.
    """
    issued = ms_to_datetime(issued_at_ms)
    session.execute(
        delete(ScheduleStep).where(
            ScheduleStep.site_id == site_id, ScheduleStep.issued_at == issued
        )
    )
    columns = np.column_stack(
        [
            schedule.charge,
            schedule.discharge,
            schedule.soc,
            schedule.grid_import,
            schedule.grid_export,
            schedule.curtail,
            problem.load,
            problem.pv,
            problem.import_price,
            problem.export_price,
        ]
    ).tolist()
    rows = [
        (
            site_id,
            issued,
            ms_to_datetime(problem.start_ms + i * step_ms),
            *values,
            policy,
            schedule.objective,
            schedule.status,
            schedule.reason or None,
            schedule.solve_s,
        )
        for i, values in enumerate(columns)
    ]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS.split(", ")[3:])
    execute_batch(
        session,
        f"INSERT INTO schedules ({_COLUMNS}) VALUES %s "
        f"ON CONFLICT (site_id, issued_at, ts) DO UPDATE SET {updates}",
        rows,
    )
    return len(rows)


def latest_schedule(session: Session, site_id: str) -> list[dict[str, Any]]:
    """The steps of the newest plan of a site, in time order (empty: none)."""
    newest = (
        select(ScheduleStep.issued_at)
        .where(ScheduleStep.site_id == site_id)
        .order_by(ScheduleStep.issued_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = session.scalars(
        select(ScheduleStep)
        .where(ScheduleStep.site_id == site_id, ScheduleStep.issued_at == newest)
        .order_by(ScheduleStep.ts)
    )
    keys = [c.strip() for c in _COLUMNS.split(",")]
    return [{k: getattr(r, k) for k in keys} for r in rows]


def planned_soc(session: Session, site_ids: list[str], at: datetime) -> dict[str, float]:
    """Each site's SOC at ``at`` as its newest plan covering the step before foresaw it.

    Where a new plan starts when no measured SOC is known.
    """
    rows = session.execute(
        text(
            "SELECT DISTINCT ON (site_id) site_id, soc FROM schedules "
            "WHERE site_id = ANY(:sites) AND ts < :at AND ts >= :at - interval '1 day' "
            "ORDER BY site_id, issued_at DESC, ts DESC"
        ),
        {"sites": site_ids, "at": at},
    )
    return {site: float(soc) for site, soc in rows}


def newest_issues(
    session: Session, site_ids: list[str], quantities: tuple[str, ...]
) -> dict[tuple[str, str], ForecastIssue]:
    """The newest forecast of each (site, quantity), a model that did not fall back first.

    NaN quantiles (stored as such) stay NaN.
    """
    rows = session.execute(
        text(
            "SELECT DISTINCT ON (site_id, quantity) site_id, quantity, model, "
            "(extract(epoch FROM issued_at) * 1000)::bigint, "
            "(extract(epoch FROM first_target) * 1000)::bigint, step_ms, p10, p50, p90 "
            "FROM forecast_issues WHERE site_id = ANY(:sites) AND quantity = ANY(:quantities) "
            "ORDER BY site_id, quantity, issued_at DESC, fallback IS NOT NULL, model"
        ),
        {"sites": site_ids, "quantities": list(quantities)},
    )
    out = {}
    for site, quantity, model, issued_ms, first_ms, step_ms, p10, p50, p90 in rows:
        out[(site, quantity)] = ForecastIssue(
            site_id=site,
            quantity=quantity,
            model=model,
            issued_at_ms=int(issued_ms),
            targets_ms=[int(first_ms) + i * int(step_ms) for i in range(len(p50))],
            quantiles={"p10": list(p10), "p50": list(p50), "p90": list(p90)},
        )
    return out
