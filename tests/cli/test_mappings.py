"""Every shipped mapping replays its shared data set: counts checked against pandas.

Skips with a reason where the shared data (setting GRIDBRAIN_SHARED_DATA_DIR) is absent.
"""

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from gridbrain.cli.replay import Replay, load_mapping, replay_file
from gridbrain.processors.validate import decode_items, validate_readings
from gridbrain.settings import Settings

DATA = Settings().shared_data_dir
MAPPINGS = Path(__file__).resolve().parents[2] / "deploy" / "mappings"
NOW_MS = 2_000_000_000_000

CASES = {
    "ETT": ("ETT/ETTh1.csv", 17_420 * 7),
    "air_quality_uci": ("air_quality_uci/AirQualityUCI.csv", 33_371),
    "beijing_pm25": ("beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv", 85_582),
    "brisbane_river_water_quality": (
        "brisbane_river_water_quality/brisbane_water_quality.csv",
        197_765,
    ),
    "emhass_household": ("emhass_household/long_train_data.csv", 17_188 + 8_743),
    "beijing_multisite_air_quality": (
        "beijing_multisite_air_quality/PRSA_Data_Dongsi_20130301-20170228.csv",
        None,
    ),
    "solar_india_plant_weather": (
        "solar_india_plant_weather/Plant_1_Weather_Sensor_Data.csv",
        3_182 * 2,
    ),
    "solar_pvdaq_pvanalytics": (
        "solar_pvdaq_pvanalytics/system_50_ac_power_2_full_DST.parquet",
        95_232 - 2_904,
    ),
    "spain_energy_weather": (
        "spain_energy_weather/energy_dataset.csv",
        35_028 + 35_046 + 35_046 + 35_064,
    ),
    "tetouan_power_consumption": (
        "tetouan_power_consumption/Tetuan_City_power_consumption.csv",
        52_416 * 6,
    ),
    "vic_elec_demand_temperature": ("vic_elec_demand_temperature/vic_elec.csv", 52_608 * 2),
    "wind_turbine_scada_turkey": ("wind_turbine_scada_turkey/T1.csv", 50_530 * 2),
}


def replayed(name: str) -> tuple[Replay, list[dict[str, object]]]:
    relative, _ = CASES[name]
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"shared data set not found: {path} (set GRIDBRAIN_SHARED_DATA_DIR)")
    replay = replay_file(path, load_mapping(MAPPINGS / f"{name}.yaml"))
    items = [item for _, _, value in replay.messages for item in decode_items(value)]
    return replay, items


def test_every_data_set_has_a_mapping() -> None:
    if not DATA.exists():
        pytest.skip(f"shared data not found: {DATA}")
    folders = {p.name for p in DATA.iterdir() if p.is_dir()}
    assert folders <= {p.stem for p in MAPPINGS.glob("*.yaml")}
    assert folders <= set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_replay_is_complete_valid_and_unique(name: str) -> None:
    replay, items = replayed(name)
    expected = CASES[name][1]
    assert len(items) == replay.readings
    if expected is not None:
        assert replay.readings == expected
    batch, rejections = validate_readings(items, NOW_MS, 0)
    assert Counter(r.reason for r in rejections) == Counter()
    keys = Counter(zip(batch.site_id, batch.sensor_id, batch.quantity, batch.ts_ms, strict=True))
    repeated = sum(n - 1 for n in keys.values())
    assert repeated == LOGGER_REPEATS.get(name, 0), "two readings of one instant (time zone?)"


#: Readings a logger wrote twice (same instant, same values), replayed as sent.
LOGGER_REPEATS = {"brisbane_river_water_quality": 1_692}


def test_uci_minus_200_markers_are_missing_values() -> None:
    replay, _ = replayed("air_quality_uci")
    frame = pd.read_csv(DATA / CASES["air_quality_uci"][0], sep=";", decimal=",")
    frame = frame.dropna(how="all", subset=["Date", "Time"])
    columns = ["CO(GT)", "NO2(GT)", "T", "RH"]
    assert replay.missing_values == int((frame[columns] == -200).sum().sum())
    assert replay.skipped_rows == 9_471 - len(frame)  # the file's blank ";;;" rows


def test_beijing_na_count_matches_pandas() -> None:
    replay, _ = replayed("beijing_pm25")
    frame = pd.read_csv(DATA / CASES["beijing_pm25"][0])
    assert replay.missing_values == int(frame[["pm2.5", "TEMP"]].isna().sum().sum())


def test_vic_elec_dst_repeats_become_distinct_instants() -> None:
    _, items = replayed("vic_elec_demand_temperature")
    frame = pd.read_csv(DATA / CASES["vic_elec_demand_temperature"][0], index_col=0)
    assert frame["Time"].duplicated().sum() == 6  # the repeated autumn half-hours
    instants = {i["ts"] for i in items if i["quantity"] == "load"}
    assert len(instants) == len(frame)


def test_multisite_station_column_names_the_site() -> None:
    _, items = replayed("beijing_multisite_air_quality")
    assert {i["site_id"] for i in items} == {"beijing-Dongsi"}
    co = [i["value"] for i in items if i["quantity"] == "co"]
    assert max(co) == 10_000  # ug/m3 as in the file; converted to mg/m3 by validation


def test_brisbane_repeats_are_the_loggers_double_writes() -> None:
    _, items = replayed("brisbane_river_water_quality")
    frame = pd.read_csv(DATA / CASES["brisbane_river_water_quality"][0])
    stamps = pd.to_datetime(frame["Timestamp"], format="%Y-%m-%d %H:%M")
    assert stamps.duplicated().sum() == 275
    columns = ["pH", "Turbidity", "Dissolved Oxygen", "Temperature", "Specific Conductance"]
    columns += ["Salinity", "Chlorophyll"]
    present = frame[columns].notna()
    repeats = present.sum() - present.groupby(stamps).any().sum()  # per column
    assert LOGGER_REPEATS["brisbane_river_water_quality"] == int(repeats.sum())
    assert frame.groupby(stamps)[columns].nunique().max().max() == 1  # identical values
    first = min(i["ts"] for i in items)
    assert first == "2023-08-04T23:00:00+10:00"


def test_spain_mixed_offsets_are_utc_instants() -> None:
    _, items = replayed("spain_energy_weather")
    frame = pd.read_csv(DATA / CASES["spain_energy_weather"][0])
    hours = pd.to_datetime(frame["time"], utc=True)
    prices = sorted(i["ts"] for i in items if i["quantity"] == "price")
    assert len(set(prices)) == len(hours) == 35_064
    assert pd.Timestamp(prices[0]) == hours.min() == pd.Timestamp("2014-12-31 23:00Z")
    load = {i["ts"]: i["value"] for i in items if i["quantity"] == "load"}
    assert len(load) == frame["total load actual"].notna().sum()
    assert sum(load.values()) == pytest.approx(frame["total load actual"].sum())
    price = [i["value"] for i in items if i["quantity"] == "price"]
    assert {i["site_id"] for i in items if i["quantity"] == "price"} == {"es"}
    assert sum(price) == pytest.approx(frame["price actual"].sum())


def test_emhass_night_pv_is_missing_not_zero() -> None:
    replay, items = replayed("emhass_household")
    frame = pd.read_csv(DATA / CASES["emhass_household"][0])
    columns = ["sensor.power_load_no_var_loads", "sensor.power_photovoltaics"]
    assert replay.missing_values == int(frame[columns].isna().sum().sum())
    pv = [i["value"] for i in items if i["quantity"] == "pv_power"]
    assert sum(pv) == pytest.approx(frame["sensor.power_photovoltaics"].sum())
