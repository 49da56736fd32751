"""Tokens, the API's database role, hostile parameters, body size and rate limits."""

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gridbrain.api.access import Access
from gridbrain.api.database import ApiDatabase
from gridbrain.api.server import bind_host
from gridbrain.settings import Settings
from tests.api.conftest import Seeded, running_api
from tests.integration.conftest import Services

pytestmark = pytest.mark.integration

READ, WRITE = "read-Zq8#token", "write-Xy7!token"
SILENCE = {"matchers": ["site_id=nowhere"], "duration": "5m"}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_tokens_read_write_and_health(services: Services, seeded: Seeded) -> None:
    with running_api(services, read=READ, write=WRITE) as url:
        for headers in (
            {},
            auth("wrong"),
            {"Authorization": READ},
            auth(READ + "x"),
            auth(READ[:-1]),
        ):
            answer = httpx.get(url + "/alerts", headers=headers, timeout=10)
            assert answer.status_code == 401, headers
            assert answer.headers["www-authenticate"] == "Bearer"
            assert READ not in answer.text and WRITE not in answer.text
        assert httpx.get(url + "/health", timeout=10).status_code == 200
        assert httpx.get(url + "/", timeout=10).status_code == 200  # the page asks for a token
        assert httpx.get(url + "/alerts", headers=auth(READ), timeout=10).status_code == 200
        assert httpx.get(url + "/alerts", headers=auth(WRITE), timeout=10).status_code == 200
        refused = httpx.post(url + "/silences", json=SILENCE, headers=auth(READ), timeout=10)
        assert refused.status_code == 403
        assert httpx.delete(url + "/silences/1", headers=auth(READ), timeout=10).status_code == 403
        made = httpx.post(url + "/silences", json=SILENCE, headers=auth(WRITE), timeout=10)
        assert made.status_code == 201
        gone = httpx.delete(f"{url}/silences/{made.json()['id']}", headers=auth(WRITE), timeout=10)
        assert gone.status_code == 200


def test_without_tokens_only_loopback_is_served() -> None:
    host, note = bind_host(Settings(api_host="0.0.0.0"), Access())
    assert host == "127.0.0.1" and note and "127.0.0.1 only" in note
    from pydantic import SecretStr

    tokens = Access(SecretStr(READ), None)
    assert bind_host(Settings(api_host="0.0.0.0"), tokens) == ("0.0.0.0", None)
    assert READ not in repr(tokens) and READ not in repr(Settings(api_read_token=READ))


def test_the_api_role_reads_everything_and_writes_only_silences(services: Services) -> None:
    db = ApiDatabase.connect(services.database_url, 5000, own_login=False)
    try:
        assert db.role, "migration 0010 creates the role on the embedded PostgreSQL"
        with db.read() as session:
            users = session.execute(text("SELECT session_user, current_user")).one()
            assert tuple(users) == ("gridbrain_api", "gridbrain_api")
            session.execute(text("SELECT count(*) FROM forecast_issues")).scalar()
        for statement in (
            "INSERT INTO sites (site_id) VALUES ('api-intruder')",
            "UPDATE forecast_issues SET model = 'x' WHERE false",
            "DELETE FROM readings WHERE false",
            "DROP TABLE silences",
            "CREATE TABLE api_owned (x int)",
            "SET ROLE postgres",
            "SET SESSION AUTHORIZATION postgres",
            "ALTER ROLE gridbrain_api SUPERUSER",
        ):
            with pytest.raises(DBAPIError), db.write() as session:
                session.execute(text(statement))
        with pytest.raises(DBAPIError), db.read() as session:  # read-only transaction
            session.execute(text("DELETE FROM silences WHERE false"))
        with pytest.raises(DBAPIError), db.read() as session:  # statement timeout
            session.execute(text("SET LOCAL statement_timeout = 50; SELECT pg_sleep(2)"))
    finally:
        db.dispose()


HOSTILE = [
    "'; DROP TABLE forecast_issues; --",
    "' OR '1'='1",
    '" OR ""="',
    "1; DELETE FROM sites",
    "pv-north'/*",
    "*/ SELECT pg_sleep(10) --",
    "%",
    "_",
    "\\",
    "$1",
    ":site",
    "\U0001d52d\U0001d533-\U0001f31e",  # astral-plane characters
    "a" * 129,
    "\x00",
    "pv\x1bnorth",
    "%00",
    "..%2F..%2Fetc%2Fpasswd",
]

ENDPOINTS = {
    "/forecasts/latest": ["site", "quantity", "tz", "format", "horizons", "limit", "offset"],
    "/forecasts/as-of": ["site", "quantity", "at", "tz"],
    "/forecasts/accuracy": ["site", "quantity", "start", "end"],
    "/readings": ["site", "quantity", "start", "end", "tz", "limit", "offset"],
    "/alerts": ["site", "rule", "state", "limit", "offset", "tz"],
    "/silences": ["all", "tz"],
    "/quality": ["site", "format"],
    "/schedules/latest": ["site", "tz"],
}
VALID = {"site": "pv-north", "quantity": "pv_power", "at": "2026-12-01T00:00:00Z",
         "start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"}  # fmt: skip


def table_sizes(services: Services) -> dict[str, int]:
    with services.sessions() as session:
        tables = session.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        ).scalars()
        return {
            t: session.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
            for t in tables
            if t not in ("workers", "stage_counts", "quality_counts", "stream_offsets")
        }


def test_sql_metacharacters_in_every_parameter_are_harmless(
    services: Services, seeded: Seeded
) -> None:
    before = table_sizes(services)
    with running_api(services) as url, httpx.Client(base_url=url, timeout=20) as client:
        answers = []
        for path, names in ENDPOINTS.items():
            for name in names:
                for value in HOSTILE:
                    answer = client.get(path, params={**VALID, name: value})
                    answers.append(answer.status_code)
                    assert answer.status_code in (200, 404, 422), (path, name, value, answer.text)
                    if answer.status_code == 200 and answer.headers["content-type"].startswith(
                        "application/json"
                    ):
                        body = answer.json()
                        rows = body if isinstance(body, list) else []
                        assert all(r.get("site_id") in (None, value) for r in rows), (path, name)
        body = {"matchers": [f"site_id={HOSTILE[0]}"], "comment": HOSTILE[1], "created_by": "t"}
        made = client.post("/silences", json=body)
        assert made.status_code == 201
        stored = {s["id"]: s for s in client.get("/silences").json()}[made.json()["id"]]
        assert stored["comment"] == HOSTILE[1]
        assert client.delete(f"/silences/{made.json()['id']}").status_code == 200
        assert client.post("/silences", json={"matchers": ["a=\x00"]}).status_code == 422
        assert client.get("/alerts/1%3B%20DROP%20TABLE%20alerts/history").status_code == 422
    assert 200 in answers and 422 in answers
    after = table_sizes(services)
    assert {t: n for t, n in after.items() if t != "silences"} == {
        t: n for t, n in before.items() if t != "silences"
    }
    assert after["silences"] == before["silences"] + 1


def test_request_body_and_rate_limits(services: Services) -> None:
    with running_api(services, rate_per_s=0.5, burst=3) as url:
        huge = {"matchers": ["a=b"], "comment": "x" * 100_000}
        answer = httpx.post(url + "/silences", json=huge, timeout=10)
        assert answer.status_code == 413
        codes = [httpx.get(url + "/health", timeout=10).status_code for _ in range(4)]
        assert codes[:2] == [200, 200] and codes[-1] == 429
        limited = httpx.get(url + "/health", timeout=10)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


def test_secrets_stay_out_of_the_start_up_error(tmp_path: "object") -> None:
    import os
    import subprocess
    import sys

    from gridbrain.cli.embedded import free_port

    password = "Pa55-w0rd-never-shown"
    env = {
        **os.environ,
        "GRIDBRAIN_STATE_DIR": str(tmp_path),
        "GRIDBRAIN_API_DATABASE_URL": f"postgresql://api:{password}@127.0.0.1:{free_port()}/x",
        "GRIDBRAIN_API_READ_TOKEN": READ,
        "GRIDBRAIN_API_WRITE_TOKEN": WRITE,
    }
    run = subprocess.run(
        [sys.executable, "-m", "gridbrain.cli", "api", "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert "cannot reach postgresql://api:***@127.0.0.1" in run.stderr
    for secret in (password, READ, WRITE):
        assert secret not in run.stdout + run.stderr
