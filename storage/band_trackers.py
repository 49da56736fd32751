"""Band trackers of the served forecasts: kept in ``band_trackers``, fed by stored issues.

A site's trackers (one per quantity and model) are brought up to date by
:func:`refresh_trackers`: the issues since each one's ``through`` whose outcomes are all
in (``until``), scored against the clean readings as they were issued, move it
(:func:`~processors.forecast.adaptive_band.follow`). A tracker met for the first time
starts from the issues of the last :data:`FIRST_LOOK_MS`.
"""

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gridbrain.processors.forecast.adaptive_band import BandTracker, IssueMisses, follow
from gridbrain.processors.timestamps import ms_to_datetime
from gridbrain.storage.models import BandTracker as BandTrackerRow

__all__ = [
    "FIRST_LOOK_MS",
    "Trackers",
    "all_trackers",
    "issue_misses",
    "load_trackers",
    "refresh_trackers",
]

#: (quantity, model) -> (tracker, the newest issue it counted, epoch ms)
Trackers = dict[tuple[str, str], tuple[BandTracker, int | None]]
#: How far back a new tracker starts.
FIRST_LOOK_MS = 28 * 86_400_000

# Per issue of the site in (after, until] whose last target is in by ``until``: the
# shares of its measured readings (not interpolated) below p10 and above p90. PV's dark
# steps (p90 = 0 by physics) are not counted: a 0 inside a band of zeros says nothing.
_MISSES = text(
    "SELECT f.quantity, f.model, "
    "(extract(epoch FROM f.issued_at) * 1000)::bigint AS issued_ms, "
    "avg((r.value < u.p10)::int)::float8 AS below, "
    "avg((r.value > u.p90)::int)::float8 AS above "
    "FROM forecast_issues f "
    "CROSS JOIN LATERAL unnest(f.p10, f.p90) WITH ORDINALITY AS u(p10, p90, h) "
    "JOIN readings r ON r.site_id = f.site_id AND r.quantity = f.quantity "
    "AND r.ts = f.first_target + (u.h - 1) * f.step_ms * interval '1 millisecond' "
    "WHERE f.site_id = :site AND f.issued_at > :after AND f.issued_at <= :until "
    "AND f.first_target + cardinality(f.p10) * f.step_ms * interval '1 millisecond' <= :until "
    "AND r.value IS NOT NULL AND r.quality <> 'interpolated' "
    "AND NOT (f.quantity = 'pv_power' AND u.p90 <= 0) "
    "GROUP BY f.quantity, f.model, f.issued_at ORDER BY f.issued_at"
)


def load_trackers(session: Session, site_id: str) -> Trackers:
    """The stored trackers of a site."""
    rows = session.scalars(select(BandTrackerRow).where(BandTrackerRow.site_id == site_id))
    return {
        (r.quantity, r.model): (
            BandTracker(r.low, r.high),
            int(r.through.timestamp() * 1000),
        )
        for r in rows
    }


def all_trackers(session: Session) -> list[dict[str, object]]:
    """Every tracker as a row (site, quantity, model, low, high, through), by site."""
    rows = session.scalars(
        select(BandTrackerRow).order_by(
            BandTrackerRow.site_id, BandTrackerRow.quantity, BandTrackerRow.model
        )
    )
    return [
        {
            "site_id": r.site_id,
            "quantity": r.quantity,
            "model": r.model,
            "low": round(r.low, 4),
            "high": round(r.high, 4),
            "through": r.through.isoformat(),
        }
        for r in rows
    ]


def issue_misses(
    session: Session, site_id: str, after_ms: int, until_ms: int
) -> dict[tuple[str, str], list[IssueMisses]]:
    """Per (quantity, model), the misses of the issues in (after, until], oldest first."""
    params = {
        "site": site_id,
        "after": ms_to_datetime(after_ms),
        "until": ms_to_datetime(until_ms),
    }
    out: dict[tuple[str, str], list[IssueMisses]] = {}
    for row in session.execute(_MISSES, params):
        issue = IssueMisses(int(row.issued_ms), float(row.below), float(row.above))
        out.setdefault((row.quantity, row.model), []).append(issue)
    return out


def refresh_trackers(session: Session, site_id: str, until_ms: int, rate: float) -> Trackers:
    """Bring a site's trackers up to ``until_ms`` (data time) and store them."""
    trackers = load_trackers(session, site_id)
    first = until_ms - FIRST_LOOK_MS
    after = min([first] + [t for _, t in trackers.values() if t is not None])
    changed: Trackers = {}
    for key, issues in issue_misses(session, site_id, after, until_ms).items():
        tracker, through = trackers.get(key, (BandTracker(), None))
        start = first if through is None else through
        fresh = [i for i in issues if i.issued_ms > start]
        if fresh:
            changed[key] = follow(tracker, start, fresh, rate)
    if changed:
        rows = [
            {
                "site_id": site_id,
                "quantity": quantity,
                "model": model,
                "low": tracker.low,
                "high": tracker.high,
                "through": ms_to_datetime(int(through or first)),
            }
            for (quantity, model), (tracker, through) in changed.items()
        ]
        statement = insert(BandTrackerRow).values(rows)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["site_id", "quantity", "model"],
                set_={
                    "low": statement.excluded.low,
                    "high": statement.excluded.high,
                    "through": statement.excluded.through,
                    "updated_at": text("now()"),
                },
            )
        )
    return trackers | changed
