"""Band trackers follow the stored issues against the readings, each issue once
(real PostgreSQL)."""

import json
import uuid

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from gridbrain.cli.main import cli
from gridbrain.processors.forecast.forecaster import Forecast
from gridbrain.processors.timestamps import ms_to_datetime
from gridbrain.storage.band_trackers import load_trackers, refresh_trackers
from gridbrain.storage.repositories import add_forecasts
from gridbrain.storage.sites import ensure_sites
from tests.integration.conftest import Services

pytestmark = pytest.mark.integration

HOUR, DAY = 3_600_000, 86_400_000
T0 = 4_102_444_800_000 + 40 * DAY  # 2100: far from other tests' rows
H = 24


def store(services: Services, site: str, quantity: str, days: int, dark: bool = False) -> None:
    """Hourly issues of a band 2 wide around 100; readings spread 10 around it (or 0s)."""
    rng = np.random.default_rng(0)
    hours = days * 24
    values = np.zeros(hours + H) if dark else 100 + rng.normal(0, 10, hours + H)
    band = np.zeros(H) if dark else np.full(H, 100.0)
    forecasts = [
        Forecast(
            site,
            quantity,
            T0 + i * HOUR,
            T0 + (i + np.arange(H, dtype=np.int64)) * HOUR,
            band - (0 if dark else 1),
            band,
            band + (0 if dark else 1),
            "linear",
        )
        for i in range(hours)
    ]
    with services.sessions.begin() as session:
        ensure_sites(session, {site})
        add_forecasts(session, forecasts)
        session.execute(
            text(
                "INSERT INTO readings (site_id, quantity, ts, value, value_sum, n_samples, "
                "quality) VALUES (:s, :q, :ts, :v, :v, 1, 'ok')"
            ),
            [
                {"s": site, "q": quantity, "ts": ms_to_datetime(T0 + i * HOUR), "v": float(v)}
                for i, v in enumerate(values)
            ],
        )


def test_a_narrow_band_widens_and_no_issue_counts_twice(services: Services) -> None:
    site = f"bt-{uuid.uuid4().hex[:8]}"
    store(services, site, "load", days=4)
    until = T0 + 2 * DAY
    with services.sessions.begin() as session:
        first = refresh_trackers(session, site, until, rate=0.5)
    tracker, through = first[("load", "linear")]
    # Issues up to a day before ``until`` have all their outcomes: a day of hourly issues,
    # most outcomes outside a band of +-1 around a spread of 10.
    assert through == until - DAY
    assert tracker.low < -0.15 and tracker.high > 0.15
    with services.sessions.begin() as session:
        again = refresh_trackers(session, site, until, rate=0.5)  # nothing new: unchanged
        assert again == first == load_trackers(session, site)
    with services.sessions.begin() as session:
        later = refresh_trackers(session, site, until + DAY, rate=0.5)
    moved, through = later[("load", "linear")]
    assert through == until and moved.low < tracker.low and moved.high > tracker.high
    env = {"GRIDBRAIN_DATABASE_URL": services.database_url}
    shown = CliRunner(env=env).invoke(cli, ["models", "bands", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    row = next(r for r in json.loads(shown.output) if r["site_id"] == site)
    assert (row["low"], row["high"]) == (round(moved.low, 4), round(moved.high, 4))


def test_pv_dark_steps_do_not_move_the_band(services: Services) -> None:
    site = f"bt-{uuid.uuid4().hex[:8]}"
    store(services, site, "pv_power", days=3, dark=True)
    with services.sessions.begin() as session:
        assert refresh_trackers(session, site, T0 + 3 * DAY, rate=0.5) == {}
