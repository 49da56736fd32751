"""Sentences that answer a question from its rows: the numbers, said plainly."""

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from gridbrain.processors.language.understand import Understanding
from gridbrain.processors.quantities import QUANTITIES

__all__ = ["reply"]

Rows = list[dict[str, Any]]


def _unit(quantity: str | None) -> str:
    known = QUANTITIES.get(quantity or "")
    return known.unit if known else ""


def _num(value: Any, unit: str = "") -> str:
    if value is None:
        return "no value"
    number = float(value)
    shown = f"{number:,.0f}" if abs(number) >= 100 else f"{number:,.3g}"
    return f"{shown} {unit}".strip()


def _when(u: Understanding, moment: datetime | None) -> str:
    if moment is None:
        return "never"
    return moment.astimezone(ZoneInfo(u.zone)).strftime("%Y-%m-%d %H:%M") + f" {u.zone}"


def _period(u: Understanding) -> str:
    if u.period is None:
        return ""
    return f"from {_when(u, u.period[0])} to {_when(u, u.period[1])}"


def _series(u: Understanding) -> str:
    return f"{u.slots.site} {u.slots.quantity}"


def _aggregate(values: list[float], how: str | None) -> float:
    if how == "max":
        return max(values)
    if how == "min":
        return min(values)
    if how == "sum":
        return sum(values)
    return sum(values) / len(values)


def _forecast_at(u: Understanding, rows: Rows) -> str:
    r = rows[0]
    unit = _unit(u.slots.quantity)
    return (
        f"The forecast of {_series(u)} for {_when(u, r['target_ts'])} is {_num(r['p50'], unit)} "
        f"(p10 {_num(r['p10'])}, p90 {_num(r['p90'])}), by {r['model']}, issued "
        f"{_when(u, r['issued_at'])}."
    )


def _forecast_summary(u: Understanding, rows: Rows) -> str:
    how = u.slots.aggregation or "mean"
    value = _aggregate([float(r["p50"]) for r in rows], how)
    word = {"mean": "mean", "max": "highest", "min": "lowest", "sum": "sum of the"}[how]
    return (
        f"The {word} forecast p50 of {_series(u)} {_period(u)} is "
        f"{_num(value, _unit(u.slots.quantity))} over {len(rows)} steps (newest issue, "
        f"{rows[0]['model']})."
    )


def _forecast_peak(u: Understanding, rows: Rows) -> str:
    top = max(rows, key=lambda r: float(r["p50"]))
    return (
        f"{_series(u)} is forecast to peak at {_when(u, top['target_ts'])} with "
        f"{_num(top['p50'], _unit(u.slots.quantity))} (p90 {_num(top['p90'])})."
    )


def _forecast_vs_actual(u: Understanding, rows: Rows) -> str:
    errors = [abs(float(r["p50"]) - float(r["actual"])) for r in rows]
    inside = sum(float(r["p10"]) <= float(r["actual"]) <= float(r["p90"]) for r in rows)
    return (
        f"{_period(u)[:1].upper()}{_period(u)[1:]}, the forecast of {_series(u)} issued "
        f"{_when(u, rows[0]['issued_at'])} ({rows[0]['model']}) was off by "
        f"{_num(sum(errors) / len(errors), _unit(u.slots.quantity))} on average (MAE over "
        f"{len(rows)} steps); {inside} of {len(rows)} actuals fell within p10-p90."
    )


def _forecast_model(u: Understanding, rows: Rows) -> str:
    models = sorted({f"{r['model']} ({r['model_version']})" for r in rows})
    fallback = [r["fallback"] for r in rows if r.get("fallback")]
    extra = f"; fallback: {fallback[0]}" if fallback else ""
    return (
        f"The newest forecast of {_series(u)} ({_when(u, rows[0]['issued_at'])}) is made by "
        f"{', '.join(models)}{extra}."
    )


def _forecast_uncertainty(u: Understanding, rows: Rows) -> str:
    widths = [float(r["p90"]) - float(r["p10"]) for r in rows]
    unit = _unit(u.slots.quantity)
    return (
        f"The p10-p90 band of {_series(u)} {_period(u)} is {_num(sum(widths) / len(widths), unit)}"
        f" wide on average, {_num(max(widths), unit)} at its widest ({len(rows)} steps)."
    )


def _reading_latest(u: Understanding, rows: Rows) -> str:
    r = rows[0]
    return (
        f"The newest reading of {_series(u)} is {_num(r['value'], _unit(u.slots.quantity))} at "
        f"{_when(u, r['ts'])} ({r['quality']})."
    )


def _reading_summary(u: Understanding, rows: Rows) -> str:
    values = [float(r["value"]) for r in rows if r["value"] is not None]
    if not values:
        return f"Every step of {_series(u)} {_period(u)} was flagged: no clean value."
    how = u.slots.aggregation or "mean"
    word = {"mean": "mean", "max": "highest", "min": "lowest", "sum": "sum of the"}[how]
    return (
        f"The {word} measured {_series(u)} {_period(u)} was "
        f"{_num(_aggregate(values, how), _unit(u.slots.quantity))} ({len(values)} clean steps)."
    )


def _reading_above(u: Understanding, rows: Rows) -> str:
    limit = u.slots.threshold
    above = [r for r in rows if r["value"] is not None and float(r["value"]) > float(limit or 0)]
    hours = len(above) * 0.25
    return (
        f"{_series(u)} was above {_num(limit, _unit(u.slots.quantity))} for {hours:g} hours "
        f"({len(above)} of {len(rows)} steps) {_period(u)}."
    )


def _reading_gaps(u: Understanding, rows: Rows) -> str:
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r["quality"]] = kinds.get(r["quality"], 0) + 1
    said = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    return f"{_series(u)} {_period(u)}: {said} steps."


def _alerts_open(u: Understanding, rows: Rows) -> str:
    listed = "; ".join(f"{r['rule']} at {r['site_id']} ({r['state']})" for r in rows[:10])
    return f"{len(rows)} incidents are open: {listed}."


def _alert_sites(u: Understanding, rows: Rows) -> str:
    per_site: dict[str, int] = {}
    for r in rows:
        per_site[r["site_id"]] = per_site.get(r["site_id"], 0) + 1
    said = ", ".join(f"{s} ({n})" for s, n in sorted(per_site.items()))
    what = f"{u.slots.quantity} alerts" if u.slots.quantity else "alerts"
    return f"Sites with {what} {_period(u)}: {said}."


def _alert_count(u: Understanding, rows: Rows) -> str:
    where = f" at {u.slots.site}" if u.slots.site else ""
    what = f"{u.slots.quantity} " if u.slots.quantity else ""
    return f"{len(rows)} {what}incidents started{where} {_period(u)}."


def _next_exceedance(u: Understanding, rows: Rows) -> str:
    r = rows[0]
    return (
        f"The next predicted exceedance is {r['rule']} at {r['site_id']}, expected at "
        f"{_when(u, r['expected_at'])} ({r['state']}); {len(rows)} predicted in all."
    )


def _alert_history(u: Understanding, rows: Rows) -> str:
    steps = ", ".join(f"{r['state']} at {_when(u, r['at'])} ({r['reason']})" for r in rows)
    return f"The latest incident at {u.slots.site} ({rows[0]['rule']}): {steps}."


def _silences(u: Understanding, rows: Rows) -> str:
    said = "; ".join(f"{r['matchers']} until {_when(u, r['ends_at'])}" for r in rows)
    return f"{len(rows)} silences are active or pending: {said}."


def _rejected(u: Understanding, rows: Rows) -> str:
    total = sum(int(r["messages"]) for r in rows)
    said = ", ".join(f"{r['reason']} {r['messages']}" for r in rows)
    where = f" about {u.slots.site}" if u.slots.site else ""
    return f"{total} items were rejected{where} {_period(u)}: {said}."


def _quality(u: Understanding, rows: Rows) -> str:
    said = "; ".join(
        f"{r['site_id']}: {r['received']} received, {r['clean']} clean, "
        f"{r['spike'] + r['rate'] + r['flatline']} flagged, {r['duplicate']} duplicates, "
        f"{r['deadlettered']} rejected" for r in rows
    )  # fmt: skip
    return f"{said}."


def _pipeline(u: Understanding, rows: Rows) -> str:
    received = sum(r.get("received", 0) for r in rows if r["stage"] == "clean")
    dead = sum(r.get("deadlettered", 0) for r in rows)
    return (
        f"The stages have received {received:,} readings and dead-lettered {dead:,} items "
        f"({len(rows)} stage counters); `gridbrain status` adds the consumer lag."
    )


def _workers(u: Understanding, rows: Rows) -> str:
    said = "; ".join(f"{r['worker']} ({r['roles']}, {r['state']})" for r in rows)
    return f"{len(rows)} workers reported in the last minute: {said}."


def _sites(u: Understanding, rows: Rows) -> str:
    return f"{len(rows)} sites: " + ", ".join(f"{r['site_id']} ({r['kind']})" for r in rows) + "."


def _schedule(u: Understanding, rows: Rows) -> str:
    charge = [r for r in rows if r["charge_kw"] > 0.01]
    discharge = [r for r in rows if r["discharge_kw"] > 0.01]

    def first(steps: Rows) -> str:
        return _when(u, steps[0]["ts"]) if steps else "never"

    return (
        f"The plan for {u.slots.site} {_period(u)} ({rows[0]['policy']}, {rows[0]['status']}): "
        f"charging in {len(charge)} steps (first {first(charge)}), discharging in "
        f"{len(discharge)} (first {first(discharge)}); state of charge "
        f"{rows[0]['soc']:.0%} -> {rows[-1]['soc']:.0%}."
    )


def _soc(u: Understanding, rows: Rows) -> str:
    r = rows[0]
    return (
        f"The battery at {u.slots.site} is planned at {r['soc']:.0%} state of charge at the end of "
        f"the step {_when(u, r['ts'])} ({r['policy']} plan issued {_when(u, r['issued_at'])})."
    )


_REPLIES: dict[str, Callable[[Understanding, Rows], str]] = {
    "forecast_at": _forecast_at, "forecast_summary": _forecast_summary,
    "forecast_peak": _forecast_peak, "forecast_vs_actual": _forecast_vs_actual,
    "forecast_model": _forecast_model, "forecast_uncertainty": _forecast_uncertainty,
    "reading_latest": _reading_latest, "reading_summary": _reading_summary,
    "reading_above": _reading_above, "reading_gaps": _reading_gaps,
    "alerts_open": _alerts_open, "alert_sites": _alert_sites, "alert_count": _alert_count,
    "next_exceedance": _next_exceedance, "alert_history": _alert_history,
    "silences_active": _silences, "rejected_readings": _rejected, "data_quality": _quality,
    "pipeline_status": _pipeline, "workers_running": _workers, "sites_list": _sites,
    "battery_schedule": _schedule, "battery_soc": _soc,
}  # fmt: skip

_NONE = {
    "alert_count": "No incidents started{where} {period}.",
    "alerts_open": "No incident is open.",
    "alert_sites": "No site had alerts {period}.",
    "next_exceedance": "No exceedance is predicted.",
    "silences_active": "No silence is active.",
    "rejected_readings": "Nothing was rejected {period}.",
    "reading_gaps": "Every step of {series} {period} was clean.",
}


def reply(u: Understanding, rows: Rows) -> str:
    """The sentence answering ``u`` from ``rows`` (saying so when there are none)."""
    if not rows:
        where = f" at {u.slots.site}" if u.slots.site else ""
        template = _NONE.get(u.intent or "", "There is no data for that ({series} {period}).")
        period = _period(u)
        return template.format(
            where=where, period=period, series=_series(u) if u.slots.site else "it",
        ).replace(" .", ".").replace("( ", "(").replace(" )", ")")  # fmt: skip
    return _REPLIES[u.intent or ""](u, rows)
