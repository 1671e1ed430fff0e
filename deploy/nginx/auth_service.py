"""Login checks for the nginx auth proxy (`auth_request`), so a password costs bcrypt once.

nginx asks `GET /check/viewer` or `GET /check/operator` for every request, passing the
client's Authorization and Cookie headers and its address. The answer is

- 200 for a valid session cookie (an HMAC and an expiry: no bcrypt), or for Basic
  credentials that were verified before (an HMAC of them is remembered until the session
  lifetime ends), or for Basic credentials that pass bcrypt now; the last one also sets a
  fresh session cookie;
- 401 with a Basic challenge for anything else;
- 403 for a valid login on a write or websocket that nginx found without the proxy's own
  Origin (X-Acct445-Origin-Refused: 1);
- 403 with `X-Auth-Throttled: 1` when checking the password would need bcrypt but the
  client's address has used up its login attempts, or too many bcrypt checks are already
  waiting; nginx turns that into 429.

Per address, at most FAILURE_BURST passwords are checked at once, then one more every
FAILURE_REFILL_SECONDS; a correct password gives its attempt back. bcrypt runs on one thread
at a time, so however many wrong passwords arrive, at most one core is spent on them.

Secrets (both htpasswd files and session.key) are read once at start; the service then drops
root privileges. Only the standard library and bcrypt are needed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.server
import os
import re
import stat
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt

ROLES = ("viewer", "operator")
COOKIE_NAME = "acct445_session"
REALM = "acct445 Dagster"
SESSION_SECONDS = 8 * 3600
FAILURE_BURST = 20
FAILURE_REFILL_SECONDS = 3.0
MAX_WAITING_BCRYPT = 4
MAX_REMEMBERED = 4096
BCRYPT_LINE = re.compile(r"^[^:\s]+:\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$")
MIN_KEY_BYTES = 32


class ConfigError(Exception):
    pass


def read_secret(path: Path) -> bytes:
    """A secret file's bytes; refused when others may read it."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"{path} is missing") from None
    if info.st_mode & stat.S_IROTH:
        raise ConfigError(f"{path} is readable by every user (mode {stat.S_IMODE(info.st_mode):o})")
    return path.read_bytes()


def load_htpasswd(path: Path) -> dict[str, bytes]:
    users = {}
    lines = read_secret(path).decode().splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        if not BCRYPT_LINE.match(line):
            raise ConfigError(f"{path}: line {number} is not 'user:bcrypt-hash'")
        user, hashed = line.split(":", 1)
        users[user] = hashed.encode()
    if not users:
        raise ConfigError(f"{path} has no users")
    return users


@dataclass
class Bucket:
    tokens: float
    updated: float


@dataclass
class Authenticator:
    """What the service knows: the users of each role, the session key, and the counters."""

    users: dict[str, dict[str, bytes]]  # role -> user -> bcrypt hash
    key: bytes
    session_seconds: int = SESSION_SECONDS
    failure_burst: int = FAILURE_BURST
    failure_refill_seconds: float = FAILURE_REFILL_SECONDS
    clock: callable = time.time
    buckets: dict[str, Bucket] = field(default_factory=dict)
    remembered: dict[bytes, tuple[str, str, float]] = field(default_factory=dict)
    bcrypt_lock: threading.Lock = field(default_factory=threading.Lock)
    state_lock: threading.Lock = field(default_factory=threading.Lock)
    waiting: int = 0
    bcrypt_checks: int = 0

    def _mac(self, *parts: str) -> bytes:
        return hmac.new(self.key, "\x00".join(parts).encode(), hashlib.sha256).digest()

    def _fingerprint(self, role: str, user: str) -> str:
        # Part of every session: a new password (and a restart) ends the old sessions.
        hashed = self.users[role].get(user)
        return "" if hashed is None else hashlib.sha256(hashed).hexdigest()[:16]

    def roles_of(self, user: str) -> list[str]:
        return [role for role in ROLES if user in self.users[role]]

    @staticmethod
    def satisfies(have: str, need: str) -> bool:
        return have == need or (have == "operator" and need == "viewer")

    # ---- sessions -------------------------------------------------------------------------
    def issue_session(self, user: str, role: str) -> str:
        expires = int(self.clock()) + self.session_seconds
        name = base64.urlsafe_b64encode(user.encode()).decode().rstrip("=")
        body = f"{name}.{role}.{expires}"
        mac = self._mac(body, self._fingerprint(role, user))
        return f"{body}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"

    def session_role(self, cookie_value: str) -> tuple[str, str] | None:
        try:
            name, role, expires, mac = cookie_value.split(".")
            user = base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()
            expires_at = int(expires)
            given = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
        except ValueError:
            return None
        if role not in ROLES or user not in self.users[role] or expires_at < self.clock():
            return None
        expected = self._mac(f"{name}.{role}.{expires}", self._fingerprint(role, user))
        return (user, role) if hmac.compare_digest(given, expected) else None

    # ---- throttling -----------------------------------------------------------------------
    def _take_attempt(self, address: str) -> bool:
        now = self.clock()
        bucket = self.buckets.get(address)
        if bucket is None:
            if len(self.buckets) > 10000:
                self._forget_full_buckets(now)
            bucket = self.buckets[address] = Bucket(float(self.failure_burst), now)
        refill = (now - bucket.updated) / self.failure_refill_seconds
        bucket.tokens = min(float(self.failure_burst), bucket.tokens + refill)
        bucket.updated = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def _forget_full_buckets(self, now: float) -> None:
        full_after = self.failure_burst * self.failure_refill_seconds
        for address in [a for a, b in self.buckets.items() if now - b.updated > full_after]:
            del self.buckets[address]

    def _give_back(self, address: str) -> None:
        bucket = self.buckets.get(address)
        if bucket is not None:
            bucket.tokens = min(float(self.failure_burst), bucket.tokens + 1)

    # ---- the check ------------------------------------------------------------------------
    def check(
        self, need: str, authorization: str, cookies: str, address: str, refused: bool = False
    ):
        """Returns (status, user, new session cookie value or None); status 429: throttled.

        `refused`: nginx found a write or websocket without the proxy's own Origin; that is a
        403 for a valid login, and stays a 401 for anyone else."""
        status, user, session = self._login(need, authorization, cookies, address)
        if status == 200 and refused:
            return 403, user, None
        return status, user, session

    def _login(self, need: str, authorization: str, cookies: str, address: str):
        session = _cookie(cookies, COOKIE_NAME)
        if session:
            found = self.session_role(session)
            if found and self.satisfies(found[1], need):
                return 200, found[0], None
        credentials = _basic(authorization)
        if credentials is None:
            return 401, None, None
        user, password = credentials
        remembered_key = self._mac("basic", user, password)
        now = self.clock()
        with self.state_lock:
            known = self.remembered.get(remembered_key)
            if known and known[2] > now and self.satisfies(known[1], need):
                return 200, user, self.issue_session(user, known[1])
            candidates = [
                role
                for role in ("operator", "viewer")
                if user in self.users[role] and self.satisfies(role, need)
            ]
            if not candidates:
                # Unknown users are checked like known ones: the time taken tells nothing.
                candidates = [None]
            if self.waiting >= MAX_WAITING_BCRYPT or not self._take_attempt(address):
                return 429, user, None
            self.waiting += 1
        try:
            with self.bcrypt_lock:
                matched = None
                for role in candidates:
                    hashed = self.users[role].get(user) if role else _DUMMY_HASH
                    self.bcrypt_checks += 1
                    if bcrypt.checkpw(password.encode(), hashed) and role:
                        matched = role
                        break
        finally:
            with self.state_lock:
                self.waiting -= 1
        ok = matched is not None
        print(
            f"auth: bcrypt check role={need} user={user!r} address={address} "
            f"{'ok' if ok else 'failed'}",
            file=sys.stderr,
            flush=True,
        )
        if not ok:
            return 401, user, None
        with self.state_lock:
            self._give_back(address)
            if len(self.remembered) >= MAX_REMEMBERED:
                self.remembered.clear()
            self.remembered[remembered_key] = (user, matched, now + self.session_seconds)
        return 200, user, self.issue_session(user, matched)


_DUMMY_HASH = bcrypt.hashpw(b"no such user", bcrypt.gensalt(10))


def _cookie(header: str, name: str) -> str | None:
    for part in (header or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        user, sep, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
    except ValueError:
        return None
    if not sep or not user or len(password.encode()) > 72:
        return None
    return user, password


def make_handler(auth: Authenticator, token: str | None):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "acct445-auth"
        sys_version = ""

        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            pass  # nginx logs every request; the service logs only bcrypt checks

        def _answer(self, status: int, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):  # noqa: N802 - http.server's name
            if self.path == "/health":
                return self._answer(200)
            role = self.path.removeprefix("/check/")
            if role not in ROLES:
                return self._answer(404)
            if token is not None and not hmac.compare_digest(
                self.headers.get("X-Acct445-Proxy-Token", ""), token
            ):
                return self._answer(403)
            status, user, session = auth.check(
                role,
                self.headers.get("Authorization", ""),
                self.headers.get("Cookie", ""),
                self.headers.get("X-Real-IP") or self.client_address[0],
                refused=self.headers.get("X-Acct445-Origin-Refused") == "1",
            )
            if status == 401:
                return self._answer(401, {"WWW-Authenticate": f'Basic realm="{REALM}"'})
            if status == 403:
                return self._answer(403)
            if status == 429:
                # auth_request passes on only 2xx, 401 and 403: nginx makes this a 429.
                retry = str(int(auth.failure_refill_seconds) + 1)
                return self._answer(403, {"X-Auth-Throttled": "1", "Retry-After": retry})
            headers = {"X-Auth-User": user}
            if session:
                secure = "; Secure" if self.headers.get("X-Forwarded-Proto") == "https" else ""
                headers["Set-Cookie"] = (
                    f"{COOKIE_NAME}={session}; Path=/; Max-Age={auth.session_seconds}; "
                    f"HttpOnly; SameSite=Strict{secure}"
                )
            return self._answer(200, headers)

    return Handler


def load(htpasswd_dir: Path, session_seconds: int) -> Authenticator:
    users = {role: load_htpasswd(htpasswd_dir / f"{role}s.htpasswd") for role in ROLES}
    key = read_secret(htpasswd_dir / "session.key").strip()
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"{htpasswd_dir / 'session.key'} holds fewer than {MIN_KEY_BYTES} bytes")
    return Authenticator(users=users, key=key, session_seconds=session_seconds)


def drop_privileges(spec: str) -> None:
    import grp
    import pwd

    name, _, group = spec.partition(":")
    uid = int(name) if name.isdigit() else pwd.getpwnam(name).pw_uid
    if group:
        gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
    else:
        gid = pwd.getpwuid(uid).pw_gid
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--htpasswd-dir", type=Path, required=True)
    parser.add_argument("--listen", default="127.0.0.1:8091", help="host:port")
    parser.add_argument("--token-file", type=Path, help="require this X-Acct445-Proxy-Token")
    parser.add_argument("--ready-file", type=Path, help="written once listening")
    parser.add_argument("--user", default="nobody", help="run as this user when started as root")
    parser.add_argument("--session-seconds", type=int, default=SESSION_SECONDS)
    args = parser.parse_args(argv)
    try:
        auth = load(args.htpasswd_dir, args.session_seconds)
        token = read_secret(args.token_file).decode().strip() if args.token_file else None
    except (ConfigError, OSError, UnicodeDecodeError) as err:
        print(f"auth service: {err}; refusing to start", file=sys.stderr)
        return 64
    host, _, port = args.listen.rpartition(":")
    server = http.server.ThreadingHTTPServer((host, int(port)), make_handler(auth, token))
    server.daemon_threads = True
    if args.ready_file:
        fd = os.open(args.ready_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, b"ready\n")
        os.close(fd)
    if os.geteuid() == 0:
        drop_privileges(args.user)
    print(f"auth service: listening on {args.listen}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
