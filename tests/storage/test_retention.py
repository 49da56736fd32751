"""Retention on the real PostgreSQL: exactly the old rows go, in small batches."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridbrain.cli.main import cli
from gridbrain.storage.retention import (
    RetentionResult,
    RetentionRule,
    apply_retention,
    retention_rules,
)
from gridbrain.streams.topics import retention_ms_of, topic_configs
from tests.integration.conftest import Services

# Far in the past: rows this old can only be the ones these tests insert, so the tests
# neither see nor delete other rows (also on an external database named by settings).
NOW = datetime(2001, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)
SITE = "ret-site"
TABLES = ("readings", "forecast_issues", "schedules", "dead_letters", "alert_history", "alerts")
OWN_HISTORY = "dedup_key LIKE 'ret-%'"
KEYS = ("ret", "cli")


def _own(table: str, key: str) -> str:
    """The condition selecting the rows ``_fill(..., key)`` inserts into ``table``."""
    if table in ("readings", "forecast_issues", "forecasts"):
        return f"quantity = '{key}'"
    if table == "schedules":
        return f"policy = '{key}'"
    return f"topic = '{key}'" if table == "dead_letters" else f"dedup_key LIKE '{key}-%'"


def _count(session: Session, table: str, where: str = "true", key: str = "ret") -> int:
    sql = f"SELECT count(*) FROM {table} WHERE {_own(table, key)} AND {where}"
    return int(session.scalar(text(sql)) or 0)


def _counts(services: Services, key: str = "ret") -> dict[str, int]:
    with services.sessions() as session:
        return {t: _count(session, t, key=key) for t in TABLES}


def _refill(services: Services, now: datetime, key: str) -> None:
    """Remove the rows of every test (each test sees every row this old), then fill ``key``."""
    with services.sessions.begin() as session:
        for table in TABLES:
            for each in KEYS:
                session.execute(text(f"DELETE FROM {table} WHERE {_own(table, each)}"))
        _fill(session, now, key)


def _fill(session: Session, now: datetime, key: str = "ret") -> None:
    """Rows either side of 3 (readings), 30 (forecasts, dead letters), 90 days (history)."""
    session.execute(
        text("INSERT INTO sites (site_id, name) VALUES (:s, 'retention') ON CONFLICT DO NOTHING"),
        {"s": SITE},
    )
    # 145 hourly readings over 6 days: the 72 older than 3 days go.
    session.execute(
        text(
            "INSERT INTO readings (site_id, quantity, ts, value, value_sum, n_samples, quality) "
            "VALUES (:s, :q, :ts, 1.0, 1.0, 1, 'ok')"
        ),
        [{"s": SITE, "q": key, "ts": now - timedelta(hours=h)} for h in range(145)],
    )
    # 41 daily runs of 5 hourly horizons, issued 0..40 days ago: 10 runs older than 30 days.
    session.execute(
        text(
            "INSERT INTO forecast_issues (site_id, quantity, issued_at, model, model_version, "
            "first_target, step_ms, p10, p50, p90) VALUES (:s, :q, :i, 'm', '1', :t, 3600000, "
            "'{0,0,0,0,0}', '{1,1,1,1,1}', '{2,2,2,2,2}')"
        ),
        [
            {"s": SITE, "q": key, "i": now - d * DAY, "t": now - d * DAY + DAY / 24}
            for d in range(41)
        ],
    )
    # 41 daily dispatch plans of 2 steps issued 0..40 days ago: 10 plans (20 rows) go.
    session.execute(
        text(
            "INSERT INTO schedules (site_id, issued_at, ts, charge_kw, discharge_kw, soc, "
            "grid_import_kw, grid_export_kw, curtail_kw, load_kw, pv_kw, price, export_price, "
            "policy, objective, status, solve_s) "
            "VALUES (:s, :i, :t, 0, 0, 0.5, 0, 0, 0, 0, 0, 0, 0, :k, 0, 'optimal', 0)"
        ),
        [
            {"s": SITE, "k": key, "i": now - d * DAY, "t": now - d * DAY + h * DAY / 24}
            for d in range(41)
            for h in (1, 2)
        ],
    )
    # 12 dead letters received 5, 10, ... 60 days ago: 6 older than 30 days.
    session.execute(
        text(
            'INSERT INTO dead_letters (topic, partition, "offset", item_index, reason, detail, '
            "payload, received_at) VALUES (:k, 0, :o, 0, 'bad', '', '{}', :r)"
        ),
        [{"k": key, "o": o, "r": now - 5 * (o + 1) * DAY} for o in range(12)],
    )
    # Incidents: closed (started 100 days ago), open (firing since 120 days), recent (closed).
    incidents = [
        (f"{key}-closed", now - 100 * DAY, "resolved"),
        (f"{key}-open", now - 120 * DAY, "firing"),
        (f"{key}-recent", now - 10 * DAY, "resolved"),
    ]
    session.execute(
        text(
            "INSERT INTO alerts (dedup_key, labels, site_id, rule, severity, state, started_at, "
            "peak, message) VALUES (:k, '{}', :s, 'r', 'warning', :state, :st, 0, '')"
        ),
        [{"k": k, "s": SITE, "state": state, "st": st} for k, st, state in incidents],
    )
    # Each incident has a history row at its start and one 1, 2 ... 4 days later.
    session.execute(
        text(
            "INSERT INTO alert_history (dedup_key, started_at, state, reason, at, notified, "
            "message) VALUES (:k, :st, 'pending', :r, :at, false, '')"
        ),
        [
            {"k": k, "st": st, "r": f"r{d}", "at": st + d * DAY}
            for k, st, _ in incidents
            for d in range(5)
        ],
    )


@pytest.fixture
def filled(services: Services) -> Iterator[Services]:
    _refill(services, NOW, "ret")
    yield services


def _rules(readings_days: int = 3) -> list[RetentionRule]:
    return retention_rules(
        readings_days=readings_days, forecasts_days=30, dead_letters_days=30, alert_history_days=90
    )


def _by_table(results: list[RetentionResult]) -> dict[str, int]:
    return {r.table: r.rows for r in results}


@pytest.mark.integration
def test_deletes_exactly_the_old_rows_in_small_batches(filled: Services) -> None:
    before = _counts(filled)
    seen: list[tuple[str, int]] = []
    results = apply_retention(
        filled.sessions, _rules(), 7, now=NOW, progress=lambda t, n: seen.append((t, n))
    )
    # Closed incident: 5 rows, 96..100 days old (all > 90). Open one: none, whatever its age.
    expected = {
        "readings": 72,
        "forecast_issues": 10,
        "schedules": 20,
        "dead_letters": 6,
        "alert_history": 5,
    }
    assert _by_table(results) == expected
    after = _counts(filled)
    assert after == {t: before[t] - expected.get(t, 0) for t in TABLES}
    assert {r.table: r.batches for r in results} == {
        "readings": 72 // 7 + 1,
        "forecast_issues": 10 // 7 + 1,
        "schedules": 20 // 7 + 1,
        "dead_letters": 1,
        "alert_history": 1,
    }
    assert all(n <= 7 for _, n in seen) and sum(n for _, n in seen) == sum(expected.values())
    with filled.sessions() as session:
        assert _count(session, "readings", f"ts < '{(NOW - 3 * DAY).isoformat()}'") == 0
        assert _count(session, "readings", f"ts >= '{(NOW - 3 * DAY).isoformat()}'") == 73
        # Forecast runs went whole: 31 runs of 5 rows are left, the oldest 30 days old.
        runs = session.execute(
            text("SELECT issued_at, count(*) FROM forecasts WHERE quantity = 'ret' GROUP BY 1")
        ).all()
        assert len(runs) == 31 and {n for _, n in runs} == {5}
        assert min(i for i, _ in runs) == NOW - 30 * DAY
        history = session.execute(
            text(f"SELECT dedup_key, count(*) FROM alert_history WHERE {OWN_HISTORY} GROUP BY 1")
        ).all()
        assert dict(history) == {"ret-open": 5, "ret-recent": 5}
        sql = f"SELECT dedup_key, state FROM alerts WHERE {OWN_HISTORY}"
        assert dict(session.execute(text(sql)).all()) == {
            "ret-closed": "resolved",
            "ret-open": "firing",
            "ret-recent": "resolved",
        }
    # A second run finds nothing: one batch per table.
    again = apply_retention(filled.sessions, _rules(), 7, now=NOW)
    assert _by_table(again) == dict.fromkeys(expected, 0)
    assert _counts(filled) == after


@pytest.mark.integration
def test_dry_run_counts_and_deletes_nothing(filled: Services) -> None:
    before = _counts(filled)
    results = apply_retention(filled.sessions, _rules(), 7, now=NOW, dry_run=True)
    assert _by_table(results) == {
        "readings": 72,
        "forecast_issues": 10,
        "schedules": 20,
        "dead_letters": 6,
        "alert_history": 5,
    }
    assert all(r.dry_run and r.batches == 0 for r in results)
    assert _counts(filled) == before


@pytest.mark.integration
def test_zero_days_keeps_forever(filled: Services) -> None:
    rules = retention_rules(
        readings_days=0, forecasts_days=0, dead_letters_days=0, alert_history_days=0
    )
    before = _counts(filled)
    results = apply_retention(filled.sessions, rules, 7, now=NOW + 10_000 * DAY)
    assert all(r.cutoff is None and r.rows == 0 for r in results)
    assert _counts(filled) == before
    # Readings are kept forever by default, the other tables are not.
    mixed = apply_retention(filled.sessions, _rules(readings_days=0), 7, now=NOW)
    assert _by_table(mixed)["readings"] == 0 and _by_table(mixed)["forecast_issues"] == 10
    assert _counts(filled)["readings"] == before["readings"]


@pytest.mark.integration
def test_cli_prints_each_table(services: Services) -> None:
    # The command takes the wall clock: rows filled as of 40 years ago (before NOW), with 40
    # years more on each retention, reach only these rows. The command runs a little later
    # than the fill: 10 minutes of slack keep the rows on the cutoffs.
    forty_years = 14_610
    _refill(services, datetime.now(UTC) + timedelta(minutes=10) - forty_years * DAY, "cli")
    env = {
        "GRIDBRAIN_DATABASE_URL": services.database_url,
        "GRIDBRAIN_RETENTION_READINGS_DAYS": "0",
        "GRIDBRAIN_RETENTION_FORECASTS_DAYS": str(forty_years + 30),
        "GRIDBRAIN_RETENTION_DEAD_LETTERS_DAYS": str(forty_years + 30),
        "GRIDBRAIN_RETENTION_ALERT_HISTORY_DAYS": str(forty_years + 90),
        "GRIDBRAIN_RETENTION_BATCH_ROWS": "7",
    }
    dry = CliRunner(env=env).invoke(cli, ["retention", "--dry-run", "--format", "json"])
    assert dry.exit_code == 0, dry.output
    rows = {r["table"]: r for r in json.loads(dry.stdout)}
    assert {t: r["would_delete"] for t, r in rows.items()} == {
        "readings": 0,
        "forecast_issues": 10,
        "schedules": 20,
        "dead_letters": 6,
        "alert_history": 5,
    }
    assert (
        rows["readings"]["cutoff"] is None and rows["forecast_issues"]["days"] == forty_years + 30
    )
    result = CliRunner(env=env).invoke(cli, ["retention"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["table", "column", "days", "cutoff", "deleted", "seconds"]
    table = {line.split()[0]: line.split() for line in lines[2:]}
    assert table["readings"][3:5] == ["keep", "forever"]
    assert {t: int(table[t][4]) for t in ("forecast_issues", "dead_letters", "alert_history")} == {
        "forecast_issues": 10,
        "dead_letters": 6,
        "alert_history": 5,
    }
    with services.sessions() as session:
        assert _count(session, "forecasts", key="cli") == 155
        assert _count(session, "readings", key="cli") == 145


def test_topic_configs() -> None:
    assert topic_configs(retention_ms_of(0)) == {"retention.ms": "-1", "retention.bytes": "-1"}
    assert topic_configs(retention_ms_of(24))["retention.ms"] == str(24 * 3600 * 1000)
    with pytest.raises(ValueError):
        topic_configs(0)
