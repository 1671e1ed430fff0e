"""Every command README.md gives for setting up and running, run on a fresh clone.

The clone is of the committed HEAD (what a new user gets), into a temporary directory with
its own `.venv`, `data/`, `results/` and `.dagster/`. `make demo` runs once, the full graph;
the cheaper commands run after it in the same clone. Commands another test already runs
(the suite itself, the full demo on the `files` source) are listed in `ELSEWHERE` with that
test, and the list is checked against the README so a new command cannot go untested.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SECTIONS = ("## Set-up: two commands", "## Where results land", "## Running assets")
MAX_DEMO_LINES = 60
UI_PORT = 3000  # fixed by `make dev`

# command -> the test that runs it (file, function)
ELSEWHERE = {
    "make test": ("test_cli.py", "test_make_test_fails_when_pytest_collects_nothing"),
    "make test PYTEST_ARGS=acct445_assets_tests/integration": (
        "test_cli.py",
        "test_make_test_fails_when_pytest_collects_nothing",
    ),
    "uv run python -m acct445_assets.cli demo": (
        "test_files_source_end_to_end.py",
        "test_files_source_materializes_every_research_asset",
    ),
    ".venv/bin/python -m acct445_assets.cli demo": (
        "test_cli.py",
        "test_demo_stage_prints_a_few_lines_and_a_summary",
    ),
}
# Run here, but not as a plain command: the demo first, the UI as a server, clean last.
SPECIAL = ("make demo", "make dev", "make clean")


def readme_commands() -> list[str]:
    """Shell commands in the set-up and running sections: `make ...`, `uv run ...` and
    `.venv/bin/...` in code spans or bash blocks, in README order."""
    text = README.read_text()
    commands: list[str] = []
    for heading in SECTIONS:
        body = text[text.index(heading) :]
        body = body[: body.find("\n## ", len(heading))]
        for block in re.findall(r"```bash\n(.*?)```", body, re.S):
            block = "\n".join(line.strip() for line in block.splitlines())
            for line in block.splitlines():
                command = (
                    "" if line.startswith("#") else re.split(r"\s#", line, maxsplit=1)[0].strip()
                )
                if command:
                    commands.append(command)
        prose = re.sub(r"```.*?```", "", body, flags=re.S)
        for span in re.findall(r"`([^`\n]+)`", prose):
            if span.startswith(("make ", "uv run ", ".venv/bin/")):
                commands.append(span.strip())
    return list(dict.fromkeys(commands))


def clean_env() -> dict[str, str]:
    """A new user's shell: nothing of this checkout's environment or settings."""
    venv_bin = str(Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin")
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != venv_bin]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ACCT445_", "DAGSTER_", "UV_PROJECT", "PYTEST_"))
        # Under `make test` these make a nested make print "Entering/Leaving directory".
        and k not in ("VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    }
    env["PATH"] = os.pathsep.join(path)
    return env


def shell(command: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def demo_clone(tmp_path_factory):
    clone = tmp_path_factory.mktemp("fresh") / "acct445_assets"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    started = time.monotonic()
    demo = shell("make demo", clone, timeout=3600)
    seconds = time.monotonic() - started
    # For the README's figures (pytest -s shows them).
    print(f"\nmake demo on a fresh clone: {seconds:.0f}s, {len(demo.stdout.splitlines())} lines")
    print(demo.stdout)
    return clone, demo


def test_every_readme_command_is_run_by_a_test():
    commands = readme_commands()
    assert "make demo" in commands and "make test" in commands  # the extraction works
    for command, (file, function) in ELSEWHERE.items():
        assert command in commands, f"{command!r} is no longer in the README"
        assert f"def {function}(" in (REPO / "acct445_assets_tests" / file).read_text()


def test_make_demo_on_a_fresh_clone_prints_a_short_run_and_a_summary(demo_clone):
    clone, demo = demo_clone
    assert demo.returncode == 0, (demo.stdout[-3000:], demo.stderr[-3000:])
    lines = demo.stdout.splitlines()
    assert len(lines) <= MAX_DEMO_LINES, demo.stdout
    output = demo.stdout + demo.stderr
    assert not re.search(r"warning|traceback", output, re.I), output
    for n, stage in enumerate(("ingest", "prices", "downstream"), start=1):
        assert re.search(rf"^\[{n}/3\] {stage}\s+ok\s+\d+\.\ds", demo.stdout, re.M), stage
    summary = demo.stdout[demo.stdout.index("\ndone in ") :]
    assert re.search(r"assets materialized: \d\d+", summary)
    assert re.search(r"checks: \d+ passed, 0 failed", summary), summary
    estimates = summary[summary.index("headline estimates:") :].splitlines()[1:6]
    assert len(estimates) == 5 and all(re.search(r": -?\d.*\(.* = ", e) for e in estimates)
    paths = dict(re.findall(r"^(report|warehouse|full log):\s+(\S+)", summary, re.M))
    assert Path(paths["report"]) == clone / "results" / "report.html"
    assert Path(paths["report"]).stat().st_size > 0
    assert Path(paths["warehouse"]).exists()
    assert "RUN_SUCCESS" in Path(paths["full log"]).read_text()
    assert lines[-1].startswith("dagster:")


def test_the_other_readme_commands_run_on_the_clone(demo_clone):
    clone, demo = demo_clone
    assert demo.returncode == 0
    plain = [c for c in readme_commands() if c not in ELSEWHERE and c not in SPECIAL]
    assert any(c.startswith("uv run dg launch") for c in plain)
    prelude: list[str] = []  # `export ...` lines apply to the commands after them
    for command in plain:
        if command.startswith("export "):
            prelude.append(command)
            continue
        out = shell(" && ".join([*prelude, command]), clone)
        assert out.returncode == 0, (command, out.stdout[-2000:], out.stderr[-2000:])
        if command.startswith(("uv run dg launch", "uv run dagster asset materialize")):
            assert "RUN_SUCCESS" in out.stderr + out.stdout, command
    help_text = shell("make help", clone).stdout
    for target in ("demo", "test", "dev", "lint", "clean"):
        assert re.search(rf"^\s+{target}\s", help_text, re.M), target


def test_make_dev_serves_the_ui_and_make_clean_removes_generated_data(demo_clone):
    clone, _ = demo_clone
    ui = subprocess.Popen(
        ["make", "dev"],
        cwd=clone,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        info = None
        while time.monotonic() < deadline and ui.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{UI_PORT}/server_info") as r:
                    info = r.read().decode()
                    break
            except OSError:
                time.sleep(2)
        assert info and "dagster_webserver_version" in info, ui.poll()
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        ui.wait(timeout=60)
    out = shell("make clean", clone)
    assert out.returncode == 0, out.stderr
    assert not (clone / "data").exists() and not (clone / ".dagster").exists()
    shutil.rmtree(clone, ignore_errors=True)
