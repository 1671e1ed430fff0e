"""The logins `make credentials` accepts, and who on the host can read the secrets it writes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.integration

CREDENTIALS = REPO / "scripts" / "credentials.py"
LOGINS = {
    "ACCT445_VIEWER_USER": "vera",
    "ACCT445_VIEWER_PASSWORD": "a-viewer-passphrase",
    "ACCT445_OPERATOR_USER": "otto",
    "ACCT445_OPERATOR_PASSWORD": "an-operator-passphrase",
}


def run_credentials(output: Path, env: dict[str, str], *args: str, umask: int | None = None):
    def set_umask():
        if umask is not None:
            os.umask(umask)

    return subprocess.run(
        [sys.executable, str(CREDENTIALS), "--output", str(output), *args],
        env={"PATH": "/usr/bin:/bin", **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=set_umask,
    )


@pytest.mark.parametrize(
    "change,message",
    [
        ({"ACCT445_VIEWER_PASSWORD": "aaaaaaaaaaaa"}, "too easy to guess"),
        ({"ACCT445_VIEWER_PASSWORD": " " * 12}, "too easy to guess"),
        ({"ACCT445_OPERATOR_PASSWORD": "password1234"}, "too easy to guess"),
        (
            {"ACCT445_VIEWER_USER": "vera.lindqvist", "ACCT445_VIEWER_PASSWORD": "vera.lindqvist"},
            "must not be or contain the user name",
        ),
        ({"ACCT445_OPERATOR_USER": "vera"}, "cannot be both viewer and operator"),
        ({"ACCT445_VIEWER_PASSWORD": "lantern-quarry-" * 5}, "bcrypt uses at most 72"),
        # 64 characters, 74 bytes.
        ({"ACCT445_VIEWER_PASSWORD": "ümlaut-sprüche-" * 4 + "ümlü"}, "bcrypt uses at most 72"),
    ],
)
def test_weak_or_unusable_logins_are_refused(tmp_path, change, message):
    result = run_credentials(tmp_path / "secrets", LOGINS | change)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "secrets" / "htpasswd").exists()


@pytest.mark.parametrize("rounds", ["4", "9", "16"])
def test_bcrypt_cost_below_ten_is_refused(tmp_path, rounds):
    result = run_credentials(tmp_path, LOGINS, "--rounds", rounds)
    assert result.returncode == 2 and "between 10 and 15" in result.stderr


def test_a_user_cannot_join_the_other_role_later(tmp_path):
    assert run_credentials(tmp_path, LOGINS).returncode == 0
    again = run_credentials(
        tmp_path,
        {"ACCT445_OPERATOR_USER": "vera", "ACCT445_OPERATOR_PASSWORD": "an-operator-passphrase"},
        "--roles",
        "operator",
    )
    assert again.returncode == 2 and "already has the viewer role" in again.stderr


def test_secrets_are_private_from_the_start(tmp_path, monkeypatch):
    """With no umask at all and no chmod afterwards, every file is still 0600 and every
    directory 0700: they are made so, not fixed up after being written."""
    sys.path.insert(0, str(CREDENTIALS.parent))
    try:
        import credentials
    finally:
        sys.path.remove(str(CREDENTIALS.parent))

    monkeypatch.setattr(Path, "chmod", lambda self, mode: None)
    monkeypatch.setattr(os, "chmod", lambda path, mode, **kw: None)
    old = os.umask(0)
    try:
        output = tmp_path / "secrets"
        credentials.upsert_entry(credentials.htpasswd_path(output, "viewer"), "vera", "$2b$10$x")
        credentials.ensure_postgres_env(output)
        credentials.ensure_session_key(output)
    finally:
        os.umask(old)
    for path in [output, *output.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root")
def test_another_user_cannot_read_any_secret(tmp_path):
    # The directory a deployment keeps them in is often world-readable (a git checkout).
    tmp_path.chmod(0o755)
    output = tmp_path / "secrets"
    output.mkdir(mode=0o755)
    assert run_credentials(output, LOGINS, umask=0o022).returncode == 0
    files = sorted(p for p in output.rglob("*") if p.is_file())
    assert {p.name for p in files} == {
        "viewers.htpasswd",
        "operators.htpasswd",
        "session.key",
        "postgres.env",
    }
    for path in [output, output / "htpasswd", *files]:
        as_nobody = subprocess.run(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "cat", str(path)]
            if path.is_file()
            else [
                "setpriv",
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                "ls",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert as_nobody.returncode != 0, (path, as_nobody.stdout)
        assert "Permission denied" in as_nobody.stderr, (path, as_nobody.stderr)
    # The owner still reads them.
    assert (output / "htpasswd" / "viewers.htpasswd").read_text().startswith("vera:$2b$10$")


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root")
def test_proxy_runtime_files_are_private(tmp_path):
    """The rendered config (it holds the token nginx shows the auth service) and the token
    itself cannot be read by another user; the auth service runs unprivileged."""
    import signal
    import time

    from conftest import _write_credentials_to, free_port, http

    tmp_path.chmod(0o755)
    htpasswd = _write_credentials_to(tmp_path / "secrets")
    port = free_port()
    runtime = tmp_path / "run"
    proxy = subprocess.Popen(
        [str(REPO / "deploy" / "nginx" / "entrypoint.sh")],
        env={
            "PATH": "/usr/sbin:/usr/bin:/bin",
            "HTPASSWD_DIR": str(htpasswd),
            "PROXY_RUNTIME_DIR": str(runtime),
            "PROXY_LISTEN_ADDRESS": "127.0.0.1",
            "PROXY_LISTEN_PORT": str(port),
            "VIEWER_UPSTREAM": "127.0.0.1:9",
            "OPERATOR_UPSTREAM": "127.0.0.1:9",
            "AUTH_PORT": str(free_port()),
            "AUTH_PYTHON": sys.executable,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if http("GET", f"http://127.0.0.1:{port}/", timeout=5).status == 401:
                    break
            except OSError:
                pass
            assert proxy.poll() is None and time.monotonic() < deadline
            time.sleep(0.3)
        for name in ("nginx.conf", "auth.token", "auth_request.conf"):
            read = subprocess.run(
                ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "cat",
                 str(runtime / name)],
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            assert read.returncode != 0 and "Permission denied" in read.stderr, name
        owners = subprocess.run(
            ["ps", "-ww", "-o", "user=", "-o", "args=", "--ppid", str(proxy.pid), "-p", str(proxy.pid)],
            capture_output=True, text=True, timeout=30,
        ).stdout.splitlines()  # fmt: skip
        (service,) = [line for line in owners if "auth_service.py" in line]
        assert service.split()[0] == "nobody", owners
    finally:
        os.killpg(proxy.pid, signal.SIGTERM)
        proxy.wait(timeout=20)
