"""Forecasts through the broker re-plan a battery: a real worker running the dispatch stage."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from gridbrain.cli.main import cli
from gridbrain.processors.dispatch.assets import StorageAsset
from gridbrain.processors.sites import SiteProfile
from gridbrain.storage.sites import upsert_sites
from gridbrain.streams.producer import produce
from gridbrain.streams.topics import FORECASTS
from tests.integration.conftest import Services, running_worker, wait_for
from tests.streams.test_dispatching import T0, forecast

pytestmark = pytest.mark.integration

SITE = "dispatch-broker"


def test_price_forecast_on_the_topic_gives_a_schedule(services: Services) -> None:
    asset = StorageAsset(capacity_kwh=2, charge_kw=1, discharge_kw=1, soc_min=0.1, soc_max=0.9)
    with services.sessions.begin() as session:
        upsert_sites(session, [SiteProfile(site_id=SITE, storage=asset)])
    prices = [-5.0] * 4 + [30.0] * 8 + [250.0] * 4  # a negative hour: binaries are needed
    messages = [
        (FORECASTS, SITE.encode(), b'{"site_id": "' + SITE.encode() + b'", "horizons": 7}'),
        (FORECASTS, SITE.encode(), forecast(SITE, "price", T0 + 7_200_000, prices)),
    ]

    def planned() -> int:
        with services.sessions() as session:
            return int(
                session.scalar(
                    text("SELECT count(*) FROM schedules WHERE site_id = :s"), {"s": SITE}
                )
                or 0
            )

    with running_worker(services, ("dispatch",)):
        produce(services.bootstrap, messages)
        wait_for(lambda: planned() == 16, 120, "the schedule of the price forecast")
    with services.sessions() as session:
        letters = session.scalar(
            text(
                "SELECT count(*) FROM dead_letters "
                "WHERE reason = 'bad_forecast_message' AND payload LIKE :p"
            ),
            {"p": f"%{SITE}%"},
        )
    assert letters == 1
    env = {"GRIDBRAIN_DATABASE_URL": services.database_url}
    result = CliRunner(env=env).invoke(cli, ["schedule", "--site", SITE, "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == 16 and {r["status"] for r in rows} == {"optimal"}
    assert max(r["charge_kw"] for r in rows[:4]) > 0  # paid to charge
    assert max(r["discharge_kw"] for r in rows[12:]) > 0
    table = CliRunner(env=env).invoke(cli, ["schedule", "--site", SITE])
    assert "status optimal" in table.output and "soc" in table.output
    missing = CliRunner(env=env).invoke(cli, ["schedule", "--site", "nowhere"])
    assert missing.exit_code != 0 and "no schedule" in missing.output


def test_sites_load_takes_batteries_and_refuses_bad_ones(
    services: Services, tmp_path: Path
) -> None:
    env = {"GRIDBRAIN_DATABASE_URL": services.database_url}
    good = tmp_path / "good.yaml"
    good.write_text(
        "- site_id: dispatch-yaml\n  kind: load\n"
        "  storage: {capacity_kwh: 13.5, charge_kw: 5, discharge_kw: 5, soc_min: 0.1}\n"
        "  tariff: {price_site: es, import_adder: 0.12}\n"
        "  objective: {cost: 1, carbon: 0.08}\n"
    )
    result = CliRunner(env=env).invoke(cli, ["sites", "load", str(good)])
    assert result.exit_code == 0, result.output
    listed = CliRunner(env=env).invoke(cli, ["sites", "list", "--format", "json"])
    row = next(r for r in json.loads(listed.output) if r["site_id"] == "dispatch-yaml")
    assert row["storage"]["capacity_kwh"] == 13.5 and row["tariff"]["price_site"] == "es"
    assert row["objective"]["carbon"] == 0.08
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "- site_id: dispatch-bad\n"
        "  storage: {capacity_kwh: 10, charge_kw: 5, discharge_kw: 5, soc_min: 0.8, "
        "soc_max: 0.2}\n"
    )
    refused = CliRunner(env=env).invoke(cli, ["sites", "load", str(bad)])
    assert refused.exit_code != 0  # main() prints a GridbrainError as one clear line
    assert "need soc_min <= soc_target <= soc_max" in str(refused.exception)
    with services.sessions() as session:
        stored = session.scalar(text("SELECT count(*) FROM sites WHERE site_id = 'dispatch-bad'"))
    assert stored == 0
