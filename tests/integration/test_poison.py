"""A corpus of hostile input through a real worker: every bad item dead-lettered with a
reason, every good reading stored afterwards, and the worker never stops.
"""

import json
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from kafka import KafkaProducer
from sqlalchemy import text

from gridbrain.streams.topics import SENSOR_READINGS, WEATHER_OBSERVATIONS
from tests.integration.conftest import Services, wait_for

pytestmark = pytest.mark.integration

NOW = int(time.time() * 1000)
T0 = (NOW - 2 * 86_400_000) // 3_600_000 * 3_600_000  # an hour, two days ago


def reading(site: Any = "pz-ok", **fields: Any) -> dict[str, Any]:
    item = {"site_id": site, "quantity": "load", "value": 1.0, "unit": "kW", "ts": T0}
    return {**item, **fields}


@dataclass(frozen=True)
class Case:
    """One message and the dead-letter reasons it must produce."""

    name: str
    topic: str
    key: bytes | None
    value: bytes
    reasons: Counter[str]


def case(name: str, items: Any, *reasons: str, topic: str = SENSOR_READINGS) -> Case:
    value = items if isinstance(items, bytes) else json.dumps(items).encode()
    return Case(name, topic, b"pz-ok", value, Counter(reasons))


DEEP = 5_000
BIG_N = 10_000
BIG_BAD = 4_321  # the one bad item of the big batch

CORPUS = [
    case("nul in site_id", [reading("bad\u0000site")], "bad_site_id"),
    case("control chars in site_id", [reading("pz-\u0007\u001b[31m")], "bad_site_id"),
    case(
        "lone surrogate in site_id",
        b'[{"site_id": "pz-\\ud800", "quantity": "load"}]',
        "bad_site_id",
    ),
    case("over-long site_id", [reading("p" * 129)], "bad_site_id"),
    case("blank-padded site_id", [reading(" pz-ok ")], "bad_site_id"),
    case("nul in sensor_id", [reading(sensor_id="s\u0000")], "bad_sensor_id"),
    case("control char in quantity", [reading(quantity="lo\u0000ad")], "unknown_quantity"),
    case("nul in unit", [reading(unit="k\u0000W")], "unknown_unit"),
    case("nul in ts", [reading(ts="2026-12-01T00:00:00\u0000")], "bad_timestamp"),
    case(
        "wrong types everywhere",
        [
            reading(5),
            reading(["pz-ok"]),
            reading(quantity=None),
            reading(quantity=7),
            reading(unit=[]),
            reading(value="12.5"),
            reading(value=True),
            reading(value=None),
            reading(value={"v": 1}),
            reading(ts={}),
            reading(ts=True),
            reading(ts=10**30),
            reading(sensor_id={"a": 1}),
            "a string",
            17,
            None,
        ],
        "bad_site_id",
        "bad_site_id",
        "missing_quantity",
        "bad_quantity",
        "bad_unit",
        "bad_value",
        "bad_value",
        "bad_value",
        "bad_value",
        "bad_timestamp",
        "bad_timestamp",
        "bad_timestamp",
        "bad_sensor_id",
        "not_an_object",
        "not_an_object",
        "not_an_object",
    ),
    case("not utf-8", b'\xff\xfe[{"site_id": "pz-ok"}]', "malformed_json"),
    case("nul byte, not json", b"abc\x00def\x01", "malformed_json"),
    case("empty message", b"", "malformed_json"),
    case("empty batch", b"[]", "empty_batch"),
    case("deeply nested message", b"[" * DEEP + b"]" * DEEP, "too_deeply_nested"),
    case("deeply nested value", [reading(value=json.loads("[" * 500 + "]" * 500))], "bad_value"),
    case("huge message", [reading("p" * 900_000)], "bad_site_id"),
    case(
        "nul in a weather station",
        [{"station_id": "st\u0000", "ts": T0, "temperature_c": 1.0}],
        "bad_station_id",
        topic=WEATHER_OBSERVATIONS,
    ),
    case(
        "nul in a weather description",
        [{"site_id": "pz-ok", "ts": T0, "description": "rain\u0000"}],
        "bad_description",
        topic=WEATHER_OBSERVATIONS,
    ),
]


def big_batch() -> list[dict[str, Any]]:
    """10,000 readings of one site at 1-minute steps; one of them names a NUL site."""
    start = T0 - 8 * 86_400_000
    items = [
        reading("pz-big", ts=start + i * 60_000, value=100.0 + i % 7, sensor_id="m")
        for i in range(BIG_N)
    ]
    items[BIG_BAD] = reading("pz-big\u0000", ts=start + BIG_BAD * 60_000)
    return items


GOOD = [reading("pz-good", ts=T0 + i * 300_000, value=float(i)) for i in range(24)]


def test_hostile_input_is_dead_lettered_and_good_input_still_flows(
    services: Services, worker: subprocess.Popen[bytes]
) -> None:
    producer = KafkaProducer(bootstrap_servers=services.bootstrap, max_request_size=2**21)
    sent: dict[tuple[str, int, int], Case] = {}
    for c in [*CORPUS, case("big batch, one bad item", big_batch(), "bad_site_id")]:
        meta = producer.send(c.topic, key=c.key, value=c.value).get(30)
        sent[(meta.topic, meta.partition, meta.offset)] = c
    for key in (b"\xff\x00", None):  # undecodable keys on an undecodable message
        meta = producer.send(SENSOR_READINGS, key=key, value=b"\x00").get(30)
        sent[(meta.topic, meta.partition, meta.offset)] = Case(
            "bad key", SENSOR_READINGS, key, b"\x00", Counter(["malformed_json"])
        )
    producer.send(SENSOR_READINGS, key=b"pz-good", value=json.dumps(GOOD).encode()).get(30)
    producer.close()

    def dead() -> dict[tuple[str, int, int], list[tuple[int, str, bytes | None, str]]]:
        with services.sessions() as session:
            rows = session.execute(
                text(
                    'SELECT topic, "partition", "offset", item_index, reason, payload_bytes, '
                    "payload FROM dead_letters WHERE topic IN (:r, :w)"
                ),
                {"r": SENSOR_READINGS, "w": WEATHER_OBSERVATIONS},
            ).all()
        out: dict[tuple[str, int, int], list[tuple[int, str, bytes | None, str]]] = {}
        for topic, partition, offset, index, reason, raw, payload in rows:
            if (topic, partition, offset) in sent:
                raw = bytes(raw) if raw is not None else None
                out.setdefault((topic, partition, offset), []).append((index, reason, raw, payload))
        return out

    def stored(site: str) -> int:
        with services.sessions() as session:
            return int(
                session.scalar(
                    text(
                        "SELECT coalesce(sum(n_samples + n_flagged), 0) FROM readings "
                        "WHERE site_id = :s"
                    ),
                    {"s": site},
                )
            )

    wait_for(
        lambda: len(dead()) == len(sent) and stored("pz-good") == len(GOOD),
        180,
        "every hostile message dead-lettered and the good readings stored",
    )
    wait_for(lambda: stored("pz-big") == BIG_N - 1, 60, "the big batch's good readings")
    assert worker.poll() is None, "the worker stopped"
    found = dead()
    for position, c in sent.items():
        reasons = Counter(reason for _, reason, _, _ in found[position])
        assert reasons == c.reasons, c.name
        if not c.value.startswith((b"[", b"{")) or c.name == "not utf-8":
            [(_, _, raw, _)] = found[position]
            assert raw == c.value, f"{c.name}: payload not stored losslessly"
    big = next(p for p, c in sent.items() if c.name.startswith("big batch"))
    assert [index for index, *_ in found[big]] == [BIG_BAD]
    huge = next(p for p, c in sent.items() if c.name == "huge message")
    assert len(found[huge][0][3]) > 900_000  # the whole payload is kept in the table
    with services.sessions() as session:
        quarantined = session.scalar(
            text("SELECT count(*) FROM dead_letters WHERE reason = 'quarantined'")
        )
    assert quarantined == 0
    log = (services.state_dir / "worker.log").read_text(errors="replace")
    assert "the worker exits" not in log
