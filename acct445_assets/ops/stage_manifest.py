"""``python -m acct445_assets.ops.stage_manifest OUT.json schema.table|schema.* ...``

A DVC stage whose product lives in the DuckDB warehouse writes this manifest so DVC has a
file to track: per table its row count and an order-independent content fingerprint. It
holds no timestamp, so a stage that re-runs to the same data leaves the manifest unchanged
and DVC skips everything downstream.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import duckdb

from ..publication.records import _atomic_write
from ..settings import load_settings


class ManifestError(RuntimeError):
    pass


def _tables(conn: duckdb.DuckDBPyConnection, patterns: list[str]) -> list[tuple[str, str]]:
    found = []
    for pattern in patterns:
        schema, _, table = pattern.partition(".")
        if not schema or not table:
            raise ManifestError(f"{pattern!r}: expected schema.table or schema.*")
        query = (
            "select table_schema, table_name from information_schema.tables where table_schema = ?"
        )
        args = [schema]
        if table != "*":
            query += " and table_name = ?"
            args.append(table)
        rows = conn.execute(query + " order by table_name", args).fetchall()
        if not rows:
            raise ManifestError(f"{pattern}: no such table in the warehouse")
        found += [r for r in rows if r not in found]
    return found


def table_manifest(database: Path, patterns: list[str]) -> dict:
    if not database.exists():
        raise ManifestError(f"{database}: warehouse file does not exist")
    with duckdb.connect(str(database), read_only=True) as conn:
        tables = {}
        # Fully qualified: the default file name makes the catalog "warehouse", like the schema.
        catalog = conn.execute("select current_database()").fetchone()[0]
        for schema, name in _tables(conn, patterns):
            rows, fingerprint = conn.execute(
                f'select count(*), coalesce(sum(hash(t)), 0) from "{catalog}"."{schema}"."{name}" t'
            ).fetchone()
            tables[f"{schema}.{name}"] = {"rows": int(rows), "fingerprint": f"{int(fingerprint):x}"}
    return {"tables": tables}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="acct445_assets.ops.stage_manifest")
    parser.add_argument("out", type=Path)
    parser.add_argument("tables", nargs="+", help="schema.table or schema.*")
    args = parser.parse_args(argv)
    manifest = table_manifest(load_settings().warehouse, args.tables)
    _atomic_write(args.out, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    summary = ", ".join(f"{k}={v['rows']}" for k, v in manifest["tables"].items())
    print(f"{args.out}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
