"""`make bench`: the performance benchmark (issue 8).

    python -m acct445_assets_bench.run [--stages estimators,cnoi,orchestrated] ...

Every timed piece runs in a fresh subprocess (wall time, peak RSS of its process tree);
fast path and baseline run side by side in the same invocation, so their ratio holds on
a busy machine even when absolute seconds do not. Results go to stdout as a table and to
``acct445_assets_bench/results/latest.json`` (stages not run keep their previous entry).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from .measure import machine, run_measured, write_report

RESULTS = Path(__file__).parent / "results" / "latest.json"
STAGES = ("estimators", "cnoi", "orchestrated", "peers")
# Issue 17: the estimator target holds at both sizes.
ESTIMATOR_SIZES = (1000, 5000)
TARGETS = {
    "estimators_speedup": 50.0,
    "cnoi_throughput_ratio": 5.0,
    "full_graph_seconds": 600.0,
    "full_graph_peak_mb": 4096.0,
    "incremental_share": 0.10,
    # the project's TWFE path at least as fast as the fastest peer, at equal results
    "peers_ratio_to_fastest": 1.0,
}


def _child(args: list[str], log: Path, env: dict | None = None):
    cmd = [sys.executable, "-m", "acct445_assets_bench.run", *args]
    code, wall, peak, report = run_measured(cmd, log=log, env=env)
    if code != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed (exit {code}); see {log}")
    return wall, peak, report


# ------------------------------------------------------------------- child entry points


def _child_prepare(ns) -> None:
    from .data import ScaleSpec, build_estimator_inputs

    spec = ScaleSpec(n_banks=ns.n_banks, start=ns.start, end=ns.end)
    directory = Path(ns.workdir) / "inputs"
    stamp = directory / "sizes.json"
    start = time.perf_counter()
    if stamp.exists() and json.loads(stamp.read_text())["spec"] == spec.__dict__:
        sizes = json.loads(stamp.read_text())["sizes"]  # same spec: reuse (--workdir runs)
    else:
        sizes = build_estimator_inputs(spec, directory)
        stamp.write_text(json.dumps({"spec": spec.__dict__, "sizes": sizes}))
    write_report({"seconds": time.perf_counter() - start, "sizes": sizes})


def _child_task(ns) -> None:
    from .data import load_estimator_inputs
    from .estimators import TASKS, restrict, returns_matrix

    workdir = Path(ns.workdir)
    inputs = load_estimator_inputs(workdir / "inputs")
    ciks = None
    if ns.subset:
        ciks = sorted(inputs["returns"]["cik"].unique())[: ns.subset]
    if ns.impl == "fast":
        # As the warehouse hands it to the project's assets (an ENUM load); the baselines
        # get the strings the common way reads.
        inputs["returns"]["cik"] = inputs["returns"]["cik"].astype("category")
    shared = workdir / "outputs" / "returns_matrix.fast.full.pkl"
    if ns.impl == "fast" and ns.task != "returns_matrix" and shared.exists():
        with open(shared, "rb") as handle:
            inputs["wide"] = pickle.load(handle)["wide"]
    inputs = restrict(inputs, ciks)
    if ns.task == "portfolio_alphas":
        with open(workdir / "outputs" / "portfolios.fast.full.pkl", "rb") as handle:
            inputs["portfolios"] = pickle.load(handle)
    function = (
        returns_matrix
        if ns.task == "returns_matrix"
        else TASKS[ns.task][0 if ns.impl == "fast" else 1]
    )
    cpu0, wall0 = time.process_time(), time.perf_counter()
    outputs = function(inputs)
    seconds, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    tag = f"{ns.task}.{ns.impl}.{'sub' + str(ns.subset) if ns.subset else 'full'}"
    with open(workdir / "outputs" / f"{tag}.pkl", "wb") as handle:
        pickle.dump(outputs, handle)
    write_report(
        {
            "seconds": seconds,
            "cpu_seconds": cpu,
            "n_banks": int(inputs["returns"]["cik"].nunique()),
            "outputs": tag,
        }
    )


def _child_cnoi(ns) -> None:
    from .cnoi import run_worker

    plan_ = json.loads(Path(ns.plan).read_text())
    banks = plan_[ns.which][ns.worker :: ns.workers]
    result = run_worker(plan_, banks, ns.impl)
    out = Path(ns.workdir) / f"cnoi.{ns.impl}.{ns.worker}.pkl"
    with open(out, "wb") as handle:
        pickle.dump({"notes": result.pop("notes"), "scores": result.pop("scores")}, handle)
    write_report(result)


def _child_peer(ns) -> None:
    import pandas as pd

    from .peers import RUNNERS

    frame = pd.read_parquet(ns.panel)
    runner = RUNNERS[ns.impl]
    times, cpu = [], []
    for _ in range(ns.repeats):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = runner(frame)
        times.append(time.perf_counter() - wall0)
        cpu.append(time.process_time() - cpu0)
    with open(ns.out, "wb") as handle:
        pickle.dump(result, handle)
    write_report(
        {
            "seconds": min(times[1:] or times),  # best warm call: imports and JIT excluded
            "seconds_median": float(sorted(times[1:] or times)[len(times[1:] or times) // 2]),
            "seconds_first": times[0],
            "seconds_all": times,
            "cpu_seconds": min(cpu),
        }
    )


# --------------------------------------------------------------------------- stages


def stage_estimators(ns, workdir: Path, log: Path) -> dict:
    from .estimators import LABELS, TASKS, assert_agree, compare

    (workdir / "outputs").mkdir(parents=True, exist_ok=True)
    common = ["--workdir", str(workdir)]
    print(f"generating {ns.n_banks} banks {ns.start}..{ns.end} ...", flush=True)
    wall, peak, prep = _child(
        ["_prepare", *common, "--n-banks", str(ns.n_banks), "--start", ns.start, "--end", ns.end],
        log,
    )
    result = {
        "data": {**prep["sizes"], "generate_seconds": round(wall, 1), "peak_mb": round(peak)},
        "tasks": {},
    }
    # The fast paths share one dates x banks matrix; its build counts once in the total.
    print("  returns matrix (shared by the fast paths) ...", flush=True)
    args = ["_task", *common, "--task", "returns_matrix", "--impl", "fast", "--subset", "0"]
    wall, peak, rep = _child(args, log)
    result["shared_matrix"] = {
        "label": "dates x banks return matrix, built once for the fast paths",
        "seconds": round(rep["seconds"], 3),
        "cpu_seconds": round(rep["cpu_seconds"], 3),
        "process_seconds": round(wall, 2),
        "peak_mb": round(peak),
    }
    subsets = {"firm_alphas": ns.firm_alpha_banks, "event_study": ns.event_study_banks}
    partial = workdir / "partial.json"
    done = json.loads(partial.read_text()) if partial.exists() and ns.workdir else {}
    for task in TASKS:
        subset = subsets.get(task) or 0
        if task in done and done[task].get("slow", {}).get("n_banks") == (subset or ns.n_banks):
            result["tasks"][task] = done[task]  # same scratch dir and sizes: resume
            continue
        subset = subsets.get(task) or 0
        if subset >= ns.n_banks:
            subset = 0
        row = {"label": LABELS[task]}
        runs = [("fast", 0)] + ([("fast", subset)] if subset else []) + [("slow", subset)]
        for impl, size in runs:
            print(f"  {task} {impl}{f' on {size} banks' if size else ''} ...", flush=True)
            args = ["_task", *common, "--task", task, "--impl", impl, "--subset", str(size)]
            wall, peak, rep = _child(args, log)
            key = "fast_subset" if impl == "fast" and size else impl
            row[key] = {
                "seconds": round(rep["seconds"], 3),
                "cpu_seconds": round(rep["cpu_seconds"], 3),
                "process_seconds": round(wall, 2),
                "peak_mb": round(peak),
                "n_banks": rep["n_banks"],
                "outputs": rep["outputs"],
            }
        fast_tag = (row.get("fast_subset") or row["fast"])["outputs"]
        slow_tag = row["slow"]["outputs"]
        fast_out = pickle.loads((workdir / "outputs" / f"{fast_tag}.pkl").read_bytes())
        slow_out = pickle.loads((workdir / "outputs" / f"{slow_tag}.pkl").read_bytes())
        discrepancies = compare(task, fast_out, slow_out)
        row["max_discrepancy"] = max(discrepancies.values())
        row["discrepancies"] = discrepancies
        assert_agree(task, discrepancies)
        slow_seconds = row["slow"]["seconds"]
        if subset:
            scale = row["fast"]["n_banks"] / row["slow"]["n_banks"]
            row["baseline_scaled_from_banks"] = row["slow"]["n_banks"]
            row["baseline_seconds_scaled"] = round(slow_seconds * scale, 1)
            row["speedup_same_subset"] = round(slow_seconds / row["fast_subset"]["seconds"], 1)
            slow_seconds *= scale
        row["baseline_seconds"] = round(slow_seconds, 2)
        row["speedup"] = round(slow_seconds / row["fast"]["seconds"], 1)
        result["tasks"][task] = row
        partial.write_text(json.dumps(result["tasks"], default=str))
    fast_total = result["shared_matrix"]["seconds"] + sum(
        r["fast"]["seconds"] for r in result["tasks"].values()
    )
    slow_total = sum(r["baseline_seconds"] for r in result["tasks"].values())
    result["fast_seconds_total"] = round(fast_total, 2)
    result["baseline_seconds_total"] = round(slow_total, 1)
    result["speedup_total"] = round(slow_total / fast_total, 1)
    result["speedup_min"] = min(r["speedup"] for r in result["tasks"].values())
    return result


def stage_cnoi(ns, workdir: Path, log: Path) -> dict:
    from .cnoi import compare_outputs, plan

    workdir.mkdir(parents=True, exist_ok=True)
    plan_ = plan(ns.filings, ns.baseline_filings)
    plan_path = workdir / "cnoi_plan.json"
    plan_path.write_text(json.dumps(plan_))
    result = {"workers": ns.workers}
    outputs = {}
    for impl, which in (("fast", "banks"), ("slow", "baseline")):
        print(f"  cnoi {impl} over {which} with {ns.workers} workers ...", flush=True)
        # Workers run at the same time; each is one core's worth of work.
        from concurrent.futures import ThreadPoolExecutor

        def one(worker, impl=impl, which=which):
            args = [
                "_cnoi",
                "--workdir",
                str(workdir),
                "--plan",
                str(plan_path),
                "--impl",
                impl,
                "--which",
                which,
                "--worker",
                str(worker),
                "--workers",
                str(ns.workers),
            ]
            return _child(args, log)

        start = time.perf_counter()
        with ThreadPoolExecutor(ns.workers) as pool:
            reports = list(pool.map(one, range(ns.workers)))
        elapsed = time.perf_counter() - start
        mb = sum(r["bytes"] for _, _, r in reports) / 1e6
        cpu = sum(r["cpu_seconds"] for _, _, r in reports)
        timed_wall = sum(r["wall_seconds"] for _, _, r in reports)
        result[impl] = {
            "documents": sum(r["documents"] for _, _, r in reports),
            "megabytes": round(mb, 1),
            "doc_mb_min": round(min(r["doc_mb_min"] for _, _, r in reports if r["doc_mb_min"]), 2),
            "doc_mb_max": round(max(r["doc_mb_max"] for _, _, r in reports if r["doc_mb_max"]), 2),
            "cpu_seconds": round(cpu, 1),
            "timed_wall_seconds": round(timed_wall, 1),
            "process_wall_seconds_incl_generation": round(elapsed, 1),
            "mb_per_s_per_core": round(mb / cpu, 3),
            "mb_per_s_per_core_wall": round(mb / timed_wall, 3),
            "peak_mb_per_worker": round(max(p for _, p, _ in reports)),
        }
        parts = [
            pickle.loads((workdir / f"cnoi.{impl}.{w}.pkl").read_bytes()) for w in range(ns.workers)
        ]
        import pandas as pd

        outputs[impl] = {
            key: pd.concat([p[key] for p in parts], ignore_index=True)
            for key in ("notes", "scores")
        }
    agreement = compare_outputs(
        outputs["fast"]["notes"],
        outputs["fast"]["scores"],
        outputs["slow"]["notes"],
        outputs["slow"]["scores"],
    )
    result["agreement"] = agreement
    result["ok_share_fast"] = round(float((outputs["fast"]["scores"]["status"] == "ok").mean()), 4)
    mismatches = {k: v for k, v in agreement.items() if v}
    if mismatches:
        raise AssertionError(f"cnoi: lxml path and bs4 baseline disagree: {mismatches}")
    result["throughput_ratio"] = round(
        result["fast"]["mb_per_s_per_core"] / result["slow"]["mb_per_s_per_core"], 1
    )
    return result


def stage_peers(ns, workdir: Path, log: Path) -> dict:
    """TWFE with two-way clustered SEs: project vs pyfixest vs linearmodels vs statsmodels."""
    import pandas as pd

    from .peers import (
        IMPLEMENTATIONS,
        discrepancy,
        in_linearmodels_convention,
        statsmodels_fits,
        write_panel,
    )

    workdir.mkdir(parents=True, exist_ok=True)
    result = {"quarters": ns.peer_quarters, "repeats": ns.peer_repeats, "panels": {}}
    for n_banks in [int(b) for b in ns.peer_banks.split(",") if b.strip()]:
        panel = workdir / f"twfe_{n_banks}x{ns.peer_quarters}.parquet"
        sizes = write_panel(n_banks, ns.peer_quarters, panel)
        frame = pd.read_parquet(panel)
        row = {**sizes, "load_average_1m": round(os.getloadavg()[0], 2), "peers": {}}
        outputs = {}
        for impl in IMPLEMENTATIONS:
            if impl == "statsmodels" and not statsmodels_fits(
                sizes["rows"], sizes["banks"], sizes["quarters"]
            ):
                gb = sizes["rows"] * (sizes["banks"] + sizes["quarters"]) * 8 / 1e9
                row["peers"][impl] = {"skipped": f"dense dummies design would be {gb:.1f} GB"}
                continue
            print(f"  peers {n_banks} banks: {impl} ...", flush=True)
            out = workdir / f"twfe_{n_banks}.{impl}.pkl"
            args = ["_peer", "--panel", str(panel), "--impl", impl, "--out", str(out)]
            wall, peak, rep = _child([*args, "--repeats", str(ns.peer_repeats)], log)
            outputs[impl] = in_linearmodels_convention(pickle.loads(out.read_bytes()), frame)
            row["peers"][impl] = {
                "seconds": round(rep["seconds"], 4),
                "seconds_median": round(rep["seconds_median"], 4),
                "seconds_first": round(rep["seconds_first"], 4),
                "cpu_seconds": round(rep["cpu_seconds"], 4),
                "process_seconds": round(wall, 2),
                "peak_mb": round(peak),
                "coef_D": float(outputs[impl]["coef"][0]),
                "se_D": float(outputs[impl]["se"][0]),
            }
        reference = outputs["linearmodels"]
        for impl, out in outputs.items():
            row["peers"][impl]["max_discrepancy_vs_linearmodels"] = discrepancy(out, reference)
        worst = max(
            p["max_discrepancy_vs_linearmodels"] for p in row["peers"].values() if "seconds" in p
        )
        if not worst <= 1e-8:
            raise AssertionError(f"peers at {n_banks} banks disagree beyond 1e-8: {row['peers']}")
        timed = {k: v["seconds"] for k, v in row["peers"].items() if "seconds" in v}
        fastest_peer = min((k for k in timed if k != "project"), key=timed.get)
        row["fastest_peer"] = fastest_peer
        row["project_over_fastest_peer"] = round(timed["project"] / timed[fastest_peer], 3)
        row["speedup_vs"] = {k: round(v / timed["project"], 1) for k, v in timed.items()}
        result["panels"][str(n_banks)] = row
    return result


def stage_orchestrated(ns, workdir: Path, log: Path) -> dict:
    from .orchestrated import run_orchestrated

    return run_orchestrated(ns, workdir, log)


# ---------------------------------------------------------------------------- growth


def growth_entry(stage: str, result: dict) -> tuple[str, dict] | None:
    """(size key, the figures kept for the growth table) of one stage run."""
    if stage == "estimators":
        tasks = result["tasks"]
        return str(result["data"]["n_banks"]), {
            "fast_seconds": result["fast_seconds_total"],
            "baseline_seconds": result["baseline_seconds_total"],
            "speedup": result["speedup_total"],
            "fast_peak_mb": max(
                [result["shared_matrix"]["peak_mb"]]
                + [t["fast"]["peak_mb"] for t in tasks.values()]
            ),
            "task_seconds": {name: t["fast"]["seconds"] for name, t in tasks.items()},
            "price_rows": result["data"].get("price_rows"),
            "measured_at": result.get("measured_at"),
        }
    if stage == "orchestrated" and "full" in result:
        return str(result["n_banks"]), {
            "full_seconds": result["full"]["seconds"],
            "full_peak_mb": result["full"]["peak_mb"],
            "incremental_seconds": result.get("incremental", {}).get("seconds"),
            "incremental_share": result.get("incremental_share"),
            "sessions": result.get("sessions"),
            "measured_at": result.get("measured_at"),
        }
    return None


def growth_table(growth: dict) -> list[str]:
    """Each measured size against the smallest: time and memory per bank relative to it, so
    1.00 is linear growth and anything well above names a worse-than-linear step."""
    lines = []
    columns = {
        "estimators": ("fast_seconds", "fast_peak_mb"),
        "orchestrated": ("full_seconds", "full_peak_mb"),
    }
    for stage, (seconds_key, peak_key) in columns.items():
        sizes = sorted(growth.get(stage, {}), key=int)
        if len(sizes) < 2:
            continue
        base = growth[stage][sizes[0]]
        lines.append(f"growth of {stage} ({seconds_key}, {peak_key}) per bank vs {sizes[0]} banks:")
        for size in sizes:
            row = growth[stage][size]
            scale = int(size) / int(sizes[0])
            per_time = row[seconds_key] / base[seconds_key] / scale
            per_mem = row[peak_key] / base[peak_key] / scale
            lines.append(
                f"  {int(size):>6} banks  {_fmt(row[seconds_key], 1):>8}s  {row[peak_key]:>7} MB"
                f"  time/bank x{per_time:.2f}  memory/bank x{per_mem:.2f}"
            )
    return lines


# ---------------------------------------------------------------------------- report


def verdicts(results: dict, growth: dict | None = None) -> dict:
    """Every target: True (met), False (missed) or None (its stage has no figures yet)."""
    out = {}
    by_size = (growth or {}).get("estimators", {})
    for size in ESTIMATOR_SIZES:
        row = by_size.get(str(size))
        out[f"estimators >= 50x (total, {size:,} banks)"] = (
            row["speedup"] >= TARGETS["estimators_speedup"] if row else None
        )
    cnoi = results.get("cnoi")
    out["cnoi >= 5x"] = (
        cnoi["throughput_ratio"] >= TARGETS["cnoi_throughput_ratio"] if cnoi else None
    )
    orch = results.get("orchestrated")
    has_full = bool(orch and "full" in orch)
    scale = f" ({orch.get('n_banks')} banks x {orch.get('sessions')} sessions)" if has_full else ""
    out["full graph < 10 min" + scale] = (
        orch["full"]["seconds"] < TARGETS["full_graph_seconds"] if has_full else None
    )
    out["full graph peak < 4 GB" + scale] = (
        orch["full"]["peak_mb"] < TARGETS["full_graph_peak_mb"] if has_full else None
    )
    has_incremental = has_full and "incremental" in orch
    out["incremental < 10% of full"] = (
        orch["incremental_share"] < TARGETS["incremental_share"] if has_incremental else None
    )
    out["ingestion touched only the new partition"] = (
        bool(orch.get("only_new_partition")) if has_incremental else None
    )
    peers = results.get("peers")
    if peers and peers.get("panels"):
        for n_banks, row in peers["panels"].items():
            name = (
                f"TWFE as fast as the fastest peer ({n_banks} banks x {peers['quarters']} quarters)"
            )
            out[name] = row["project_over_fastest_peer"] <= TARGETS["peers_ratio_to_fastest"]
    else:
        out["TWFE as fast as the fastest peer"] = None
    return out


def _fmt(x, digits=1):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:,.{digits}f}"


def table(results: dict, growth: dict | None = None) -> str:
    lines = [
        f"{'stage':<46} {'fast':>10} {'baseline':>10} {'ratio':>8} {'peak MB':>16} {'agree':>9}",
        "-" * 104,
    ]
    est = results.get("estimators")
    if est:
        shared = est.get("shared_matrix")
        if shared:
            lines.append(
                f"{'dates x banks matrix (built once, fast only)':<46} "
                f"{_fmt(shared['seconds'], 2):>9}s {'':>10} {'':>8} {shared['peak_mb']:>7}"
            )
        for row in est["tasks"].values():
            note = (
                f" (baseline on {row['baseline_scaled_from_banks']} banks, scaled)"
                if row.get("baseline_scaled_from_banks")
                else ""
            )
            lines.append(
                f"{row['label'][:46]:<46} {_fmt(row['fast']['seconds'], 2):>9}s "
                f"{_fmt(row['baseline_seconds'], 1):>9}s {_fmt(row['speedup']):>7}x "
                f"{row['fast']['peak_mb']:>7}/{row['slow']['peak_mb']:<8} {row['max_discrepancy']:>9.1e}{note}"
            )
        lines.append(
            f"{'estimators, total':<46} {_fmt(est['fast_seconds_total'], 2):>9}s "
            f"{_fmt(est['baseline_seconds_total'], 1):>9}s {_fmt(est['speedup_total']):>7}x"
        )
    cnoi = results.get("cnoi")
    if cnoi:
        f, s = cnoi["fast"], cnoi["slow"]
        lines.append(
            f"{'CNOI extract+score, MB/s per core':<46} {_fmt(f['mb_per_s_per_core'], 2):>10} "
            f"{_fmt(s['mb_per_s_per_core'], 2):>10} {_fmt(cnoi['throughput_ratio']):>7}x "
            f"{f['peak_mb_per_worker']:>7}/{s['peak_mb_per_worker']:<8} {'same':>9}"
        )
        lines.append(
            f"{'  filings (MB): fast / baseline':<46} {f['documents']:>6} ({f['megabytes']:,.0f}) "
            f"{s['documents']:>4} ({s['megabytes']:,.0f})  docs {f['doc_mb_min']}-{f['doc_mb_max']} MB"
        )
    orch = results.get("orchestrated")
    if orch and "full" in orch:
        lines.append(
            f"{'full asset graph (Dagster CLI)':<46} {_fmt(orch['full']['seconds'], 0):>9}s "
            f"{'':>10} {'':>8} {orch['full']['peak_mb']:>7}"
        )
        if "incremental" in orch:
            lines.append(
                f"{'one new trading day (+ downstream)':<46} {_fmt(orch['incremental']['seconds'], 0):>9}s "
                f"{'':>10} {_fmt(100 * orch['incremental_share']):>6}% {orch['incremental']['peak_mb']:>7}"
            )
    peers = results.get("peers")
    if peers and peers.get("panels"):
        for n_banks, row in peers["panels"].items():
            title = f"TWFE 2-way clustered, {n_banks} banks x {peers['quarters']} q ({row['rows']:,} rows)"
            lines.append(title)
            for impl, p in row["peers"].items():
                if "seconds" not in p:
                    lines.append(f"  {impl:<44} {'skipped: ' + p['skipped']}")
                    continue
                lines.append(
                    f"  {impl:<44} {_fmt(p['seconds'], 3):>9}s {'':>10} "
                    f"{_fmt(row['speedup_vs'][impl]):>7}x {p['peak_mb']:>7}{'':<9} "
                    f"{p['max_discrepancy_vs_linearmodels']:>9.1e}"
                )
    lines.extend(growth_table(growth or {}))
    lines.append("")
    for name, ok in verdicts(results, growth).items():
        mark = "not measured" if ok is None else "met" if ok else "MISSED"
        lines.append(f"  [{mark}] {name}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="acct445_assets_bench.run")
    sub = parser.add_subparsers(dest="command")
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--n-banks", type=int, default=5000)
    parser.add_argument("--start", default="2016-01-01")
    parser.add_argument("--end", default="2025-12-31")
    parser.add_argument(
        "--event-study-banks", type=int, default=0, help="baseline subset (0 = all)"
    )
    parser.add_argument("--firm-alpha-banks", type=int, default=250, help="baseline subset")
    parser.add_argument(
        "--orchestrated-banks", type=int, default=0, help="banks in the Dagster run (0 = --n-banks)"
    )
    parser.add_argument("--filings", type=int, default=2000)
    parser.add_argument("--baseline-filings", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workdir", default=None, help="scratch directory (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--peer-banks", default="1000,5000", help="TWFE panel sizes (banks)")
    parser.add_argument("--peer-quarters", type=int, default=32)
    parser.add_argument(
        "--peer-repeats", type=int, default=6, help="calls per process; best warm call counts"
    )

    prepare = sub.add_parser("_prepare")
    for p in (prepare,):
        p.add_argument("--workdir", required=True)
        p.add_argument("--n-banks", type=int, required=True)
        p.add_argument("--start", required=True)
        p.add_argument("--end", required=True)
    task = sub.add_parser("_task")
    task.add_argument("--workdir", required=True)
    task.add_argument("--task", required=True)
    task.add_argument("--impl", choices=["fast", "slow"], required=True)
    task.add_argument("--subset", type=int, default=0)
    cnoi = sub.add_parser("_cnoi")
    cnoi.add_argument("--workdir", required=True)
    cnoi.add_argument("--plan", required=True)
    cnoi.add_argument("--impl", choices=["fast", "slow"], required=True)
    cnoi.add_argument("--which", choices=["banks", "baseline"], required=True)
    cnoi.add_argument("--worker", type=int, required=True)
    cnoi.add_argument("--workers", type=int, required=True)
    peer = sub.add_parser("_peer")
    peer.add_argument("--panel", required=True)
    peer.add_argument("--impl", required=True)
    peer.add_argument("--out", required=True)
    peer.add_argument("--repeats", type=int, default=3)
    ns = parser.parse_args(argv)

    if ns.command == "_prepare":
        _child_prepare(ns)
        return 0
    if ns.command == "_task":
        _child_task(ns)
        return 0
    if ns.command == "_cnoi":
        _child_cnoi(ns)
        return 0
    if ns.command == "_peer":
        _child_peer(ns)
        return 0

    stages = [s.strip() for s in ns.stages.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        parser.error(f"unknown stage(s) {unknown}; choose from {list(STAGES)}")
    workdir = Path(ns.workdir) if ns.workdir else Path(tempfile.mkdtemp(prefix="acct445-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "bench.log"
    out_path = Path(ns.out)
    previous = json.loads(out_path.read_text()) if out_path.exists() else {}
    results = dict(previous.get("stages", {}))
    growth = previous.get("growth", {})
    print(f"bench: stages {stages}; scratch {workdir}; child output in {log}", flush=True)
    runners = {
        "estimators": stage_estimators,
        "cnoi": stage_cnoi,
        "orchestrated": stage_orchestrated,
        "peers": stage_peers,
    }
    host = machine()
    try:
        for stage in stages:
            print(f"== {stage}", flush=True)
            start = time.perf_counter()
            results[stage] = runners[stage](ns, workdir / stage, log)
            results[stage]["stage_seconds"] = round(time.perf_counter() - start, 1)
            results[stage]["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            results[stage]["machine"] = host
            results[stage]["config"] = {
                k: getattr(ns, k)
                for k in (
                    "n_banks",
                    "start",
                    "end",
                    "event_study_banks",
                    "firm_alpha_banks",
                    "orchestrated_banks",
                    "filings",
                    "baseline_filings",
                    "workers",
                    "peer_banks",
                    "peer_quarters",
                    "peer_repeats",
                )
            }
            entry = growth_entry(stage, results[stage])
            if entry:
                growth.setdefault(stage, {})[entry[0]] = entry[1]
            document = {
                "issue": 17,
                "targets": TARGETS,
                "stages": results,
                "growth": growth,
                "verdicts": verdicts(results, growth),
            }
            out_path.parent.mkdir(parents=True, exist_ok=True)
            out_path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    finally:
        if not ns.keep and not ns.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(table(results, growth))
    print(f"\nwritten {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
