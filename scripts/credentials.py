"""Create the auth proxy's htpasswd files (bcrypt) for the viewer and operator roles.

Usernames and passwords come from environment variables, or from a prompt when a variable is
unset and a terminal is attached. There are no defaults: without a password the script fails.

    ACCT445_VIEWER_USER / ACCT445_VIEWER_PASSWORD       -> htpasswd/viewers.htpasswd   (read-only UI)
    ACCT445_OPERATOR_USER / ACCT445_OPERATOR_PASSWORD   -> htpasswd/operators.htpasswd (full UI)

An existing file keeps its other users; the named user's entry is replaced. The deployment's
database password (postgres.env, random) is created once, beside the htpasswd files.
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

ROLES = ("viewer", "operator")
MIN_PASSWORD_LENGTH = 12
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


def validate_password(password: str, role: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CredentialsError(
            f"{role} password is {len(password)} characters; at least {MIN_PASSWORD_LENGTH} are required"
        )
    if ":" in password or "\n" in password:
        raise CredentialsError(f"{role} password must not contain ':' or a newline")
    return password


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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join([*kept, f"{username}:{password_hash}"]) + "\n")
    # nginx workers run as an unprivileged user and must read it; the hashes are bcrypt.
    tmp.chmod(0o644)
    tmp.replace(path)


def ensure_postgres_env(output_dir: Path) -> Path:
    """Random database password for docker-compose, shared by Postgres and Dagster; kept once made."""
    path = output_dir / "postgres.env"
    if not path.exists():
        password = secrets.token_urlsafe(32)
        output_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(f"POSTGRES_PASSWORD={password}\nDAGSTER_PG_PASSWORD={password}\n")
        path.chmod(0o600)
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
    return username, validate_password(password, role)


def main(argv: list[str] | None = None, env: dict[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="directory")
    parser.add_argument("--roles", nargs="+", choices=ROLES, default=list(ROLES))
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="bcrypt cost")
    args = parser.parse_args(argv)
    env = dict(os.environ if env is None else env)
    interactive = sys.stdin.isatty()
    try:
        if not 4 <= args.rounds <= 15:
            raise CredentialsError("--rounds must be between 4 and 15")
        chosen = {role: ask(role, env, interactive) for role in args.roles}
        for role, (username, password) in chosen.items():
            path = htpasswd_path(args.output, role)
            upsert_entry(path, username, hash_password(password, args.rounds))
            print(f"{role} {username!r} written to {path}")
        print(f"database password in {ensure_postgres_env(args.output)}")
    except CredentialsError as err:
        print(f"credentials: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
