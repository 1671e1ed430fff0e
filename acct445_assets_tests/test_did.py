import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from acct445_assets.research.did import (
    callaway_santanna,
    did_analysis,
    event_time_dummies,
    prepare_panel,
    twfe,
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


def test_event_time_dummies_bin_endpoints_and_omit_minus_one():
    frame = pd.DataFrame({"t": np.arange(20), "g": 10.0})
    with_dummies, names = event_time_dummies(frame, leads_lags=3)
    assert "rel_m1" not in names and len(names) == 6
    assert with_dummies.loc[with_dummies["t"] <= 7, "rel_m3"].eq(1).all()
    assert with_dummies.loc[with_dummies["t"] >= 13, "rel_p3"].eq(1).all()
    assert with_dummies.loc[9, names].sum() == 0
    never = pd.DataFrame({"t": np.arange(5), "g": np.nan})
    assert event_time_dummies(never, 3)[0][names].sum().sum() == 0


def _toy_panel(rng, cohorts):
    rows = []
    for i, g in enumerate(cohorts):
        unit = rng.normal()
        for t in range(8):
            effect = 1.0 if (g is not None and t >= g) else 0.0
            rows.append(
                {
                    "cik": f"{i:03d}",
                    "quarter": f"{2018 + t // 4}Q{t % 4 + 1}",
                    "y": unit + 0.1 * t + effect + rng.normal(0, 0.2),
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
