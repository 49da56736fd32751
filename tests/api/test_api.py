"""Every endpoint against the database contents, through a real uvicorn server and PostgreSQL."""

import csv
import io
from datetime import UTC, datetime

import httpx
import numpy as np
import pytest

from tests.api.conftest import STEP, T0, Seeded
from tests.integration.conftest import Services

pytestmark = pytest.mark.integration


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def get(url: str, path: str, **params: object) -> httpx.Response:
    return httpx.get(url + path, params=params, timeout=10)


def test_health_docs_and_openapi(api_url: str) -> None:
    health = get(api_url, "/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["database"] == "ok"
    spec = get(api_url, "/openapi.json").json()
    for path in ("/health", "/forecasts/latest", "/forecasts/as-of", "/forecasts/accuracy",
                 "/readings", "/alerts", "/alerts/{alert_id}/history", "/silences",
                 "/silences/{silence_id}", "/quality", "/status", "/schedules/latest", "/sites",
                 "/series", "/ready"):  # fmt: skip
        assert path in spec["paths"], path
    assert get(api_url, "/docs").status_code == 200


def test_latest_forecast_is_the_newest_issue_of_each_model(api_url: str, seeded: Seeded) -> None:
    rows = get(api_url, "/forecasts/latest", site=seeded.site, quantity=seeded.quantity).json()
    newest = max(f.issued_at_ms for f in seeded.issues)
    expected = [
        (iso(int(t)), float(lo), float(mid), float(hi), f.model)
        for f in seeded.issues
        if f.issued_at_ms == newest
        for t, lo, mid, hi in zip(f.target_ts_ms, f.p10, f.p50, f.p90, strict=True)
    ]
    got = [(r["target_ts"], r["p10"], r["p50"], r["p90"], r["model"]) for r in rows]
    assert got == sorted(expected)
    assert all(r["issued_at"] == iso(newest) for r in rows)
    # A series named only by its site, and the unknown series: empty, not an error.
    assert len(get(api_url, "/forecasts/latest", site=seeded.site).json()) == len(rows)
    assert get(api_url, "/forecasts/latest", site="nowhere", quantity="load").json() == []
    # Paging: a full page links to the next.
    page = get(api_url, "/forecasts/latest", site=seeded.site, limit=3)
    assert len(page.json()) == 3 and 'rel="next"' in page.headers["link"]
    assert "offset=3" in page.headers["link"]


def test_forecast_as_issued_at_a_time(api_url: str, seeded: Seeded) -> None:
    between = iso(T0 + 2 * STEP)
    rows = get(api_url, "/forecasts/as-of", site=seeded.site, quantity=seeded.quantity,
               at=between).json()  # fmt: skip
    assert {r["issued_at"] for r in rows} == {iso(T0)}
    assert {r["model"] for r in rows} == {"arx", "naive"}
    assert len(rows) == 16
    before = get(api_url, "/forecasts/as-of", site=seeded.site, quantity=seeded.quantity,
                 at=iso(T0 - 1))  # fmt: skip
    assert before.json() == []
    naive = get(api_url, "/forecasts/as-of", site=seeded.site, quantity=seeded.quantity,
                at="2099-01-01T00:30:00")  # fmt: skip
    assert naive.status_code == 422 and "time zone" in naive.json()["detail"]


def test_accuracy_per_horizon_matches_a_python_computation(api_url: str, seeded: Seeded) -> None:
    actual = {t: v for t, v, _ in seeded.readings if v is not None}
    expected: dict[tuple[str, int], list[tuple[float, float, float, float]]] = {}
    for f in seeded.issues:
        for h, t in enumerate(f.target_ts_ms, start=1):
            if int(t) in actual:
                expected.setdefault((f.model, h), []).append(
                    (actual[int(t)], float(f.p10[h - 1]), float(f.p50[h - 1]), float(f.p90[h - 1]))
                )
    rows = get(api_url, "/forecasts/accuracy", site=seeded.site, quantity=seeded.quantity,
               start=iso(T0), end=iso(T0 + 86_400_000)).json()  # fmt: skip
    assert {(r["model"], r["horizon"]) for r in rows} == set(expected)

    def pinball(y: float, q: float, level: float) -> float:
        return max(level * (y - q), (level - 1) * (y - q))

    for r in rows:
        pairs = expected[(r["model"], r["horizon"])]
        y, lo, mid, hi = (np.array(c) for c in zip(*pairs, strict=True))
        assert r["n"] == len(pairs)
        assert r["mae"] == pytest.approx(float(np.mean(np.abs(y - mid))))
        loss = [
            (pinball(a, b, 0.1) + pinball(a, c, 0.5) + pinball(a, d, 0.9)) / 3
            for a, b, c, d in pairs
        ]
        assert r["pinball"] == pytest.approx(float(np.mean(loss)))
        assert r["coverage"] == pytest.approx(float(np.mean((y >= lo) & (y <= hi))))
        assert r["horizon_h"] == pytest.approx(r["horizon"] * STEP / 3_600_000)


def test_readings_in_a_range_as_json_csv_and_another_zone(api_url: str, seeded: Seeded) -> None:
    params = {"site": seeded.site, "quantity": seeded.quantity, "start": iso(T0),
              "end": iso(T0 + 5 * STEP)}  # fmt: skip
    rows = get(api_url, "/readings", **params).json()
    assert [(r["ts"], r["value"], r["quality"]) for r in rows] == [
        (iso(t), v, q) for t, v, q in seeded.readings if t < T0 + 5 * STEP
    ]
    flagged = [r for r in rows if r["quality"] == "flagged"]
    assert flagged and flagged[0]["value"] is None and flagged[0]["n_flagged"] == 3
    text_rows = list(csv.DictReader(io.StringIO(get(api_url, "/readings", **params,
                                                    format="csv").text)))  # fmt: skip
    assert [r["ts"] for r in text_rows] == [r["ts"] for r in rows]
    madrid = get(api_url, "/readings", **params, tz="Europe/Madrid").json()
    assert madrid[0]["ts"].endswith("+01:00")
    assert datetime.fromisoformat(madrid[0]["ts"]) == datetime.fromisoformat(rows[0]["ts"])
    assert get(api_url, "/readings", **params, tz="Mars/Olympus").status_code == 422
    assert get(api_url, "/readings", site=seeded.site, quantity="x").status_code == 422


def test_alerts_history_and_silences(api_url: str, seeded: Seeded) -> None:
    firing = get(api_url, "/alerts", state="firing", site=seeded.site).json()
    assert [(a["id"], a["rule"], a["state"]) for a in firing] == [
        (seeded.alert_id, "pv_low", "firing")
    ]
    history = get(api_url, f"/alerts/{seeded.alert_id}/history").json()
    assert [(h["state"], h["reason"]) for h in history] == [
        ("pending", "breach"),
        ("firing", "for_elapsed"),
    ]
    assert get(api_url, "/alerts/999999999/history").status_code == 404
    assert get(api_url, "/alerts", state="exploded").status_code == 422

    made = httpx.post(api_url + "/silences", json={
        "matchers": [f"site_id={seeded.site}"], "duration": "1h", "comment": "maintenance",
        "created_by": "test"}, timeout=10)  # fmt: skip
    assert made.status_code == 201, made.text
    silence_id = made.json()["id"]
    listed = {s["id"]: s for s in get(api_url, "/silences").json()}
    assert listed[silence_id]["status"] == "active"
    assert listed[silence_id]["matchers"] == f"site_id={seeded.site}"
    assert httpx.delete(f"{api_url}/silences/{silence_id}", timeout=10).status_code == 200
    assert silence_id not in {s["id"] for s in get(api_url, "/silences").json()}
    expired = {s["id"]: s for s in get(api_url, "/silences", all="true").json()}
    assert expired[silence_id]["status"] == "expired"
    assert httpx.delete(f"{api_url}/silences/{silence_id}", timeout=10).status_code == 404
    for bad in ({"matchers": []}, {"matchers": ["no operator"]}, {"matchers": ["a=b"],
                "duration": "forever"}, {"matchers": ["a=b"], "duration": "0s"},
                {"matchers": ["a=b"], "duration": "99999999999d"}):  # fmt: skip
        answer = httpx.post(api_url + "/silences", json=bad, timeout=10)
        assert answer.status_code == 422, (bad, answer.text)


def test_sites_series_quality_status_and_schedules(
    api_url: str, seeded: Seeded, services: Services
) -> None:
    sites = {s["site_id"]: s for s in get(api_url, "/sites").json()}
    assert sites[seeded.site]["capacity_kw"] == 50 and sites[seeded.site]["kind"] == "pv"
    series = {(s["site_id"], s["quantity"]): s for s in get(api_url, "/series").json()}
    assert series[(seeded.site, seeded.quantity)]["newest_forecast"] == iso(T0 + 4 * STEP)
    assert isinstance(get(api_url, "/quality").json(), list)
    status = get(api_url, "/status").json()
    assert set(status) == {"stages", "workers"}
    assert get(api_url, "/schedules/latest", site=seeded.site).json() == []
    ready = get(api_url, "/ready")  # no broker configured for this server
    assert ready.status_code in (200, 503) and "lag" in ready.json()
