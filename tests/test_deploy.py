"""What can be checked of the Docker deployment without a Docker engine."""

import re
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from gridbrain.cli import cli
from gridbrain.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
GRIDBRAIN_SERVICES = [n for n, s in SERVICES.items() if s.get("image", "").startswith("gridbrain")]


def test_expected_services_exist() -> None:
    assert {"kafka", "postgres", "init", "worker", "forecaster", "demo-producer"} <= set(SERVICES)
    assert SERVICES["demo-producer"]["profiles"] == ["demo"]


@pytest.mark.parametrize("name", list(SERVICES))
def test_images_are_pinned(name: str) -> None:
    image = SERVICES[name]["image"]
    assert re.fullmatch(r"[\w./-]+:\d+(\.\d+)+[\w.-]*", image), image


def test_kafka_is_kraft_single_node_and_postgres_has_healthcheck_and_volume() -> None:
    kafka = SERVICES["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert kafka["environment"]["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 1
    postgres = SERVICES["postgres"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    volume = postgres["volumes"][0].split(":")[0]
    assert volume in COMPOSE["volumes"]


@pytest.mark.parametrize("name", GRIDBRAIN_SERVICES)
def test_commands_exist_in_the_cli(name: str) -> None:
    program, *args = SERVICES[name]["command"]
    assert program == "gridbrain"
    command = cli.commands[args[0]]
    # Parses the arguments as the CLI would (unknown options raise), without running.
    with click.Context(cli) as parent:
        command.make_context(args[0], list(args[1:]), parent=parent)


@pytest.mark.parametrize("name", GRIDBRAIN_SERVICES)
def test_environment_names_are_settings(name: str) -> None:
    fields = {f"GRIDBRAIN_{f.upper()}" for f in Settings.model_fields}
    env = SERVICES[name]["environment"]
    assert set(env) <= fields, set(env) - fields
    Settings.model_validate(
        {k.removeprefix("GRIDBRAIN_").lower(): v for k, v in env.items() if "${" not in str(v)}
    )


def test_scalable_worker_and_gpu_forecaster() -> None:
    worker = SERVICES["worker"]
    assert "container_name" not in worker and "ports" not in worker
    devices = SERVICES["forecaster-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert SERVICES["init"]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_dockerfile_is_pinned_and_copies_the_packages() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", dockerfile, re.M)
    assert base and re.search(r":\d+\.\d+\.\d+", base.group(1))
    for package in ("gridbrain", "processors", "streams", "storage", "requirements.lock"):
        assert f"COPY {package}" in dockerfile
