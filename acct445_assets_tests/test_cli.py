"""The command-line wrapper: help, options, the demo's short output, failures, warnings.

The demo tests run the real `dg launch` in a child process on the `ingest` stage (the
cheapest), with nothing but /usr/bin:/bin on PATH, so the wrapper has to find its tools in
its own environment. The full demo runs once, on a fresh clone, in test_readme_commands.py.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from acct445_assets import cli
from acct445_assets.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 900):
    return subprocess.run(
        [sys.executable, "-m", "acct445_assets.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def bare_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No virtualenv on PATH, private warehouse, results and Dagster instance."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ACCT445_", "DAGSTER_")) and k not in ("VIRTUAL_ENV", "PATH")
    }
    env.update(
        PATH="/usr/bin:/bin",
        ACCT445_HOME=str(tmp_path / "home"),
        ACCT445_RESULTS_DIR=str(tmp_path / "results"),
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
        **extra,
    )
    return env


def test_help_describes_each_command():
    top = run_cli("--help")
    assert top.returncode == 0, top.stderr
    assert re.search(r"demo\s+materialize every asset", top.stdout)
    assert re.search(r"partition-range\s+print the bank_prices partition range", top.stdout)
    demo = run_cli("demo", "--help")
    assert demo.returncode == 0, demo.stderr
    text = " ".join(demo.stdout.split())
    assert "from: ingest,prices,downstream" in text
    for option in ("--stages", "--source", "--verbose", "--log", "--launcher"):
        assert option in text
    assert "{sample,files,live}" in text and "overrides ACCT445_SOURCE" in text


def test_an_unknown_stage_is_refused_with_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["demo", "--stages", "ingest,everything"])
    assert exit_.value.code == 2
    assert "unknown stage(s) everything; choose from ingest,prices,downstream" in (
        capsys.readouterr().err
    )


def test_source_option_overrides_acct445_source(tmp_path):
    env = bare_env(tmp_path, ACCT445_SOURCE="nonsense")
    refused = run_cli("partition-range", env=env)
    assert refused.returncode != 0 and "nonsense" in refused.stderr
    chosen = run_cli("partition-range", "--source", "sample", env=env)
    assert chosen.returncode == 0, chosen.stderr
    expected = cli.price_partition_range(load_settings({"ACCT445_SOURCE": "sample"}))
    assert chosen.stdout.strip() == expected


def test_tools_are_found_next_to_the_interpreter_not_on_path(monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert cli.tool_path("dg") == str(BIN / "dg")
    assert cli.tool_path("dagster") == str(BIN / "dagster")
    env = cli.child_environment(None)
    assert env["PATH"].split(os.pathsep)[0] == str(BIN)  # dbt, for the dbt resource


def test_demo_stage_prints_a_few_lines_and_a_summary(tmp_path):
    # --source must win over a broken ACCT445_SOURCE; nothing of the venv is on PATH.
    log = tmp_path / "demo.log"
    out = run_cli(
        "demo",
        "--stages",
        "ingest",
        "--source",
        "sample",
        "--log",
        str(log),
        env=bare_env(tmp_path, ACCT445_SOURCE="nonsense"),
    )
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert out.stderr == ""
    lines = out.stdout.splitlines()
    assert len(lines) <= 20, out.stdout
    assert re.search(r"^\[1/1\] ingest\s+ok\s+\d+\.\ds", out.stdout, re.M), out.stdout
    assert "assets materialized: 4" in out.stdout
    event_log = log.read_text()
    assert "RUN_SUCCESS" in event_log and "dg launch" not in out.stdout
    evaluations = event_log.count(" - ASSET_CHECK_EVALUATION - ")
    assert evaluations > 0
    assert f"checks: {evaluations} passed, 0 failed" in out.stdout
    assert f"full log:  {log}" in out.stdout
    assert "Warning" not in out.stdout and "Traceback" not in out.stdout


def test_demo_failure_names_the_asset_the_reason_and_the_log(tmp_path):
    from acct445_assets_tests.test_files_source_end_to_end import write_user_files

    data = tmp_path / "userdata"
    write_user_files(data)
    prices = (data / "prices.csv").read_text().splitlines()
    header = prices[0].split(",")
    row = prices[5].split(",")
    row[header.index("adj_close")] = "-5.25"
    prices[5] = ",".join(row)
    (data / "prices.csv").write_text("\n".join(prices) + "\n")
    log = tmp_path / "failed.log"
    out = run_cli(
        "demo",
        "--stages",
        "ingest",
        "--log",
        str(log),
        env=bare_env(tmp_path, ACCT445_SOURCE="files", ACCT445_DATA_DIR=str(data)),
    )
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "Traceback" not in out.stdout + out.stderr
    assert re.search(
        r"FAILED in stage ingest: asset raw/(bank_universe|benchmark_prices)", out.stdout
    )
    reason = re.search(r"^  reason: (.*)$", out.stdout, re.M)
    assert reason, out.stdout
    assert re.match(
        rf"{re.escape(str(data))}/prices.csv: row 6, column adj_close: price must be positive, "
        r"got .*-5\.25",
        reason[1],
    ), reason[1]
    assert f"log:    {log}" in out.stdout
    assert "STEP_FAILURE" in log.read_text()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def fake_child(lines: list[str]) -> list[str]:
    return [sys.executable, "-c", f"import sys; sys.stdout.write({''.join(lines)!r})"]


RUN = "4bd7a40a-0000-4000-8000-a483f0d391f2"


def event(step: str, kind: str, message: str, level: str = "DEBUG") -> str:
    pid = " - 5705" if kind else ""
    kind = f" - {kind}" if kind else ""
    return f"2026-12-01 20:31:53 +0000 - dagster - {level} - __ASSET_JOB - {RUN}{pid} - {step}{kind} - {message}\n"


def test_price_progress_is_a_bar_on_a_terminal_and_silent_otherwise(tmp_path):
    stage = cli.STAGES[1]
    lines = [event("raw__bank_prices", "STEP_START", "Started")]
    lines += [event("raw__bank_prices", "ASSET_MATERIALIZATION", "Materialized")] * 40
    for stream in (Terminal(), io.StringIO()):
        with open(tmp_path / "log", "w") as log:
            code, progress = cli.run_stage(
                stage, fake_child(lines), dict(os.environ), log, cli.Display(stream, False), 40
            )
        assert code == 0 and progress.partitions_written == 40 and progress.run_ids == [RUN]
        shown = stream.getvalue()
        if isinstance(stream, Terminal):
            assert "\r" in shown and "price partitions" in shown and "[####" in shown
        else:
            assert shown == ""
    logged = (tmp_path / "log").read_text().splitlines()
    assert sum(line.endswith("ASSET_MATERIALIZATION - Materialized") for line in logged) == 40


def test_verbose_streams_the_event_log_and_notes_show_extracted_filings(tmp_path):
    lines = [
        event("disclosure__cecl_notes", "STEP_START", "Started"),
        event("disclosure__cecl_notes", "", "1180/1200 CECL notes extracted", "INFO"),
        event("disclosure__cecl_notes", "STEP_SUCCESS", "Finished"),
    ]
    for verbose in (True, False):
        stream = io.StringIO()
        with open(tmp_path / "log", "w") as log:
            _, progress = cli.run_stage(
                cli.STAGES[2], fake_child(lines), {}, log, cli.Display(stream, verbose), None
            )
        assert progress.steps_done == 1
        assert "filings    1180/1200 CECL notes extracted" in stream.getvalue()
        assert (" - STEP_START - " in stream.getvalue()) is verbose


def test_headline_estimates_are_read_from_the_records(tmp_path):
    record = {
        "headline": [
            {
                "label": "2023-03-10 CAAR",
                "estimate": -0.13412,
                "statistic": -11.85,
                "statistic_name": "t",
                "p_value": 5.1e-17,
                "n": 58,
            }
        ]
    }
    (tmp_path / "event_study").mkdir()
    (tmp_path / "event_study" / "event_study_cars.record.json").write_text(json.dumps(record))
    assert cli.headline_estimates(tmp_path) == [
        "  2023-03-10 CAAR: -0.1341 (t = -11.85, p = 5.1e-17, n = 58)"
    ]


LOAD = """
import json, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import acct445_assets.definitions
print(json.dumps([[w.category.__name__, w.filename, str(w.message)[:200]] for w in caught]))
"""


def test_the_code_location_loads_without_warnings():
    quiet = subprocess.run(
        [sys.executable, "-c", "import acct445_assets.definitions"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    # Every warning raised at all, including those Python hides by default; only a
    # third-party import notice (sqlglotrs announcing its own deprecation) is not ours.
    loud = subprocess.run(
        [sys.executable, "-c", LOAD], capture_output=True, text=True, cwd=REPO, check=True
    )
    caught = json.loads(loud.stdout.strip().splitlines()[-1])
    ours = [
        w
        for w in caught
        if "acct445_assets" in w[1]
        or "dagster" in w[1]
        or w[0] in ("BetaWarning", "PreviewWarning", "SupersessionWarning")
    ]
    assert ours == []


def test_system_deps_stops_at_once_without_root_or_sudo(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    marker = tmp_path / "apt-get-called"
    scripts = {
        "dpkg-query": "exit 1",  # nothing installed
        "id": "echo 1000",
        "sudo": "exit 1",  # sudo exists but needs a password
        "apt-get": f"touch {marker}",
    }
    for name, body in scripts.items():
        (fake / name).write_text(f"#!/bin/sh\n{body}\n")
        (fake / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:/usr/bin:/bin"}
    out = subprocess.run(
        ["bash", str(REPO / ".ci/system-deps.sh")], env=env, capture_output=True, text=True
    )
    assert out.returncode == 1
    assert "sudo apt-get install -y --no-install-recommends nginx chromium postgresql-15" in (
        out.stderr
    )
    assert not marker.exists()
    # make test stops there: no pytest, no install.
    make = subprocess.run(
        ["make", "-C", str(REPO), "test"], env=env, capture_output=True, text=True, timeout=120
    )
    assert make.returncode != 0 and "system-deps: missing" in make.stderr
    assert "passed" not in make.stdout and "install:" not in make.stdout


def test_system_deps_installs_only_what_is_missing(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    calls = tmp_path / "apt-get.calls"
    (fake / "dpkg-query").write_text(
        '#!/bin/sh\nfor a; do pkg=$a; done\n[ "$pkg" = nginx ] && exit 1\n'
        'echo "install ok installed"\n'
    )
    (fake / "apt-get").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    (fake / "id").write_text("#!/bin/sh\necho 0\n")
    for f in fake.iterdir():
        f.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:/usr/bin:/bin"}
    policy = Path("/usr/sbin/policy-rc.d")
    existed = policy.exists()
    out = subprocess.run(
        ["bash", str(REPO / ".ci/system-deps.sh")], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert calls.read_text().splitlines() == [
        "update -qq",
        "install -y -qq --no-install-recommends nginx",
    ]
    assert policy.exists() == existed  # its temporary service guard is removed again


def test_make_test_fails_when_pytest_collects_nothing():
    out = subprocess.run(
        [
            "make",
            "-C",
            str(REPO),
            "test",
            "PYTEST_ARGS=acct445_assets_tests/test_params.py -k no_such_test_anywhere",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode != 0
    assert "make test: pytest collected no tests" in out.stderr
