import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
import statsmodels.api as sm

from acct445_assets.research.did import demean_two_way
from acct445_assets.research.panel import CONTROLS, panel_regression, regression_sample
from acct445_assets_tests.research_inputs import sample_inputs

REGRESSORS = ["cnoi", *CONTROLS]


@pytest.fixture(scope="module")
def fitted():
    panel = sample_inputs()["panel"]
    return panel, regression_sample(panel), panel_regression(panel, nw_lags=4)


def test_fixed_effects_match_pyfixest_and_driscoll_kraay_by_hand(fitted):
    _, frame, res = fitted
    fe = res.coefficients.query("estimator == 'fixed_effects_driscoll_kraay'").set_index("term")
    ref = pf.feols("next_ret ~ cnoi + log_mv + ret + volatility | cik + t", data=frame)
    np.testing.assert_allclose(fe.loc[REGRESSORS, "coef"], ref.coef()[REGRESSORS], rtol=1e-7)
    # Driscoll-Kraay: Bartlett HAC of the cross-sectional sums of scores, FE partialled out.
    entity, time = pd.factorize(frame["cik"])[0], pd.factorize(frame["t"])[0]
    demeaned = demean_two_way(frame[["next_ret", *REGRESSORS]].to_numpy(), entity, time)
    y, X = demeaned[:, 0], demeaned[:, 1:]
    u = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    scores = pd.DataFrame(X * u[:, None]).groupby(time).sum().to_numpy()
    meat = scores.T @ scores
    for lag in range(1, 5):
        gamma = scores[lag:].T @ scores[:-lag]
        meat += (1 - lag / 5) * (gamma + gamma.T)
    bread = np.linalg.inv(X.T @ X)
    n, k = len(frame), len(REGRESSORS) + frame["cik"].nunique() + frame["t"].nunique() - 1
    se = np.sqrt(np.diag(bread @ meat @ bread) * n / (n - k))
    np.testing.assert_allclose(fe.loc[REGRESSORS, "se"], se, rtol=1e-6)


def test_fama_macbeth_is_nw_mean_of_quarterly_cross_sections(fitted):
    _, frame, res = fitted
    fm = res.coefficients.query("estimator == 'fama_macbeth'").set_index("term")
    slopes = []
    for _, block in frame.groupby("t"):
        fit = sm.OLS(block["next_ret"], sm.add_constant(block[REGRESSORS])).fit()
        slopes.append(fit.params["cnoi"])
    slopes = np.array(slopes)
    ref = sm.OLS(slopes, np.ones(len(slopes))).fit(cov_type="HAC", cov_kwds={"maxlags": 4})
    assert fm.loc["cnoi", "coef"] == pytest.approx(slopes.mean(), rel=1e-9)
    assert fm.loc["cnoi", "se"] == pytest.approx(ref.bse[0], rel=1e-9)
    assert fm.loc["cnoi", "n_periods"] == len(slopes)
    np.testing.assert_allclose(res.fm_series["cnoi"], slopes, rtol=1e-9)


def test_future_quarters_do_not_move_past_cross_sections(fitted):
    panel, _, res = fitted
    quarters = sorted(panel["quarter"].unique())
    cutoff = quarters[len(quarters) // 2]
    shocked = panel.copy()
    later = shocked["quarter"] > cutoff
    shocked.loc[later, ["cnoi", "next_ret"]] = shocked.loc[later, ["cnoi", "next_ret"]] * -1
    again = panel_regression(shocked, nw_lags=4)
    before = res.fm_series.index <= cutoff
    pd.testing.assert_frame_equal(res.fm_series[before], again.fm_series[before])
    assert not np.allclose(res.fm_series[~before], again.fm_series[~before])


def test_too_small_panel_is_reported_not_estimated(fitted):
    panel, _, _ = fitted
    tiny = panel[panel["cik"].isin(panel["cik"].unique()[:4])]
    res = panel_regression(tiny)
    assert res.coefficients["status"].str.contains("too few").all()
    assert "too few" in res.notes[0]


def test_controls_are_the_decision_quarters_own_values():
    # METHODS 7: next_ret is q+1's return; the controls are q's own return, volatility and
    # log market value at q's end - all known when q ends.
    panel = pd.DataFrame(
        {
            "cik": ["A"] * 3,
            "quarter": ["2020Q1", "2020Q2", "2020Q3"],
            "ret": [0.10, -0.05, 0.02],
            "volatility": [0.01, 0.03, 0.02],
            "market_value": [100.0, 95.0, 97.0],
            "cnoi": [40.0, 45.0, 50.0],
        }
    )
    panel["log_mv"] = np.log(panel["market_value"])
    panel["next_ret"] = panel["ret"].shift(-1)
    frame = regression_sample(panel).set_index("quarter")
    assert list(frame.index) == ["2020Q1", "2020Q2"]
    q1 = frame.loc["2020Q1"]
    assert q1["next_ret"] == pytest.approx(-0.05)
    assert q1["ret"] == pytest.approx(0.10) and q1["volatility"] == pytest.approx(0.01)
    assert q1["log_mv"] == pytest.approx(np.log(100.0))
    assert set(CONTROLS) == {"log_mv", "ret", "volatility"}
