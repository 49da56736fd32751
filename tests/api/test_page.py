"""The live page in a real headless Chromium (Debian's package): no console errors, the
demo's series drawn with its forecast fan, incidents and the pipeline line filled in."""

import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from gridbrain.cli.demo import DEMO_SITES
from gridbrain.processors.forecast.forecaster import Forecast
from gridbrain.storage.repositories import add_forecasts
from gridbrain.storage.sites import upsert_sites
from tests.api.conftest import Seeded, running_api
from tests.integration.conftest import Services

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
STEP = 900_000
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def demo_series(services: Services) -> str:
    """pv-north's last 24 h of clean steps and a forecast issued now (the demo's shape)."""
    now = int(time.time() * 1000) // STEP * STEP
    hours = (np.arange(-96, 1) * STEP + now) / 3_600_000 % 24
    actual = np.clip(np.sin((hours - 6) / 12 * np.pi), 0, None) * 40
    targets = now + np.arange(1, 97, dtype=np.int64) * STEP
    future = np.clip(np.sin(((targets / 3_600_000) % 24 - 6) / 12 * np.pi), 0, None) * 40
    with services.sessions.begin() as session:
        upsert_sites(session, [s.profile() for s in DEMO_SITES])
        session.execute(
            text(
                "INSERT INTO readings (site_id, quantity, ts, value, value_sum, n_samples, "
                "quality) VALUES ('pv-north', 'pv_power', :ts, :v, :v, 1, 'ok') "
                "ON CONFLICT DO NOTHING"
            ),
            [
                {"ts": datetime.fromtimestamp((now + i * STEP) / 1000, UTC), "v": float(v)}
                for i, v in zip(range(-96, 1), actual, strict=True)
            ],
        )
        add_forecasts(session, [Forecast("pv-north", "pv_power", now, targets, future * 0.7,
                                         future, future * 1.2 + 1, "arx")])  # fmt: skip
    return "pv-north/pv_power"


@pytest.fixture()
def browser() -> Iterator[object]:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it: apt-get)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


def test_page_shows_the_series_fan_incidents_and_pipeline(
    services: Services, seeded: Seeded, demo_series: str, browser: object, tmp_path: Path
) -> None:
    with running_api(services) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 820})  # type: ignore[attr-defined]
        problems: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{url}/#{demo_series}")
        page.wait_for_selector("#chart svg path.actual", timeout=20_000)
        page.wait_for_function(
            "document.querySelector('#pipeline').textContent.includes('readings received')"
        )
        options = page.locator("#series option").all_text_contents()
        assert "pv-north · pv_power" in options
        assert page.locator("#series").input_value() == demo_series
        assert int(page.get_attribute("#chart svg", "data-points")) == 97 + 96
        assert page.locator("#chart polygon.fan").count() == 1
        assert page.locator("#chart path.p50").count() == 1
        assert "forecast issued" in page.locator("#updated").inner_text()
        incidents = page.locator("#incidents tbody").inner_text()
        assert seeded.site in incidents and "firing" in incidents
        assert "pv-north" in page.locator("#sites tbody").inner_text()
        # It updates by itself: the pipeline line turns into a rate after the next poll.
        page.wait_for_function(
            "document.querySelector('#pipeline').textContent.includes('readings/s')",
            timeout=15_000,
        )
        page.screenshot(path=str(tmp_path / "page.png"))
        assert problems == []
        assert all(r.startswith(url) or r.startswith("data:") for r in requests), requests


def test_page_asks_for_a_token_when_the_api_needs_one(
    services: Services, demo_series: str, browser: object
) -> None:
    with running_api(services, read="page-token") as url:
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(f"{url}/")
        page.wait_for_selector("#login:not([hidden])", timeout=15_000)
        page.fill("#token", "page-token")
        page.click("#login button")
        page.wait_for_selector("#chart svg", timeout=20_000)
        assert "pv-north · pv_power" in page.locator("#series option").all_text_contents()
