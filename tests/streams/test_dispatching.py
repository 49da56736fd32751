"""The dispatch stage in process against the real PostgreSQL: plans, fallbacks, replays."""

import json

import numpy as np
import pytest
from sqlalchemy import text

from gridbrain.processors.dispatch.assets import StorageAsset, Tariff
from gridbrain.processors.dispatch.qlearning import POLICY_QUANTITY, QPolicy
from gridbrain.processors.sites import SiteProfile
from gridbrain.settings import Settings
from gridbrain.storage.registry import promote, register_model
from gridbrain.storage.sites import upsert_sites
from gridbrain.storage.transaction import InputPosition
from gridbrain.streams.dispatching import DispatchingStage
from gridbrain.streams.envelope import RawMessage
from gridbrain.streams.topics import FORECASTS, SCHEDULES
from tests.integration.conftest import Services, apply_batch

pytestmark = pytest.mark.integration

T0 = 4_102_444_800_000  # 2100-01-01, after any other test's rows
HOUR = 3_600_000
STEP = 900_000
BASE = 3 * 10**12  # offsets past any other test's
ASSET = StorageAsset(capacity_kwh=10, charge_kw=5, discharge_kw=5, soc_min=0.1, soc_max=0.9)


def forecast(site: str, quantity: str, issued_ms: int, p50: list[float | None]) -> bytes:
    def iso(ms: int) -> str:
        return np.datetime_as_string(np.datetime64(ms, "ms"), unit="ms") + "+00:00"

    horizons = [
        {"target_ts": iso(issued_ms + (i + 1) * STEP), "p10": v, "p50": v, "p90": v}
        for i, v in enumerate(p50)
    ]
    message = {
        "site_id": site,
        "quantity": quantity,
        "issued_at": iso(issued_ms),
        "model": "test",
        "model_version": "1",
        "completeness": 1.0,
        "fallback": None,
        "horizons": horizons,
    }
    return json.dumps(message).encode()


def messages(first: int, *values: bytes) -> list[RawMessage]:
    return [
        RawMessage(InputPosition(FORECASTS, 0, first + i), b"k", v) for i, v in enumerate(values)
    ]


def plans(services: Services, site: str) -> list[dict[str, object]]:
    with services.sessions() as session:
        rows = session.execute(
            text(
                "SELECT issued_at, ts, charge_kw, discharge_kw, soc, grid_import_kw, "
                "grid_export_kw, price, status, reason FROM schedules WHERE site_id = :s "
                "ORDER BY issued_at, ts"
            ),
            {"s": site},
        ).mappings()
        return [dict(r) for r in rows]


def register(services: Services, *profiles: SiteProfile) -> None:
    with services.sessions.begin() as session:
        upsert_sites(session, profiles)


def test_price_forecast_plans_charge_cheap_discharge_dear_once(services: Services) -> None:
    site = "dispatch-market"
    register(services, SiteProfile(site_id=site, storage=ASSET))
    prices = [20.0] * 8 + [200.0] * 8  # EUR/MWh: cheap first two hours, dear after
    batch = messages(BASE, forecast(site, "price", T0, prices), b"\xff not json")
    emitted = apply_batch(services, "dispatch", DispatchingStage(Settings()).handle, batch)
    rows = plans(services, site)
    assert len(rows) == 16 and {r["status"] for r in rows} == {"optimal"}
    charge = np.array([r["charge_kw"] for r in rows])
    discharge = np.array([r["discharge_kw"] for r in rows])
    assert charge[:8].sum() > 0 and charge[8:].sum() == pytest.approx(0, abs=1e-6)
    assert discharge[8:].sum() > 0 and discharge[:8].sum() == pytest.approx(0, abs=1e-6)
    assert rows[-1]["soc"] == pytest.approx(ASSET.soc_target)
    assert rows[0]["price"] == pytest.approx(0.02)  # EUR/kWh
    topics = [e.topic for e in emitted]
    assert topics.count(SCHEDULES) == 1 and "deadletter" in topics
    # Redelivered: the applied offsets skip it; nothing is added.
    apply_batch(services, "dispatch", DispatchingStage(Settings()).handle, batch)
    assert len(plans(services, site)) == 16


def test_newer_forecast_replans_from_the_planned_soc(services: Services) -> None:
    site = "dispatch-mpc"
    register(services, SiteProfile(site_id=site, storage=ASSET))
    stage = DispatchingStage(Settings())
    first = [20.0] * 4 + [100.0] * 12
    apply_batch(
        services, "dispatch", stage.handle, messages(BASE + 10, forecast(site, "price", T0, first))
    )
    # Second issue an hour later: its first target's start SOC is the first plan's SOC.
    later = forecast(site, "price", T0 + HOUR, [100.0] * 16)
    apply_batch(services, "dispatch", stage.handle, messages(BASE + 11, later))
    rows = plans(services, site)
    old = [r for r in rows if r["issued_at"] == rows[0]["issued_at"]]
    new = [r for r in rows if r["issued_at"] != rows[0]["issued_at"]]
    assert len(old) == len(new) == 16
    planned = next(r["soc"] for r in old if r["ts"] == new[0]["ts"] - (new[1]["ts"] - new[0]["ts"]))
    assert planned > ASSET.soc_target  # charged in the cheap first hour
    first_step = (
        (
            ASSET.charge_efficiency * new[0]["charge_kw"]
            - new[0]["discharge_kw"] / ASSET.discharge_efficiency
        )
        * 0.25
        / ASSET.capacity_kwh
    )
    assert new[0]["soc"] - first_step == pytest.approx(planned)
    assert new[-1]["soc"] == pytest.approx(ASSET.soc_target)


def test_household_load_pv_and_market_price_site(services: Services) -> None:
    site, market = "dispatch-home", "dispatch-mkt"
    tariff = Tariff(price_site=market, import_adder=0.15, export_adder=-0.01)
    register(
        services,
        SiteProfile(site_id=market, kind="market"),
        SiteProfile(site_id=site, storage=ASSET, tariff=tariff),
    )
    with services.sessions.begin() as session:
        session.execute(
            text(
                "INSERT INTO forecast_issues (site_id, quantity, issued_at, model, "
                "model_version, first_target, step_ms, p10, p50, p90) VALUES (:s, 'price', "
                "to_timestamp(:i / 1000.0), 'm', '1', to_timestamp(:f / 1000.0), :step, :p, :p, :p)"
            ),
            {"s": market, "i": T0, "f": T0 + STEP, "step": STEP, "p": [50.0] * 16},
        )
    load = forecast(site, "load", T0, [2.0] * 16)
    pv = forecast(site, "pv_power", T0, [4.0] * 8 + [0.0] * 8)
    apply_batch(
        services, "dispatch", DispatchingStage(Settings()).handle, messages(BASE + 20, load, pv)
    )
    rows = plans(services, site)
    assert len(rows) == 16 and rows[0]["price"] == pytest.approx(0.05 + 0.15)
    # Exports earn 0.04 EUR/kWh, imports cost 0.20: the surplus PV is stored for the evening.
    assert sum(r["charge_kw"] for r in rows[:8]) > 0
    assert sum(r["grid_import_kw"] for r in rows[8:]) < 2.0 * 8


def test_infeasible_site_gets_the_idle_plan_and_the_reason(services: Services) -> None:
    site = "dispatch-stuck"
    tight = ASSET.model_copy(update={"grid_import_kw": 1.0, "soc_min": 0.0, "soc_target": 0.0})
    stuck = SiteProfile(site_id=site, kind="pv", storage=tight)
    register(services, stuck, SiteProfile(site_id="no-battery"))
    load = forecast(site, "load", T0, [30.0] * 16)
    other = forecast("no-battery", "load", T0, [1.0] * 16)
    stage = DispatchingStage(Settings())
    apply_batch(services, "dispatch", stage.handle, messages(BASE + 30, load, other))
    rows = plans(services, site)
    assert {r["status"] for r in rows} == {"fallback"}
    assert "infeasible" in str(rows[0]["reason"]).lower() and "price" not in str(rows[0]["reason"])
    assert all(r["charge_kw"] == r["discharge_kw"] == 0 for r in rows)
    assert "no pv_power forecast" in str(rows[0]["reason"])
    assert plans(services, "no-battery") == []


def test_each_site_is_planned_by_its_policy(services: Services) -> None:
    ga_site, q_site = "dispatch-ga", "dispatch-q"
    register(
        services,
        SiteProfile(site_id=ga_site, storage=ASSET, policy="ga"),
        SiteProfile(site_id=q_site, storage=ASSET, policy="qlearning"),
    )
    prices = [20.0] * 8 + [200.0] * 8
    batch = messages(
        BASE + 40, forecast(ga_site, "price", T0, prices), forecast(q_site, "price", T0, prices)
    )
    apply_batch(services, "dispatch", DispatchingStage(Settings()).handle, batch)
    ga = plans(services, ga_site)
    assert len(ga) == 16 and {r["status"] for r in ga} == {"ga"}
    assert sum(r["charge_kw"] for r in ga[:8]) > 0 and sum(r["discharge_kw"] for r in ga[8:]) > 0
    assert ga[-1]["soc"] == pytest.approx(ASSET.soc_target)
    waiting = plans(services, q_site)
    assert {r["status"] for r in waiting} == {"optimal"}
    assert "no promoted qlearning table" in str(waiting[0]["reason"])

    # A table learnt for this battery and step, promoted for the site, is used from then on.
    table = QPolicy(ASSET, step_h=0.25)
    day = np.array(prices)
    table.learn([(day, day)] * 3, epochs=5)
    with services.sessions.begin() as session:
        version = register_model(
            session, "q-test", POLICY_QUANTITY, "qlearning", [q_site], {}, table.to_bytes()
        )
        promote(session, version.id)
    later = messages(BASE + 42, forecast(q_site, "price", T0 + HOUR, prices))
    apply_batch(services, "dispatch", DispatchingStage(Settings()).handle, later)
    learnt = [r for r in plans(services, q_site) if r["status"] == "qlearning"]
    assert len(learnt) == 16 and learnt[-1]["soc"] == pytest.approx(ASSET.soc_target)
    with services.sessions() as session:
        recorded = session.execute(
            text(
                "SELECT DISTINCT site_id, policy, solve_s > 0 FROM schedules "
                "WHERE site_id IN (:a, :b) ORDER BY 1"
            ),
            {"a": ga_site, "b": q_site},
        ).all()
    assert [tuple(r) for r in recorded] == [(ga_site, "ga", True), (q_site, "qlearning", True)]


def test_a_corrupt_promoted_table_is_skipped_and_the_lp_plans(services: Services) -> None:
    site = "dispatch-q-corrupt"
    register(services, SiteProfile(site_id=site, storage=ASSET, policy="qlearning"))
    with services.sessions.begin() as session:
        version = register_model(
            session, "q-corrupt", POLICY_QUANTITY, "qlearning", [site], {}, b"\x00\xff junk"
        )
        promote(session, version.id)
    batch = messages(BASE + 50, forecast(site, "price", T0, [20.0] * 8 + [200.0] * 8))
    apply_batch(services, "dispatch", DispatchingStage(Settings()).handle, batch)
    rows = plans(services, site)
    assert len(rows) == 16 and {r["status"] for r in rows} == {"optimal"}
    assert "no promoted qlearning table" in str(rows[0]["reason"])


def test_an_unknown_policy_is_refused_with_the_profile() -> None:
    with pytest.raises(ValueError, match="policy"):
        SiteProfile.model_validate({"site_id": "x", "storage": ASSET, "policy": "magic\x00"})
