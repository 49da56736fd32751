"""The Docker deployment's monitoring wiring, checked as files (no Docker, no Grafana).

Grafana's provisioning and Prometheus' configuration are mounted from the repository,
Prometheus scrapes the workers where docker-compose.yml has them serve, the data sources
point at the compose services, and the new services publish on 127.0.0.1 only and take
their secrets from required variables. (The dashboard's queries: ``test_dashboard.py``.)
"""

import re

import pytest

from gridbrain.settings import Settings
from tests.test_dashboard import (
    COMPOSE,
    COMPOSE_TEXT,
    DASHBOARD_FILE,
    DATASOURCES,
    GRAFANA,
    PROMETHEUS,
    PROVIDERS,
    ROOT,
    SECRETS,
    SERVICES,
)


def _mounts(service: str) -> dict[str, str]:
    """Bind mounts of a service, container path -> repository path."""
    mounts = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith("./"):
            mounts[target] = source
    return mounts


def test_data_sources_point_at_the_compose_services() -> None:
    by_uid = {source["uid"]: source for source in DATASOURCES}
    assert by_uid["prometheus"]["url"] == "http://prometheus:9090"
    assert (
        by_uid["prometheus"]["jsonData"]["timeInterval"] == PROMETHEUS["global"]["scrape_interval"]
    )
    postgres = by_uid["postgres"]
    assert postgres["url"] == "postgres:5432"
    assert postgres["jsonData"]["database"] == SERVICES["postgres"]["environment"]["POSTGRES_DB"]
    # The SELECT-only login that the one-shot grafana-db-user creates, its password
    # from GRAFANA_DB_PASSWORD (in Grafana's environment, never in the file).
    password = postgres["secureJsonData"]["password"]
    assert re.fullmatch(r"\$\{?GRAFANA_DB_PASSWORD\}?", password)
    assert "GRAFANA_DB_PASSWORD" in SERVICES["grafana"]["environment"]
    script = " ".join(SERVICES["grafana-db-user"]["command"])
    assert f"ALTER ROLE {postgres['user']} WITH LOGIN" in script
    assert f"GRANT pg_read_all_data TO {postgres['user']}" in script
    assert f"ALTER ROLE {postgres['user']} SET default_transaction_read_only = on" in script
    assert "GRANT gridbrain_api" not in script  # that role may write silences
    # Compose interpolates single $ signs itself: the script's are escaped ($$).
    assert re.findall(r"\$+\w*", script) == ["$$GRAFANA_DB_PASSWORD"]
    assert "GRAFANA_DB_PASSWORD" in SERVICES["grafana-db-user"]["environment"]
    assert SERVICES["grafana-db-user"]["restart"] == "no"
    dependency = SERVICES["grafana"]["depends_on"]["grafana-db-user"]
    assert dependency["condition"] == "service_completed_successfully"


def test_grafana_provisioning_is_mounted_from_the_repository() -> None:
    mounts = _mounts("grafana")
    provisioning = mounts["/etc/grafana/provisioning"]
    assert (ROOT / provisioning / "datasources" / "datasources.yml").is_file()
    assert (ROOT / provisioning / "dashboards" / "dashboards.yml").is_file()
    assert (ROOT / provisioning).resolve() == (GRAFANA / "provisioning").resolve()
    [provider] = PROVIDERS
    path = provider["options"]["path"]
    assert (ROOT / mounts[path]).resolve() == DASHBOARD_FILE.parent
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{path}/{DASHBOARD_FILE.name}"
    for target, source in mounts.items():
        assert (ROOT / source).exists(), f"{source} (mounted at {target}) is not in the repo"
    for volume in SERVICES["grafana"]["volumes"] + SERVICES["prometheus"]["volumes"]:
        source = volume.split(":")[0]
        assert source.startswith("./") or source in COMPOSE["volumes"], volume


def test_prometheus_config_is_mounted_where_prometheus_reads_it() -> None:
    mounts = _mounts("prometheus")
    config = next(
        a.split("=", 1)[1]
        for a in SERVICES["prometheus"]["command"]
        if a.startswith("--config.file=")
    )
    assert (ROOT / mounts[config]).resolve() == (ROOT / "deploy/prometheus/prometheus.yml")


def test_prometheus_scrapes_every_worker_and_the_forecaster() -> None:
    jobs = {job["job_name"]: job for job in PROMETHEUS["scrape_configs"]}
    dns = [sd for job in jobs.values() for sd in job.get("dns_sd_configs", [])]
    # One A record per replica: `docker compose up --scale worker=3` is scraped whole.
    assert {"names": ["worker"], "type": "A", "port": 9100} in [
        {k: sd[k] for k in ("names", "type", "port")} for sd in dns
    ]
    static = [
        t for job in jobs.values() for s in job.get("static_configs", []) for t in s["targets"]
    ]
    assert "forecaster:9100" in static
    assert Settings().metrics_port == 9100
    for name in ("worker", "forecaster"):
        env = SERVICES[name]["environment"]
        assert env["GRIDBRAIN_METRICS_HOST"] == "0.0.0.0"
        assert int(env.get("GRIDBRAIN_METRICS_PORT", 9100)) == 9100
        assert "ports" not in SERVICES[name]  # metrics stay inside the compose network
    for target in static:
        host = target.split(":")[0]
        assert host in SERVICES or host == "localhost", target


def test_monitoring_and_api_services_exist_on_localhost_only() -> None:
    assert {"api", "prometheus", "grafana", "grafana-db-user"} <= set(SERVICES)
    expected = {
        "api": "127.0.0.1:8080:8080",
        "prometheus": "127.0.0.1:9090:9090",
        "grafana": "127.0.0.1:3000:3000",
    }
    for name, port in expected.items():
        assert SERVICES[name]["ports"] == [port], name
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), (name, port)
    for url in ("http://localhost:8080/", "http://localhost:9090/", "http://localhost:3000/"):
        assert url in COMPOSE_TEXT.split("\nx-gridbrain")[0], f"the header lacks {url}"


@pytest.mark.parametrize("name", SECRETS)
def test_secrets_are_required_and_never_defaulted(name: str) -> None:
    uses = re.findall(r"\$\{" + name + r"\b[^}]*\}", COMPOSE_TEXT)
    assert uses, f"{name} is not used"
    assert all(u.startswith("${" + name + ":?") for u in uses), uses
    assert name in COMPOSE_TEXT.split("\nx-gridbrain")[0], f"the header does not name {name}"


def test_grafana_needs_a_login() -> None:
    env = SERVICES["grafana"]["environment"]
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert "image" in SERVICES["grafana"] and "grafana-data" in COMPOSE["volumes"]


def test_api_service_listens_with_tokens_and_has_a_healthcheck() -> None:
    from gridbrain.api.routes_ops import router

    api = SERVICES["api"]
    assert api["command"] == ["gridbrain", "api"]
    env = api["environment"]
    assert env["GRIDBRAIN_API_HOST"] == "0.0.0.0"
    port = env.get("GRIDBRAIN_API_PORT", str(Settings().api_port))
    assert api["ports"] == [f"127.0.0.1:{port}:{port}"]
    for token in ("GRIDBRAIN_API_READ_TOKEN", "GRIDBRAIN_API_WRITE_TOKEN"):
        assert env[token].startswith("${" + token + ":?")
    assert api["depends_on"]["init"]["condition"] == "service_completed_successfully"
    check = " ".join(api["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/health" in check
    assert "urllib" in check  # python:*-slim has no curl or wget
    assert "/health" in {getattr(route, "path", None) for route in router.routes}
