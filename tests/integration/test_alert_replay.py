"""Beijing PM2.5 and UCI air quality replayed through the platform; incidents vs pandas.

The files go through the real broker, the cleaning stage and the alert stage into
Postgres. The same rules are then computed here independently, with pandas and numpy,
from the fused steps the alert stage consumed (decoded by this test from the topic): EPA
breakpoints, the NowCast, 24-hour means with 18 of 24 hours, staleness and flat lines,
and a plain loop for for/recovery/no-data. Every incident that fired must match: start,
firing time and resolution time. The thresholds are written out here from the EPA 2024
and WHO 2021 documents, not read from the rules file.
Skips with a reason where the shared data (setting GRIDBRAIN_SHARED_DATA_DIR) is absent.
"""

import json
import math
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kafka import KafkaConsumer
from sqlalchemy import text

from gridbrain.cli.replay import load_mapping, replay_file
from gridbrain.settings import Settings
from gridbrain.storage.sites import upsert_sites
from gridbrain.streams.producer import produce
from gridbrain.streams.topics import FUSED
from tests.integration.conftest import Services, running_services, running_worker, wait_for

pytestmark = pytest.mark.integration

DATA = Settings().shared_data_dir
MAPPINGS = Path(__file__).resolve().parents[2] / "deploy" / "mappings"
H = 3_600_000
FILES = {
    "beijing_pm25": "beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv",
    "air_quality_uci": "air_quality_uci/AirQualityUCI.csv",
}

# EPA AQI breakpoints (2024): (C low, C high, I low, I high) in the table's unit.
PM25 = [(0.0, 9.0, 0, 50), (9.1, 35.4, 51, 100), (35.5, 55.4, 101, 150),
        (55.5, 125.4, 151, 200), (125.5, 225.4, 201, 300), (225.5, 325.4, 301, 500)]  # fmt: skip
CO_PPM = [(0.0, 4.4, 0, 50), (4.5, 9.4, 51, 100), (9.5, 12.4, 101, 150),
          (12.5, 15.4, 151, 200), (15.5, 30.4, 201, 300), (30.5, 50.4, 301, 500)]  # fmt: skip
NO2_PPB = [(0, 53, 0, 50), (54, 100, 51, 100), (101, 360, 101, 150), (361, 649, 151, 200),
           (650, 1249, 201, 300), (1250, 2049, 301, 500)]  # fmt: skip
PPM_PER_MGM3_CO = 24.45 / 28.010
PPB_PER_UGM3_NO2 = 24.45 / 46.0055


@dataclass(frozen=True)
class Spec:
    """One rule as this test computes it."""

    quantity: str
    threshold: float
    recovery: float
    for_h: float
    expression: str  # nowcast_aqi | aqi_8h | aqi_1h | mean_24h | stale | flatline


SPECS = {
    "beijing-us-embassy": {
        "pm25_aqi_usg": Spec("pm25", 100, 90, 1, "nowcast_aqi"),
        "pm25_aqi_unhealthy": Spec("pm25", 150, 140, 1, "nowcast_aqi"),
        "pm25_who_24h": Spec("pm25", 15, 13.5, 0, "mean_24h"),
        "pm25_stale": Spec("pm25", 3, 3, 0, "stale"),
        "pm25_flatline": Spec("pm25", 0.5, 0.5, 1, "flatline"),
    },
    "uci-air": {
        "co_aqi_usg": Spec("co", 100, 90, 1, "aqi_8h"),
        "no2_aqi_usg": Spec("no2", 100, 90, 1, "aqi_1h"),
        "co_who_24h": Spec("co", 4, 3.6, 0, "mean_24h"),
        "no2_who_24h": Spec("no2", 25, 22.5, 0, "mean_24h"),
        "co_stale": Spec("co", 3, 3, 0, "stale"),
        "no2_stale": Spec("no2", 3, 3, 0, "stale"),
        "no2_flatline": Spec("no2", 0.5, 0.5, 1, "flatline"),
    },
}


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with running_services(tmp_path_factory.mktemp("alert-replay")) as running:
        yield running


@pytest.fixture(scope="module")
def worker(services: Services) -> Iterator[subprocess.Popen[bytes]]:
    """Cleaning and alerting (no forecasts: years of history)."""
    with running_worker(services, ("clean", "alert")) as process:
        yield process


def truncate(values: np.ndarray, decimals: int) -> np.ndarray:
    scale = 10.0**decimals
    return np.floor(values * scale + 1e-9) / scale


def aqi(concentration: np.ndarray, bands: list[tuple[float, float, int, int]]) -> np.ndarray:
    """EPA equation per band, rounded half up; 500 above the table; NaN stays NaN."""
    out = np.full(concentration.shape, np.nan)
    for c_lo, c_hi, i_lo, i_hi in bands:
        inside = (concentration >= c_lo) & (concentration <= c_hi)
        index = (i_hi - i_lo) / (c_hi - c_lo) * (concentration - c_lo) + i_lo
        out[inside] = np.floor(index[inside] + 0.5)
    out[concentration > bands[-1][1]] = 500
    return out


def nowcast(hourly: pd.Series) -> np.ndarray:
    """EPA NowCast per hour of a complete hourly index (NaN: missing), truncated to 0.1."""
    m = np.column_stack([hourly.shift(i).to_numpy() for i in range(12)])  # newest first
    valid = (~np.isnan(m[:, :3])).sum(axis=1) >= 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: no NowCast anyway
        lo, hi = np.nanmin(m, axis=1), np.nanmax(m, axis=1)
    w = np.where(hi > 0, np.maximum(lo / np.where(hi > 0, hi, 1), 0.5), 1.0)
    weights = w[:, None] ** np.arange(12)[None, :]
    present = ~np.isnan(m)
    num = np.where(present, weights * np.nan_to_num(m), 0).sum(axis=1)
    den = np.where(present, weights, 0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = truncate(num / den, 1)
    return np.where(valid, value, np.nan)


def hourly_mean(hourly: pd.Series, hours: int) -> np.ndarray:
    """Mean of the last ``hours`` hourly means, at least 75 % of them present."""
    need = math.ceil(0.75 * hours)
    return hourly.rolling(hours, min_periods=need).mean().to_numpy()


def expression(spec: Spec, steps: pd.DataFrame) -> pd.Series:
    """The rule's value at each evaluation (NaN: no data); index = evaluation times."""
    q = spec.quantity
    if spec.expression == "stale":
        seen = steps["ts"].where(steps["seen"].map(lambda s: q in s)).ffill()
        return ((steps["ts"] - seen) / H).set_axis(steps["ts"])[seen.notna().to_numpy()]
    mine = steps[steps["seen"].map(lambda s: q in s)]
    if spec.expression == "flatline":
        flat = mine["flags"].map(lambda f: "flatline" in f.get(q, ())) & mine[q].isna()
        return flat.astype(float).set_axis(mine["ts"])
    hours = pd.RangeIndex(steps["ts"].min() // H, steps["ts"].max() // H + 1)
    hourly = mine.groupby(mine["ts"] // H)[q].mean().reindex(hours)
    if spec.expression == "nowcast_aqi":
        values = aqi(nowcast(hourly), PM25)
    elif spec.expression == "aqi_8h":
        values = aqi(truncate(hourly_mean(hourly, 8) * PPM_PER_MGM3_CO, 1), CO_PPM)
    elif spec.expression == "aqi_1h":
        values = aqi(truncate(hourly.to_numpy() * PPB_PER_UGM3_NO2, 0), NO2_PPB)
    else:
        values = hourly_mean(hourly, 24)
    by_hour = pd.Series(values, index=hours)
    return pd.Series(by_hour.reindex(mine["ts"] // H).to_numpy(), index=mine["ts"].to_numpy())


def incidents(spec: Spec, values: pd.Series) -> list[tuple[int, int, int | None]]:
    """(start, fired, resolved) of every incident that fired; missing values change nothing."""
    out: list[tuple[int, int, int | None]] = []
    start: int | None = None
    fired: int | None = None
    for ts, value in values.items():
        if np.isnan(value):
            continue
        if start is None:
            if value <= spec.threshold:
                continue
            start = int(ts)
        if fired is None:
            if value <= spec.threshold:
                start = None
            elif ts - start >= spec.for_h * H:
                fired = int(ts)
        elif value <= spec.recovery:
            out.append((start, fired, int(ts)))
            start = fired = None
    if fired is not None:
        assert start is not None
        out.append((start, fired, None))
    return out


def fused_steps(bootstrap: str, site: str) -> pd.DataFrame:
    consumer = KafkaConsumer(
        FUSED,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
    )
    try:
        steps = [s for m in consumer if m.key == site.encode() for s in json.loads(m.value)]
    finally:
        consumer.close()
    frame = pd.DataFrame(
        {
            "ts": [s["ts_ms"] for s in steps],
            "seen": [set(s["quality"]) for s in steps],
            "flags": [s.get("flags", {}) for s in steps],
        }
    )
    for q in {q for s in steps for q in s["values"]}:
        frame[q] = [s["values"].get(q, np.nan) for s in steps]
    return frame.sort_values("ts", ignore_index=True)


def stored(services: Services, site: str) -> dict[str, list[tuple[int, int, int | None]]]:
    with services.sessions() as session:
        rows = session.execute(
            text(
                "SELECT rule, started_at, fired_at, resolved_at FROM alerts "
                "WHERE site_id = :site AND fired_at IS NOT NULL ORDER BY started_at"
            ),
            {"site": site},
        ).all()
    out: dict[str, list[tuple[int, int, int | None]]] = {}
    for rule, *times in rows:
        ms = [None if t is None else int(t.timestamp() * 1000) for t in times]
        out.setdefault(rule, []).append((ms[0], ms[1], ms[2]))  # type: ignore[arg-type]
    return out


def counts(services: Services) -> dict[str, int]:
    """Readings the cleaning received, fused steps it emitted, fused steps alerting took."""
    with services.sessions() as session:
        rows = session.execute(
            text(
                "SELECT stage, topic, counter, sum(value) FROM stage_counts WHERE stage IN "
                "('clean', 'alert') AND counter IN ('emitted', 'processed', 'received') "
                "GROUP BY stage, topic, counter"
            )
        ).all()
    found = {f"{stage}:{topic}:{counter}": int(value) for stage, topic, counter, value in rows}
    return {
        "readings": found.get("clean:sensor.readings:received", 0),
        "emitted": found.get("clean:gridbrain.fused:emitted", 0),
        "alerted": found.get("alert:gridbrain.fused:processed", 0),
    }


@pytest.mark.parametrize("name", sorted(FILES))
def test_incidents_match_an_independent_computation(
    name: str, services: Services, worker: subprocess.Popen[bytes]
) -> None:
    path = DATA / FILES[name]
    if not path.exists():
        pytest.skip(f"shared data set not found: {path} (set GRIDBRAIN_SHARED_DATA_DIR)")
    mapping = load_mapping(MAPPINGS / f"{name}.yaml")
    with services.sessions.begin() as session:
        upsert_sites(session, mapping.sites)
    messages = list(replay_file(path, mapping).messages)
    readings = counts(services)["readings"] + sum(
        len(json.loads(value)) for topic, _, value in messages if topic == "sensor.readings"
    )
    produce(services.bootstrap, messages)
    site = str(mapping.site_id)
    seen: list[dict[str, int]] = []

    def settled() -> bool:
        seen.append(now := counts(services))
        done = now["readings"] == readings and now["emitted"] == now["alerted"]
        return done and len(seen) > 2 and seen[-3] == now

    wait_for(settled, 300, f"{name}: every reading cleaned and every fused step alerted on")
    assert worker.poll() is None
    steps = fused_steps(services.bootstrap, site)
    assert len(steps) > 5000
    got = stored(services, site)
    for rule, spec in SPECS[site].items():
        expected = incidents(spec, expression(spec, steps))
        assert got.get(rule, []) == expected, rule
        print(f"{site} {rule}: {len(expected)} incidents")  # shown with pytest -s
    assert sum(len(v) for v in got.values()) > 10  # the data sets do have episodes
