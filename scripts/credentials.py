"""Create the auth proxy's htpasswd files (bcrypt) for the viewer and operator roles.

Usernames and passwords come from environment variables, or from a prompt when a variable is
unset and a terminal is attached. There are no defaults: without a password the script fails.

    ACCT445_VIEWER_USER / ACCT445_VIEWER_PASSWORD       -> htpasswd/viewers.htpasswd   (read-only UI)
    ACCT445_OPERATOR_USER / ACCT445_OPERATOR_PASSWORD   -> htpasswd/operators.htpasswd (full UI)

An existing file keeps its other users; the named user's entry is replaced. The deployment's
database password (postgres.env, random) and the auth proxy's session key
(htpasswd/session.key, random) are created once.

Passwords are refused when zxcvbn rates them below MIN_STRENGTH (of 0-4), when they equal or
contain the user name, or when they are longer than bcrypt's 72 bytes; a user cannot hold
both roles. Every file is created 0600 in 0700 directories (never readable by other users,
not even for a moment).
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import secrets
import sys
from pathlib import Path

import bcrypt
import zxcvbn

ROLES = ("viewer", "operator")
MIN_PASSWORD_LENGTH = 12
# zxcvbn's score 3: about 10^8 guesses or more; the proxy allows a client address about
# 1200 wrong guesses an hour, and a stolen hash costs bcrypt per guess.
MIN_STRENGTH = 3
MAX_PASSWORD_BYTES = 72  # bcrypt ignores (or, in bcrypt>=5, refuses) anything longer
MIN_ROUNDS, MAX_ROUNDS = 10, 15
DEFAULT_ROUNDS = 10
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
DEFAULT_OUTPUT = Path("deploy/secrets")


class CredentialsError(ValueError):
    pass


def htpasswd_path(output_dir: Path, role: str) -> Path:
    # A directory of its own: the proxy container mounts only this, not the database secret.
    return output_dir / "htpasswd" / f"{role}s.htpasswd"


def validate_username(username: str, role: str) -> str:
    if not USERNAME_PATTERN.match(username):
        raise CredentialsError(
            f"{role} username {username!r} must be 1-64 characters of letters, digits, '._@-'"
        )
    return username


def validate_password(password: str, role: str, username: str = "") -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CredentialsError(
            f"{role} password is {len(password)} characters; at least {MIN_PASSWORD_LENGTH} are required"
        )
    size = len(password.encode())
    if size > MAX_PASSWORD_BYTES:
        raise CredentialsError(
            f"{role} password is {size} bytes; bcrypt uses at most {MAX_PASSWORD_BYTES}, "
            "choose a shorter one"
        )
    if ":" in password or "\n" in password:
        raise CredentialsError(f"{role} password must not contain ':' or a newline")
    if username and (
        password.lower() == username.lower()
        or (len(username) >= 4 and username.lower() in password.lower())
    ):
        raise CredentialsError(f"{role} password must not be or contain the user name {username!r}")
    rating = zxcvbn.zxcvbn(password, user_inputs=[username, role, "acct445", "dagster"])
    if rating["score"] < MIN_STRENGTH:
        advice = " ".join(
            part
            for part in [rating["feedback"]["warning"], *rating["feedback"]["suggestions"]]
            if part
        )
        raise CredentialsError(
            f"{role} password is too easy to guess (strength {rating['score']} of 4, "
            f"at least {MIN_STRENGTH} required). {advice}".rstrip()
        )
    return password


def private_dir(path: Path) -> Path:
    """`path` as a directory only its owner can enter (0700), made so from the start."""
    missing = [p for p in [path, *path.parents] if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` through a new 0600 file: never readable by others on the way."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def validate_roles(chosen: dict[str, tuple[str, str]], output_dir: Path) -> None:
    """No user in both roles: neither among the new logins nor against the other role's file."""
    names = [username for username, _ in chosen.values()]
    if len(set(names)) < len(names):
        raise CredentialsError(f"user {names[0]!r} cannot be both viewer and operator")
    for role, (username, _) in chosen.items():
        for other in ROLES:
            path = htpasswd_path(output_dir, other)
            if other != role and other not in chosen and path.exists():
                users = {line.split(":", 1)[0] for line in path.read_text().splitlines()}
                if username in users:
                    raise CredentialsError(
                        f"user {username!r} already has the {other} role ({path})"
                    )


def hash_password(password: str, rounds: int = DEFAULT_ROUNDS) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def upsert_entry(path: Path, username: str, password_hash: str) -> None:
    """Write `username:hash` into the htpasswd file at `path`, keeping other users' lines."""
    kept = []
    if path.exists():
        kept = [
            line
            for line in path.read_text().splitlines()
            if line.strip() and line.split(":", 1)[0] != username
        ]
    private_dir(path.parent)
    # Only the auth service reads it, as root before it drops its privileges.
    write_private(path, "\n".join([*kept, f"{username}:{password_hash}"]) + "\n")


def ensure_postgres_env(output_dir: Path) -> Path:
    """Random database password for docker-compose, shared by Postgres and Dagster; kept once made."""
    path = output_dir / "postgres.env"
    if not path.exists():
        password = secrets.token_urlsafe(32)
        private_dir(output_dir)
        write_private(path, f"POSTGRES_PASSWORD={password}\nDAGSTER_PG_PASSWORD={password}\n")
    else:
        os.chmod(path, 0o600)  # made by an older version of this script
    return path


def ensure_session_key(output_dir: Path) -> Path:
    """The auth service's HMAC key for session cookies; kept once made (sessions survive restarts)."""
    path = output_dir / "htpasswd" / "session.key"
    if not path.exists():
        private_dir(path.parent)
        write_private(path, secrets.token_urlsafe(48) + "\n")
    return path


def ask(role: str, env: dict[str, str], interactive: bool) -> tuple[str, str]:
    user_var, password_var = f"ACCT445_{role.upper()}_USER", f"ACCT445_{role.upper()}_PASSWORD"
    username = env.get(user_var, "").strip()
    password = env.get(password_var, "")
    if not username:
        if not interactive:
            raise CredentialsError(f"{user_var} is not set and no terminal is attached to ask")
        username = input(f"{role} username: ").strip()
    validate_username(username, role)
    if not password:
        if not interactive:
            raise CredentialsError(f"{password_var} is not set and no terminal is attached to ask")
        password = getpass.getpass(f"{role} password for {username}: ")
        if getpass.getpass("again: ") != password:
            raise CredentialsError(f"the two {role} passwords differ")
    return username, validate_password(password, role, username)


def main(argv: list[str] | None = None, env: dict[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="directory")
    parser.add_argument("--roles", nargs="+", choices=ROLES, default=list(ROLES))
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="bcrypt cost")
    args = parser.parse_args(argv)
    env = dict(os.environ if env is None else env)
    interactive = sys.stdin.isatty()
    os.umask(0o077)
    try:
        if not MIN_ROUNDS <= args.rounds <= MAX_ROUNDS:
            raise CredentialsError(
                f"--rounds {args.rounds}: the bcrypt cost must be between {MIN_ROUNDS} and {MAX_ROUNDS}"
            )
        chosen = {role: ask(role, env, interactive) for role in args.roles}
        validate_roles(chosen, args.output)
        private_dir(args.output)
        for role, (username, password) in chosen.items():
            path = htpasswd_path(args.output, role)
            upsert_entry(path, username, hash_password(password, args.rounds))
            print(f"{role} {username!r} written to {path}")
        print(f"database password in {ensure_postgres_env(args.output)}")
        print(f"session key in {ensure_session_key(args.output)}")
    except CredentialsError as err:
        print(f"credentials: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
