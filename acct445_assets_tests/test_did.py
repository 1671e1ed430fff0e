import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
from differences import ATTgt
from wildboottest.wildboottest import WildboottestCL

from acct445_assets.research.did import (
    callaway_santanna,
    demean_two_way,
    did_analysis,
    event_time_dummies,
    group_time_att,
    prepare_panel,
    rademacher_weights,
    twfe,
    wild_cluster_bootstrap,
)
from acct445_assets_tests.research_inputs import sample_inputs


@pytest.fixture(scope="module")
def vol_frame():
    return prepare_panel(sample_inputs()["panel"], "volatility")


def test_twfe_matches_pyfixest_two_way_clustered(vol_frame):
    got = twfe(vol_frame, "volatility", bootstrap_reps=0)
    ref = pf.feols(
        "volatility ~ D | cik + t",
        data=vol_frame,
        vcov={"CRV1": "cik+t"},
        ssc=pf.ssc(k_adj=True, k_fixef="full", G_adj=False),
    )
    n = len(vol_frame)
    assert got["coef"] == pytest.approx(ref.coef()["D"], rel=1e-8)
    # linearmodels scales by N/(N-k), pyfixest by (N-1)/(N-k).
    assert got["se"] == pytest.approx(ref.se()["D"] * np.sqrt(n / (n - 1)), rel=1e-6)


def test_wild_bootstrap_p_matches_pyfixest_on_a_placebo_outcome(vol_frame):
    rng = np.random.default_rng(5)
    frame = vol_frame.assign(placebo=rng.standard_normal(len(vol_frame)))
    got = twfe(frame, "placebo", bootstrap_reps=999, seed=11)
    codes = frame.assign(cl=pd.factorize(frame["cik"])[0])
    fit = pf.feols("placebo ~ D | cik + t", data=codes, vcov={"CRV1": "cl"})
    ref = fit.wildboottest(param="D", reps=999, cluster="cl", seed=11)
    assert 0.05 < got["wild_p"] < 1.0
    assert got["wild_p"] == pytest.approx(float(ref["Pr(>|t|)"]), abs=0.03)


def _demeaned(frame, outcome):
    entity = pd.factorize(frame["cik"])[0]
    time = pd.factorize(frame["t"])[0]
    tilde = demean_two_way(frame[[outcome, "D"]].to_numpy(), entity, time)
    return tilde[:, 0], tilde[:, 1], entity


def _wildboottest_draws(y, x, cluster, reps, seed):
    boot = WildboottestCL(X=x[:, None], Y=y, cluster=cluster, R=np.array([1.0]), B=reps, seed=seed)
    boot.get_scores(bootstrap_type="11", impose_null=True)
    boot.get_weights(weights_type="rademacher")
    boot.get_numer()
    boot.get_denom()
    boot.get_tboot()
    boot.get_vcov()
    boot.get_tstat()
    boot.get_pvalue(pval_type="two-tailed")
    return boot


@pytest.mark.parametrize("outcome", ["placebo", "volatility"])
def test_wild_bootstrap_reproduces_wildboottest_draw_for_draw(vol_frame, outcome):
    rng = np.random.default_rng(5)
    frame = vol_frame.assign(placebo=rng.standard_normal(len(vol_frame)))
    y, x, cluster = _demeaned(frame, outcome)
    got = wild_cluster_bootstrap(y, x, cluster, reps=999, seed=11)
    ref = _wildboottest_draws(y, x, cluster, 999, 11)
    np.testing.assert_allclose(got["t_boot"], np.ravel(ref.t_boot), rtol=1e-9)
    assert got["t"] == pytest.approx(float(np.ravel(ref.t_stat)[0]), rel=1e-9)
    assert got["p"] == pytest.approx(float(ref.pvalue))
    if outcome == "placebo":
        assert got["p"] > 0.05
    else:  # the planted CECL volatility effect
        assert got["p"] < 0.01


def test_wild_bootstrap_enumerates_all_signs_with_few_clusters(vol_frame):
    few = vol_frame[vol_frame["cik"].isin(vol_frame["cik"].unique()[:7])]
    y, x, cluster = _demeaned(few, "volatility")
    got = wild_cluster_bootstrap(y, x, cluster, reps=999, seed=3)
    ref = _wildboottest_draws(y, x, cluster, 999, 3)
    assert len(got["t_boot"]) == 2**7
    np.testing.assert_allclose(got["t_boot"], np.ravel(ref.t_boot), rtol=1e-9)
    assert got["p"] == pytest.approx(float(ref.pvalue))


def test_wild_bootstrap_is_deterministic_given_the_seed_and_chunking(vol_frame):
    y, x, cluster = _demeaned(vol_frame, "volatility")
    whole = wild_cluster_bootstrap(y, x, cluster, reps=499, seed=7)
    chunked = wild_cluster_bootstrap(y, x, cluster, reps=499, seed=7, chunk_elements=200)
    np.testing.assert_allclose(whole["t_boot"], chunked["t_boot"], rtol=1e-12)
    other = wild_cluster_bootstrap(y, x, cluster, reps=499, seed=8)
    assert not np.array_equal(whole["t_boot"], other["t_boot"])


def _differences_oracle(frame, outcome):
    data = frame.assign(cohort=frame["g"]).set_index(["cik", "t"])[[outcome, "cohort"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        att = ATTgt(data=data, cohort_column="cohort", base_period="universal")
        att.fit(outcome, control_group="not_yet_treated", progress_bar=False)
        simple = att.aggregate("simple")
        dynamic = att.aggregate("event")
    cells = att.results()
    for table in (cells, simple, dynamic):
        table.columns = [c[-1] for c in table.columns]
    cells = cells.reset_index().rename(columns={"time": "t"}).set_index(["cohort", "t"])
    return cells, simple.iloc[0], dynamic


def _cs_panels():
    vol = prepare_panel(sample_inputs()["panel"], "volatility")
    balanced = vol[vol.groupby("cik")["t"].transform("size") == vol["t"].nunique()]
    rng = np.random.default_rng(0)
    toy = _toy_panel(rng, [3] * 6 + [5] * 5 + [6] * 6 + [None] * 6)
    with_never = prepare_panel(
        toy.rename(columns={"y": "volatility"}), "volatility", "2018Q1", "2019Q4"
    )
    return {"sample_balanced": balanced, "never_treated": with_never}


def _unbalanced_panels():
    vol = prepare_panel(sample_inputs()["panel"], "volatility")
    assert (vol.groupby("cik")["t"].size() < vol["t"].nunique()).any()  # listings, failures
    rng = np.random.default_rng(0)
    toy = _toy_panel(rng, [3] * 6 + [5] * 5 + [6] * 6 + [None] * 6)
    toy = toy.drop(index=[4, 30, 31, 90]).rename(columns={"y": "volatility"})
    return {"sample": vol, "toy": prepare_panel(toy, "volatility", "2018Q1", "2019Q4")}


@pytest.mark.parametrize("panel_name", ["sample_balanced", "never_treated"])
def test_callaway_santanna_matches_differences(panel_name):
    frame = _cs_panels()[panel_name]
    assert (frame.groupby("cik")["t"].size() == frame["t"].nunique()).all()
    estimate, curve, att_gt, _ = callaway_santanna(frame, "volatility")
    ref_cells, ref_simple, ref_dynamic = _differences_oracle(frame, "volatility")
    got = att_gt.set_index(["cohort", "t"])
    assert sorted(got.index) == sorted(ref_cells.index)
    ref_cells = ref_cells.loc[got.index]
    np.testing.assert_allclose(got["att"], ref_cells["ATT"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(got["se"], ref_cells["std_error"], rtol=1e-8)
    np.testing.assert_allclose(got["ci_low"], ref_cells["lower"], rtol=1e-8)
    assert estimate["coef"] == pytest.approx(ref_simple["ATT"], rel=1e-8)
    assert estimate["se"] == pytest.approx(ref_simple["std_error"], rel=1e-8)
    assert estimate["ci_high"] == pytest.approx(ref_simple["upper"], rel=1e-8)
    dynamic = curve.set_index("rel_quarter")
    assert list(dynamic.index) == list(ref_dynamic.index.astype(int))
    np.testing.assert_allclose(dynamic["coef"], ref_dynamic["ATT"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(dynamic["se"], ref_dynamic["std_error"], rtol=1e-8)


@pytest.mark.parametrize("panel_name", ["sample", "toy"])
def test_callaway_santanna_cells_on_unbalanced_panels_match_differences_within_bank(panel_name):
    # On an unbalanced panel each cell is the balanced two-quarter DiD of the banks observed
    # in both its quarter and the base quarter: differences.ATTgt on exactly that sub-panel.
    frame = _unbalanced_panels()[panel_name]
    estimate, _, att_gt, _ = callaway_santanna(frame, "volatility")
    cells = att_gt.merge(
        group_time_att(frame, "volatility").cells[["cohort", "t", "base"]], on=["cohort", "t"]
    )
    cells = cells[cells["t"] != cells["base"]]
    if panel_name == "sample":  # every cell is slow to re-fit; the cells around 2023 suffice
        cells = cells[cells["cohort"] == cells["cohort"].max()]
    wide = frame.pivot(index="cik", columns="t", values="volatility")
    cohort_of = frame.groupby("cik")["g"].first()
    checked_unbalanced = 0
    for cell in cells.itertuples():
        g, t, b = cell.cohort, cell.t, cell.base
        observed = wide[[b, t]].notna().all(axis=1)
        treated = cohort_of == g
        control = cohort_of.isna() | (cohort_of > max(t, b))
        keep = observed & (treated | control)
        checked_unbalanced += int((~observed & (treated | control)).any())
        sub = frame[frame["cik"].isin(keep[keep].index) & frame["t"].isin([b, t])]
        # As a two-period panel: the earlier quarter is period 0, the later one is treated.
        sub = sub.assign(
            t=(sub["t"] == max(b, t)).astype(int),
            g=np.where(sub["cik"].map(treated), 1.0, np.nan),
        )
        ref = _differences_oracle(sub, "volatility")[0].loc[(1, 1)]
        sign = 1.0 if t > b else -1.0  # a pre-period cell is y_t - y_b, the reverse order
        assert cell.att == pytest.approx(sign * ref["ATT"], rel=1e-8, abs=1e-12)
        assert cell.se == pytest.approx(ref["std_error"], rel=1e-8)
    assert checked_unbalanced > 0
    post = att_gt[att_gt["t"] >= att_gt["cohort"]]
    size = post["cohort"].map(cohort_of.value_counts())
    assert estimate["coef"] == pytest.approx((post["att"] * size).sum() / size.sum(), rel=1e-9)


def test_callaway_santanna_ignores_banks_entering_after_the_base_quarter():
    # Zero planted effect; high-level treated banks list after their cohort's base quarter.
    # Means over whoever is present would read their level as an effect.
    rng = np.random.default_rng(3)
    panel = _toy_panel(rng, [3] * 10 + [6] * 10 + [None] * 10, effect=0.0)
    late = _toy_panel(rng, [3] * 8, effect=0.0).assign(cik=lambda x: "late" + x["cik"])
    late["y"] += 3.0
    late = late[late["quarter"] >= "2019Q1"]  # enter at t = 4, after base quarter t = 2
    frame = prepare_panel(pd.concat([panel, late]), "y", "2018Q1", "2019Q4")
    estimate, _, _, _ = callaway_santanna(frame, "y")
    assert abs(estimate["coef"]) < 0.1
    assert estimate["ci_low"] < 0.0 < estimate["ci_high"]
    balanced = prepare_panel(panel, "y", "2018Q1", "2019Q4")
    assert estimate["coef"] == pytest.approx(callaway_santanna(balanced, "y")[0]["coef"], abs=0.05)


def test_event_time_dummies_bin_endpoints_and_omit_minus_one():
    frame = pd.DataFrame({"t": np.arange(20), "g": 10.0})
    with_dummies, names = event_time_dummies(frame, leads_lags=3)
    assert "rel_m1" not in names and len(names) == 6
    assert with_dummies.loc[with_dummies["t"] <= 7, "rel_m3"].eq(1).all()
    assert with_dummies.loc[with_dummies["t"] >= 13, "rel_p3"].eq(1).all()
    assert with_dummies.loc[9, names].sum() == 0
    never = pd.DataFrame({"t": np.arange(5), "g": np.nan})
    assert event_time_dummies(never, 3)[0][names].sum().sum() == 0


def _toy_panel(rng, cohorts, effect=1.0):
    rows = []
    for i, g in enumerate(cohorts):
        unit = rng.normal()
        for t in range(8):
            treated = effect if (g is not None and t >= g) else 0.0
            rows.append(
                {
                    "cik": f"{i:03d}",
                    "quarter": f"{2018 + t // 4}Q{t % 4 + 1}",
                    "y": unit + 0.1 * t + treated + rng.normal(0, 0.2),
                    "adoption_quarter": None if g is None else f"{2018 + g // 4}Q{g % 4 + 1}",
                }
            )
    return pd.DataFrame(rows)


def test_callaway_santanna_cell_matches_long_difference_by_hand():
    rng = np.random.default_rng(0)
    panel = _toy_panel(rng, [3] * 6 + [6] * 6 + [None] * 6)
    frame = prepare_panel(panel, "y", "2018Q1", "2019Q4")
    estimate, curve, att_gt, _ = callaway_santanna(frame, "y")
    wide = frame.pivot(index="cik", columns="t", values="y")
    g_of = frame.groupby("cik")["g"].first()
    g, t = 2018 * 4 + 3, 2018 * 4 + 4
    diff = wide[t] - wide[g - 1]
    treated = g_of == g
    control = g_of.isna() | (g_of > t)
    expected = diff[treated].mean() - diff[control].mean()
    cell = att_gt.set_index(["cohort", "t"]).loc[(g, t), "att"]
    assert cell == pytest.approx(expected, rel=1e-9)
    assert 0.7 < estimate["coef"] < 1.3
    assert estimate["ci_low"] < 1.0 < estimate["ci_high"]


def test_panel_without_comparison_units_says_so():
    rng = np.random.default_rng(1)
    same = _toy_panel(rng, [4] * 8)
    res = did_analysis(
        same.rename(columns={"y": "volatility"}),
        ["volatility"],
        bootstrap_reps=0,
        panel_start="2018Q1",
        panel_end="2019Q4",
    )
    assert res.estimates["status"].str.contains("no never- or not-yet-treated").all()
    assert res.estimates.get("coef") is None or res.estimates["coef"].isna().all()
    assert "DiD not estimated" in res.notes[0]
    none = same.assign(adoption_quarter=None).rename(columns={"y": "volatility"})
    res = did_analysis(
        none, ["volatility"], bootstrap_reps=0, panel_start="2018Q1", panel_end="2019Q4"
    )
    assert res.estimates["status"].str.contains("no adoption dates").all()


def test_cluster_counts_are_reported(vol_frame):
    res = did_analysis(sample_inputs()["panel"], ["volatility"], bootstrap_reps=0)
    row = res.estimates.query("estimator == 'twfe'").iloc[0]
    adoption = sample_inputs()["adoption"].set_index("cik")["adoption_quarter"]
    assert row["n_treated_clusters"] == adoption.size
    assert row["n_control_clusters"] == (adoption != "2020Q1").sum()
    assert row["n_quarter_clusters"] == 32
    assert res.pretrends.iloc[0]["df"] == 7


def test_runtime_code_does_not_load_the_oracle_libraries():
    # They stay dev-only (image size); a fresh interpreter shows what the assets really import.
    # polars is left out: statsmodels imports it opportunistically when it is installed.
    code = (
        "import sys, acct445_assets.assets.research, acct445_assets.research.did\n"
        "heavy = {'numba', 'llvmlite', 'wildboottest', 'differences', 'pyfixest'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _crv1_t_with_dummies(y, x, entity, time):
    """OLS of y on x and full bank and quarter dummies, CRV1 t of x by bank (G/(G-1))."""
    dummies = np.column_stack(
        [np.eye(entity.max() + 1)[entity], np.eye(time.max() + 1)[time][:, 1:]]
    )
    X = np.column_stack([x, dummies])
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    bread = np.linalg.pinv(X.T @ X)
    scores = pd.DataFrame(X * resid[:, None]).groupby(entity).sum().to_numpy()
    n_clusters = entity.max() + 1
    cov = bread @ scores.T @ scores @ bread * n_clusters / (n_clusters - 1)
    return beta[0] / np.sqrt(cov[0, 0])


def test_wild_bootstrap_refits_the_two_way_model_at_every_draw(vol_frame):
    # Unbalanced (late listings, failures): quarter effects are not nested in bank clusters,
    # so bootstrapping once-demeaned data is not the bootstrap of the two-way model.
    banks = vol_frame.groupby("cik")["t"].size().sort_values().index[:14]
    frame = vol_frame[vol_frame["cik"].isin(banks)].reset_index(drop=True)
    assert frame.groupby("cik")["t"].size().nunique() > 1
    entity = pd.factorize(frame["cik"])[0]
    time = pd.factorize(frame["t"])[0]
    y, x = frame["volatility"].to_numpy(), frame["D"].to_numpy()
    got = wild_cluster_bootstrap(y, x, entity, reps=60, seed=4, fixed_effects=(entity, time))
    dummies = np.column_stack([np.eye(entity.max() + 1)[entity], np.eye(time.max() + 1)[time]])
    restricted = dummies @ np.linalg.lstsq(dummies, y, rcond=None)[0]
    u = y - restricted
    weights = rademacher_weights(entity.max() + 1, 60, 4)
    expected = [
        _crv1_t_with_dummies(restricted + u * weights[entity, b], x, entity, time)
        for b in range(weights.shape[1])
    ]
    np.testing.assert_allclose(got["t_boot"], expected, rtol=1e-7)
    assert got["t"] == pytest.approx(_crv1_t_with_dummies(y, x, entity, time), rel=1e-7)
    assert twfe(frame, "volatility", bootstrap_reps=60, seed=4)["wild_p"] == pytest.approx(
        max(np.mean(np.abs(expected) > abs(got["t"])), 1 / 61)
    )


def test_wild_bootstrap_reports_a_bound_not_zero(vol_frame):
    frame = vol_frame.assign(strong=vol_frame["volatility"] + 0.05 * vol_frame["D"])
    got = twfe(frame, "strong", bootstrap_reps=99, seed=1)
    assert got["wild_p"] == pytest.approx(1 / 100)
    assert got["wild_p_bound"] == pytest.approx(1 / 100)
    assert got["wild_p_below_bound"]
    loose = twfe(
        vol_frame.assign(placebo=np.random.default_rng(2).standard_normal(len(vol_frame))),
        "placebo",
        bootstrap_reps=99,
        seed=1,
    )
    assert loose["wild_p"] > 0.05 and not loose["wild_p_below_bound"]


def test_banks_with_unknown_adoption_are_excluded_and_counted():
    panel = sample_inputs()["panel"]
    unknown = panel["cik"].unique()[:5]
    blanked = panel.assign(
        adoption_quarter=panel["adoption_quarter"].where(~panel["cik"].isin(unknown), None)
    )
    res = did_analysis(blanked, ["volatility"], bootstrap_reps=0)
    counts = res.counts["volatility"]
    assert counts["n_excluded_unknown_adoption"] == 5
    assert counts["n_banks"] == panel["cik"].nunique() - 5
    assert any("5 bank(s) with an unknown adoption quarter" in n for n in res.notes)
    known = did_analysis(panel[~panel["cik"].isin(unknown)], ["volatility"], bootstrap_reps=0)
    pd.testing.assert_series_equal(
        res.estimates["coef"], known.estimates["coef"], check_exact=False, rtol=1e-12
    )
    # A user-supplied adoption table makes them count again.
    table = sample_inputs()["adoption"]
    supplied = did_analysis(blanked, ["volatility"], adoption=table, bootstrap_reps=0)
    assert supplied.counts["volatility"]["n_excluded_unknown_adoption"] == 0
    assert supplied.counts["volatility"]["n_banks"] == panel["cik"].nunique()


def test_twfe_and_its_wild_bootstrap_do_not_depend_on_row_order(vol_frame):
    # The warehouse returns the panel in no fixed order; the estimate and its bootstrap p
    # must be a function of the data, not of the row order.
    # A placebo outcome keeps p inside (0, 1), where a different sign matrix shows.
    placebo = vol_frame.assign(
        placebo=np.random.default_rng(5).normal(size=len(vol_frame)) + 0.1 * vol_frame["D"]
    )
    shuffled = placebo.sample(frac=1.0, random_state=7).reset_index(drop=True)
    first = twfe(placebo, "placebo", bootstrap_reps=199, seed=3)
    second = twfe(shuffled, "placebo", bootstrap_reps=199, seed=3)
    assert 0.02 < first["wild_p"] < 0.98
    assert first["coef"] == pytest.approx(second["coef"], rel=1e-10)
    assert first["se"] == pytest.approx(second["se"], rel=1e-10)
    assert first["wild_p"] == second["wild_p"]


def test_twfe_and_panel_fixed_effects_match_linearmodels(vol_frame):
    from linearmodels import PanelOLS

    from acct445_assets.research.panel import fixed_effects_dk

    data = vol_frame.set_index(["cik", "t"])
    model = PanelOLS(data["volatility"], data[["D"]], entity_effects=True, time_effects=True)
    clustered = model.fit(cov_type="clustered", cluster_entity=True, cluster_time=True)
    got = twfe(vol_frame, "volatility", bootstrap_reps=0)
    assert got["coef"] == pytest.approx(clustered.params["D"], rel=1e-8)
    assert got["se"] == pytest.approx(clustered.std_errors["D"], rel=1e-8)
    assert got["p"] == pytest.approx(clustered.pvalues["D"], rel=1e-8, abs=1e-12)
    kernel = model.fit(cov_type="kernel", kernel="bartlett", bandwidth=3)
    dk = fixed_effects_dk(vol_frame, "volatility", ["D"], 3).set_index("term").loc["D"]
    assert dk["coef"] == pytest.approx(kernel.params["D"], rel=1e-8)
    assert dk["se"] == pytest.approx(kernel.std_errors["D"], rel=1e-8)
