"""Each shared data set replayed through the real broker into Postgres, checked with pandas.

For every series the platform must account for each value the file holds (clean or
flagged by a quality check, never lost), store one step per distinct 15-minute slot, and
dead-letter nothing. The expected numbers come from reading the files with pandas
directly, with each file's own quirks spelled out here (not taken from the replay code).
Skips with a reason where the shared data (setting GRIDBRAIN_SHARED_DATA_DIR) is absent.
"""

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from kafka import KafkaConsumer
from sqlalchemy import text

from gridbrain.cli.replay import load_mapping, replay_file
from gridbrain.processors.quantities import QUANTITIES
from gridbrain.settings import Settings
from gridbrain.storage.sites import upsert_sites
from gridbrain.streams.producer import produce
from gridbrain.streams.topics import FUSED
from tests.integration.conftest import Services, running_services, running_worker, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """This module's own broker and database: years of data must not wait for forecasts."""
    with running_services(tmp_path_factory.mktemp("replay")) as running:
        yield running


@pytest.fixture(scope="module")
def worker(services: Services) -> Iterator[subprocess.Popen[bytes]]:
    """A worker running only the cleaning stages (forecasting years of history is slow)."""
    with running_worker(services, ("clean",)) as process:
        yield process


DATA = Settings().shared_data_dir
MAPPINGS = Path(__file__).resolve().parents[2] / "deploy" / "mappings"


@dataclass(frozen=True)
class Case:
    """A data file, how pandas reads it, and where its values go (site, quantity)."""

    file: str
    read: dict[str, Any]
    series: dict[str, tuple[str, str]]  # column -> (site, quantity)
    time: str | None = None  # naive time column when values can share a 15-min step
    time_format: str | None = None


CASES = {
    "ETT": Case(
        "ETT/ETTh1.csv",
        {},
        {
            **{
                c: (f"ett-{c.lower()}", "load")
                for c in ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL")
            },
            "OT": ("ett-transformer", "temperature"),
        },
    ),
    "air_quality_uci": Case(
        "air_quality_uci/AirQualityUCI.csv",
        {"sep": ";", "decimal": ",", "na_values": [-200]},
        {
            c: ("uci-air", q)
            for c, q in {
                "CO(GT)": "co",
                "NO2(GT)": "no2",
                "T": "temperature",
                "RH": "humidity",
            }.items()
        },
    ),
    "beijing_pm25": Case(
        "beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv",
        {"na_values": ["NA"]},
        {"pm2.5": ("beijing-us-embassy", "pm25"), "TEMP": ("beijing-us-embassy", "temperature")},
    ),
    "beijing_multisite_air_quality": Case(
        "beijing_multisite_air_quality/PRSA_Data_Dongsi_20130301-20170228.csv",
        {"na_values": ["NA"]},
        {
            c: ("beijing-Dongsi", q)
            for c, q in {
                "PM2.5": "pm25",
                "PM10": "pm10",
                "SO2": "so2",
                "NO2": "no2",
                "CO": "co",
                "O3": "o3",
                "TEMP": "temperature",
                "WSPM": "wind_speed",
            }.items()
        },
    ),
    "solar_india_plant_weather": Case(
        "solar_india_plant_weather/Plant_1_Weather_Sensor_Data.csv",
        {},
        {
            "IRRADIATION": ("india-plant-4135001", "irradiance"),
            "AMBIENT_TEMPERATURE": ("india-plant-4135001", "temperature"),
        },
    ),
    "solar_pvdaq_pvanalytics": Case(
        "solar_pvdaq_pvanalytics/system_50_ac_power_2_full_DST.parquet",
        {},
        {"ac_power_2": ("pvdaq-50", "pv_power")},
    ),
    "tetouan_power_consumption": Case(
        "tetouan_power_consumption/Tetuan_City_power_consumption.csv",
        {},
        {
            "Zone1": ("tetouan-zone1", "load"),
            "Zone2": ("tetouan-zone2", "load"),
            "Zone3": ("tetouan-zone3", "load"),
            "Temperature": ("tetouan", "temperature"),
            "Humidity": ("tetouan", "humidity"),
            "Wind Speed": ("tetouan", "wind_speed"),
        },
        time="Date",  # 10-minute rows: two of every three share a 15-minute step
        time_format="%m/%d/%y %H:%M",
    ),
    "vic_elec_demand_temperature": Case(
        "vic_elec_demand_temperature/vic_elec.csv",
        {"index_col": 0},
        {"Demand": ("vic-grid", "load"), "Temperature": ("vic-grid", "temperature")},
    ),
    "wind_turbine_scada_turkey": Case(
        "wind_turbine_scada_turkey/T1.csv",
        {"encoding": "latin-1"},
        {
            "LV ActivePower (kW)": ("turbine-t1", "wind_power"),
            "Wind Speed (m/s)": ("turbine-t1", "wind_speed"),
        },
        time="Date/Time",  # 10-minute rows, like Tetouan
        time_format="%d %m %Y %H:%M",
    ),
}


def _read(path: Path, case: Case) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    frame = pd.read_csv(path, **case.read)
    return frame.dropna(how="all")  # UCI's trailing ";;;" rows


def out_of_range(frame: pd.DataFrame, case: Case, units: dict[str, str]) -> dict[str, int]:
    """Values per column outside the published physical range of their quantity."""
    counts = {}
    for column, (_, quantity) in case.series.items():
        spec = QUANTITIES[quantity]
        canonical = frame[column] * spec.factors[units[column]] + spec.offsets.get(units[column], 0)
        counts[column] = int(((canonical < spec.low) | (canonical > spec.high)).sum())
    return counts


def expected_facts(
    frame: pd.DataFrame, case: Case, rejected: dict[str, int]
) -> dict[tuple[str, str], tuple[int, int]]:
    """(site, quantity) -> (values kept in the file, distinct 15-minute steps)."""
    facts: dict[tuple[str, str], tuple[int, int]] = {}
    for column, key in case.series.items():
        present = frame[column].notna()
        if rejected[column]:
            spec = QUANTITIES[key[1]]
            present &= frame[column].between(spec.low, spec.high)
        steps = int(present.sum())
        if case.time is not None:
            slots = pd.to_datetime(frame[case.time], format=case.time_format).dt.floor("15min")
            steps = int(slots[present].nunique())
        facts[key] = (int(present.sum()), steps)
    return facts


def stored_facts(services: Services, sites: list[str]) -> dict[tuple[str, str], tuple[int, int]]:
    with services.sessions() as session:
        rows = session.execute(
            text(
                "SELECT site_id, quantity, sum(n_samples + n_flagged), "
                "count(*) FILTER (WHERE n_samples + n_flagged > 0) FROM readings "
                "WHERE site_id = ANY(:sites) GROUP BY site_id, quantity"
            ),
            {"sites": sites},
        ).all()
    return {(s, q): (int(n), int(k)) for s, q, n, k in rows}


def quality_of(services: Services, sites: list[str]) -> dict[str, dict[str, int]]:
    with services.sessions() as session:
        rows = session.execute(
            text(
                'SELECT site_id, "check", sum(value) FROM quality_counts WHERE site_id = ANY(:s) '
                'GROUP BY site_id, "check"'
            ),
            {"s": sites},
        ).all()
    out: dict[str, dict[str, int]] = {}
    for site, check, value in rows:
        out.setdefault(site, {})[check] = int(value)
    return out


PSM3 = "solar_pvdaq_pvanalytics/system_50_ac_power_2_full_DST_psm3.parquet"


def weather_first(services: Services) -> pd.DataFrame:
    """Replay PVDAQ's satellite weather and wait until it is stored; return the file."""
    path = DATA / PSM3
    produce(
        services.bootstrap,
        replay_file(path, load_mapping(MAPPINGS / "solar_pvdaq_pvanalytics_psm3.yaml")).messages,
    )
    frame = pd.read_parquet(path)
    expected = int(frame[["ghi", "temp_air"]].notna().any(axis=1).sum())

    def stored() -> int:
        with services.sessions() as session:
            query = "SELECT count(*) FROM weather_observations WHERE site_id = 'pvdaq-50'"
            return int(session.execute(text(query)).scalar_one())

    wait_for(lambda: stored() == expected, 120, f"{expected} weather rows of pvdaq-50")
    return frame


def fused_steps_of(bootstrap: str, site: str) -> list[dict[str, Any]]:
    """Every fused step of a site on the topic, read from the beginning."""
    consumer = KafkaConsumer(
        FUSED,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
    )
    try:
        return [step for m in consumer if m.key == site.encode() for step in json.loads(m.value)]
    finally:
        consumer.close()


def check_pv_fusion(services: Services, weather: pd.DataFrame) -> None:
    """Each fused PV step carries the newest PSM3 row at or before its end (<= 2 h old)."""
    steps = pd.DataFrame(fused_steps_of(services.bootstrap, "pvdaq-50"))
    ends = pd.to_datetime(steps["ts_ms"] + 900_000, unit="ms", utc=True).rename("end")
    ends = ends.astype("datetime64[ms, UTC]")
    psm3 = weather.reset_index(drop=True).assign(at=lambda f: f["index"].dt.tz_convert("UTC"))
    psm3["at"] = psm3["at"].astype("datetime64[ms, UTC]")
    joined = pd.merge_asof(
        ends.sort_values().to_frame(),
        psm3[["at", "ghi"]],
        left_on="end",
        right_on="at",
        tolerance=pd.Timedelta("2h"),
    )
    expected = joined["ghi"].notna().sum()
    with_weather = steps["weather"].map(lambda w: "ghi_wm2" in w).sum()
    assert len(steps) > 90_000 and with_weather == expected
    got = steps.set_index(ends)["weather"].map(lambda w: w.get("ghi_wm2")).sort_index()
    want = joined.set_index("end")["ghi"]
    both = got.notna() & want.notna()
    assert (got[both].to_numpy() == want[both].astype(float).to_numpy()).mean() > 0.999


def check_uci_units(services: Services, frame: pd.DataFrame) -> None:
    """CO in mg/m3 arrives unchanged; -200 markers never become values."""
    query = (
        "SELECT max(value), min(value) FROM readings WHERE site_id = 'uci-air' "
        "AND quantity = 'co' AND n_samples > 0"
    )
    with services.sessions() as session:
        co = session.execute(text(query)).one()
    assert (co[0], co[1]) == (frame["CO(GT)"].max(), frame["CO(GT)"].min())
    assert frame["CO(GT)"].min() > 0  # read with na_values=-200: 1,683 markers


@pytest.mark.parametrize("name", sorted(CASES))
def test_replay_through_the_platform(
    name: str, services: Services, worker: subprocess.Popen[bytes]
) -> None:
    case = CASES[name]
    path = DATA / case.file
    if not path.exists():
        pytest.skip(f"shared data set not found: {path} (set GRIDBRAIN_SHARED_DATA_DIR)")
    mapping = load_mapping(MAPPINGS / f"{name}.yaml")
    with services.sessions.begin() as session:
        upsert_sites(session, mapping.sites)  # what `gridbrain produce --csv` does
    weather = weather_first(services) if name == "solar_pvdaq_pvanalytics" else None
    produce(services.bootstrap, replay_file(path, mapping).messages)

    frame = _read(path, case)
    units = {c: m.unit for c, m in mapping.columns.items()}
    rejected = out_of_range(frame, case, units)
    expected = expected_facts(frame, case, rejected)
    sites = sorted({site for site, _ in expected})
    wait_for(
        lambda: stored_facts(services, sites) == expected,
        240,
        f"{name}: values and steps per series = {expected}",
    )
    quality = quality_of(services, sites)
    accounted = {
        site: sum(n for check, n in checks.items() if not check.startswith("gap_"))
        for site, checks in quality.items()
    }
    per_site: dict[str, int] = {}
    for column, (site, _) in case.series.items():
        kept = expected[(site, case.series[column][1])][0]
        per_site[site] = per_site.get(site, 0) + kept + rejected[column]
    assert accounted == per_site  # every value: clean, flagged, duplicate or dead-lettered
    assert all(checks.get("duplicate", 0) == 0 for checks in quality.values())
    with services.sessions() as session:
        dead = session.execute(
            text(
                "SELECT reason, count(*) FROM dead_letters WHERE payload LIKE ANY(:p) "
                "GROUP BY reason"
            ),
            {"p": [f'%"site_id": "{s}"%' for s in sites]},
        ).all()
    out = sum(rejected.values())
    assert dict(dead) == ({"out_of_range": out} if out else {})
    if name == "air_quality_uci":
        check_uci_units(services, frame)
    if weather is not None:
        check_pv_fusion(services, weather)
