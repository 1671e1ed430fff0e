"""Event-study statistics checked against a small example computed from the formulas."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from acct445_assets.research.event_study import event_study, returns_from_prices
from acct445_assets_tests.research_inputs import sample_inputs

N_DAYS = 40
EST = (-25, -4)
WIN = (-1, 2)


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(7)
    dates = pd.bdate_range("2023-01-02", periods=N_DAYS)
    market = pd.Series(rng.normal(0, 0.01, N_DAYS), index=dates)
    day0 = 30
    ciks = [f"b{i}" for i in range(11)]
    betas = rng.uniform(0.5, 1.5, len(ciks))
    wide = pd.DataFrame(
        market.to_numpy()[:, None] * betas + rng.normal(0, 0.01, (N_DAYS, len(ciks))),
        index=dates,
        columns=ciks,
    )
    wide.iloc[day0 - 1 : day0 + 2, :9] -= np.linspace(0.0, 0.02, 9)  # a shock that varies
    wide.iloc[: day0 - 10, 9] = np.nan  # b9: too few estimation returns
    wide.iloc[day0 + 1, 10] = np.nan  # b10: incomplete event window
    returns = wide.stack().rename("ret").rename_axis(["date", "cik"]).reset_index()
    known_before = dates[day0 - 2]  # strictly before day -1
    cnoi = pd.DataFrame(
        {
            "cik": ciks + ["b0"],
            "cnoi": list(np.linspace(20, 80, 11)) + [99.0],
            "known_date": [known_before] * 11 + [dates[day0 - 1]],  # known on day -1: ignored
        }
    )
    res = event_study(
        returns,
        [dates[day0]],
        market=market,
        cnoi=cnoi,
        window=WIN,
        estimation_window=EST,
        min_estimation_returns=15,
        n_permutations=20000,
        min_obs_margin=5,  # 9 scored banks, 2 parameters
    )
    return wide, market, day0, cnoi, res


def _by_hand(wide, market, day0):
    est = np.arange(day0 + EST[0], day0 + EST[1] + 1)
    evt = np.arange(day0 + WIN[0], day0 + WIN[1] + 1)
    L = len(evt)
    out = {}
    for cik in wide.columns[:9]:
        x, y = market.to_numpy()[est], wide[cik].to_numpy()[est]
        T = len(x)
        xbar, ybar = x.mean(), y.mean()
        sxx = ((x - xbar) ** 2).sum()
        beta = ((x - xbar) * (y - ybar)).sum() / sxx
        alpha = ybar - beta * xbar
        resid = y - alpha - beta * x
        s2 = (resid**2).sum() / (T - 2)
        xm = market.to_numpy()[evt]
        ar = wide[cik].to_numpy()[evt] - alpha - beta * xm
        sar = ar / np.sqrt(s2 * (1 + 1 / T + (xm - xbar) ** 2 / sxx))
        car_var = s2 * (L + L**2 / T + ((xm - xbar).sum()) ** 2 / sxx)
        out[cik] = dict(
            T=T, resid=resid, ar=ar, sar=sar, car=ar.sum(), scar=ar.sum() / np.sqrt(car_var)
        )
    return out, L


def test_banks_are_excluded_and_counted(toy):
    *_, res = toy
    status = res.banks.set_index("cik")["status"]
    assert status["b9"] == "too_few_estimation_returns"
    assert status["b10"] == "incomplete_event_window"
    counts = res.counts.set_index("status")["n_banks"]
    assert counts["included"] == 9 and counts["too_few_estimation_returns"] == 1


def test_every_statistic_matches_hand_computation(toy):
    wide, market, day0, _, res = toy
    hand, L = _by_hand(wide, market, day0)
    N = len(hand)
    car = np.array([h["car"] for h in hand.values()])
    scar = np.array([h["scar"] for h in hand.values()])
    got = res.tests.set_index("test")["statistic"]
    pvals = res.tests.set_index("test")["p_value"]
    banks = res.banks.set_index("cik")
    np.testing.assert_allclose(banks.loc[list(hand), "car"], car, rtol=1e-10)

    assert got["caar"] == pytest.approx(car.mean(), rel=1e-10)
    t_cs = car.mean() / (car.std(ddof=1) / np.sqrt(N))
    assert got["cross_sectional_t"] == pytest.approx(t_cs, rel=1e-9)
    assert pvals["cross_sectional_t"] == pytest.approx(2 * stats.t.sf(abs(t_cs), N - 1), rel=1e-8)

    patell = sum(h["sar"].sum() / np.sqrt(L * (h["T"] - 2) / (h["T"] - 4)) for h in hand.values())
    assert got["patell_z"] == pytest.approx(patell / np.sqrt(N), rel=1e-9)

    t_bmp = scar.mean() / (scar.std(ddof=1) / np.sqrt(N))
    assert got["bmp_t"] == pytest.approx(t_bmp, rel=1e-9)

    corr = np.corrcoef(np.array([h["resid"] for h in hand.values()]))
    r = corr[np.triu_indices(N, 1)].mean()
    assert got["mean_residual_correlation"] == pytest.approx(r, rel=1e-9, abs=1e-12)
    assert got["kolari_pynnonen_t"] == pytest.approx(
        t_bmp * np.sqrt((1 - r) / (1 + (N - 1) * r)), rel=1e-9
    )

    # Corrado: rank each bank's ARs over estimation + event window.
    U = np.array(
        [
            stats.rankdata(np.r_[h["resid"], h["ar"]]) / (len(h["resid"]) + L + 1) - 0.5
            for h in hand.values()
        ]
    )
    u_bar = U.mean(axis=0)
    s_u = np.sqrt((u_bar**2).mean())
    assert got["corrado_rank"] == pytest.approx(u_bar[-L:].sum() / (np.sqrt(L) * s_u), rel=1e-9)

    p0 = np.mean([(h["resid"] > 0).mean() for h in hand.values()])
    w = (car > 0).sum()
    z_sign = (w - N * p0) / np.sqrt(N * p0 * (1 - p0))
    assert got["sign_p0"] == pytest.approx(p0)
    assert got["generalized_sign_z"] == pytest.approx(z_sign, rel=1e-9)


def test_cnoi_quartiles_use_scores_known_before_day_minus_one(toy):
    wide, market, day0, cnoi, res = toy
    hand, _ = _by_hand(wide, market, day0)
    banks = res.banks.set_index("cik")
    # b0's 99 arrived on day -1 itself, so its earlier score (20) is used.
    assert banks.loc["b0", "cnoi"] == pytest.approx(20.0)
    scored = banks.loc[list(hand)]
    order = scored["cnoi"].rank(method="min")
    expected_q = np.floor((order - 1) * 4 / 9) + 1
    np.testing.assert_array_equal(scored["quartile"], expected_q)
    q1 = scored.loc[scored["quartile"] == 1, "car"].to_numpy()
    q4 = scored.loc[scored["quartile"] == 4, "car"].to_numpy()
    diff = res.quartile_difference.iloc[0]
    assert diff["diff_q4_q1"] == pytest.approx(q4.mean() - q1.mean())
    se = np.sqrt(q4.var(ddof=1) / len(q4) + q1.var(ddof=1) / len(q1))
    assert diff["welch_t"] == pytest.approx((q4.mean() - q1.mean()) / se, rel=1e-9)
    # Exact permutation p-value by enumeration; the Monte Carlo one must be close.
    pooled = np.r_[q4, q1]
    diffs = []
    for pick in itertools.combinations(range(len(pooled)), len(q4)):
        mask = np.zeros(len(pooled), bool)
        mask[list(pick)] = True
        diffs.append(pooled[mask].mean() - pooled[~mask].mean())
    exact = np.mean(np.abs(diffs) >= abs(q4.mean() - q1.mean()) - 1e-15)
    assert diff["perm_p"] == pytest.approx(exact, abs=0.01)


def test_car_on_cnoi_regression_uses_hc3(toy):
    wide, market, day0, _, res = toy
    banks = res.banks.query("status == 'included'")
    X = np.column_stack([np.ones(len(banks)), banks["cnoi"] - 50.0])
    y = banks["car"].to_numpy()
    bread = np.linalg.inv(X.T @ X)
    beta = bread @ X.T @ y
    e = y - X @ beta
    h = np.einsum("ij,jk,ik->i", X, bread, X)
    cov = bread @ (X.T * (e**2 / (1 - h) ** 2)) @ X @ bread
    reg = res.cnoi_regression.set_index("term")
    assert reg.loc["cnoi_slope", "coef"] == pytest.approx(beta[1], rel=1e-9)
    assert reg.loc["cnoi_slope", "se"] == pytest.approx(np.sqrt(cov[1, 1]), rel=1e-9)
    assert reg.loc["car_at_cnoi_50", "coef"] == pytest.approx(beta[0], rel=1e-9)


def test_market_adjusted_and_ff3_models():
    rng = np.random.default_rng(3)
    dates = pd.bdate_range("2022-01-03", periods=60)
    factors = pd.DataFrame(
        rng.normal(0, 0.01, (60, 3)), index=dates, columns=["mkt_rf", "smb", "hml"]
    ).assign(rf=0.0001)
    wide = pd.DataFrame(rng.normal(0, 0.01, (60, 3)), index=dates, columns=["a", "b", "c"])
    wide = wide.add(factors["mkt_rf"] + factors["rf"], axis=0)
    returns = wide.stack().rename("ret").rename_axis(["date", "cik"]).reset_index()
    market = factors["mkt_rf"] + factors["rf"]
    adj = event_study(
        returns,
        [dates[50]],
        market=market,
        window=(0, 1),
        estimation_window=(-40, -2),
        min_estimation_returns=30,
        model="market_adjusted",
    )
    expected = (wide.iloc[50:52].sub(market.iloc[50:52], axis=0)).sum()
    np.testing.assert_allclose(adj.banks.set_index("cik").loc[["a", "b", "c"], "car"], expected)
    ff3 = event_study(
        returns,
        [dates[50]],
        factors=factors,
        window=(0, 1),
        estimation_window=(-40, -2),
        min_estimation_returns=30,
        model="ff3",
    )
    y = wide["b"].iloc[10:49] - factors["rf"].iloc[10:49]
    X = np.column_stack([np.ones(39), factors[["mkt_rf", "smb", "hml"]].iloc[10:49]])
    coef = np.linalg.lstsq(X, y, rcond=None)[0]
    Xe = np.column_stack([np.ones(2), factors[["mkt_rf", "smb", "hml"]].iloc[50:52]])
    car = ((wide["b"].iloc[50:52] - factors["rf"].iloc[50:52]) - Xe @ coef).sum()
    assert ff3.banks.set_index("cik").loc["b", "car"] == pytest.approx(car, rel=1e-9)


def test_event_outside_the_data_is_reported_not_raised(toy):
    wide, market, *_ = toy
    returns = wide.stack().rename("ret").rename_axis(["date", "cik"]).reset_index()
    res = event_study(returns, ["2030-01-02"], market=market, min_estimation_returns=5)
    assert res.tests.empty
    assert "outside the data" in res.notes[0]


def test_pre_event_results_ignore_data_after_day_minus_one():
    data = sample_inputs()
    market = returns_from_prices(data["benchmarks"], "SPY")
    kwargs = dict(market=market, window=(-1, 1), n_permutations=200)
    base = event_study(data["returns"], ["2023-03-10"], cnoi=data["cnoi"], **kwargs)
    cnoi = data["cnoi"].copy()
    later = cnoi["known_date"] >= pd.Timestamp("2023-03-09")
    cnoi.loc[later, "cnoi"] = 100 - cnoi.loc[later, "cnoi"]
    shocked = event_study(data["returns"], ["2023-03-10"], cnoi=cnoi, **kwargs)
    pd.testing.assert_frame_equal(base.banks, shocked.banks)
    pd.testing.assert_frame_equal(base.cnoi_regression, shocked.cnoi_regression)
    assert later.sum() > 0


def test_several_events_are_studied_separately():
    data = sample_inputs()
    market = returns_from_prices(data["benchmarks"], "SPY")
    events = ["2023-03-10", "2023-05-01", "2031-01-02"]
    res = event_study(data["returns"], events, market=market, cnoi=data["cnoi"], n_permutations=100)
    assert set(res.tests["event"]) == {"2023-03-10", "2023-05-01"}
    assert any("2031-01-02" in n and "outside the data" in n for n in res.notes)
    single = event_study(
        data["returns"], ["2023-05-01"], market=market, cnoi=data["cnoi"], n_permutations=100
    )
    pd.testing.assert_frame_equal(
        res.tests.query("event == '2023-05-01'").reset_index(drop=True), single.tests
    )
    # First Republic's last trade (with its delisting return) was 2023-04-28, day -1 of
    # the May event: it stays in, with AR zero after day -1.
    may = res.banks.query("event == '2023-05-01' and stopped_in_window")
    assert len(may) >= 1 and (may["status"] == "included").all()
    assert (may["last_rel_day"] == -1).all()


def test_batched_fits_match_per_bank_statsmodels_with_gaps():
    import statsmodels.api as sm

    rng = np.random.default_rng(11)
    dates = pd.bdate_range("2021-01-04", periods=320)
    market = pd.Series(rng.normal(0, 0.01, len(dates)), index=dates)
    n_banks = 40
    wide = pd.DataFrame(
        market.to_numpy()[:, None] * rng.normal(1, 0.4, n_banks)
        + rng.normal(0, 0.02, (len(dates), n_banks)),
        index=dates,
        columns=[f"c{i:02d}" for i in range(n_banks)],
    )
    wide = wide.mask(rng.random(wide.shape) < 0.08)
    wide.iloc[300:307] = wide.iloc[300:307].fillna(0.001)  # complete event windows
    returns = wide.stack().rename("ret").rename_axis(["date", "cik"]).reset_index()
    res = event_study(returns, [dates[301]], market=market, n_permutations=10)
    banks = res.banks.set_index("cik")
    est = slice(301 - 250, 301 - 10)
    for cik in wide.columns:
        y = wide[cik].iloc[est]
        ok = y.notna()
        fit = sm.OLS(y[ok], sm.add_constant(market.iloc[est][ok])).fit()
        ar = (
            wide[cik].iloc[300:307] - fit.params.iloc[0] - fit.params.iloc[1] * market.iloc[300:307]
        )
        row = banks.loc[cik]
        assert row["n_est"] == ok.sum()
        assert row["alpha"] == pytest.approx(fit.params.iloc[0], rel=1e-8)
        assert row["beta"] == pytest.approx(fit.params.iloc[1], rel=1e-8)
        assert row["sigma"] == pytest.approx(np.sqrt(fit.scale), rel=1e-8)
        assert row["car"] == pytest.approx(ar.sum(), rel=1e-8)


def test_banks_failing_inside_the_window_stay_in_with_their_delisting_return():
    data = sample_inputs()
    market = returns_from_prices(data["benchmarks"], "SPY")
    res = event_study(data["returns"], ["2023-03-10"], market=market, n_permutations=50)
    failed = data["returns"].query("delisted and date in ['2023-03-09', '2023-03-10']")
    assert len(failed) == 2  # one bank delisted on day -1, one on day 0
    banks = res.banks.set_index("cik")
    stopped = banks.loc[failed["cik"]]
    assert (stopped["status"] == "included").all() and stopped["stopped_in_window"].all()
    assert sorted(stopped["last_rel_day"]) == [-1, 0]
    ar = res.abnormal_returns.set_index(["cik", "date"])["ar"]
    for row in failed.itertuples():
        bank = banks.loc[row.cik]
        # Last AR carries the -61.5% day (price return and delisting return), zeros after.
        assert ar[(row.cik, row.date)] == pytest.approx(
            row.ret - bank["alpha"] - bank["beta"] * market[row.date], rel=1e-10
        )
        after = res.abnormal_returns.query("cik == @row.cik and date > @row.date")
        assert len(after) > 0 and (after["ar"] == 0).all() and not after["traded"].any()
        assert bank["car"] == pytest.approx(
            res.abnormal_returns.query("cik == @row.cik")["ar"].sum(), rel=1e-12
        )
    tests = res.tests.set_index("test")
    included = banks.query("status == 'included'")
    assert tests.loc["n_stopped_in_window", "statistic"] == 2
    assert tests.loc["caar", "statistic"] == pytest.approx(included["car"].mean())
    survivors = included.loc[~included["stopped_in_window"].astype(bool), "car"]
    row = tests.loc["caar_survivors_only"]
    assert row["statistic"] == pytest.approx(survivors.mean())
    assert row["n"] == len(included) - 2 and row["sample"].startswith("survivors only")
    assert tests.loc["caar", "statistic"] < row["statistic"]  # the failures pull it down
    assert any("2 banks stop trading" in n for n in res.notes)


def test_stopped_bank_uses_its_own_traded_days_in_patell_and_bmp(toy):
    wide, market, day0, *_ = toy
    stopped = wide.iloc[:, :9].copy()
    stopped.iloc[day0 + 1 :, 8] = np.nan  # b8 last trades on day 0
    returns = stopped.stack().rename("ret").rename_axis(["date", "cik"]).reset_index()
    res = event_study(
        returns,
        [wide.index[day0]],
        market=market,
        window=WIN,
        estimation_window=EST,
        min_estimation_returns=15,
        n_permutations=10,
    )
    hand, L = _by_hand(wide, market, day0)
    est = np.arange(day0 + EST[0], day0 + EST[1] + 1)
    x = market.to_numpy()[est]
    xm = market.to_numpy()[day0 - 1 : day0 + 1]  # b8's traded days -1, 0
    h8 = hand["b8"]
    T, sxx = h8["T"], ((x - x.mean()) ** 2).sum()
    s2 = (h8["resid"] ** 2).sum() / (T - 2)
    car8 = h8["ar"][:2].sum()
    scar8 = car8 / np.sqrt(s2 * (2 + 4 / T + ((xm - x.mean()).sum()) ** 2 / sxx))
    bank = res.banks.set_index("cik").loc["b8"]
    assert bank["car"] == pytest.approx(car8, rel=1e-9)
    assert bank["scar"] == pytest.approx(scar8, rel=1e-9)
    got = res.tests.set_index("test")["statistic"]
    patell = sum(
        h["sar"].sum() / np.sqrt(L * (h["T"] - 2) / (h["T"] - 4))
        for c, h in hand.items()
        if c != "b8"
    ) + h8["sar"][:2].sum() / np.sqrt(2 * (T - 2) / (T - 4))
    assert got["patell_z"] == pytest.approx(patell / 3.0, rel=1e-9)


def test_gap_inside_the_window_or_no_trade_on_day_minus_one_is_excluded(toy):
    wide, market, day0, *_ = toy
    frame = wide.iloc[:, :9].copy()
    frame.iloc[day0 - 1, 0] = np.nan  # b0: no return on day -1
    frame.iloc[day0, 1] = np.nan  # b1: gap on day 0, trades again on day 1
    returns = frame.stack().rename("ret").rename_axis(["date", "cik"]).reset_index()
    res = event_study(
        returns,
        [wide.index[day0]],
        market=market,
        window=WIN,
        estimation_window=EST,
        min_estimation_returns=15,
        n_permutations=10,
    )
    status = res.banks.set_index("cik")["status"]
    assert status["b0"] == "no_return_on_window_start"
    assert status["b1"] == "incomplete_event_window"
    assert (status.drop(["b0", "b1"]) == "included").all()


def test_kolari_pynnonen_r_averages_pairwise_correlations_over_common_days():
    rng = np.random.default_rng(5)
    n_days, n_banks, rho = 320, 40, 0.2
    dates = pd.bdate_range("2021-01-04", periods=n_days)
    market = pd.Series(rng.normal(0, 0.01, n_days), index=dates)
    common = rng.standard_normal(n_days)
    noise = np.sqrt(rho) * common[:, None] + np.sqrt(1 - rho) * rng.standard_normal(
        (n_days, n_banks)
    )
    wide = pd.DataFrame(
        market.to_numpy()[:, None] * rng.uniform(0.5, 1.5, n_banks) + 0.01 * noise,
        index=dates,
        columns=[f"c{i:02d}" for i in range(n_banks)],
    )
    day0 = 300
    # Estimation windows differ: late listings and scattered missing days.
    starts = rng.choice([0, 120, 170], size=n_banks, p=[0.4, 0.3, 0.3])
    for j, start in enumerate(starts):
        wide.iloc[:start, j] = np.nan
    wide = wide.mask((rng.random(wide.shape) < 0.05) & (np.arange(n_days) < day0 - 2)[:, None])
    returns = wide.stack().rename("ret").rename_axis(["date", "cik"]).reset_index()
    res = event_study(returns, [dates[day0]], market=market, n_permutations=10)
    banks = res.banks.set_index("cik").loc[wide.columns]
    est = wide.iloc[day0 - 250 : day0 - 10]
    resid = est - banks["alpha"] - np.outer(market.iloc[day0 - 250 : day0 - 10], banks["beta"])
    corr = resid.corr().to_numpy()  # pairwise complete observations
    oracle = corr[np.triu_indices(n_banks, 1)].mean()
    r = res.tests.set_index("test").loc["mean_residual_correlation", "statistic"]
    assert r == pytest.approx(oracle, rel=1e-9)
    assert abs(r - rho) < 0.04
    t_bmp = res.tests.set_index("test").loc["bmp_t", "statistic"]
    t_kp = res.tests.set_index("test").loc["kolari_pynnonen_t", "statistic"]
    assert t_kp == pytest.approx(t_bmp * np.sqrt((1 - r) / (1 + (n_banks - 1) * r)), rel=1e-9)


def test_car_on_cnoi_below_the_minimum_banks_is_not_estimable(toy):
    wide, market, day0, cnoi, _ = toy
    returns = wide.stack().rename("ret").rename_axis(["date", "cik"]).reset_index()
    res = event_study(
        returns,
        [wide.index[day0]],
        market=market,
        cnoi=cnoi,
        window=WIN,
        estimation_window=EST,
        min_estimation_returns=15,
        n_permutations=10,
    )  # default margin 10: 9 banks < 2 + 10
    reg = res.cnoi_regression
    assert reg["status"].str.startswith("not estimable: 9 banks").all()
    assert "coef" not in reg or reg["coef"].isna().all()
    assert any("CAR on CNOI not estimable" in n for n in res.notes)


def test_car_on_cnoi_p_values_use_t_with_n_minus_k_df(toy):
    *_, res = toy
    reg = res.cnoi_regression.set_index("term").loc["cnoi_slope"]
    assert reg["p"] == pytest.approx(2 * stats.t.sf(abs(reg["t"]), reg["n"] - 2), rel=1e-9)


def test_average_ranks_match_pandas_with_ties_and_missing_values():
    from acct445_assets.research.event_study import average_ranks

    rng = np.random.default_rng(5)
    values = rng.standard_normal((60, 9))
    values[rng.random(values.shape) < 0.1] = np.nan
    values[3:9, 2] = 0.5  # ties in one column only
    values[:, 4] = np.round(values[:, 4], 1)  # many ties
    values[:, 7] = np.nan
    expected = pd.DataFrame(values).rank(axis=0, method="average").to_numpy()
    np.testing.assert_array_equal(average_ranks(values), expected)


def test_a_prebuilt_returns_matrix_gives_the_same_study(toy):
    """``wide=`` (the matrix the estimators share) and a categorical cik, as the warehouse
    hands it over, give the study of the long string-keyed panel."""
    from acct445_assets.research.portfolios import wide_returns

    wide, market, day0, cnoi, _ = toy
    returns = wide.stack().rename("ret").rename_axis(["date", "cik"]).reset_index()
    event = [wide.index[day0]]
    kwargs = dict(
        market=market,
        cnoi=cnoi,
        window=WIN,
        estimation_window=EST,
        min_estimation_returns=15,
        n_permutations=200,
        min_obs_margin=5,
    )
    plain = event_study(returns, event, **kwargs)
    coded = returns.assign(cik=returns["cik"].astype("category"))
    for shared in (
        event_study(coded, event, **kwargs),
        event_study(coded, event, wide=wide_returns(coded), **kwargs),
    ):
        for name in ("banks", "tests", "quartiles", "cnoi_regression", "counts"):
            left, right = getattr(plain, name), getattr(shared, name)
            keys = [c for c in ("event", "cik", "test", "quartile") if c in left.columns]
            pd.testing.assert_frame_equal(
                left.sort_values(keys).reset_index(drop=True),
                right.sort_values(keys).reset_index(drop=True),
                check_dtype=False,
                check_categorical=False,
            )


def test_single_event_gathers_its_windows_by_date_from_a_matrix_with_other_rows(toy):
    """The windows are sliced out of the matrix when its rows are the calendar's; a matrix
    with a row the calendar lacks (inside the event window here) is read by date."""
    from acct445_assets.research.event_study import single_event

    wide, market, day0, _, _ = toy
    extra = pd.DataFrame(
        0.5, index=[wide.index[day0] + pd.Timedelta(hours=12)], columns=wide.columns
    )
    kwargs = dict(market=market, window=WIN, estimation_window=EST, min_estimation_returns=15)
    sliced = single_event(wide, wide.index[day0], **kwargs)
    gathered = single_event(pd.concat([wide, extra]).sort_index(), wide.index[day0], **kwargs)
    for name in ("banks", "tests", "abnormal_returns"):
        pd.testing.assert_frame_equal(sliced[name], gathered[name])
