"""params.yaml drives the assets: their config defaults are its values, ACCT445_PARAMS points
them at another file, and changing one parameter changes the results that depend on it and
no other."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from acct445_assets.assets import research
from acct445_assets.params import PARAMS_FILE, load_params, section
from acct445_assets_tests.params_probe import write_warehouse
from acct445_assets_tests.research_inputs import RESEARCH_TABLES, sample_inputs

REPO = Path(__file__).resolve().parent.parent


def test_research_config_defaults_are_params_yaml():
    portfolios, signal, events = section("portfolios"), section("signal"), section("event_study")
    did, panel, alphas = section("did"), section("panel"), section("alphas")
    assert research.PortfolioConfig().n_groups == portfolios["n_groups"]
    assert research.PortfolioConfig().rebalance == portfolios["rebalance"]
    assert research.PortfolioConfig().weighting == portfolios["weighting"]
    assert research.PortfolioConfig().max_signal_age == signal["max_signal_age"]
    assert research.ReturnsConfig().cost_bps == portfolios["cost_bps"]
    assert research.ReturnsConfig().nw_lags == portfolios["nw_lags"]
    assert research.AlphaConfig().models == alphas["models"]
    event_config = research.EventStudyConfig()
    assert event_config.events == [str(e) for e in events["events"]]
    assert event_config.window == events["window"]
    assert event_config.estimation_window == events["estimation_window"]
    assert event_config.min_estimation_returns == events["min_estimation_returns"]
    assert event_config.model == events["model"]
    assert event_config.benchmark == events["benchmark"]
    assert event_config.n_permutations == events["n_permutations"]
    did_config = research.DidConfig()
    assert (did_config.panel_start, did_config.panel_end) == (did["panel_start"], did["panel_end"])
    assert did_config.leads_lags == did["leads_lags"]
    assert did_config.bootstrap_reps == did["bootstrap_reps"]
    assert did_config.outcomes == did["outcomes"]
    assert research.PanelConfig().nw_lags == panel["nw_lags"]


def test_warehouse_dbt_vars_are_params_yaml():
    from acct445_assets.assets.warehouse import WarehouseConfig

    signal, portfolios = section("signal"), section("portfolios")
    assert WarehouseConfig().dbt_vars() == {
        "lag_days": signal["lag_days"],
        "max_signal_age": signal["max_signal_age"],
        "delisting_return": signal["delisting_return"],
        "rebalance": portfolios["rebalance"],
    }


def _params_file(tmp_path: Path, name: str, **changes) -> Path:
    params = yaml.safe_load(PARAMS_FILE.read_text())
    for dotted, value in changes.items():
        block, key = dotted.split("__")
        params[block][key] = value
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def _env(params: Path, results: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}
    env.update(ACCT445_PARAMS=str(params), ACCT445_RESULTS_DIR=str(results))
    return env


def test_acct445_params_points_config_defaults_elsewhere(tmp_path):
    changed = _params_file(tmp_path, "changed", event_study__window=[-2, 3], portfolios__n_groups=5)
    code = (
        "import json; from acct445_assets.assets import research as r;"
        "print(json.dumps([r.EventStudyConfig().window, r.PortfolioConfig().n_groups,"
        " r.DidConfig().leads_lags]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(changed, tmp_path / "results"),
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [
        [-2, 3],
        5,
        load_params()["did"]["leads_lags"],
    ]


def _run(db: Path, params: Path, results: Path) -> dict[str, pd.DataFrame]:
    proc = subprocess.run(
        [sys.executable, "-m", "acct445_assets_tests.params_probe", str(db)],
        env=_env(params, results),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            name: con.execute(f"select * from research.{name}").df() for name in RESEARCH_TABLES
        }


def test_event_window_changes_the_event_study_and_nothing_else(tmp_path):
    warehouse = tmp_path / "study.duckdb"
    write_warehouse(str(warehouse), sample_inputs(n_banks=30))
    fast = {"did__bootstrap_reps": 49, "event_study__n_permutations": 99}
    base_params = _params_file(tmp_path, "base", **fast)
    wide_params = _params_file(tmp_path, "wide", event_study__window=[-1, 10], **fast)
    base_db, wide_db = tmp_path / "base.duckdb", tmp_path / "wide.duckdb"
    shutil.copy(warehouse, base_db)
    shutil.copy(warehouse, wide_db)

    base = _run(base_db, base_params, tmp_path / "base_results")
    wide = _run(wide_db, wide_params, tmp_path / "wide_results")

    for name in RESEARCH_TABLES:
        assert len(base[name]) and "status" in base[name]
        if name == "event_study_cars":
            continue
        pd.testing.assert_frame_equal(base[name], wide[name], obj=name)
    cars_base = base["event_study_cars"].set_index(["event", "cik"]).sort_index()
    cars_wide = wide["event_study_cars"].set_index(["event", "cik"]).sort_index()
    included = cars_base.index[cars_base["status"] == "included"]
    assert len(included) > 10
    # A bank that stops trading inside [-1, +5] has zero ARs after its last price, so only
    # banks trading through the narrow window must see their CAR move when it widens.
    trading = included[~cars_base.loc[included, "stopped_in_window"].astype(bool)]
    assert len(trading) > 10
    assert (cars_base.loc[trading, "car"] != cars_wide.loc[trading, "car"]).all()
    stopped = included.difference(trading)
    assert len(stopped) and (cars_base.loc[stopped, "car"] == cars_wide.loc[stopped, "car"]).all()

    # The published outputs follow the same rule, and record the window each run used.
    for section_dir in ("portfolios", "did", "panel"):
        for path in sorted((tmp_path / "base_results" / section_dir).iterdir()):
            twin = tmp_path / "wide_results" / section_dir / path.name
            assert twin.read_bytes() == path.read_bytes(), path.name
    base_tests = (tmp_path / "base_results/event_study/tests.csv").read_text()
    assert base_tests != (tmp_path / "wide_results/event_study/tests.csv").read_text()
    record = json.loads(
        (tmp_path / "wide_results/event_study/event_study_cars.record.json").read_text()
    )
    assert record["parameters"]["window"] == [-1, 10]


@pytest.mark.parametrize(
    "name", ["sample", "market", "signal", "portfolios", "alphas", "event_study", "did", "panel"]
)
def test_dvc_stages_track_every_params_section(name):
    """Each params.yaml section is a dependency of some DVC stage, so editing it re-runs one."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    tracked = set()
    for stage in stages.values():
        for entry in stage.get("params", []):
            keys = [entry] if isinstance(entry, str) else list(entry.get("params.yaml") or [])
            tracked.update(str(k).split(".")[0] for k in keys)
    assert name in tracked
