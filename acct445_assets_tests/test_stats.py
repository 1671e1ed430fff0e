import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from acct445_assets.research.factor_models import compound_factors
from acct445_assets.research.stats import (
    annualised_sharpe,
    default_nw_lags,
    latest_known,
    newey_west_mean,
    ols_hac,
    ols_hac_masked,
)


def _ar1(rng, n, phi=0.4, mean=0.001):
    e = rng.standard_normal(n) * 0.01
    out = np.empty(n)
    out[0] = e[0]
    for i in range(1, n):
        out[i] = phi * out[i - 1] + e[i]
    return out + mean


def test_default_lags_follow_newey_west_rule():
    assert default_nw_lags(100) == 4
    assert default_nw_lags(2000) == int(np.floor(4 * 20 ** (2 / 9)))
    assert default_nw_lags(30) == int(np.floor(4 * 0.3 ** (2 / 9)))


@pytest.mark.parametrize("lags", [None, 0, 7])
def test_newey_west_mean_matches_statsmodels_hac(lags):
    rng = np.random.default_rng(1)
    series = pd.DataFrame({"a": _ar1(rng, 400), "b": _ar1(rng, 400, phi=-0.2)})
    series.loc[:30, "b"] = np.nan
    got = newey_west_mean(series, lags=lags)
    for col in series:
        y = series[col].dropna().to_numpy()
        use = default_nw_lags(len(y)) if lags is None else lags
        ref = sm.OLS(y, np.ones(len(y))).fit(cov_type="HAC", cov_kwds={"maxlags": use})
        assert got.loc[col, "mean"] == pytest.approx(ref.params[0], rel=1e-12)
        assert got.loc[col, "se"] == pytest.approx(ref.bse[0], rel=1e-10)
        assert got.loc[col, "t"] == pytest.approx(ref.tvalues[0], rel=1e-10)
        assert got.loc[col, "n"] == len(y)


def test_batched_ols_hac_matches_statsmodels_per_column():
    rng = np.random.default_rng(2)
    n = 500
    factors = rng.standard_normal((n, 3)) * 0.01
    X = np.column_stack([np.ones(n), factors])
    betas = rng.normal(1, 0.3, (4, 25))
    Y = X @ betas + np.column_stack([_ar1(rng, n) for _ in range(25)])
    res = ols_hac(X, Y, lags=5, small_sample=True)
    for j in range(25):
        ref = sm.OLS(Y[:, j], X).fit(
            cov_type="HAC", cov_kwds={"maxlags": 5, "use_correction": True}
        )
        np.testing.assert_allclose(res.params[:, j], ref.params, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(res.bse[:, j], ref.bse, rtol=1e-9)
        assert res.rsquared[j] == pytest.approx(ref.rsquared, rel=1e-10)


@pytest.mark.parametrize(("lags", "small_sample"), [(None, False), (3, True)])
def test_masked_ols_hac_matches_statsmodels_on_each_columns_own_span(lags, small_sample):
    rng = np.random.default_rng(3)
    n, m = 600, 12
    X = np.column_stack([np.ones(n), rng.standard_normal((n, 4)) * 0.01])
    Y = X @ rng.normal(0.5, 0.4, (5, m)) + np.column_stack([_ar1(rng, n) for _ in range(m)])
    mask = np.ones((n, m), dtype=bool)
    for j in range(m):
        mask[: rng.integers(0, 250), j] = False
        mask[rng.integers(350, n + 1) :, j] = False
    res = ols_hac_masked(X, np.where(mask, Y, np.nan), mask, lags=lags, small_sample=small_sample)
    for j in range(m):
        rows = mask[:, j]
        use = default_nw_lags(rows.sum()) if lags is None else lags
        ref = sm.OLS(Y[rows, j], X[rows]).fit(
            cov_type="HAC", cov_kwds={"maxlags": use, "use_correction": small_sample}
        )
        np.testing.assert_allclose(res.params[:, j], ref.params, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(res.bse[:, j], ref.bse, rtol=1e-9)
        np.testing.assert_allclose(res.tvalues[:, j], ref.tvalues, rtol=1e-8)
        assert res.rsquared[j] == pytest.approx(ref.rsquared, rel=1e-9)
        assert (res.nobs[j], res.lags[j]) == (rows.sum(), use)


def test_masked_ols_hac_refuses_gaps_and_unidentified_columns():
    X = np.column_stack([np.ones(20), np.arange(20.0) ** 0.5])
    Y = np.arange(40.0).reshape(20, 2)
    gap = np.ones((20, 2), dtype=bool)
    gap[10, 1] = False
    with pytest.raises(ValueError, match="gaps inside their sample.*column 1"):
        ols_hac_masked(X, Y, gap)
    short = np.zeros((20, 2), dtype=bool)
    short[:, 0] = True
    short[:2, 1] = True
    with pytest.raises(ValueError, match="column 1: 2 observations"):
        ols_hac_masked(X, Y, short)


def test_ols_hac_rejects_missing_values_and_rank_deficiency():
    X = np.column_stack([np.ones(10), np.arange(10.0)])
    with pytest.raises(ValueError, match="finite"):
        ols_hac(X, np.r_[np.nan, np.ones(9)])
    with pytest.raises(ValueError, match="rank"):
        ols_hac(np.column_stack([X, X[:, 1] * 2]), np.arange(10.0))


def test_sharpe_annualises_by_frequency():
    values = pd.Series([0.01, 0.03, -0.01, 0.02])
    expected = values.mean() / values.std(ddof=1) * np.sqrt(12)
    assert annualised_sharpe(values, "monthly").iloc[0] == pytest.approx(expected)
    with pytest.raises(ValueError, match="frequency"):
        annualised_sharpe(values, "hourly")


def test_latest_known_never_uses_a_score_known_later():
    signal = pd.DataFrame(
        {
            "cik": ["1", "1", "2"],
            "known_date": pd.to_datetime(["2020-01-10", "2020-04-10", "2020-02-01"]),
            "cnoi": [10.0, 20.0, 30.0],
        }
    )
    decisions = pd.DataFrame(
        {
            "cik": ["1", "1", "1", "2"],
            "date": pd.to_datetime(["2020-01-09", "2020-04-10", "2020-04-09", "2020-03-31"]),
        }
    )
    loose = latest_known(signal, decisions)
    assert np.isnan(loose["cnoi"][0])
    assert loose["cnoi"].tolist()[1:] == [20.0, 10.0, 30.0]
    strict = latest_known(signal, decisions, strict=True)
    assert strict["cnoi"][1] == 10.0


def test_compound_factors_builds_period_returns_from_daily():
    days = pd.bdate_range("2021-01-01", "2021-03-31")
    rng = np.random.default_rng(3)
    daily = pd.DataFrame(
        rng.normal(0, 0.01, (len(days), 2)), index=days, columns=["mkt_rf", "smb"]
    ).assign(rf=0.0001)
    ends = pd.to_datetime(["2020-12-31", "2021-01-29", "2021-02-26", "2021-03-31"])
    out = compound_factors(daily, ends)
    feb = daily.loc["2021-01-30":"2021-02-26"]
    assert out.loc["2021-02-26", "smb"] == pytest.approx((1 + feb["smb"]).prod() - 1)
    total = (1 + feb["mkt_rf"] + feb["rf"]).prod() - 1
    assert out.loc["2021-02-26", "mkt_rf"] == pytest.approx(total - ((1 + feb["rf"]).prod() - 1))
    assert list(out.index) == list(ends[1:])


def test_ols_hac_on_chosen_columns_in_small_blocks_matches_statsmodels():
    """``columns`` picks (and orders) the series; blocks smaller than the count change nothing."""
    rng = np.random.default_rng(4)
    n, m = 300, 23
    X = np.column_stack([np.ones(n), rng.standard_normal((n, 2)) * 0.01])
    Y = X @ rng.normal(0.5, 0.4, (3, m)) + np.column_stack([_ar1(rng, n) for _ in range(m)])
    Y[:, 5] = np.nan  # not among the chosen columns, so it must not matter
    chosen = np.array([17, 2, 3, 11, 0, 22, 8, 9, 4])
    res = ols_hac(X, Y, lags=4, columns=chosen, block=4)
    for i, j in enumerate(chosen):
        ref = sm.OLS(Y[:, j], X).fit(cov_type="HAC", cov_kwds={"maxlags": 4})
        np.testing.assert_allclose(res.params[:, i], ref.params, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(res.bse[:, i], ref.bse, rtol=1e-9)
        assert res.rsquared[i] == pytest.approx(ref.rsquared, rel=1e-10)
    with pytest.raises(ValueError, match="finite"):
        ols_hac(X, Y, lags=4, columns=[1, 5])


def test_estimators_run_blas_on_one_thread_and_restore_it():
    from threadpoolctl import threadpool_info

    from acct445_assets.research.stats import one_blas_thread

    def blas_threads():
        return {
            i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"
        }

    before = blas_threads()
    inside = one_blas_thread(blas_threads)()
    assert inside and set(inside.values()) == {1}
    assert blas_threads() == before
