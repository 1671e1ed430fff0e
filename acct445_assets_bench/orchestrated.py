"""The whole asset graph through the Dagster CLI on the scale universe, then one new day.

Full run: the three CLI calls of ``python -m acct445_assets.cli demo`` (inputs, every
``bank_prices`` session but the last in one run, everything else), in a scratch
ACCT445_HOME / DAGSTER_HOME with a params file sized by the benchmark. Incremental run:
the daily schedule's job (``daily_bank_prices``: that session's partition and everything
downstream of it) for the last session, launched the way the schedule tags its runs.
Ingestion must touch only the new partition: every other session's rows in
``raw.bank_prices`` are fingerprinted before and after, and the run's materializations
of ``raw/bank_prices`` are read back from the instance.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import yaml

from acct445_assets.cli import DOWNSTREAM, INGEST, MODULE, PRICES
from acct445_assets.params import PARAMS_FILE

from .measure import run_measured

REPO = Path(__file__).resolve().parent.parent
DAILY_JOB = "daily_bank_prices"
PRICES_TABLE = "raw.bank_prices"


def _environment(workdir: Path, ns) -> dict:
    params = yaml.safe_load(PARAMS_FILE.read_text())
    n_banks = getattr(ns, "orchestrated_banks", 0) or ns.n_banks
    params.setdefault("sample", {}).update(n_banks=n_banks, start=ns.start, end=ns.end)
    params.setdefault("market", {})["prices_start"] = ns.start
    params_path = workdir / "params.yaml"
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    home = workdir / "home"
    dagster_home = workdir / "dagster_home"
    for path in (home, dagster_home):
        path.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    return {
        "ACCT445_PARAMS": str(params_path),
        "ACCT445_HOME": str(home),
        "ACCT445_RESULTS_DIR": str(workdir / "results"),
        "ACCT445_SOURCE": "sample",
        "DAGSTER_HOME": str(dagster_home),
    }


STEP_DONE_RE = re.compile(r'- (STEP_SUCCESS|STEP_FAILURE) - .*?step "([^"]+)"(?: in ([0-9hms.]+))?')

RUN_START_RE = re.compile(r"^(\S+ \S+) \+0000 - dagster - .* - RUN_START - ")


def _duration(text: str | None) -> float | None:
    if not text:
        return None
    total = 0.0
    for value, unit in re.findall(r"([0-9.]+)(ms|h|m|s)", text):
        total += float(value) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return total


def step_profile(log_text: str) -> dict:
    """Per-step seconds and failures from a Dagster CLI log (its STEP_* event lines)."""
    steps, failed = {}, []
    for kind, step, took in STEP_DONE_RE.findall(log_text):
        if kind == "STEP_FAILURE":
            failed.append(step)
        else:
            steps[step] = _duration(took)
    return {"steps": steps, "failed_steps": failed}


def _dagster(name: str, args: list[str], env: dict, workdir: Path) -> dict:
    dagster = str(Path(sys.executable).with_name("dagster"))
    cmd = [dagster, *args]
    log = workdir / f"{name}.log"
    log.write_text(f"+ {' '.join(cmd)}\n")
    started = datetime.now(UTC).replace(tzinfo=None)
    code, wall, peak, _ = run_measured(cmd, env=env, cwd=REPO, log=log)
    text = log.read_text()
    out = {"seconds": round(wall, 1), "peak_mb": round(peak), "exit_code": code, "log": str(log)}
    out.update(step_profile(text))
    for line in text.splitlines():
        match = RUN_START_RE.match(line)
        if match:
            # Loading the code and planning the run (one event per planned partition).
            run_start = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S")
            out["seconds_before_run_start"] = round((run_start - started).total_seconds(), 1)
            break
    if code != 0:
        print(f"  ! {name} failed (exit {code}), failed steps {out['failed_steps']}; see {log}")
    return out


def _sessions(env: dict) -> list[str]:
    from acct445_assets.calendar import trading_days

    params = yaml.safe_load(Path(env["ACCT445_PARAMS"]).read_text())
    sample = params["sample"]
    return [str(d.date()) for d in trading_days(sample["start"], sample["end"])]


def partition_fingerprints(warehouse: Path) -> dict[str, tuple]:
    """Per session: row count and sums of prices and volumes in ``raw.bank_prices``."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute(
            f"select cast(date as varchar), count(*), round(sum(adj_close), 6), sum(volume) "
            f"from {PRICES_TABLE} group by 1"
        ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def run_partitions(dagster_home: Path, run_id: str | None = None) -> dict:
    """Partitions of ``raw/bank_prices`` materialized by the latest run (or ``run_id``)."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    from dagster import AssetKey, DagsterEventType, DagsterInstance, EventRecordsFilter

    instance = DagsterInstance.get()
    records = instance.get_run_records(limit=1) if run_id is None else None
    run = records[0].dagster_run if records else instance.get_run_by_id(run_id)
    events = instance.get_event_records(
        EventRecordsFilter(
            event_type=DagsterEventType.ASSET_MATERIALIZATION,
            asset_key=AssetKey(["raw", "bank_prices"]),
        ),
        limit=100_000,
    )
    partitions = sorted(
        {e.event_log_entry.dagster_event.partition for e in events if e.run_id == run.run_id}
    )
    assets = sorted(
        {
            "/".join(e.dagster_event.asset_key.path)
            for e in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
        }
    )
    return {
        "run_id": run.run_id,
        "job": run.job_name,
        "status": str(run.status.value),
        "partition_tag": run.tags.get("dagster/partition"),
        "bank_prices_partitions": partitions,
        "assets_materialized": assets,
    }


def run_orchestrated(ns, workdir: Path, log: Path) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    env = _environment(workdir, ns)
    sessions = _sessions(env)
    new_day, through = sessions[-1], sessions[-2]
    module = ["-m", MODULE]
    steps = {}
    n_banks = getattr(ns, "orchestrated_banks", 0) or ns.n_banks
    print(f"  full graph: {n_banks} banks, sessions {sessions[0]}..{through}", flush=True)
    steps["ingest"] = _dagster(
        "ingest", ["asset", "materialize", *module, "--select", INGEST], env, workdir
    )
    steps["prices"] = _dagster(
        "prices",
        [
            "asset",
            "materialize",
            *module,
            "--select",
            PRICES,
            "--partition-range",
            f"{sessions[0]}...{through}",
        ],
        env,
        workdir,
    )
    steps["downstream"] = _dagster(
        "downstream", ["asset", "materialize", *module, "--select", DOWNSTREAM], env, workdir
    )
    full = {
        "seconds": round(sum(s["seconds"] for s in steps.values()), 1),
        "peak_mb": max(s["peak_mb"] for s in steps.values()),
        "succeeded": all(s["exit_code"] == 0 for s in steps.values()),
        "calls": steps,
    }
    warehouse = Path(env["ACCT445_HOME"]) / "acct445.duckdb"
    before = partition_fingerprints(warehouse)
    result = {"full": full, "n_banks": n_banks, "sessions": len(sessions), "new_session": new_day}
    result["full"]["price_rows"] = int(sum(v[0] for v in before.values()))

    print(f"  incremental: {DAILY_JOB} for {new_day}", flush=True)
    tags = json.dumps({"dagster/partition": new_day, "acct445/trigger": "bench"})
    incremental = _dagster(
        "incremental", ["job", "execute", *module, "-j", DAILY_JOB, "--tags", tags], env, workdir
    )
    after = partition_fingerprints(warehouse)
    changed = sorted(d for d in before if before[d] != after.get(d))
    added = sorted(set(after) - set(before))
    run = _child_run_partitions(env)
    result["incremental"] = {**incremental, **run, "rows_added": after.get(new_day, (0,))[0]}
    result["incremental_share"] = round(incremental["seconds"] / full["seconds"], 4)
    result["other_partitions_changed"] = changed
    result["partitions_added"] = added
    result["only_new_partition"] = (
        not changed and added == [new_day] and run["bank_prices_partitions"] == [new_day]
    )
    return result


def _child_run_partitions(env: dict) -> dict:
    """Read the instance in a subprocess (keeps Dagster's instance out of this process)."""
    code = (
        "import json, sys; from pathlib import Path; "
        "from acct445_assets_bench.orchestrated import run_partitions; "
        "print(json.dumps(run_partitions(Path(sys.argv[1]))))"
    )
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", code, env["DAGSTER_HOME"]],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])
