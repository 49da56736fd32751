"""Dispatch stage: re-plans a site's battery whenever one of its forecasts comes in.

Model-predictive: a new load, PV or price forecast of a site with a storage asset gives
a new plan over that forecast's targets, from the SOC the previous plan foresaw for its
first step (the asset's target SOC when there is none). The plan is stored in
``schedules`` in the batch's transaction and published on the ``schedules`` topic, keyed
by site. Its issue time is the newest forecast's, so a redelivered batch replaces its
plans rather than adding any. A failed solve or an unusable profile gives the idle plan
with the reason; nothing a site sends stops the stage. The site profile's ``policy``
chooses who decides (:mod:`~processors.dispatch.policies`: the LP, differential evolution
or the promoted Q-table of the site); the decision time is stored with the plan.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

from gridbrain.processors.alerting.site_state import ForecastIssue
from gridbrain.processors.dispatch.planning import DISPATCH_QUANTITIES, plan_problem
from gridbrain.processors.dispatch.policies import decide
from gridbrain.processors.dispatch.problem import DispatchProblem, Schedule
from gridbrain.processors.dispatch.qlearning import POLICY_QUANTITY, QPolicy
from gridbrain.processors.dispatch.rules import idle_schedule
from gridbrain.processors.sites import SiteProfile
from gridbrain.processors.timestamps import ms_to_datetime
from gridbrain.settings import Settings
from gridbrain.storage.registry import load_artifact, promoted_versions
from gridbrain.storage.schedules import add_schedule, newest_issues, planned_soc
from gridbrain.storage.sites import site_profiles
from gridbrain.storage.transaction import BatchTransaction
from gridbrain.streams.envelope import DeadLetters, Emission, RawMessage, encode
from gridbrain.streams.forecasting import decode_forecast
from gridbrain.streams.topics import FORECASTS, SCHEDULES

__all__ = ["DispatchingStage", "schedule_message"]

_log = logging.getLogger(__name__)


def schedule_message(
    site_id: str,
    issued_at_ms: int,
    step_ms: int,
    problem: DispatchProblem,
    plan: Schedule,
    policy: str = "lp",
) -> dict[str, Any]:
    """The JSON form of a plan published on the schedules topic (``solve_s``: decision time)."""
    return {
        "site_id": site_id,
        "issued_at": ms_to_datetime(issued_at_ms).isoformat(),
        "policy": policy,
        "status": plan.status,
        "reason": plan.reason or None,
        "objective": round(plan.objective, 6),
        "solve_s": round(plan.solve_s, 4),
        "binaries": plan.binaries,
        "steps": [
            {
                "ts": ms_to_datetime(problem.start_ms + i * step_ms).isoformat(),
                "charge_kw": round(float(plan.charge[i]), 4),
                "discharge_kw": round(float(plan.discharge[i]), 4),
                "soc": round(float(plan.soc[i]), 4),
                "grid_import_kw": round(float(plan.grid_import[i]), 4),
                "grid_export_kw": round(float(plan.grid_export[i]), 4),
                "price": round(float(problem.import_price[i]), 6),
            }
            for i in range(problem.steps)
        ],
    }


class QTables:
    """The promoted Q-tables by site, re-read from the registry every ``interval_s``."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._checked: float | None = None
        self._loaded: dict[int, tuple[frozenset[str] | None, QPolicy]] = {}

    def for_site(self, session: Any, site: str) -> QPolicy | None:
        """The table promoted for ``site`` (else one promoted for every site), if any."""
        now = self._clock()
        if self._checked is None or now - self._checked >= self._interval_s:
            self._checked = now
            loaded = {}
            for v in promoted_versions(session, POLICY_QUANTITY):
                if v.id not in self._loaded:
                    try:
                        table = QPolicy.from_bytes(load_artifact(session, v.id))
                    except ValueError as exc:
                        _log.error("policy %s:%d cannot be loaded: %s", v.name, v.version, exc)
                        continue
                    self._loaded[v.id] = (frozenset(v.sites) if v.sites else None, table)
                loaded[v.id] = self._loaded[v.id]
            self._loaded = loaded
        named = [t for sites, t in self._loaded.values() if sites and site in sites]
        anyone = [t for sites, t in self._loaded.values() if sites is None]
        chosen = named or anyone
        return chosen[-1] if chosen else None


class DispatchingStage:
    """Plans the batteries of the sites whose forecasts a batch brings (one thread)."""

    def __init__(self, settings: Settings) -> None:
        self._step_ms = settings.step_ms
        self._time_limit_s = settings.dispatch_time_limit_s
        self._mip_gap = settings.dispatch_mip_gap
        self._tables = QTables(settings.model_refresh_s)

    def reset(self) -> None:
        """Nothing is held between batches: every plan reads what it needs."""

    def handle(self, tx: BatchTransaction, messages: list[RawMessage]) -> list[Emission]:
        """Re-plan every dispatchable site with a new load, PV or price forecast."""
        dead = DeadLetters()
        newest: dict[str, dict[str, ForecastIssue]] = {}
        for message in messages:
            if not tx.is_new(message.position):
                continue
            try:
                issue = decode_forecast(message.value)
            except (ValueError, KeyError, TypeError) as exc:
                dead.reject_message(tx, message, "bad_forecast_message", repr(exc))
                continue
            tx.counts[(FORECASTS, "received")] += 1
            tx.counts[(FORECASTS, "processed")] += 1
            if issue.quantity in DISPATCH_QUANTITIES and issue.targets_ms:
                mine = newest.setdefault(issue.site_id, {})
                held = mine.get(issue.quantity)
                if held is None or issue.issued_at_ms >= held.issued_at_ms:
                    mine[issue.quantity] = issue
        emissions = dead.store(tx.session)
        if not newest:
            return emissions
        profiles = {
            site: p
            for site, p in site_profiles(tx.session, list(newest)).items()
            if p.storage is not None
        }
        if not profiles:
            return emissions
        markets = {m for p in profiles.values() if p.tariff and (m := p.tariff.price_site)}
        stored = newest_issues(tx.session, [*profiles, *markets], DISPATCH_QUANTITIES)
        for site, profile in profiles.items():
            emission = self._plan(tx, profile, newest[site], stored)
            if emission is not None:
                emissions.append(emission)
        return emissions

    def _plan(
        self,
        tx: BatchTransaction,
        profile: SiteProfile,
        batch: dict[str, ForecastIssue],
        stored: dict[tuple[str, str], ForecastIssue],
    ) -> Emission | None:
        """Plan one site from its newest forecasts (this batch's, else the stored ones).

        None when no problem can be made of them (counted as ``unplannable``).
        """
        site = profile.site_id
        issues = {q: stored[(site, q)] for q in DISPATCH_QUANTITIES if (site, q) in stored}
        for quantity, issue in batch.items():
            held = issues.get(quantity)
            if held is None or issue.issued_at_ms >= held.issued_at_ms:
                issues[quantity] = issue
        trigger = max(batch.values(), key=lambda i: (i.issued_at_ms, i.quantity))
        targets = trigger.targets_ms
        start_ms, steps = targets[0], len(targets)
        step_ms = targets[1] - targets[0] if steps > 1 else self._step_ms
        price_site = profile.tariff.price_site if profile.tariff else None
        market = stored.get((price_site, "price")) if price_site else None
        soc = planned_soc(tx.session, [site], ms_to_datetime(start_ms)).get(site)
        try:
            problem, notes = plan_problem(profile, issues, start_ms, step_ms, steps, soc, market)
        except ValueError as exc:
            _log.warning("no dispatch problem for %s: %s", site, exc)
            tx.counts[(SCHEDULES, "unplannable")] += 1
            return None
        table = None
        if profile.policy == "qlearning":
            table = self._tables.for_site(tx.session, price_site or site)
        try:
            plan = decide(profile.policy, problem, self._time_limit_s, self._mip_gap, table)
        except Exception as exc:  # a solver failure must never stop the stage
            _log.warning("dispatch of %s failed: %r", site, exc)
            plan = idle_schedule(problem, f"solver failed: {exc!r}"[:500])
        if notes:
            reason = "; ".join(filter(None, [plan.reason, *notes]))
            plan = Schedule(**{**plan.__dict__, "reason": reason})
        tx.counts[(SCHEDULES, "plans")] += 1
        tx.counts[(SCHEDULES, plan.status)] += 1
        tx.counts[(SCHEDULES, "rows")] += add_schedule(
            tx.session, site, trigger.issued_at_ms, step_ms, problem, plan, profile.policy
        )
        message = schedule_message(
            site, trigger.issued_at_ms, step_ms, problem, plan, profile.policy
        )
        return Emission(SCHEDULES, site.encode(), encode(message))
