"""How runs of this code location use a local (SQLite) Dagster instance.

A backfill of ten years of daily `bank_prices` partitions logs 2,500 materializations, and
Dagster's SQLite storage commits each one twice (run shard and asset index), each commit
an fsync: about 35 ms an event here, 90 s a backfill. In WAL mode (Dagster's SQLite
databases are WAL) `synchronous=NORMAL` syncs at checkpoints instead of every commit;
the database stays consistent after a crash, only the last events may be lost.

Dagster opens and closes a connection per operation, and closing the last connection to a
WAL database checkpoints the log into the database and deletes it: a checkpoint, with its
fsync, per event. An idle connection held open per database file keeps each close from
being the last; SQLite then checkpoints every 1,000 pages as usual. Postgres instances
(docker-compose) are not touched.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine

_installed = False
# Each run has its own SQLite file: a long-lived process keeps only the latest few open.
HELD_MAX = 8
_held: dict[str, sqlite3.Connection] = {}


def _sync_at_checkpoints(dbapi_connection, _record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
        _hold_open(dbapi_connection)


def _hold_open(connection: sqlite3.Connection) -> None:
    if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        return  # a database not yet in WAL mode (just created): held at a later connect
    for _seq, name, path in connection.execute("PRAGMA database_list").fetchall():
        if name != "main" or not path or path in _held:
            continue
        if len(_held) >= HELD_MAX:
            _held.pop(next(iter(_held))).close()
        held = sqlite3.connect(path, check_same_thread=False)
        # One read maps the WAL index, which the connection then keeps (SQLite counts it as
        # open from then on); it holds no transaction, so it blocks no writer or checkpoint.
        held.execute("select count(*) from sqlite_master").fetchone()
        _held[path] = held


def relax_sqlite_commits() -> None:
    """Apply ``synchronous=NORMAL`` to every SQLite connection SQLAlchemy opens from now on,
    and hold one idle connection per WAL database file."""
    global _installed
    if not _installed:
        event.listen(Engine, "connect", _sync_at_checkpoints)
        _installed = True
