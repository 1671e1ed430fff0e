"""The deployment's topology, run natively on 127.0.0.1 for the integration tests.

Postgres (the installed server binaries, in a temporary cluster), two gRPC code servers (the
project and a probe location), a read-only and a full webserver, the daemon, and nginx started
through the project's own entrypoint and config. Ports are picked free at start-up; every
process is stopped at the end; a failing test gets the tails of the service logs attached.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("ACCT445_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_SYSTEM_USER = "acct445pg"
VIEWER = ("vera", "viewer-" + secrets.token_hex(8))
OPERATOR = ("otto", "operator-" + secrets.token_hex(8))
PROBE_LOCATION = "ops_check"
PROJECT_LOCATION = "acct445_assets"
STARTUP_TIMEOUT = 240


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def basic_auth(user: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()


@dataclass
class Response:
    status: int
    headers: Message  # case-insensitive; get_all() for repeated headers
    body: bytes

    def json(self):
        return json.loads(self.body)


def http(
    method: str,
    url: str,
    *,
    user: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 30,
) -> Response:
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    if user:
        request.add_header("Authorization", basic_auth(user))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return Response(reply.status, reply.headers, reply.read())
    except urllib.error.HTTPError as err:
        return Response(err.code, err.headers, err.read())


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log: Path


@dataclass
class Stack:
    root: Path
    dagster_home: Path
    proxy_port: int
    viewer_port: int
    operator_port: int
    pg_port: int
    pg_env: dict[str, str]
    services: list[Service] = field(default_factory=list)

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def graphql(self, path: str, query: str, variables=None, user=None) -> Response:
        payload = json.dumps({"query": query, "variables": variables or {}}).encode()
        # Every write names the proxy's origin, as a browser on the UI's page does.
        return http(
            "POST",
            self.proxy + path,
            user=user,
            headers={"Content-Type": "application/json", "Origin": self.proxy},
            body=payload,
        )

    def instance(self):
        from dagster import DagsterInstance

        with _environment(self.pg_env | {"DAGSTER_HOME": str(self.dagster_home)}):
            return DagsterInstance.from_config(str(self.dagster_home))

    def log_tails(self, lines: int = 60) -> str:
        parts = []
        for service in self.services:
            text = (
                service.log.read_text(errors="replace").splitlines() if service.log.exists() else []
            )
            state = service.process.poll()
            status = "running" if state is None else f"exited {state}"
            parts.append(f"----- {service.name} ({status}) {service.log}")
            parts.extend(text[-lines:])
        return "\n".join(parts)


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _as_postgres_user() -> list[str]:
    """initdb refuses to run as root: run the server as a dedicated system user then."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                PG_SYSTEM_USER,
            ],
            check=True,
        )
    return ["runuser", "-u", PG_SYSTEM_USER, "--"]


def _wait_for(what: str, check, stack: Stack | None, timeout: float = STARTUP_TIMEOUT):
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        if stack:
            for service in stack.services:
                if service.process.poll() is not None:
                    raise RuntimeError(
                        f"{service.name} exited while waiting for {what}\n{stack.log_tails()}"
                    )
        try:
            result = check()
            if result:
                return result
        except Exception as err:  # noqa: BLE001 - any failure means "not ready yet"
            last_error = err
        time.sleep(0.5)
    tails = stack.log_tails() if stack else ""
    raise TimeoutError(f"{what} not ready after {timeout}s (last error: {last_error!r})\n{tails}")


def _start(stack: Stack, name: str, argv: list[str], env: dict[str, str]) -> Service:
    log = stack.root / "logs" / f"{name}.log"
    log.parent.mkdir(exist_ok=True)
    handle = log.open("wb")
    process = subprocess.Popen(
        argv,
        cwd=REPO,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    handle.close()
    service = Service(name, process, log)
    stack.services.append(service)
    return service


def _stop(service: Service) -> None:
    if service.process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(service.process.pid, signal.SIGTERM)
    try:
        service.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.process.pid, signal.SIGKILL)
        service.process.wait(timeout=10)


def _start_postgres(stack: Stack) -> None:
    as_pg = _as_postgres_user()
    pg_root = stack.root / "postgres"
    pg_root.mkdir()
    password = secrets.token_hex(16)
    (pg_root / "pw").write_text(password + "\n")
    if as_pg:
        shutil.chown(pg_root, PG_SYSTEM_USER)
    data = pg_root / "data"
    subprocess.run(
        [*as_pg, str(PG_BIN / "initdb"), "-D", str(data), "-U", "dagster", "--auth=scram-sha-256",
         f"--pwfile={pg_root / 'pw'}", "-E", "UTF8", "--no-sync"],
        check=True, capture_output=True,
    )  # fmt: skip
    options = f"-p {stack.pg_port} -k {pg_root} -c listen_addresses=127.0.0.1 -c fsync=off -c timezone=UTC"
    # pg_ctl forks the server; running it in the foreground through postgres directly lets
    # the stack own the process like every other service.
    _start(
        stack,
        "postgres",
        [*as_pg, str(PG_BIN / "postgres"), "-D", str(data), *options.split()],
        os.environ.copy(),
    )
    env = os.environ | {"PGPASSWORD": password}
    _wait_for(
        "postgres",
        lambda: (
            subprocess.run(
                [
                    str(PG_BIN / "pg_isready"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(stack.pg_port),
                    "-U",
                    "dagster",
                ],
                capture_output=True,
            ).returncode
            == 0
        ),
        stack,
        timeout=60,
    )
    subprocess.run(
        [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(stack.pg_port), "-U", "dagster", "dagster"],
        check=True, env=env, capture_output=True,
    )  # fmt: skip
    stack.pg_env = {
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": str(stack.pg_port),
        "DAGSTER_PG_USER": "dagster",
        "DAGSTER_PG_PASSWORD": password,
        "DAGSTER_PG_DB": "dagster",
    }


def _write_instance(stack: Stack) -> None:
    """deploy/dagster.yaml, with the default (subprocess) launcher in place of Docker's."""
    config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    config.pop("run_launcher")
    # Test speed only: the daemon looks at the queue every second instead of every five.
    config["run_coordinator"]["config"] = {"dequeue_interval_seconds": 1}
    stack.dagster_home.mkdir()
    (stack.dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config))


def _write_credentials(stack: Stack) -> Path:
    return _write_credentials_to(stack.root / "auth")


def _write_credentials_to(auth_dir: Path) -> Path:
    """Logins made with the project's own script; returns the htpasswd directory."""
    env = os.environ | {
        "ACCT445_VIEWER_USER": VIEWER[0],
        "ACCT445_VIEWER_PASSWORD": VIEWER[1],
        "ACCT445_OPERATOR_USER": OPERATOR[0],
        "ACCT445_OPERATOR_PASSWORD": OPERATOR[1],
    }
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "credentials.py"), "--output", str(auth_dir)],
        check=True, env=env, capture_output=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return auth_dir / "htpasswd"


def _workspace_loaded(stack: Stack) -> bool:
    reply = http("POST", f"http://127.0.0.1:{stack.viewer_port}/graphql",
                 headers={"Content-Type": "application/json"},
                 body=json.dumps({"query": "{ workspaceOrError { ... on Workspace { locationEntries "
                                  "{ name loadStatus locationOrLoadError { __typename } } } } }"}).encode())  # fmt: skip
    entries = reply.json()["data"]["workspaceOrError"]["locationEntries"]
    names = {e["name"] for e in entries if e["loadStatus"] == "LOADED"}
    errors = [
        e
        for e in entries
        if e["locationOrLoadError"] and e["locationOrLoadError"]["__typename"] == "PythonError"
    ]
    if errors:
        raise RuntimeError(f"code location failed to load: {errors}")
    return {PROBE_LOCATION, PROJECT_LOCATION} <= names


@pytest.fixture(scope="session")
def stack():
    root = Path(tempfile.mkdtemp(prefix="acct445-stack-"))
    root.chmod(0o755)
    stack = Stack(
        root=root,
        dagster_home=root / "dagster_home",
        proxy_port=free_port(),
        viewer_port=free_port(),
        operator_port=free_port(),
        pg_port=free_port(),
        pg_env={},
    )
    try:
        _start_postgres(stack)
        _write_instance(stack)
        auth_dir = _write_credentials(stack)
        grpc_project, grpc_probe = free_port(), free_port()
        workspace = root / "workspace.yaml"
        workspace.write_text(yaml.safe_dump({"load_from": [
            {"grpc_server": {"host": "127.0.0.1", "port": grpc_project, "location_name": PROJECT_LOCATION}},
            {"grpc_server": {"host": "127.0.0.1", "port": grpc_probe, "location_name": PROBE_LOCATION}},
        ]}))  # fmt: skip
        env = (
            os.environ
            | stack.pg_env
            | {
                "DAGSTER_HOME": str(stack.dagster_home),
                "ACCT445_SOURCE": "sample",
                "ACCT445_HOME": str(root / "data"),
                "ACCT445_RESULTS_DIR": str(root / "results"),
                "TZ": "America/New_York",
                "PYTHONUNBUFFERED": "1",
            }
        )
        bin_dir = Path(sys.executable).parent
        _start(stack, "grpc-project", [str(bin_dir / "dagster"), "api", "grpc", "-m", "acct445_assets.definitions",
               "-h", "127.0.0.1", "-p", str(grpc_project), "--location-name", PROJECT_LOCATION], env)  # fmt: skip
        _start(stack, "grpc-probe", [str(bin_dir / "dagster"), "api", "grpc", "-f",
               str(Path(__file__).with_name("ops_location.py")), "-h", "127.0.0.1", "-p", str(grpc_probe),
               "--location-name", PROBE_LOCATION], env)  # fmt: skip
        from dagster._grpc.client import DagsterGrpcClient

        for port in (grpc_project, grpc_probe):
            # What `dagster api grpc-health-check` asks, without a process start per poll.
            client = DagsterGrpcClient(port=port, host="127.0.0.1")
            _wait_for(
                f"code server on {port}",
                lambda c=client: c.health_check_query() == "SERVING",
                stack,
            )
        _start(stack, "webserver-viewer", [str(bin_dir / "dagster-webserver"), "-h", "127.0.0.1", "-p",
               str(stack.viewer_port), "-w", str(workspace), "--read-only"], env)  # fmt: skip
        _start(stack, "webserver-operator", [str(bin_dir / "dagster-webserver"), "-h", "127.0.0.1", "-p",
               str(stack.operator_port), "-w", str(workspace), "--path-prefix", "/operator"], env)  # fmt: skip
        _start(stack, "daemon", [str(bin_dir / "dagster-daemon"), "run", "-w", str(workspace)], env)
        _start(stack, "proxy", [str(REPO / "deploy" / "nginx" / "entrypoint.sh")], os.environ | {
            "HTPASSWD_DIR": str(auth_dir),
            "PROXY_LISTEN_ADDRESS": "127.0.0.1",
            "PROXY_LISTEN_PORT": str(stack.proxy_port),
            "VIEWER_UPSTREAM": f"127.0.0.1:{stack.viewer_port}",
            "OPERATOR_UPSTREAM": f"127.0.0.1:{stack.operator_port}",
            "PROXY_RUNTIME_DIR": str(root / "proxy"),
            "PROXY_RATE_LIMIT": "50r/s",
            "PROXY_RATE_BURST": "80",
            "AUTH_PORT": str(free_port()),
            "AUTH_PYTHON": sys.executable,
        })  # fmt: skip
        _wait_for("viewer webserver", lambda: _workspace_loaded(stack), stack)
        _wait_for(
            "operator webserver",
            lambda: (
                http("GET", f"http://127.0.0.1:{stack.operator_port}/operator/server_info").status
                == 200
            ),
            stack,
        )
        _wait_for(
            "proxy",
            lambda: http("GET", stack.proxy + "/server_info").status == 401,
            stack,
            timeout=30,
        )
        yield stack
    finally:
        for service in reversed(stack.services):
            _stop(service)
        shutil.rmtree(root, ignore_errors=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and "stack" in getattr(item, "fixturenames", ()):
        running = item.funcargs.get("stack") if hasattr(item, "funcargs") else None
        if running is not None:
            report.sections.append(("service logs", running.log_tails()))
    return report
