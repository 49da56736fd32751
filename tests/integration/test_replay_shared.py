"""A real data set replayed through the broker into Postgres, compared with pandas."""

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from gridbrain.replay import load_mapping, replay_file
from gridbrain.settings import Settings
from streams.producer import produce
from tests.integration.conftest import Services, wait_for

pytestmark = pytest.mark.integration

MAPPINGS = Path(__file__).resolve().parents[2] / "deploy" / "mappings"


def test_uci_air_quality_replay(services: Services, worker: subprocess.Popen[bytes]) -> None:
    path = Settings().shared_data_dir / "air_quality_uci" / "AirQualityUCI.csv"
    if not path.exists():
        pytest.skip(f"shared data set not found: {path} (set GRIDBRAIN_SHARED_DATA_DIR)")
    replay = replay_file(path, load_mapping(MAPPINGS / "air_quality_uci.yaml"))
    produce(services.bootstrap, replay.messages)

    # Independent pandas computation: hourly values present (not -200) per column.
    frame = pd.read_csv(path, sep=";", decimal=",").dropna(how="all", subset=["Date", "Time"])
    columns = {"CO(GT)": "co", "NO2(GT)": "no2", "T": "temperature", "RH": "humidity"}
    expected = {q: int((frame[c].notna() & (frame[c] != -200)).sum()) for c, q in columns.items()}

    def stored() -> dict[str, int]:
        with services.sessions() as session:
            rows = session.execute(
                text(
                    "SELECT quantity, count(*) FROM readings WHERE site_id = 'uci-air' "
                    "GROUP BY quantity"
                )
            ).all()
        return {q: int(n) for q, n in rows}

    # The newest hour stays open (no later reading closes it) but is stored all the same.
    wait_for(lambda: stored() == expected, 120, f"readings of uci-air = {expected}")
    with services.sessions() as session:
        dead = session.execute(
            text("SELECT count(*) FROM dead_letters WHERE payload LIKE '%uci-air%'")
        ).scalar_one()
        co = session.execute(
            text(
                "SELECT max(value), min(value) FROM readings WHERE site_id = 'uci-air' "
                "AND quantity = 'co'"
            )
        ).one()
    assert dead == 0
    assert (co[0], co[1]) == (
        frame.loc[frame["CO(GT)"] != -200, "CO(GT)"].max(),
        frame.loc[frame["CO(GT)"] != -200, "CO(GT)"].min(),
    )
