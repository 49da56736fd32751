"""Bounded per-site memory: the unknown-site policy on a real worker, idle-site eviction.

Own broker and database (a module fixture): the session's shared ``worker`` would take
these readings under the default policy.
"""

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from gridbrain.processors.sites import SiteProfile
from gridbrain.settings import Settings
from gridbrain.storage.queries import stage_counts
from gridbrain.storage.sites import upsert_sites
from gridbrain.storage.transaction import InputPosition
from gridbrain.streams.cleaning import CleaningStage
from gridbrain.streams.envelope import Emission, RawMessage
from gridbrain.streams.forecasting import ForecastingStage
from gridbrain.streams.producer import produce
from gridbrain.streams.topics import DEADLETTER, FORECASTS, FUSED, SENSOR_READINGS
from tests.integration.conftest import Services, running_services, running_worker, wait_for
from tests.integration.conftest import apply_batch as apply

pytestmark = pytest.mark.integration

STEP = 900_000
BASE = (int(time.time() * 1000) - 4 * 3_600_000) // STEP * STEP
REGISTERED = "sp-registered"


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with running_services(tmp_path_factory.mktemp("site-policy")) as running:
        with running.sessions.begin() as session:
            upsert_sites(session, [SiteProfile(site_id=REGISTERED, kind="feeder")])
        yield running


def message(site: str, start: int, n: int = 4) -> tuple[str, bytes, bytes]:
    """``n`` load readings of a site, 5 minutes apart from ``start``, keyed by the site."""
    rows = [
        {"site_id": site, "sensor_id": "m", "quantity": "load", "value": 10.0 + i,
         "unit": "kW", "ts": start + i * 300_000}
        for i in range(n)
    ]  # fmt: skip
    return SENSOR_READINGS, site.encode(), json.dumps(rows).encode()


def counts(services: Services, stage: str, topic: str) -> dict[str, int]:
    with services.sessions() as session:
        return stage_counts(session).get((stage, topic), {})


def query(services: Services, sql: str, **params: Any) -> list[Any]:
    with services.sessions() as session:
        return list(session.execute(text(sql), params).all())


def stored_samples(services: Services, site: str) -> int:
    rows = query(services, "SELECT sum(n_samples) FROM readings WHERE site_id = :s", s=site)
    return int(rows[0][0] or 0)


def unknown_site_letters(services: Services, site: str) -> list[str]:
    return [
        r.detail
        for r in query(
            services,
            "SELECT detail FROM dead_letters WHERE reason = 'unknown_site' AND payload LIKE :p",
            p=f'%"{site}"%',
        )
    ]


def unknown_count(services: Services) -> int:
    rows = query(
        services,
        "SELECT sum(value) FROM quality_counts WHERE site_id = '(unknown)' "
        "AND \"check\" = 'unknown_site'",
    )
    return int(rows[0][0] or 0)


def balanced(c: dict[str, int]) -> bool:
    return c.get("processed", 0) + c.get("duplicates", 0) + c.get("deadlettered", 0) == c.get(
        "received", 0
    )


def random_sites(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{uuid.uuid4().hex[:12]}" for _ in range(n)]


def test_registered_policy_takes_registered_sites_only(services: Services) -> None:
    strangers = random_sites("sp-x-", 5)
    before = counts(services, "clean", SENSOR_READINGS)
    unknown_before = unknown_count(services)
    env = {"GRIDBRAIN_SITE_POLICY": "registered"}
    with running_worker(services, ("clean", "alert"), env) as worker:
        produce(
            services.bootstrap, [message(REGISTERED, BASE)] + [message(s, BASE) for s in strangers]
        )
        total = before.get("received", 0) + 4 * 6
        wait_for(
            lambda: counts(services, "clean", SENSOR_READINGS).get("received", 0) >= total,
            180,
            "the readings",
        )
        # The alert stage reads the dead letters too, and must keep nothing of the strangers.
        wait_for(
            lambda: counts(services, "alert", DEADLETTER).get("received", 0) >= 20,
            120,
            "the alert stage to read the dead letters",
        )
        assert worker.poll() is None
    after = counts(services, "clean", SENSOR_READINGS)
    assert after["received"] - before.get("received", 0) == 24
    assert after["deadlettered"] - before.get("deadlettered", 0) == 20
    assert after["processed"] - before.get("processed", 0) == 4
    assert balanced(after)
    assert stored_samples(services, REGISTERED) == 4
    for site in strangers:
        details = unknown_site_letters(services, site)
        assert len(details) == 4
        assert "is not registered and the site policy is 'registered'" in details[0]
        assert stored_samples(services, site) == 0
    # Nothing is kept per stranger: no site row, no saved state, no per-site counts.
    params = {"ids": strangers}
    for table in ("sites", "site_state", "quality_counts"):
        rows = query(services, f"SELECT site_id FROM {table} WHERE site_id = ANY(:ids)", **params)
        assert rows == [], table
    assert unknown_count(services) - unknown_before == 20


def test_auto_policy_takes_new_sites_at_the_configured_rate(services: Services) -> None:
    newcomers = random_sites("sp-n-", 6)
    before = counts(services, "clean", SENSOR_READINGS)
    registered_before = stored_samples(services, REGISTERED)
    start = BASE + 3_600_000
    env = {"GRIDBRAIN_SITE_POLICY": "auto", "GRIDBRAIN_NEW_SITES_PER_HOUR": "3"}
    with running_worker(services, ("clean",), env) as worker:
        produce(services.bootstrap, [message(s, start) for s in [REGISTERED, *newcomers]])
        total = before.get("received", 0) + 4 * 7
        wait_for(
            lambda: counts(services, "clean", SENSOR_READINGS).get("received", 0) >= total,
            180,
            "the readings",
        )
        assert worker.poll() is None
    after = counts(services, "clean", SENSOR_READINGS)
    assert after["deadlettered"] - before.get("deadlettered", 0) == 12
    assert balanced(after)
    # A registered site spends no token.
    assert stored_samples(services, REGISTERED) - registered_before == 4
    taken = [s for s in newcomers if stored_samples(services, s) == 4]
    refused = [s for s in newcomers if len(unknown_site_letters(services, s)) == 4]
    assert len(taken) == 3 and len(refused) == 3 and not set(taken) & set(refused)
    assert "limit of 3 new sites per hour" in unknown_site_letters(services, refused[0])[0]
    registered = query(
        services, "SELECT site_id FROM sites WHERE site_id = ANY(:ids)", ids=newcomers
    )
    assert sorted(r.site_id for r in registered) == sorted(taken)


# --- Idle sites leave memory and come back exactly (in process, with a fake clock) ---

T0 = 1_700_000_100_000  # on a 15-minute boundary


def stream(site: str, partition: int, minutes: range) -> list[RawMessage]:
    """1-minute load readings over ``minutes`` after T0, 5 per message."""
    bodies = [
        [
            {"site_id": site, "quantity": "load", "value": float(m % 7), "unit": "kW",
             "ts": T0 + m * 60_000}
            for m in range(start, start + 5)
        ]
        for start in minutes[::5]
    ]  # fmt: skip
    return [
        RawMessage(InputPosition(SENSOR_READINGS, partition, minutes.start + i), site.encode(),
                   json.dumps(b).encode())
        for i, b in enumerate(bodies)
    ]  # fmt: skip


def fused(emitted: list[Emission], partition: int, offset: int) -> list[RawMessage]:
    return [
        RawMessage(InputPosition(FUSED, partition, offset + i), e.key, e.value)
        for i, e in enumerate(e for e in emitted if e.topic == FUSED)
    ]


def outcome(services: Services, site: str, emitted: list[Emission]) -> tuple[object, ...]:
    rows = query(
        services,
        "SELECT ts, value, n_samples, quality FROM readings WHERE site_id = :s ORDER BY ts",
        s=site,
    )
    steps = [
        {k: v for k, v in step.items() if k not in ("site_id", "station_id")}
        for e in emitted
        if e.topic == FUSED
        for step in json.loads(e.value)
    ]
    return [tuple(r) for r in rows], steps


def forecasts(emitted: list[Emission]) -> list[tuple[str, list[float]]]:
    out = []
    for e in emitted:
        if e.topic == FORECASTS:
            data = json.loads(e.value)
            out.append((data["issued_at"], [h["p50"] for h in data["horizons"]]))
    return out


def test_idle_site_is_evicted_and_resumes_exactly(services: Services) -> None:
    """Evicted with open steps mid-stream: same rows, fused steps and forecasts as never."""
    settings = Settings(site_idle_evict_minutes=10)
    now = [0.0]

    def clock() -> float:
        return now[0]

    clean_once = CleaningStage(settings)
    forecast_once = ForecastingStage(settings)
    once = apply(
        services, "sp-clean", clean_once.handle_readings, stream("sp-once", 401, range(180))
    )
    once_fc = apply(services, "sp-forecast", forecast_once.handle, fused(once, 401, 0))

    clean = CleaningStage(settings, clock=clock)
    forecast = ForecastingStage(settings, clock=clock)
    first = apply(services, "sp-clean", clean.handle_readings, stream("sp-split", 402, range(95)))
    first_fc = apply(services, "sp-forecast", forecast.handle, fused(first, 402, 0))
    assert clean.sites_in_memory == 1
    # Eleven minutes later another site's batch sweeps the idle one out of both stages.
    now[0] = 660.0
    other = apply(services, "sp-clean", clean.handle_readings, stream("sp-other", 403, range(40)))
    assert clean.sites_in_memory == 1 and clean._resampler.sites() == 1
    assert clean._checker.sites() == 1
    apply(services, "sp-forecast", forecast.handle, fused(other, 403, 0))
    assert forecast._history.sites() == 1 and "sp-split" not in forecast._warm
    # The site comes back: its state is reloaded from Postgres.
    rest = apply(
        services, "sp-clean", clean.handle_readings, stream("sp-split", 402, range(95, 180))
    )
    assert clean.sites_in_memory == 2
    rest_fc = apply(services, "sp-forecast", forecast.handle, fused(rest, 402, 100))

    assert outcome(services, "sp-split", first + rest) == outcome(services, "sp-once", once)
    assert len(outcome(services, "sp-once", once)[1]) == 11  # 12 steps, the last still open
    split_fc = forecasts(first_fc + rest_fc)
    once_fc_values = forecasts(once_fc)
    assert [t for t, _ in split_fc] == [t for t, _ in once_fc_values] and len(split_fc) == 2
    for (_, a), (_, b) in zip(split_fc, once_fc_values, strict=True):
        assert np.allclose(a, b)


def test_sites_are_not_evicted_before_the_idle_limit(services: Services) -> None:
    settings = Settings(site_idle_evict_minutes=10)
    now = [0.0]
    clean = CleaningStage(settings, clock=lambda: now[0])
    apply(services, "sp-clean", clean.handle_readings, stream("sp-stay-a", 404, range(10)))
    now[0] = 300.0
    apply(services, "sp-clean", clean.handle_readings, stream("sp-stay-b", 405, range(10)))
    now[0] = 630.0  # a: 630 s idle (over), b: 330 s (under)
    apply(services, "sp-clean", clean.handle_readings, stream("sp-stay-b", 405, range(10, 20)))
    assert clean.sites_in_memory == 1
    now[0] = 650.0  # a comes back: reloaded
    apply(services, "sp-clean", clean.handle_readings, stream("sp-stay-a", 404, range(10, 20)))
    assert clean.sites_in_memory == 2
