"""Run a piece of work in a fresh process and measure its wall time and peak memory.

Peak memory is the largest resident set of the whole process tree, sampled every
50 ms with psutil (Dagster runs steps in child processes), and never less than the
child's own ``ru_maxrss`` reported at exit. tracemalloc would slow numpy code down.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

try:
    import psutil
except ImportError:  # pragma: no cover - psutil ships with dagster's dependencies
    psutil = None


def _tree_rss(proc) -> int:
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_measured(cmd: list[str], *, env: dict | None = None, cwd=None, log: Path | None = None):
    """Run ``cmd``; returns (returncode, wall seconds, peak tree RSS in MB, report dict).

    The child may write a JSON report to the file named by env ``BENCH_REPORT``.
    """
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        report_path = Path(handle.name)
    child_env = {**os.environ, **(env or {}), "BENCH_REPORT": str(report_path)}
    out = open(log, "a") if log else None  # noqa: SIM115 - closed below
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=child_env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT if out else None
    )
    peak = [0]
    done = threading.Event()

    def sample():
        handle = psutil.Process(proc.pid)
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(handle))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True) if psutil else None
    if sampler:
        sampler.start()
    returncode = proc.wait()
    wall = time.perf_counter() - start
    done.set()
    if sampler:
        sampler.join()
    if out:
        out.close()
    report = {}
    if report_path.stat().st_size:
        report = json.loads(report_path.read_text())
    report_path.unlink(missing_ok=True)
    peak_mb = max(peak[0] / 2**20, float(report.get("self_peak_rss_mb", 0.0)))
    return returncode, wall, peak_mb, report


def self_peak_rss_mb() -> float:
    """Peak RSS of this process and of its waited-for children (Linux: KiB units)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024.0


def write_report(report: dict) -> None:
    """Called in the child: hand ``report`` (plus its own peak RSS) back to the parent."""
    path = os.environ.get("BENCH_REPORT")
    report = {**report, "self_peak_rss_mb": self_peak_rss_mb()}
    if path:
        Path(path).write_text(json.dumps(report, default=str))
    else:
        print(json.dumps(report, default=str))


def machine() -> dict:
    """Where the figures come from: cores, memory, CPU model, load at the start."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    if psutil:
        memory_gb = round(psutil.virtual_memory().total / 2**30, 1)
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gb": memory_gb,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "executable": sys.executable,
    }
