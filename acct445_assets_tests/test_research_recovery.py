"""Recovery of the sample universe's planted effects, through the research assets.

Warehouse-shaped inputs are built in Python from ``generate_universe()`` (stand-ins for
the dbt models, same columns) and written to a DuckDB file; the research assets are then
materialized through the DuckDB IO manager and their outputs compared with the truth.
"""

import duckdb
import numpy as np
import pandas as pd
import pytest
from dagster import DagsterInstance, SourceAsset, materialize

from acct445_assets.assets import research
from acct445_assets.research.portfolios import build_rebalance_universe
from acct445_assets.resources.io_manager import AtomicDuckDBIOManager
from acct445_assets_tests.research_inputs import RESEARCH_TABLES, sample_inputs

RESEARCH_ASSETS = [
    research.decile_portfolios,
    research.decile_returns,
    research.factor_alphas,
    research.event_study_cars,
    research.did_estimates,
    research.panel_regression_asset,
]
INPUT_KEYS = [
    ["warehouse", "rebalance_universe"],
    ["warehouse", "stg_bank_returns"],
    ["warehouse", "stg_cnoi"],
    ["warehouse", "stg_factors_daily"],
    ["warehouse", "stg_factors_monthly"],
    ["warehouse", "bank_quarter_panel"],
    ["raw", "benchmark_prices"],
]


def write_warehouse(db, data):
    tables = {
        "warehouse.rebalance_universe": build_rebalance_universe(data["cnoi"], data["returns"]),
        "warehouse.stg_bank_returns": data["returns"],
        "warehouse.stg_cnoi": data["cnoi"],
        "warehouse.stg_factors_daily": data["factors_daily"],
        "warehouse.stg_factors_monthly": data["factors_monthly"],
        "warehouse.bank_quarter_panel": data["panel"],
        "raw.benchmark_prices": data["benchmarks"],
    }
    with duckdb.connect(str(db)) as con:
        for name, frame in tables.items():
            schema = name.split(".")[0]
            con.execute(f"create schema if not exists {schema}")
            con.register("frame", frame)
            con.execute(f"create or replace table {name} as select * from frame")
            con.unregister("frame")


def run_research(db, run_config=None):
    result = materialize(
        [*RESEARCH_ASSETS, *[SourceAsset(key=k) for k in INPUT_KEYS]],
        resources={"io_manager": AtomicDuckDBIOManager(database=str(db))},
        instance=DagsterInstance.ephemeral(),
        run_config=run_config,
    )
    assert result.success
    with duckdb.connect(str(db), read_only=True) as con:
        tables = {
            name: con.execute(f"select * from research.{name}").df() for name in RESEARCH_TABLES
        }
    meta = {
        tuple(m.asset_key.path): m.metadata
        for m in (e.materialization for e in result.get_asset_materialization_events())
    }
    return tables, meta


@pytest.fixture(autouse=True, scope="module")
def results_in_tmp(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ACCT445_RESULTS_DIR", str(tmp_path_factory.mktemp("results")))
        yield


@pytest.fixture(scope="module")
def materialized(tmp_path_factory, results_in_tmp):
    db = tmp_path_factory.mktemp("recovery") / "study.duckdb"
    data = sample_inputs()
    write_warehouse(db, data)
    config = {
        "ops": {
            "research__event_study_cars": {"config": {"window": [-1, 1], "n_permutations": 500}},
            "research__did_estimates": {"config": {"bootstrap_reps": 199}},
        }
    }
    tables, meta = run_research(db, config)
    return data, tables, meta


def test_every_research_asset_materializes_with_metadata(materialized):
    _, tables, meta = materialized
    assert all(len(t) for t in tables.values())
    returns_meta = meta[("research", "decile_returns")]
    assert "data:image/png;base64," in returns_meta["cumulative_returns"].value
    assert (
        "data:image/png;base64," in meta[("research", "event_study_cars")]["caar_by_quartile"].value
    )
    assert "data:image/png;base64," in meta[("research", "did_estimates")]["event_time_curve"].value
    assert meta[("research", "decile_portfolios")]["parameters"].value["n_groups"] == 10
    assert set(tables["decile_returns"]["portfolio"]) == {f"{g:02d}" for g in range(1, 11)} | {
        "spread"
    }


def test_opacity_premium_recovered_by_fama_macbeth(materialized):
    data, tables, _ = materialized
    truth = data["truth"]["opacity_premium_quarterly_per_point"]
    fm = tables["panel_regression"].query("estimator == 'fama_macbeth' and term == 'cnoi'").iloc[0]
    assert fm["ci_low"] < truth < fm["ci_high"]
    assert fm["coef"] > 0
    assert truth / 4 < fm["coef"] < truth * 4


def test_opacity_premium_inside_the_spread_alpha_interval(materialized):
    data, tables, _ = materialized
    truth = data["truth"]["opacity_premium_daily_per_point"]
    alpha = (
        tables["factor_alphas"]
        .query("portfolio == 'spread' and frequency == 'daily' and model == 'ff5_mom'")
        .iloc[0]
    )
    groups = (
        tables["decile_portfolios"].groupby(["rebalance_date", "group"])["cnoi"].mean().unstack()
    )
    gap = (groups[1] - groups[10]).mean()  # transparent minus opaque, in CNOI points
    low, high = sorted(
        [
            (alpha["alpha"] - 1.96 * alpha["alpha_se"]) / gap,
            (alpha["alpha"] + 1.96 * alpha["alpha_se"]) / gap,
        ]
    )
    assert low < truth < high
    assert alpha["alpha"] < 0  # transparent minus opaque earns less


def test_svb_opacity_effect_recovered(materialized):
    data, tables, meta = materialized
    truth = data["truth"]["svb_car_per_point"]
    cars = tables["event_study_cars"].query("status == 'included'")
    assert cars["quartile"].notna().all()
    X = np.column_stack([np.ones(len(cars)), cars["cnoi"] - 50])
    slope = np.linalg.lstsq(X, cars["car"].to_numpy(), rcond=None)[0][1]
    table = meta[("research", "event_study_cars")]["car_on_cnoi_hc3"].value
    assert "cnoi_slope" in table
    from acct445_assets.research.event_study import event_study, returns_from_prices

    res = event_study(
        data["returns"],
        ["2023-03-10"],
        market=returns_from_prices(data["benchmarks"], "SPY"),
        cnoi=data["cnoi"],
        window=(-1, 1),
        n_permutations=100,
    )
    reg = res.cnoi_regression.set_index("term").loc["cnoi_slope"]
    assert reg["coef"] == pytest.approx(slope, rel=1e-9)
    q = res.quartile_difference.iloc[0]
    assert q["diff_q4_q1"] < 0 and q["perm_p"] < 0.05
    # The planted per-point shock is that of banks that survive the window; the failed
    # (opaque) banks stay in the estimator's sample with their delisting losses on top.
    import statsmodels.api as sm

    scored = res.banks.query("status == 'included'")
    survivors = scored[~scored["stopped_in_window"].astype(bool)]
    assert len(scored) - len(survivors) == 2
    fit = sm.OLS(survivors["car"], sm.add_constant(survivors["cnoi"] - 50)).fit(cov_type="HC3")
    ci = fit.conf_int().to_numpy()
    assert ci[1, 0] < truth < ci[1, 1]
    assert truth * 2 < fit.params.iloc[1] < truth / 2
    assert reg["coef"] < fit.params.iloc[1]  # the failures are opaque and lose most
    # The level: planted shock plus the bank-factor move that SPY does not span.
    by_day = data["truth"]["svb_bank_factor_ar_by_day"]
    level_truth = data["truth"]["svb_car_mean_at_50"] + sum(by_day[d] for d in (-1, 0, 1))
    assert ci[0, 0] < level_truth < ci[0, 1]


def test_cecl_volatility_effect_recovered(materialized):
    data, tables, _ = materialized
    truth = data["truth"]["cecl_att_volatility"]
    est = tables["did_estimates"].query("kind == 'estimate' and outcome == 'volatility'")
    for estimator in ("twfe", "callaway_santanna"):
        row = est.query("estimator == @estimator").iloc[0]
        assert row["status"] == "ok"
        assert row["ci_low"] < truth < row["ci_high"], estimator
        assert truth / 2 < row["coef"] < truth * 2
    assert est.query("estimator == 'twfe'").iloc[0]["wild_p"] < 0.05
    ret = tables["did_estimates"].query("kind == 'estimate' and outcome == 'ret'")
    assert (ret["ci_low"] < 0).all() and (ret["ci_high"] > 0).all()  # no planted return effect


def test_opacity_premium_recovered_with_bank_fixed_effects(materialized):
    # Latent opacity moves within banks, so bank effects leave the premium identified.
    data, tables, _ = materialized
    truth = data["truth"]["opacity_premium_quarterly_per_point"]
    fe = (
        tables["panel_regression"]
        .query("estimator == 'fixed_effects_driscoll_kraay' and term == 'cnoi'")
        .iloc[0]
    )
    assert fe["ci_low"] < truth < fe["ci_high"]
    assert fe["ci_low"] > 0  # identified from within-bank changes alone
    path = data["universe"].truth["latent_opacity_path"]
    assert np.mean([np.std(v) for v in path.values()]) > 5  # opacity really moves


def cnoi_unit_truths(truth: dict, fit: dict | None) -> dict:
    """The planted effects per CNOI point, which the estimators measure.

    The premium and the SVB slope are planted per point of latent opacity. A regression
    on a CNOI that tracks latent opacity with error estimates the planted slope times
    the slope of latent opacity on CNOI (within banks when bank effects are in the model,
    pooled otherwise), and the SVB level at CNOI 50 is that of the latent opacity expected
    at CNOI 50. With ``fit`` None (the stand-in CNOI, latent opacity plus small noise)
    every truth is its per-latent-point value.
    """
    fit = fit or {}
    pooled = fit.get("latent_on_cnoi_slope_by_filing", 1.0)
    within = fit.get("within_bank_latent_on_cnoi_slope", 1.0)
    latent_at_50 = fit.get("latent_on_cnoi_intercept_by_filing", 0.0) + pooled * 50.0
    by_day = truth["svb_bank_factor_ar_by_day"]
    return {
        "premium_quarterly_fe": truth["opacity_premium_quarterly_per_point"] * within,
        "premium_quarterly_pooled": truth["opacity_premium_quarterly_per_point"] * pooled,
        "premium_daily_pooled": truth["opacity_premium_daily_per_point"] * pooled,
        "svb_per_point": truth["svb_car_per_point"] * pooled,
        "svb_at_50": truth["svb_car_mean_at_50"]
        + truth["svb_car_per_point"] * (latent_at_50 - 50.0)
        + sum(by_day[d] for d in (-1, 0, 1)),
    }


@pytest.fixture(scope="module")
def scored_panel(tmp_path_factory, results_in_tmp):
    # CNOI scored from the generated 10-K/10-Q notes (which follow each bank's opacity
    # path), not the stand-in: the pipeline's own CNOI must let bank effects see the premium.
    db = tmp_path_factory.mktemp("scored") / "study.duckdb"
    data = sample_inputs(cnoi="scored")
    write_warehouse(db, data)
    result = materialize(
        [research.panel_regression_asset, SourceAsset(key=["warehouse", "bank_quarter_panel"])],
        resources={"io_manager": AtomicDuckDBIOManager(database=str(db))},
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    with duckdb.connect(str(db), read_only=True) as con:
        panel = con.execute("select * from research.panel_regression").df()
    return data, panel


def test_premium_recovered_on_cnoi_scored_from_documents(scored_panel):
    data, panel = scored_panel
    fit = data["cnoi_fit"]
    assert fit["within_bank_corr"] > 0.7  # the notes move with the path
    planted = cnoi_unit_truths(data["truth"], fit)
    rows = panel.query("term == 'cnoi'").set_index("estimator")
    fe = rows.loc["fixed_effects_driscoll_kraay"]
    assert fe["ci_low"] < planted["premium_quarterly_fe"] < fe["ci_high"]
    assert fe["ci_low"] > 0
    fm = rows.loc["fama_macbeth"]
    assert fm["ci_low"] < planted["premium_quarterly_pooled"] < fm["ci_high"]
    from acct445_assets.research.event_study import event_study, returns_from_prices

    svb = (
        event_study(
            data["returns"],
            ["2023-03-10"],
            market=returns_from_prices(data["benchmarks"], "SPY"),
            cnoi=data["cnoi"],
            window=(-1, 1),
            n_permutations=50,
        )
        .cnoi_regression.set_index("term")
        .loc["cnoi_slope"]
    )
    assert svb["ci_low"] < planted["svb_per_point"] < svb["ci_high"]


def test_cnoi_unit_truths_are_the_latent_truths_for_the_stand_in():
    truth = sample_inputs()["truth"]
    planted = cnoi_unit_truths(truth, None)
    assert planted["premium_quarterly_fe"] == truth["opacity_premium_quarterly_per_point"]
    fit = {
        "latent_on_cnoi_slope_by_filing": 1.1,
        "latent_on_cnoi_intercept_by_filing": 10.0,
        "within_bank_latent_on_cnoi_slope": 0.9,
    }
    scored = cnoi_unit_truths(truth, fit)
    assert scored["premium_quarterly_fe"] == pytest.approx(
        0.9 * truth["opacity_premium_quarterly_per_point"]
    )
    # CNOI 50 is latent 65 here: 15 points of planted slope on top of the level at 50.
    assert scored["svb_at_50"] - planted["svb_at_50"] == pytest.approx(
        15 * truth["svb_car_per_point"]
    )


def recovery_rows(data, tables) -> list[dict]:
    """Each planted effect with its estimate and 95% CI (the docs/recovery.md table)."""
    from acct445_assets.research.event_study import event_study, returns_from_prices

    truth = data["truth"]
    planted = cnoi_unit_truths(truth, data.get("cnoi_fit"))
    rows = []

    def add(effect, estimator, estimate, low, high, planted):
        rows.append(
            {
                "effect": effect,
                "estimator": estimator,
                "estimate": float(estimate),
                "ci_low": float(low),
                "ci_high": float(high),
                "truth": float(planted),
            }
        )

    panel = tables["panel_regression"].query("term == 'cnoi'").set_index("estimator")
    for estimator, label, key in (
        (
            "fixed_effects_driscoll_kraay",
            "bank + quarter FE, Driscoll-Kraay",
            "premium_quarterly_fe",
        ),
        ("fama_macbeth", "Fama-MacBeth, Newey-West", "premium_quarterly_pooled"),
    ):
        row = panel.loc[estimator]
        add(
            "opacity premium, quarterly return per CNOI point",
            label,
            row["coef"],
            row["ci_low"],
            row["ci_high"],
            planted[key],
        )
    alpha = (
        tables["factor_alphas"]
        .query("portfolio == 'spread' and frequency == 'daily' and model == 'ff5_mom'")
        .iloc[0]
    )
    groups = (
        tables["decile_portfolios"].groupby(["rebalance_date", "group"])["cnoi"].mean().unstack()
    )
    gap = (groups[1] - groups[10]).mean()
    low, high = sorted(
        [
            (alpha["alpha"] - 1.96 * alpha["alpha_se"]) / gap,
            (alpha["alpha"] + 1.96 * alpha["alpha_se"]) / gap,
        ]
    )
    add(
        "opacity premium, daily return per CNOI point",
        "decile spread FF5+MOM alpha / CNOI gap",
        alpha["alpha"] / gap,
        low,
        high,
        planted["premium_daily_pooled"],
    )
    res = event_study(
        data["returns"],
        ["2023-03-10"],
        market=returns_from_prices(data["benchmarks"], "SPY"),
        cnoi=data["cnoi"],
        window=(-1, 1),
        n_permutations=100,
    )
    reg = res.cnoi_regression.set_index("term")
    add(
        "SVB CAR[-1,+1] per CNOI point",
        "CAR on CNOI, HC3",
        *reg.loc["cnoi_slope", ["coef", "ci_low", "ci_high"]],
        planted["svb_per_point"],
    )
    add(
        "SVB CAR[-1,+1] at CNOI 50 (planted shock + unspanned bank factor)",
        "CAR on CNOI, HC3",
        *reg.loc["car_at_cnoi_50", ["coef", "ci_low", "ci_high"]],
        planted["svb_at_50"],
    )
    est = tables["did_estimates"].query("kind == 'estimate'").set_index(["outcome", "estimator"])
    for outcome, effect, planted in (
        ("volatility", "CECL adoption: quarterly volatility", truth["cecl_att_volatility"]),
        ("ret", "CECL adoption: quarterly return", truth["cecl_att_return"]),
    ):
        for estimator, label in (("twfe", "TWFE"), ("callaway_santanna", "Callaway-Sant'Anna")):
            row = est.loc[(outcome, estimator)]
            add(effect, label, row["coef"], row["ci_low"], row["ci_high"], planted)
    return rows


def test_every_planted_effect_is_inside_its_95_percent_interval(materialized):
    data, tables, _ = materialized
    rows = recovery_rows(data, tables)
    assert len(rows) == 9
    outside = [r for r in rows if not r["ci_low"] < r["truth"] < r["ci_high"]]
    assert outside == []


def recovery_markdown(rows) -> str:
    lines = [
        "| planted effect | estimator | estimate | 95% CI | truth | inside |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        inside = "yes" if r["ci_low"] < r["truth"] < r["ci_high"] else "no"
        lines.append(
            f"| {r['effect']} | {r['estimator']} | {r['estimate']:.3g} | "
            f"[{r['ci_low']:.3g}, {r['ci_high']:.3g}] | {r['truth']:.3g} | {inside} |"
        )
    return "\n".join(lines)


def test_assets_report_unsupported_data_instead_of_failing(tmp_path):
    data = dict(sample_inputs())
    panel = data["panel"].assign(adoption_quarter=None, cnoi=np.nan)
    data["panel"] = panel
    data["cnoi"] = data["cnoi"].iloc[0:0]
    data["benchmarks"] = data["benchmarks"].query("ticker == 'KRE'")
    db = tmp_path / "study.duckdb"
    write_warehouse(db, data)
    tables, meta = run_research(
        db, {"ops": {"research__did_estimates": {"config": {"bootstrap_reps": 0}}}}
    )
    assert "no bank has a known CNOI" in tables["decile_portfolios"]["status"].iloc[0]
    assert "no portfolios" in tables["decile_returns"]["status"].iloc[0]
    assert "status" in meta[("research", "decile_portfolios")]
    did = tables["did_estimates"]
    assert did["status"].str.contains("no adoption dates").any()
    assert "no adoption dates" in meta[("research", "did_estimates")]["status"].value
    assert "benchmark 'SPY' not in benchmark prices" in tables["event_study_cars"]["status"].iloc[0]
    panel_status = tables["panel_regression"]["status"].iloc[0]
    assert "too few" in panel_status


def test_decile_spread_recovers_the_premium_with_more_banks():
    # With 60 banks the top decile holds the three planted failures and the spread alpha
    # has t ~ 1; with 200 banks the same estimator has the power to pin the premium down.
    from acct445_assets.research.alphas import portfolio_alphas
    from acct445_assets.research.portfolios import form_portfolios

    data = sample_inputs(n_banks=200)
    result = form_portfolios(
        build_rebalance_universe(data["cnoi"], data["returns"]), data["returns"]
    )
    alpha = (
        portfolio_alphas(
            result.daily_returns, result.period_returns, data["factors_daily"], models=["ff5_mom"]
        )
        .query("portfolio == 'spread' and frequency == 'daily'")
        .iloc[0]
    )
    groups = result.assignments.groupby(["rebalance_date", "group"])["cnoi"].mean().unstack()
    gap = (groups[1] - groups[10]).mean()
    per_point, se = alpha["alpha"] / gap, alpha["alpha_se"] / abs(gap)
    truth = data["truth"]["opacity_premium_daily_per_point"]
    assert per_point - 1.96 * se < truth < per_point + 1.96 * se
    assert truth / 2 < per_point < truth * 2
    assert alpha["alpha_t"] < -2


if __name__ == "__main__":
    # Regenerates the table of docs/recovery.md:
    #   uv run --frozen python -c "import runpy; runpy.run_module(
    #       'acct445_assets_tests.test_research_recovery', run_name='__main__')"
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ACCT445_RESULTS_DIR"] = tmp
        db = os.path.join(tmp, "study.duckdb")
        inputs = sample_inputs()
        write_warehouse(db, inputs)
        out, _ = run_research(
            db,
            {
                "ops": {
                    "research__event_study_cars": {
                        "config": {"window": [-1, 1], "n_permutations": 500}
                    },
                    "research__did_estimates": {"config": {"bootstrap_reps": 199}},
                }
            },
        )
        print(recovery_markdown(recovery_rows(inputs, out)))


def test_decile_portfolios_rebuilt_universe_equals_one_from_plain_string_returns(tmp_path):
    # The returns input is loaded as Categoricals (12M rows at scale); a universe rebuilt
    # from it (monthly here, the warehouse's is quarterly) must be the one the plain
    # object-string load gave, row for row.
    from acct445_assets.research.portfolios import weight_portfolios

    db = tmp_path / "study.duckdb"
    write_warehouse(db, sample_inputs())
    result = materialize(
        [research.decile_portfolios, *[SourceAsset(key=k) for k in INPUT_KEYS]],
        resources={"io_manager": AtomicDuckDBIOManager(database=str(db))},
        instance=DagsterInstance.ephemeral(),
        run_config={"ops": {"research__decile_portfolios": {"config": {"rebalance": "monthly"}}}},
    )
    assert result.success
    (event,) = result.get_asset_materialization_events()
    params = event.materialization.metadata["parameters"].value
    assert params["universe_source"].startswith("rebuilt from")
    with duckdb.connect(str(db)) as con:
        returns = con.execute(
            "select date, cik, ticker, adj_close, market_value from warehouse.stg_bank_returns"
        ).df()
        assert returns["cik"].dtype == object and returns["ticker"].dtype == object
        cnoi = con.execute("select * from warehouse.stg_cnoi").df()
        universe = build_rebalance_universe(cnoi, returns, "monthly", 200)
        assignments, _, _ = weight_portfolios(universe, 10, "equal", 3)
        got = con.execute("select * from research.decile_portfolios").df()
        expected = assignments[[c for c in got.columns if c in assignments]].assign(status="ok")
        con.register("expected", expected)
        con.execute("create table research.expected as select * from expected")
        expected = con.execute("select * from research.expected").df()
    assert len(got) > 1000 and got["rebalance_date"].nunique() > 24  # monthly dates
    pd.testing.assert_frame_equal(got, expected[got.columns])
