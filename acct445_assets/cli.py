"""`python -m acct445_assets.cli demo`: materialize every asset, in three runs, and summarise.

Three runs, because a single-run backfill of the partitioned `bank_prices` must be its own
selection: the unpartitioned inputs first, then the price partitions in one run, then
everything downstream. Each run is launched with `dg launch --assets` in a child process whose
Dagster event log goes to a file; the terminal gets one line per stage, progress counts, and a
summary read back from the Dagster instance and the published result records.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pandas as pd

from .calendar import trading_days
from .params import section
from .settings import Settings, load_settings
from .sources.files import FilePrices

MODULE = "acct445_assets.definitions"
INGEST = "key:raw/bank_universe or key:raw/ff_factors_daily or key:raw/ff_factors_monthly or key:raw/benchmark_prices"
PRICES = "key:raw/bank_prices"
DOWNSTREAM = "not group:market"
SOURCES = ("sample", "files", "live")
CLI_NOTICES = (
    "Parameter `include_sources`",  # Dagster's selection parser, for `not group:market`
    "Function `asset_materialize_command` is superseded",  # only with --launcher dagster
)
PROJECT_ROOT = Path(__file__).resolve().parents[1]
# One estimate per estimator, in the order the report presents them.
HEADLINE_ASSETS = (
    "decile_returns",
    "factor_alphas",
    "event_study_cars",
    "did_estimates",
    "panel_regression",
)


@dataclass(frozen=True)
class Stage:
    name: str
    selection: str
    description: str


STAGES = (
    Stage("ingest", INGEST, "factors, benchmarks and the bank universe"),
    Stage("prices", PRICES, "daily bank prices, every NYSE session in one run"),
    Stage("downstream", DOWNSTREAM, "filings, CNOI, warehouse (dbt), estimators, report"),
)
STAGE_NAMES = tuple(s.name for s in STAGES)


def price_partition_range(settings: Settings) -> str:
    market = section("market")
    start = str(market.get("prices_start", "2018-01-01"))
    if settings.source == "sample":
        sample = section("sample")
        start, end = max(start, str(sample["start"])), str(sample["end"])
    elif settings.source == "files":
        dates = FilePrices(settings.data_dir).all_prices()["date"]
        start, end = max(start, str(dates.min().date())), str(dates.max().date())
    else:
        end = str(pd.Timestamp.now(tz="America/New_York").date())
    sessions = trading_days(start, end)
    return f"{sessions[0].date()}...{sessions[-1].date()}"


def partition_count(partition_range: str) -> int:
    start, end = partition_range.split("...")
    return len(trading_days(start, end))


# ---- launching -------------------------------------------------------------------------


def tool_path(name: str) -> str:
    """`dg`/`dagster` from this interpreter's environment (its bin directory), not from PATH:
    `.venv/bin/python -m acct445_assets.cli` must work with nothing activated."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"`{name}` is neither next to {sys.executable} nor on PATH; run `make install`"
        )
    return found


def launch_command(stage: Stage, partition_range: str | None, launcher: str = "dg") -> list[str]:
    extra = ["--partition-range", partition_range] if partition_range else []
    if launcher == "dg":
        return [tool_path("dg"), "launch", "--assets", stage.selection, *extra]
    return [
        tool_path("dagster"),
        "asset",
        "materialize",
        "-m",
        MODULE,
        "--select",
        stage.selection,
        *extra,
    ]


def child_environment(source: str | None) -> dict[str, str]:
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    # dbt and the Dagster CLIs are looked up on PATH by the child processes themselves.
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
    env["VIRTUAL_ENV"] = str(Path(sys.executable).parent.parent)
    env["PYTHONUNBUFFERED"] = "1"
    # Notices Dagster's own CLI code raises about itself (not about this project's code);
    # the code location itself loads without warnings (test_cli.py checks it).
    env["PYTHONWARNINGS"] = ",".join(f"ignore:{prefix}:Warning" for prefix in CLI_NOTICES)
    env.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "1")
    if source:
        env["ACCT445_SOURCE"] = source
    return env


def ensure_dagster_home() -> Path:
    """A persistent instance (the summary is read back from it): `$DAGSTER_HOME`, or `.dagster/`
    with the project's `dagster.yaml` as the Makefile sets it up."""
    if os.environ.get("DAGSTER_HOME"):
        home = Path(os.environ["DAGSTER_HOME"])
        home.mkdir(parents=True, exist_ok=True)
        return home
    home = PROJECT_ROOT / ".dagster"
    home.mkdir(parents=True, exist_ok=True)
    config = PROJECT_ROOT / "dagster.yaml"
    if not (home / "dagster.yaml").exists() and config.exists():
        shutil.copyfile(config, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


# ---- the child's event log -------------------------------------------------------------

EVENT_LINE = re.compile(
    r" - dagster - (?P<level>[A-Z]+) - (?P<job>\S+) - (?P<run_id>[0-9a-f]{8}-[0-9a-f-]{27})"
    r"(?: - (?P<pid>\d+))?(?: - (?P<step>(?=\S*[a-z])[A-Za-z0-9_]+))?"
    r"(?: - (?P<event>[A-Z][A-Z_]+[A-Z]))? - (?P<message>.*)$"
)
ERROR_LINE = re.compile(r"^(?:[\w.]+\.)?(?P<name>\w*(?:Error|Exception))(?:: (?P<message>.*))?$")


@dataclass
class RunProgress:
    """What the terminal shows about one child run, from its console event lines."""

    run_ids: list[str] = field(default_factory=list)
    steps_done: int = 0
    current_step: str | None = None
    partitions_written: int = 0
    notes: list[str] = field(default_factory=list)
    failed_step: str | None = None
    last_error: str | None = None

    def feed(self, line: str) -> bool:
        """Update from one line; True when the line changes what is displayed."""
        match = EVENT_LINE.search(line)
        if match is None:
            error = ERROR_LINE.match(line.strip())
            if error:
                self.last_error = line.strip()
            return False
        run_id, step, event = match["run_id"], match["step"], match["event"]
        if run_id not in self.run_ids:
            self.run_ids.append(run_id)
        if event == "STEP_START":
            self.current_step = step
        elif event == "STEP_SUCCESS":
            self.steps_done += 1
        elif event == "STEP_FAILURE":
            self.failed_step = step
        elif event == "ASSET_MATERIALIZATION" and step == "raw__bank_prices":
            self.partitions_written += 1
        elif event is None and match["level"] in ("INFO", "WARNING") and step:
            # An asset's own context.log message, e.g. "1180/1200 CECL notes extracted".
            self.notes.append(match["message"].strip())
        else:
            return False
        return True


def bar(done: int, total: int, width: int = 30) -> str:
    filled = int(width * done / total) if total else width
    return "[" + "#" * filled + "." * (width - filled) + "]"


class Display:
    """Stage lines always; a live progress line only on a terminal (rewritten in place)."""

    def __init__(self, out: IO[str], verbose: bool):
        self.out = out
        self.verbose = verbose
        self.live = out.isatty() and not verbose
        self._last_draw = 0.0
        self._drawn = False

    def line(self, text: str) -> None:
        self.clear()
        print(text, file=self.out, flush=True)

    def progress(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if not self.live or (not force and now - self._last_draw < 0.2):
            return
        self._last_draw = now
        self.out.write("\r\x1b[K" + text)
        self.out.flush()
        self._drawn = True

    def clear(self) -> None:
        if self._drawn:
            self.out.write("\r\x1b[K")
            self.out.flush()
            self._drawn = False


def progress_text(stage: Stage, progress: RunProgress, partitions: int | None, started: float):
    elapsed = f"{time.monotonic() - started:5.0f}s"
    if stage.name == "prices" and partitions:
        done = min(progress.partitions_written, partitions)
        return f"  {stage.name:<10} {bar(done, partitions)} {done}/{partitions} price partitions {elapsed}"
    step = (progress.current_step or "starting").replace("__", "/")
    return f"  {stage.name:<10} {progress.steps_done} steps done, running {step} {elapsed}"


def run_stage(
    stage: Stage,
    command: list[str],
    env: dict[str, str],
    log: IO[str],
    display: Display,
    partitions: int | None,
) -> tuple[int, RunProgress]:
    progress = RunProgress()
    started = time.monotonic()
    log.write(f"\n# stage {stage.name}: {' '.join(command)}\n")
    log.flush()
    with subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        bufsize=1,
    ) as child:
        assert child.stdout is not None
        try:
            for line in child.stdout:
                log.write(line)
                if display.verbose:
                    display.out.write(line)
                changed = progress.feed(line)
                if changed and progress.notes and "CECL notes extracted" in progress.notes[-1]:
                    display.line(f"  filings    {progress.notes.pop()}")
                display.progress(progress_text(stage, progress, partitions, started), changed)
        except KeyboardInterrupt:
            child.terminate()
            child.wait(timeout=30)
            raise
        code = child.wait()
    log.flush()
    display.clear()
    return code, progress


# ---- the summary, read back from the instance and results/ -----------------------------


@dataclass
class RunOutcome:
    assets: set[str] = field(default_factory=set)
    checks_passed: list[str] = field(default_factory=list)
    checks_failed: list[str] = field(default_factory=list)
    failure: tuple[str, str] | None = None  # (step, one-line reason)
    metadata: dict[str, dict] = field(default_factory=dict)


def deepest_message(error) -> str:
    """The innermost cause's first line: the asset's own error, not Dagster's wrapper."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    lines = [ln for ln in (getattr(error, "message", "") or "").strip().splitlines() if ln]
    if not lines:
        return getattr(error, "cls_name", None) or "unknown error"
    # "package.module.PriceFileError: prices.csv: row 7, ..." -> "prices.csv: row 7, ..."
    cls_name = getattr(error, "cls_name", None)
    first = lines[0]
    if cls_name and re.match(rf"^(?:\w+\.)*{re.escape(cls_name)}: ", first):
        first = first.split(f"{cls_name}: ", 1)[1]
    return first


def read_outcome(run_ids: Iterable[str]) -> RunOutcome:
    from dagster import DagsterEventType, DagsterInstance

    wanted = {
        DagsterEventType.ASSET_MATERIALIZATION,
        DagsterEventType.ASSET_CHECK_EVALUATION,
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.RUN_FAILURE,
    }
    outcome = RunOutcome()
    # The runs already said what they had to say about the instance (in the log).
    dagster_logger = logging.getLogger("dagster")
    level = dagster_logger.level
    dagster_logger.setLevel(logging.ERROR)
    try:
        instance = DagsterInstance.get()
    finally:
        dagster_logger.setLevel(level)
    with instance:
        for run_id in run_ids:
            for entry in instance.all_logs(run_id, of_type=wanted):
                event = entry.dagster_event
                data = event.event_specific_data
                if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                    key = event.asset_key.to_user_string()
                    outcome.assets.add(key)
                    outcome.metadata[key] = {
                        k: getattr(v, "value", v) for k, v in data.materialization.metadata.items()
                    }
                elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
                    name = f"{data.asset_key.to_user_string()}:{data.check_name}"
                    (outcome.checks_passed if data.passed else outcome.checks_failed).append(name)
                elif event.event_type == DagsterEventType.STEP_FAILURE and outcome.failure is None:
                    outcome.failure = (event.step_key or "?", deepest_message(data.error))
                elif event.event_type == DagsterEventType.RUN_FAILURE and outcome.failure is None:
                    error = getattr(data, "error", None)
                    reason = deepest_message(error) if error else entry.user_message
                    outcome.failure = ("run", reason)
    return outcome


def number(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def headline_estimates(results_dir: Path) -> list[str]:
    """The first headline estimate each estimator published (its `<asset>.record.json`)."""
    rows = []
    for asset in HEADLINE_ASSETS:
        records = sorted(results_dir.glob(f"*/{asset}.record.json"))
        if not records:
            continue
        headline = json.loads(records[0].read_text()).get("headline") or []
        if not headline:
            continue
        h = headline[0]
        stat = f"{h.get('statistic_name') or 't'} = {number(h.get('statistic'))}"
        if h.get("p_value") is not None:
            stat += f", p = {number(h['p_value'])}"
        if h.get("n") is not None:
            stat += f", n = {number(h['n'])}"
        rows.append(f"  {h['label']}: {number(h['estimate'])} ({stat})")
    return rows


def step_asset(step: str) -> str:
    return step.replace("__", "/")


# ---- the demo --------------------------------------------------------------------------


def default_log_path(settings: Settings) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return settings.warehouse.parent / "logs" / f"demo-{stamp}.log"


def demo(
    stages: list[str],
    *,
    source: str | None = None,
    verbose: bool = False,
    log_path: Path | None = None,
    launcher: str = "dg",
    partition_range: str | None = None,
    out: IO[str] | None = None,
    stage_runner: Callable[..., tuple[int, RunProgress]] = run_stage,
) -> int:
    out = out or sys.stdout
    if source:
        os.environ["ACCT445_SOURCE"] = source
    try:
        settings = load_settings()
    except Exception as exc:  # a bad ACCT445_SOURCE or data directory: say so, no traceback
        print(f"error: {exc}", file=out)
        return 2
    ensure_dagster_home()
    log_path = log_path or default_log_path(settings)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    display = Display(out, verbose)
    env = child_environment(source)
    display.line(f"demo: source {settings.source}, stages {', '.join(stages)}; log {log_path}")
    run_ids: list[str] = []
    total_started = time.monotonic()
    failed: tuple[str, RunProgress] | None = None
    with open(log_path, "w", encoding="utf-8") as log:
        for number_, stage in enumerate(s for s in STAGES if s.name in stages):
            stage_range = partitions = None
            if stage.name == "prices":
                stage_range = partition_range or price_partition_range(settings)
                partitions = partition_count(stage_range)
            command = launch_command(stage, stage_range, launcher)
            started = time.monotonic()
            code, progress = stage_runner(stage, command, env, log, display, partitions)
            run_ids += progress.run_ids
            elapsed = time.monotonic() - started
            status = "ok" if code == 0 else "FAILED"
            detail = stage.description
            if stage.name == "prices":
                detail = (
                    f"{progress.partitions_written}/{partitions} price partitions {stage_range}"
                )
            display.line(
                f"[{number_ + 1}/{len(stages)}] {stage.name:<10} {status:<6} {elapsed:6.1f}s  {detail}"
            )
            if code != 0:
                failed = (stage.name, progress)
                break
    try:
        outcome = read_outcome(run_ids)
    except Exception as exc:  # the summary must not hide the run's own result
        outcome = RunOutcome()
        display.line(f"(could not read the run records: {exc})")
    if failed:
        return report_failure(display, failed, outcome, log_path)
    print_summary(display, settings, outcome, log_path, time.monotonic() - total_started)
    return 0


def report_failure(display: Display, failed, outcome: RunOutcome, log_path: Path) -> int:
    stage, progress = failed
    if outcome.failure:
        step, reason = outcome.failure
        where = f"asset {step_asset(step)}" if step != "run" else "the run"
    elif progress.failed_step:
        where, reason = f"asset {step_asset(progress.failed_step)}", progress.last_error or "?"
    else:
        where = "loading the definitions"
        reason = progress.last_error or "the launch command failed (see the log)"
    display.line("")
    display.line(f"FAILED in stage {stage}: {where}")
    display.line(f"  reason: {reason}")
    display.line(f"  log:    {log_path}")
    return 1


def print_summary(
    display: Display, settings: Settings, outcome: RunOutcome, log_path: Path, seconds: float
) -> None:
    line = display.line
    cnoi = outcome.metadata.get("disclosure/cnoi_scores", {})
    notes = outcome.metadata.get("disclosure/cecl_notes", {})
    line("")
    line(f"done in {seconds:.0f}s")
    line(f"  assets materialized: {len(outcome.assets)}")
    passed, failed = len(outcome.checks_passed), len(outcome.checks_failed)
    line(f"  checks: {passed} passed, {failed} failed")
    for name in outcome.checks_failed:
        line(f"    failed: {name}")
    if cnoi:
        extracted = notes.get("notes_extracted", "?")
        rows = notes.get("dagster/row_count", "?")
        line(
            f"  filings: {extracted}/{rows} CECL notes extracted, "
            f"{cnoi.get('filings_scored', '?')} scored ({cnoi.get('failures', 0)} failed)"
        )
    estimates = headline_estimates(settings.results_dir)
    if estimates:
        line("headline estimates:")
        for row in estimates:
            line(row)
    line(f"report:    {settings.results_dir / 'report.html'}")
    line(f"warehouse: {settings.warehouse}")
    line(f"full log:  {log_path}")
    line(f"dagster:   {os.environ.get('DAGSTER_HOME')}  (make dev opens the UI)")


# ---- command line ----------------------------------------------------------------------


def stage_list(text: str) -> list[str]:
    stages = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGE_NAMES]
    if unknown or not stages:
        raise argparse.ArgumentTypeError(
            f"unknown stage(s) {', '.join(unknown) or '(none)'}; choose from {','.join(STAGE_NAMES)}"
        )
    return stages


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m acct445_assets.cli",
        description="Run the acct445_assets study from the command line.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    stage_help = "; ".join(f"{s.name}: {s.description}" for s in STAGES)
    run = sub.add_parser(
        "demo",
        help="materialize every asset on the configured source and print a summary",
        description=(
            "Materialize every asset in three Dagster runs (launched with `dg launch`), "
            "print one line per stage, progress and a closing summary (assets, checks, "
            "headline estimates, paths). The full Dagster event log goes to a file."
        ),
    )
    run.add_argument(
        "--stages",
        type=stage_list,
        default=list(STAGE_NAMES),
        metavar="LIST",
        help=f"comma-separated stages to run, in order, from: {','.join(STAGE_NAMES)} "
        f"(default: all). {stage_help}",
    )
    run.add_argument(
        "--source",
        choices=SOURCES,
        help="data source for this run; overrides ACCT445_SOURCE (default: its value, or sample)",
    )
    run.add_argument(
        "--verbose", action="store_true", help="also stream the full Dagster event log"
    )
    run.add_argument(
        "--log", type=Path, help="event log file (default: data/logs/demo-<timestamp>.log)"
    )
    run.add_argument(
        "--launcher",
        choices=("dg", "dagster"),
        default="dg",
        help="`dg launch --assets` (default) or the older `dagster asset materialize`",
    )
    run.add_argument(
        "--partition-range",
        metavar="FIRST...LAST",
        help="bank_prices sessions to load (default: the source's whole span; live: to today)",
    )
    rng = sub.add_parser(
        "partition-range",
        help="print the bank_prices partition range for the source (START...END)",
        description="Print the NYSE-session range of raw/bank_prices for the configured source, "
        "in the form `dagster asset materialize --partition-range` takes.",
    )
    rng.add_argument("--source", choices=SOURCES, help="overrides ACCT445_SOURCE")
    sub.add_parser(
        "doctor",
        help="check a live set-up (User-Agent, cache, endpoints) and say what is wrong",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "doctor":
        from .ops.doctor import main as doctor

        return doctor()
    if args.command == "partition-range":
        if args.source:
            os.environ["ACCT445_SOURCE"] = args.source
        print(price_partition_range(load_settings()))
        return 0
    try:
        return demo(
            args.stages,
            source=args.source,
            verbose=args.verbose,
            log_path=args.log,
            launcher=args.launcher,
            partition_range=args.partition_range,
        )
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
