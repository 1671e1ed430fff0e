import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from acct445_assets.research.alphas import portfolio_alphas, regress_on_models
from acct445_assets.research.factor_models import FACTOR_MODELS
from acct445_assets.research.portfolios import SPREAD, build_rebalance_universe, form_portfolios
from acct445_assets_tests.research_inputs import sample_inputs


@pytest.fixture(scope="module")
def sample_alphas():
    data = sample_inputs()
    universe = build_rebalance_universe(data["cnoi"], data["returns"])
    res = form_portfolios(universe, data["returns"])
    alphas = portfolio_alphas(res.daily_returns, res.period_returns, data["factors_daily"])
    return data, res, alphas


def test_models_are_defined_once_with_the_documented_factors():
    assert FACTOR_MODELS["capm"] == ("mkt_rf",)
    assert FACTOR_MODELS["carhart"] == ("mkt_rf", "smb", "hml", "mom")
    assert FACTOR_MODELS["ff5_mom"] == ("mkt_rf", "smb", "hml", "rmw", "cma", "mom")


def test_daily_alphas_match_statsmodels_hac(sample_alphas):
    data, res, alphas = sample_alphas
    factors = data["factors_daily"].set_index("date")
    daily = res.daily_returns.pivot(index="date", columns="portfolio", values="ret")
    for portfolio, model in [(1, "ff3"), (SPREAD, "ff5_mom"), (10, "capm")]:
        cols = list(FACTOR_MODELS[model])
        y = daily[portfolio]
        if portfolio != SPREAD:
            y = y - factors["rf"].reindex(y.index)
        X = sm.add_constant(factors.loc[y.index, cols])
        lags = int(np.floor(4 * (len(y) / 100) ** (2 / 9)))
        ref = sm.OLS(y, X).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
        row = alphas.query(
            "portfolio == @portfolio and model == @model and frequency == 'daily'"
        ).iloc[0]
        assert row["alpha"] == pytest.approx(ref.params["const"], rel=1e-8)
        assert row["alpha_t"] == pytest.approx(ref.tvalues["const"], rel=1e-8)
        assert row["beta_mkt_rf"] == pytest.approx(ref.params["mkt_rf"], rel=1e-8)
        assert row["r2"] == pytest.approx(ref.rsquared, rel=1e-8)
        assert row["alpha_annual"] == pytest.approx(252 * ref.params["const"])
        assert row["n"] == len(y)


def test_quarterly_alphas_use_factors_compounded_over_the_holding_period(sample_alphas):
    data, res, alphas = sample_alphas
    factors = data["factors_daily"].set_index("date")
    periods = res.period_returns.query("portfolio == 1")
    rows = []
    for p in periods.itertuples():
        days = factors.loc[(factors.index > p.period_start) & (factors.index <= p.period_end)]
        rf = np.prod(1 + days["rf"]) - 1
        rows.append(
            {
                "y": p.ret - rf,
                "mkt_rf": np.prod(1 + days["mkt_rf"] + days["rf"]) - 1 - rf,
                "smb": np.prod(1 + days["smb"]) - 1,
                "hml": np.prod(1 + days["hml"]) - 1,
            }
        )
    frame = pd.DataFrame(rows)
    ref = sm.OLS(frame["y"], sm.add_constant(frame[["mkt_rf", "smb", "hml"]])).fit(
        cov_type="HAC", cov_kwds={"maxlags": 2}
    )
    got = regress_on_models(
        pd.DataFrame({1: frame["y"]}),
        frame.assign(rf=0.0),
        models=["ff3"],
        nw_lags=2,
        frequency="quarterly",
    ).iloc[0]
    assert got["alpha"] == pytest.approx(ref.params["const"], rel=1e-9)
    row = alphas.query("portfolio == 1 and model == 'ff3' and frequency == 'quarterly'").iloc[0]
    assert row["alpha"] == pytest.approx(ref.params["const"], rel=1e-8)
    assert row["beta_smb"] == pytest.approx(ref.params["smb"], rel=1e-8)
    assert row["n"] == len(frame)
    assert row["alpha_annual"] == pytest.approx(4 * row["alpha"])


def test_every_portfolio_and_model_is_reported(sample_alphas):
    _, _, alphas = sample_alphas
    assert len(alphas) == 2 * 11 * 5
    assert alphas[["alpha", "alpha_t", "r2"]].notna().all().all()


def test_percent_factors_are_rejected(sample_alphas):
    data, res, _ = sample_alphas
    percent = data["factors_daily"].assign(mkt_rf=lambda f: f["mkt_rf"] * 100)
    with pytest.raises(ValueError, match="percent"):
        portfolio_alphas(res.daily_returns, res.period_returns, percent)


def test_monthly_rebalancing_gives_monthly_alphas():
    data = sample_inputs()
    universe = build_rebalance_universe(data["cnoi"], data["returns"], frequency="monthly")
    assert universe["rebalance_date"].dt.to_period("M").is_unique is False
    assert (
        universe.groupby(universe["rebalance_date"].dt.to_period("M"))["rebalance_date"]
        .nunique()
        .max()
        == 1
    )
    res = form_portfolios(universe, data["returns"], frequency="monthly")
    alphas = portfolio_alphas(
        res.daily_returns,
        res.period_returns,
        data["factors_daily"],
        ["capm"],
        period_frequency="monthly",
    )
    monthly = alphas.query("frequency == 'monthly' and portfolio == @SPREAD").iloc[0]
    assert monthly["n"] == res.period_returns["period_end"].nunique()
    assert monthly["alpha_annual"] == pytest.approx(12 * monthly["alpha"])


def _statsmodels_fit(series: pd.Series, factors: pd.DataFrame, model: str):
    """The reference: statsmodels HAC OLS on the bank's own rows, rule-of-thumb lags."""
    from acct445_assets.research.factor_models import model_factors

    cols = list(model_factors(model))
    frame = pd.concat([series.rename("y"), factors[cols]], axis=1).dropna()
    lags = int(np.floor(4 * (len(frame) / 100) ** (2 / 9)))
    ref = sm.OLS(frame["y"], sm.add_constant(frame[cols])).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags}
    )
    return frame, ref


def _assert_same_fit(row, frame, ref):
    assert row.alpha == pytest.approx(ref.params["const"], rel=1e-9)
    assert row.alpha_t == pytest.approx(ref.tvalues["const"], rel=1e-8)
    assert row.r2 == pytest.approx(ref.rsquared, rel=1e-9)
    assert row.n == len(frame)


def test_bank_alphas_use_each_banks_own_dates_with_or_without_gaps():
    """Late listers and early delisters (one span each) and a bank with a trading halt
    (a gap) all match statsmodels on that bank's own rows and rule-of-thumb lags."""
    rng = np.random.default_rng(11)
    dates = pd.bdate_range("2020-01-01", periods=700, name="date")
    factors = pd.DataFrame(
        rng.normal(0, 0.01, (len(dates), 6)),
        index=dates,
        columns=["mkt_rf", "smb", "hml", "rmw", "cma", "mom"],
    )
    loadings = rng.normal(0.8, 0.3, (3, 5))
    returns = pd.DataFrame(
        factors[["mkt_rf", "smb", "hml"]].to_numpy() @ loadings
        + rng.normal(0.0002, 0.015, (len(dates), 5)),
        index=dates,
        columns=["late", "delisted", "full", "halted", "short"],
    )
    returns.iloc[:300, 0] = np.nan
    returns.iloc[450:, 1] = np.nan
    returns.iloc[200:230, 3] = np.nan
    returns.iloc[5:, 4] = np.nan
    factors.iloc[5, factors.columns.get_loc("mom")] = np.nan
    got = regress_on_models(returns, factors, models=["ff3", "carhart"])
    short = got[got["portfolio"] == "short"]
    assert short["status"].str.startswith("not estimable: N = 5 < k + 20").all()
    assert short["alpha"].isna().all() and len(short) == 2
    got = got[got["portfolio"] != "short"]
    assert set(got["portfolio"]) == {"late", "delisted", "full", "halted"}
    assert (got["status"] == "ok").all()
    assert list(got["model"].unique()) == ["ff3", "carhart"]
    for row in got.itertuples():
        frame, ref = _statsmodels_fit(returns[row.portfolio], factors, row.model)
        _assert_same_fit(row, frame, ref)
        assert row.beta_hml == pytest.approx(ref.params["hml"], rel=1e-9)
        assert row.nw_lags == int(np.floor(4 * (len(frame) / 100) ** (2 / 9)))
        assert (row.start, row.end) == (frame.index[0], frame.index[-1])


def test_holding_period_alphas_use_ken_french_monthly_factors():
    data = sample_inputs()
    monthly_factors = data["factors_monthly"].set_index("date")
    for frequency, months in (("monthly", 1), ("quarterly", 3)):
        universe = build_rebalance_universe(data["cnoi"], data["returns"], frequency=frequency)
        res = form_portfolios(universe, data["returns"], frequency=frequency)
        alphas = portfolio_alphas(
            res.daily_returns,
            res.period_returns,
            data["factors_daily"],
            ["ff3"],
            period_frequency=frequency,
            factors_monthly=data["factors_monthly"],
        )
        periods = res.period_returns.query("portfolio == 1")
        rows = []
        for p in periods.itertuples():
            span = pd.period_range(
                pd.Period(p.period_start, "M") + 1, pd.Period(p.period_end, "M"), freq="M"
            )
            assert len(span) == months
            kf = monthly_factors.loc[monthly_factors.index.to_period("M").isin(span)]
            rf = np.prod(1 + kf["rf"]) - 1
            rows.append(
                {
                    "y": p.ret - rf,
                    "mkt_rf": np.prod(1 + kf["mkt_rf"] + kf["rf"]) - 1 - rf,
                    "smb": np.prod(1 + kf["smb"]) - 1,
                    "hml": np.prod(1 + kf["hml"]) - 1,
                }
            )
        frame = pd.DataFrame(rows)
        lags = int(np.floor(4 * (len(frame) / 100) ** (2 / 9)))
        ref = sm.OLS(frame["y"], sm.add_constant(frame[["mkt_rf", "smb", "hml"]])).fit(
            cov_type="HAC", cov_kwds={"maxlags": lags}
        )
        row = alphas.query("portfolio == 1 and frequency == @frequency").iloc[0]
        assert row["factors"] == ("monthly" if months == 1 else "monthly, compounded")
        assert row["alpha"] == pytest.approx(ref.params["const"], rel=1e-8)
        assert row["beta_smb"] == pytest.approx(ref.params["smb"], rel=1e-8)
        assert row["alpha_t"] == pytest.approx(ref.tvalues["const"], rel=1e-8)
        assert row["alpha_p"] == pytest.approx(
            2 * stats.t.sf(abs(ref.tvalues["const"]), len(frame) - 4), rel=1e-8
        )
        assert row["n"] == len(frame)
        daily_row = alphas.query("portfolio == 1 and frequency == 'daily'").iloc[0]
        assert daily_row["factors"] == "daily"


def test_alphas_on_too_few_periods_are_not_estimable():
    data = sample_inputs()
    universe = build_rebalance_universe(data["cnoi"], data["returns"])
    res = form_portfolios(universe, data["returns"])
    # The last 11 quarters only: 7 parameters of FF5+MOM on 11 observations.
    ends = sorted(res.period_returns["period_end"].unique())[-11:]
    period = res.period_returns[res.period_returns["period_end"].isin(ends)]
    alphas = portfolio_alphas(
        res.daily_returns, period, data["factors_daily"], ["capm", "ff5_mom"]
    ).query("frequency == 'quarterly'")
    assert len(alphas) == 2 * 11
    assert (alphas["n"] == 11).all()
    assert alphas["status"].str.startswith("not estimable: N = 11 < k + 20").all()
    assert alphas[["alpha", "alpha_t", "alpha_p", "r2"]].isna().all().all()
    relaxed = portfolio_alphas(
        res.daily_returns, period, data["factors_daily"], ["capm"], min_obs_margin=5
    ).query("frequency == 'quarterly'")
    assert (relaxed["status"] == "ok").all() and relaxed["alpha_t"].notna().all()


def test_banks_sharing_a_span_fit_through_one_design_and_match_statsmodels(monkeypatch):
    """Many banks listed throughout, a cohort listing on the same later day (both at least
    SHARED_SPAN_MIN: one design each), a few late listers with spans of their own (the
    masked batch) and a bank with a gap (its own rows): every fit equals statsmodels."""
    from acct445_assets.research import alphas

    rng = np.random.default_rng(12)
    dates = pd.bdate_range("2021-01-01", periods=400, name="date")
    factors = pd.DataFrame(
        rng.normal(0, 0.01, (len(dates), 6)),
        index=dates,
        columns=["mkt_rf", "smb", "hml", "rmw", "cma", "mom"],
    )
    n_full, n_cohort = alphas.SHARED_SPAN_MIN + 2, alphas.SHARED_SPAN_MIN
    names = (
        [f"full{i}" for i in range(n_full)]
        + [f"cohort{i}" for i in range(n_cohort)]
        + ["late1", "late2", "late3", "gap"]
        + [f"recent{i}" for i in range(alphas.SHARED_SPAN_MIN)]
    )
    returns = pd.DataFrame(
        factors[["mkt_rf", "smb", "hml"]].to_numpy() @ rng.normal(0.8, 0.3, (3, len(names)))
        + rng.normal(0.0002, 0.015, (len(dates), len(names))),
        index=dates,
        columns=names,
    )
    returns.iloc[0] = np.nan  # every bank's first return is missing, as in the warehouse
    returns.iloc[:120, n_full : n_full + n_cohort] = np.nan
    for j, start in zip(range(n_full + n_cohort, n_full + n_cohort + 3), (50, 61, 77), strict=True):
        returns.iloc[:start, j] = np.nan
    gap = names.index("gap")
    returns.iloc[200:210, gap] = np.nan
    # Listed for the last 25 days: enough for CAPM (k + 20 = 22), not for FF5+MOM (27).
    returns.iloc[:-25, gap + 1 :] = np.nan
    shared_calls = []
    real = alphas.ols_hac_designs

    def spy(designs, Y, lags=None, small_sample=False, columns=None, **kw):
        shared_calls.append((len(designs), len(columns)))
        return real(designs, Y, lags, small_sample, columns=columns, **kw)

    monkeypatch.setattr(alphas, "ols_hac_designs", spy)
    got = regress_on_models(returns, factors, models=["capm", "ff5_mom"])
    # One pass per shared span, both models in it.
    assert sorted(shared_calls) == sorted([(2, n_full), (2, n_cohort), (1, n_cohort)])
    recent = got["portfolio"].str.startswith("recent")
    assert (got.loc[recent & (got["model"] == "capm"), "status"] == "ok").all()
    assert (
        got.loc[recent & (got["model"] == "ff5_mom"), "status"]
        .str.startswith("not estimable: N = 25 < k + 20 = 27")
        .all()
    )
    assert len(got) == 2 * len(names)
    assert (got.loc[~(recent & (got["model"] == "ff5_mom")), "status"] == "ok").all()
    for row in got[got["status"] == "ok"].itertuples():
        frame, ref = _statsmodels_fit(returns[row.portfolio], factors, row.model)
        _assert_same_fit(row, frame, ref)
        assert row.beta_mkt_rf == pytest.approx(ref.params["mkt_rf"], rel=1e-9)
        assert row.t_mkt_rf == pytest.approx(ref.tvalues["mkt_rf"], rel=1e-8)
    # Raw returns with rf given are the excess returns' regressions (rf missing on a day
    # drops that day, as a missing excess return would).
    rf = pd.Series(rng.uniform(0, 2e-4, len(dates)), index=dates)
    with_rf = regress_on_models(returns.add(rf, axis=0), factors, ["capm", "ff5_mom"], rf=rf)
    cols = ["alpha", "alpha_t", "beta_mkt_rf", "r2", "n"]
    np.testing.assert_allclose(with_rf[cols].to_numpy(float), got[cols].to_numpy(float), rtol=1e-9)
    rf.iloc[200] = np.nan
    gapped = regress_on_models(returns.add(rf.fillna(0), axis=0), factors, ["capm"], rf=rf)
    assert (
        gapped.set_index("portfolio")["n"]
        == got[got.model == "capm"].set_index("portfolio")["n"]
        - returns.iloc[200].notna().astype(int)
    ).all()
