"""The auth proxy's login service (deploy/nginx/auth_service.py), with a clock of its own."""

from __future__ import annotations

import base64
import sys

import bcrypt
import pytest
from conftest import REPO

pytestmark = pytest.mark.integration

sys.path.insert(0, str(REPO / "deploy" / "nginx"))
import auth_service  # noqa: E402

sys.path.pop(0)


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module")
def hashes():
    return {
        "viewer": {"vera": bcrypt.hashpw(b"viewer-secret-words", bcrypt.gensalt(4))},
        "operator": {"otto": bcrypt.hashpw(b"operator-secret-words", bcrypt.gensalt(4))},
    }


@pytest.fixture
def auth(hashes):
    return auth_service.Authenticator(
        users={role: dict(users) for role, users in hashes.items()},
        key=b"k" * 32,
        session_seconds=600,
        clock=Clock(),
    )


def session_of(auth, user, password, need="viewer"):
    status, _, session = auth.check(need, basic(user, password), "", "10.0.0.1")
    assert status == 200
    return f"{auth_service.COOKIE_NAME}={session}"


def test_session_lasts_its_lifetime_only(auth):
    cookie = session_of(auth, "vera", "viewer-secret-words")
    assert auth.check("viewer", "", cookie, "10.0.0.9")[0] == 200
    auth.clock.now += 601
    assert auth.check("viewer", "", cookie, "10.0.0.9")[0] == 401


def test_session_ends_when_the_password_changes(auth):
    cookie = session_of(auth, "vera", "viewer-secret-words")
    auth.users["viewer"]["vera"] = bcrypt.hashpw(b"a-new-password-here", bcrypt.gensalt(4))
    assert auth.check("viewer", "", cookie, "10.0.0.9")[0] == 401


def test_operator_session_reads_but_viewer_session_does_not_operate(auth):
    operator = session_of(auth, "otto", "operator-secret-words", "operator")
    viewer = session_of(auth, "vera", "viewer-secret-words")
    assert auth.check("viewer", "", operator, "10.0.0.9")[0] == 200
    assert auth.check("operator", "", operator, "10.0.0.9")[0] == 200
    assert auth.check("operator", "", viewer, "10.0.0.9")[0] == 401
    assert auth.check("operator", basic("vera", "viewer-secret-words"), "", "10.0.0.9")[0] == 401


def test_known_password_costs_bcrypt_once(auth):
    for _ in range(5):
        assert auth.check("viewer", basic("vera", "viewer-secret-words"), "", "10.0.0.1")[0] == 200
    assert auth.bcrypt_checks == 1


def test_failures_are_throttled_per_address_and_refill(auth):
    wrong = basic("vera", "wrong-password-here")
    statuses = [auth.check("viewer", wrong, "", "10.0.0.66")[0] for _ in range(30)]
    assert statuses == [401] * auth.failure_burst + [429] * (30 - auth.failure_burst)
    assert auth.bcrypt_checks == auth.failure_burst
    # Another address and an existing session are not affected.
    assert auth.check("viewer", wrong, "", "10.0.0.67")[0] == 401
    cookie = session_of(auth, "vera", "viewer-secret-words")
    assert auth.check("viewer", "", cookie, "10.0.0.66")[0] == 200
    auth.clock.now += auth.failure_refill_seconds
    assert auth.check("viewer", wrong, "", "10.0.0.66")[0] == 401
    assert auth.check("viewer", wrong, "", "10.0.0.66")[0] == 429


def test_refused_origin_is_403_only_after_a_valid_login(auth):
    cookie = session_of(auth, "otto", "operator-secret-words", "operator")
    assert auth.check("operator", "", cookie, "10.0.0.1", refused=True)[0] == 403
    assert auth.check("operator", "", "", "10.0.0.1", refused=True)[0] == 401


def test_secret_readable_by_everyone_is_refused(tmp_path):
    key = tmp_path / "session.key"
    key.write_text("x" * 64)
    key.chmod(0o644)
    with pytest.raises(auth_service.ConfigError, match="readable by every user"):
        auth_service.read_secret(key)
