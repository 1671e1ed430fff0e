"""research.fe: two-way fixed effects against linearmodels PanelOLS and pyfixest."""

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
from linearmodels import PanelOLS

from acct445_assets.research.did import demean_two_way
from acct445_assets.research.fe import TwoWayDemeaner, codes, twfe_frame, twfe_ols

TOL = 1e-8


def unbalanced_panel(n_banks: int, n_quarters: int, seed: int, keep: float = 0.7) -> pd.DataFrame:
    """Banks with their own gaps, string CIKs, a staggered treatment and a control that
    moves with the bank effect (so the effects matter for the slope)."""
    rng = np.random.default_rng(seed)
    present = rng.random((n_banks, n_quarters)) < keep
    present[:, :2] = True  # every bank at least twice, every quarter in many banks
    bank, quarter = np.nonzero(present)
    bank_effect = rng.normal(size=n_banks)[bank]
    quarter_effect = rng.normal(size=n_quarters)[quarter]
    adoption = rng.integers(2, n_quarters + 4, size=n_banks)[bank]
    frame = pd.DataFrame(
        {
            "cik": [f"{1_000_000 + b:010d}" for b in bank],
            "t": 8000 + quarter,
            "D": (quarter >= adoption).astype(float),
            "size": bank_effect + rng.normal(size=len(bank)),
        }
    )
    frame["y"] = (
        0.3 * frame["D"]
        - 0.1 * frame["size"]
        + bank_effect
        + quarter_effect
        + rng.standard_t(5, size=len(bank))
    )
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def linearmodels_fit(frame, regressors, **fit):
    data = frame.set_index(["cik", "t"])
    model = PanelOLS(data["y"], data[regressors], entity_effects=True, time_effects=True)
    return model.fit(**fit)


def relative(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))


@pytest.mark.parametrize(
    "n_banks,n_quarters,seed",
    [(40, 12, 1), (150, 32, 2), (9, 30, 3)],  # the last: fewer banks than quarters
)
@pytest.mark.parametrize("regressors", [["D"], ["D", "size"]])
def test_two_way_clustered_matches_linearmodels(n_banks, n_quarters, seed, regressors):
    frame = unbalanced_panel(n_banks, n_quarters, seed)
    ours = twfe_frame(frame, "y", regressors)
    theirs = linearmodels_fit(
        frame, regressors, cov_type="clustered", cluster_entity=True, cluster_time=True
    )
    ci = theirs.conf_int()
    assert relative(ours.params, theirs.params[regressors]) < TOL
    assert relative(ours.se, theirs.std_errors[regressors]) < TOL
    assert relative(ours.tstat, theirs.tstats[regressors]) < TOL
    assert relative(ours.pvalue, theirs.pvalues[regressors]) < TOL
    assert relative(ours.ci_low, ci.loc[regressors, "lower"]) < TOL
    assert relative(ours.ci_high, ci.loc[regressors, "upper"]) < TOL
    assert relative(ours.cov, theirs.cov.loc[regressors, regressors]) < TOL
    assert ours.nobs == theirs.nobs and ours.df_resid == theirs.df_resid
    assert abs(ours.rsquared - theirs.rsquared) < TOL
    assert abs(ours.rsquared_within - theirs.rsquared_within) < TOL


@pytest.mark.parametrize("bandwidth", [0, 2, 4])
def test_driscoll_kraay_matches_linearmodels(bandwidth):
    frame = unbalanced_panel(80, 24, 7)
    ours = twfe_frame(frame, "y", ["D", "size"], cov="driscoll-kraay", bandwidth=bandwidth)
    theirs = linearmodels_fit(
        frame, ["D", "size"], cov_type="kernel", kernel="bartlett", bandwidth=bandwidth
    )
    assert relative(ours.params, theirs.params) < TOL
    assert relative(ours.se, theirs.std_errors) < TOL
    assert relative(ours.pvalue, theirs.pvalues) < TOL


def test_unadjusted_matches_linearmodels():
    frame = unbalanced_panel(50, 10, 8)
    ours = twfe_frame(frame, "y", ["D", "size"], cov="unadjusted")
    theirs = linearmodels_fit(frame, ["D", "size"], cov_type="unadjusted")
    assert relative(ours.se, theirs.std_errors) < TOL


@pytest.mark.parametrize("seed", [4, 5])
def test_matches_pyfixest_two_way_clusters(seed):
    """pyfixest with no small-sample factors gives the raw CGM sandwich; ours carries
    linearmodels' n / df_resid, so the SEs differ by exactly its square root."""
    frame = unbalanced_panel(120, 20, seed)
    ours = twfe_frame(frame, "y", ["D", "size"])
    theirs = pf.feols(
        "y ~ D + size | cik + t",
        data=frame,
        vcov={"CRV1": "cik+t"},
        ssc=pf.ssc(k_adj=False, G_adj=False),
        fixef_rm="none",
        fixef_tol=1e-14,
    )
    assert relative(ours.params, theirs.coef()[["D", "size"]]) < TOL
    raw = ours.se / np.sqrt(ours.nobs / ours.df_resid)
    assert relative(raw, theirs.se()[["D", "size"]]) < TOL


def test_within_transformation_equals_alternating_projections():
    frame = unbalanced_panel(60, 16, 9)
    entity, n_e = codes(frame["cik"])
    time, n_t = codes(frame["t"])
    values = frame[["y", "D", "size"]].to_numpy()
    exact = TwoWayDemeaner(entity, time, n_e, n_t).demean(values)
    iterated = demean_two_way(values, entity, time)
    assert np.max(np.abs(exact - iterated)) < 1e-9
    # the residual is orthogonal to every bank and every quarter dummy
    for group, n_groups in ((entity, n_e), (time, n_t)):
        sums = np.stack([np.bincount(group, exact[:, j], n_groups) for j in range(3)])
        assert np.max(np.abs(sums)) < 1e-9


def test_integer_codes_keep_order_and_skip_gaps():
    got, n = codes(np.array([8010, 8003, 8010, 8007]))
    assert n == 3 and got.tolist() == [2, 0, 2, 1]
    got, n = codes(np.array(["b", "a", "b"]))
    assert n == 2 and got.tolist() == [1, 0, 1]


def test_row_order_does_not_matter():
    frame = unbalanced_panel(30, 10, 10)
    a = twfe_frame(frame, "y", ["D", "size"])
    b = twfe_frame(frame.sort_values(["t", "cik"]), "y", ["D", "size"])
    assert relative(a.params, b.params) < 1e-12 and relative(a.se, b.se) < 1e-12


def test_bad_input_is_named():
    frame = unbalanced_panel(10, 5, 11)
    with pytest.raises(ValueError, match="cov must be one of"):
        twfe_frame(frame, "y", ["D"], cov="hc1")
    y = frame["y"].to_numpy().copy()
    y[3] = np.inf
    with pytest.raises(ValueError, match="finite"):
        twfe_ols(y, frame[["D"]].to_numpy(), frame["cik"], frame["t"])
    with pytest.raises(ValueError, match="bandwidth 5 must be below the 5 periods"):
        twfe_frame(frame, "y", ["D"], cov="driscoll-kraay", bandwidth=5)
    tiny = frame.groupby("cik").head(1)
    with pytest.raises(ValueError, match="no residual degrees of freedom"):
        twfe_frame(tiny, "y", ["D"])


def test_absorbed_regressor_is_named():
    frame = unbalanced_panel(20, 8, 12)
    frame["bank_constant"] = frame["cik"].str[-2:].astype(float)
    with pytest.raises(ValueError, match="absorbed.*bank_constant"):
        twfe_frame(frame, "y", ["D", "bank_constant"])


def test_bench_peers_agree_on_a_small_panel():
    """The benchmark's four TWFE implementations give one coefficient and SE."""
    from acct445_assets_bench import peers

    frame = peers.twfe_panel(80, 12, seed=3)
    results = {
        name: peers.in_linearmodels_convention(run(frame), frame)
        for name, run in peers.RUNNERS.items()
    }
    for name, result in results.items():
        assert peers.discrepancy(result, results["linearmodels"]) < TOL, name
    assert peers.statsmodels_fits(len(frame), 80, 12)
    assert not peers.statsmodels_fits(144_304, 5000, 32)
