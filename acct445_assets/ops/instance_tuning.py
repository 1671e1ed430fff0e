"""How runs of this code location use a local (SQLite) Dagster instance.

A backfill of ten years of daily `bank_prices` partitions logs 2,500 materializations, and
Dagster's SQLite storage commits each one twice (run shard and asset index), each commit
an fsync: about 35 ms an event here, 90 s a backfill. In WAL mode (Dagster's SQLite
databases are WAL) `synchronous=NORMAL` syncs at checkpoints instead of every commit;
the database stays consistent after a crash, only the last events may be lost. Postgres
instances (docker-compose) are not touched.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine

_installed = False


def _sync_at_checkpoints(dbapi_connection, _record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def relax_sqlite_commits() -> None:
    """Apply ``synchronous=NORMAL`` to every SQLite connection SQLAlchemy opens from now on."""
    global _installed
    if not _installed:
        event.listen(Engine, "connect", _sync_at_checkpoints)
        _installed = True
