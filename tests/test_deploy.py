"""What can be checked of the Docker deployment without a Docker engine."""

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from gridbrain.cli.main import cli
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
    # A release tag (Prometheus spells its tags v3.5.0), never latest or a bare major.
    assert re.fullmatch(r"[\w./-]+:v?\d+(\.\d+)+[\w.-]*", image), image


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
    with click.Context(cli) as context:
        command = cli.get_command(context, args[0])
    assert command is not None
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
    assert SERVICES["init"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    # One forecaster: the GPU override replaces the CPU one instead of joining its group.
    assert "forecaster-gpu" not in SERVICES
    assert not any("gpu" in s.get("profiles", []) for s in SERVICES.values())
    assert SERVICES["forecaster"]["environment"]["GRIDBRAIN_DEVICE"] == "${GRIDBRAIN_DEVICE:-cpu}"
    assert "profiles" not in SERVICES["forecaster"]  # plain `docker compose up` runs it
    override = yaml.safe_load((ROOT / "deploy" / "compose.gpu.yaml").read_text())
    assert set(override) == {"services"} and set(override["services"]) == {"forecaster"}
    gpu = override["services"]["forecaster"]
    assert gpu["environment"] == {"GRIDBRAIN_DEVICE": "cuda"}
    Settings(device=gpu["environment"]["GRIDBRAIN_DEVICE"])
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    header = (ROOT / "docker-compose.yml").read_text()
    assert "docker compose -f docker-compose.yml -f deploy/compose.gpu.yaml up" in header


@pytest.mark.parametrize("name", [n for n, s in SERVICES.items() if "ports" in s])
def test_ports_are_published_on_localhost_only(name: str) -> None:
    for port in SERVICES[name]["ports"]:
        assert isinstance(port, str) and port.startswith("127.0.0.1:"), port


def test_postgres_password_is_required_and_never_defaulted() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "${POSTGRES_PASSWORD:-" not in text and "${POSTGRES_PASSWORD-" not in text
    uses = re.findall(r"\$\{POSTGRES_PASSWORD[^}]*\}", text)
    assert uses and all(u.startswith("${POSTGRES_PASSWORD:?") for u in uses), uses
    assert SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"] in uses
    assert "${POSTGRES_PASSWORD:?" in SERVICES["worker"]["environment"]["GRIDBRAIN_DATABASE_URL"]
    # No literal password in the file (the psql hint in the header included).
    assert not re.search(r"postgresql://[^:/@\s]+:[^@$\s]+@", text)


def test_dockerfile_is_pinned_and_copies_the_packages() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", dockerfile, re.M)
    assert base and re.search(r":\d+\.\d+\.\d+", base.group(1))
    for package in ("gridbrain", "processors", "streams", "storage", "requirements.lock"):
        assert f"COPY {package}" in dockerfile


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _runtime_lock() -> tuple[set[str], set[str]]:
    """The lock's package names, and those the Dockerfile's filter lets pip install."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    found = re.search(r"grep -viE '([^']+)'[\s\\]+requirements\.lock > (\S+)", dockerfile)
    assert found, "the Dockerfile no longer filters requirements.lock"
    assert f"pip install -r {found.group(2)}" in dockerfile
    assert not re.search(r"pip install (-r )?requirements\.lock", dockerfile)
    drop = re.compile(found.group(1), re.IGNORECASE)
    lines = [
        line.strip()
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    names = {_normalise(re.split(r"[=<>!~;\[ ]", line, maxsplit=1)[0]) for line in lines}
    kept = {
        _normalise(re.split(r"[=<>!~;\[ ]", line, maxsplit=1)[0])
        for line in lines
        if not drop.search(line)
    }
    return names, kept


def test_dockerfile_installs_no_test_or_lint_tools() -> None:
    names, kept = _runtime_lock()
    assert {"pytest", "ruff", "mypy"} <= names  # the filter has something to do
    assert not kept & {"pytest", "pytest-timeout", "ruff", "mypy", "types-pyyaml"}
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "pip install --no-deps ." in dockerfile and "[dev]" not in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)


def test_dockerfile_keeps_every_runtime_dependency() -> None:
    """What the runtime dependencies need (installed metadata, transitively) is kept."""
    import tomllib
    from importlib import metadata

    from packaging.requirements import Requirement

    names, kept = _runtime_lock()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed: set[str] = set()
    todo = [(Requirement(r), "") for r in project["dependencies"]]
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = _normalise(requirement.name)
        if name in needed:
            continue
        needed.add(name)
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue
        for extra_name in requirement.extras or {""}:
            todo += [(Requirement(r), extra_name) for r in requires]
    missing = (needed & names) - kept
    assert not missing, f"the Dockerfile filter drops runtime dependencies: {missing}"


def test_the_wheel_installs_one_import_name(tmp_path: Path) -> None:
    """Installed, Gridbrain adds `gridbrain` only (no generic `storage` to shadow others)."""
    source = tmp_path / "source"  # setuptools builds in the source tree: use a copy
    for part in ("gridbrain", "processors", "streams", "storage"):
        shutil.copytree(
            ROOT / part, source / part, symlinks=True, ignore=shutil.ignore_patterns("__pycache__")
        )
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, source / part)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    [wheel] = tmp_path.glob("gridbrain-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {
        "gridbrain"
    }
    for packaged in (
        "gridbrain/processors/alerting/default_rules.yaml",
        "gridbrain/storage/migrations/versions/0007_fault_tolerance.py",
        "gridbrain/streams/executor.py",
        "gridbrain/cli/__main__.py",
    ):
        assert packaged in names
