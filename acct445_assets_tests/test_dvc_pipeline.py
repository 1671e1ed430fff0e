"""`dvc repro` on a fresh copy of the repository: everything runs and the report appears; a
second repro does nothing; changing one event-study parameter re-runs only the event study
and the report.

Slow (the whole pipeline on a reduced sample universe), so marked ``integration``. The copy
runs the stages with this checkout's virtual environment (``UV_NO_SYNC``; the copy's own
package directory comes first on ``sys.path``), so no second environment is built.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
DVC = shutil.which("dvc") or str(Path.home() / ".local/bin/dvc")
STAGES = {
    "market_ingest",
    "market_prices",
    "disclosure",
    "warehouse",
    "opacity_validation",
    "research_portfolios",
    "research_event_study",
    "research_did",
    "research_panel",
    "publication",
}
RESULT_SECTIONS = ["cnoi", "validation", "portfolios", "event_study", "did", "panel"]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path(DVC).exists(), reason="dvc not installed (make install)"),
]


def _copy_checkout(target: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(REPO / ".venv")
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@127.0.0.1"]
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    subprocess.run([*git, "add", "-A"], cwd=target, check=True)
    subprocess.run([*git, "commit", "-qm", "copy"], cwd=target, check=True)


def _small_params(path: Path) -> None:
    params = yaml.safe_load(path.read_text())
    params["sample"].update(n_banks=16, start="2021-06-01", end="2024-06-28")
    params["market"]["prices_start"] = "2021-06-01"
    params["did"].update(panel_start="2021Q3", panel_end="2024Q2", leads_lags=4, bootstrap_reps=49)
    params["event_study"]["n_permutations"] = 99
    path.write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    root = tmp_path_factory.mktemp("fresh") / "repo"
    root.mkdir()
    _copy_checkout(root)
    _small_params(root / "params.yaml")
    (root / ".dagster").mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ACCT445_", "DAGSTER_", "VIRTUAL_ENV", "UV_PROJECT"))
    }
    env.update(
        PATH=f"{Path(DVC).parent}:{os.environ['PATH']}",
        DAGSTER_HOME=str(root / ".dagster"),
        UV_NO_SYNC="1",
        DVC_NO_ANALYTICS="1",
    )
    return root, env


def _dvc(checkout, *args: str, timeout=3600) -> str:
    root, env = checkout
    proc = subprocess.run(
        [DVC, *args], cwd=root, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, (
        f"dvc {' '.join(args)}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    return proc.stdout + proc.stderr


def _ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def test_fresh_repro_then_up_to_date_then_only_event_study_reruns(checkout):
    root, _ = checkout
    first = _dvc(checkout, "repro")
    assert _ran(first) == STAGES
    report = (root / "results" / "report.html").read_text()
    for section in RESULT_SECTIONS:
        assert any((root / "results" / section).glob("*.record.json")), section
    figures = sorted(p.name for p in (root / "results").rglob("*.png"))
    assert report.count('<img src="data:image/png;base64,') == len(figures) >= 6
    assert (root / "dvc.lock").exists()
    manifest = json.loads((root / "data/manifests/warehouse.json").read_text())
    assert manifest["tables"]["warehouse.stg_bank_returns"]["rows"] > 0

    second = _dvc(checkout, "repro")
    assert _ran(second) == set()
    assert "up to date" in _dvc(checkout, "status")

    params = yaml.safe_load((root / "params.yaml").read_text())
    params["event_study"]["window"] = [-1, 3]
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = json.loads(_dvc(checkout, "status", "--json").strip().splitlines()[-1])
    assert set(status) == {"research_event_study", "publication"}
    dry = _dvc(checkout, "repro", "--dry")
    assert _ran(dry) == {"research_event_study", "publication"}

    before = {p: p.read_bytes() for p in (root / "results").rglob("*") if p.is_file()}
    third = _dvc(checkout, "repro")
    assert _ran(third) == {"research_event_study", "publication"}
    after = {p: p.read_bytes() for p in (root / "results").rglob("*") if p.is_file()}
    changed = {p.relative_to(root / "results").parts[0] for p in after if before.get(p) != after[p]}
    assert changed == {"event_study", "report.html"}
    record = json.loads((root / "results/event_study/event_study_cars.record.json").read_text())
    assert record["parameters"]["window"] == [-1, 3]
    assert _ran(_dvc(checkout, "repro")) == set()
