import numpy as np
import pandas as pd
import pytest

from acct445_assets.research.portfolios import (
    SPREAD,
    assign_groups,
    build_rebalance_universe,
    form_portfolios,
    wide_returns,
)
from acct445_assets_tests.research_inputs import sample_inputs


def _toy():
    # Two rebalance dates, four banks, two groups of two.
    d0, d1 = pd.Timestamp("2021-03-31"), pd.Timestamp("2021-06-30")
    universe = pd.DataFrame(
        {
            "rebalance_date": [d0] * 4 + [d1] * 4,
            "cik": ["a", "b", "c", "d"] * 2,
            "cnoi": [10.0, 20.0, 30.0, 40.0, 40.0, 20.0, 30.0, 10.0],
            "market_value": [100.0, 300.0, 200.0, 200.0, 1.0, 1.0, 1.0, 1.0],
        }
    )
    days = pd.to_datetime(["2021-04-01", "2021-04-02", "2021-06-30", "2021-07-01"])
    rets = {
        "a": [0.10, -0.05, 0.02, 0.01],
        "b": [0.00, 0.20, -0.10, 0.03],
        "c": [-0.02, 0.01, 0.05, 0.00],
        "d": [0.04, np.nan, 0.03, -0.01],
    }
    returns = pd.DataFrame(
        [(day, cik, r[i]) for cik, r in rets.items() for i, day in enumerate(days)],
        columns=["date", "cik", "ret"],
    )
    return universe, returns, rets


def _buy_and_hold(weights, paths):
    value = np.array(weights, dtype=float)
    out = []
    for day in range(len(paths[0])):
        r = np.array([p[day] for p in paths])
        ok = ~np.isnan(r)
        out.append((value[ok] * r[ok]).sum() / value[ok].sum())
        value = np.where(ok, value * (1 + np.nan_to_num(r)), value)
    return np.array(out)


def test_group_returns_are_buy_and_hold_from_rebalance_to_next():
    universe, returns, rets = _toy()
    res = form_portfolios(universe, returns, n_groups=2, min_per_group=2, cost_bps=0.0)
    daily = res.daily_returns.pivot(index="date", columns="portfolio", values="ret")
    low = _buy_and_hold([1, 1], [rets["a"][:3], rets["b"][:3]])
    high = _buy_and_hold([1, 1], [rets["c"][:3], rets["d"][:3]])
    np.testing.assert_allclose(daily[1].iloc[:3], low)
    np.testing.assert_allclose(daily[2].iloc[:3], high)
    # Spread is low minus high, never net of rf.
    np.testing.assert_allclose(daily[SPREAD].iloc[:3], low - high)
    period = res.period_returns.set_index("portfolio")
    assert period.loc[1, "ret"] == pytest.approx(np.prod(1 + low) - 1)
    assert period.loc[SPREAD, "ret"] == pytest.approx(np.prod(1 + low) - np.prod(1 + high))
    # The day after the last rebalance is held by the second formation (a, d low).
    last = daily.iloc[3]
    assert last[1] == pytest.approx((rets["d"][3] + rets["b"][3]) / 2)


def test_value_weights_use_market_value_at_rebalance():
    universe, returns, rets = _toy()
    res = form_portfolios(universe, returns, n_groups=2, min_per_group=2, weighting="value")
    daily = res.daily_returns.pivot(index="date", columns="portfolio", values="ret")
    low = _buy_and_hold([100, 300], [rets["a"][:3], rets["b"][:3]])
    np.testing.assert_allclose(daily[1].iloc[:3], low)


def test_turnover_and_costs():
    universe, returns, rets = _toy()
    res = form_portfolios(universe, returns, n_groups=2, min_per_group=2, cost_bps=25.0)
    # Drifted low-group weights at the end of the first period.
    grow_a = np.prod(1 + np.array(rets["a"][:3]))
    grow_b = np.prod(1 + np.array(rets["b"][:3]))
    drifted = np.array([grow_a, grow_b]) / (grow_a + grow_b)
    # New low group (cnoi 10, 20) is d and b with weights 1/2: a sold, d bought.
    expected = drifted[0] + abs(drifted[1] - 0.5) + 0.5
    daily = res.daily_returns.set_index(["date", "portfolio"])
    day = pd.Timestamp("2021-07-01")
    assert daily.loc[(day, 1), "ret"] - daily.loc[(day, 1), "ret_net"] == pytest.approx(
        expected * 25e-4
    )
    first = res.period_returns.set_index("portfolio")
    assert first.loc[1, "turnover"] == pytest.approx(1.0)
    assert first.loc[SPREAD, "turnover"] == pytest.approx(2.0)
    assert first.loc[1, "ret"] - first.loc[1, "ret_net"] == pytest.approx(25e-4)


def test_ties_go_to_lower_group_and_small_dates_use_fewer_groups():
    day = pd.Timestamp("2022-03-31")
    universe = pd.DataFrame(
        {"rebalance_date": day, "cik": list("abcdefg"), "cnoi": [5, 5, 5, 5, 7, 8, 9.0]}
    )
    assigned, breaks, notes = assign_groups(universe, n_groups=10, min_per_group=3)
    assert set(assigned["n_groups"]) == {2}
    groups = dict(zip(assigned["cik"], assigned["group"], strict=True))
    assert [groups[c] for c in "abcd"] == [1, 1, 1, 1]
    assert [groups[c] for c in "efg"] == [2, 2, 2]
    assert "7 banks -> 2 groups instead of 10" in notes[0]
    tiny, _, notes = assign_groups(universe.iloc[:4], n_groups=10, min_per_group=3)
    assert tiny.empty and "skipped" in notes[0]


def test_breakpoints_are_per_date_not_pooled():
    universe = pd.DataFrame(
        {
            "rebalance_date": pd.to_datetime(["2020-03-31"] * 6 + ["2020-06-30"] * 6),
            "cik": list("abcdef") * 2,
            "cnoi": [1, 2, 3, 4, 5, 6, 91, 92, 93, 94, 95, 96.0],
        }
    )
    assigned, _, _ = assign_groups(universe, n_groups=2, min_per_group=3)
    # Pooled breakpoints would put every first-date bank in group 1.
    assert assigned.groupby("rebalance_date")["group"].apply(sorted).tolist() == [
        [1, 1, 1, 2, 2, 2],
        [1, 1, 1, 2, 2, 2],
    ]


def test_weights_and_returns_before_a_date_ignore_later_data():
    data = sample_inputs()
    cutoff = pd.Timestamp("2021-06-30")
    base_universe = build_rebalance_universe(data["cnoi"], data["returns"])
    base = form_portfolios(base_universe, data["returns"])

    cnoi = data["cnoi"].copy()
    later = cnoi["known_date"] > cutoff
    cnoi.loc[later, "cnoi"] = 100 - cnoi.loc[later, "cnoi"]
    returns = data["returns"].copy()
    after = returns["date"] > cutoff
    returns.loc[after, "ret"] = returns.loc[after, "ret"] * -2
    returns.loc[after, "adj_close"] = returns.loc[after, "adj_close"] * 3
    shocked = form_portfolios(build_rebalance_universe(cnoi, returns), returns)

    def upto(frame, col):
        return frame.loc[frame[col] <= cutoff].reset_index(drop=True)

    pd.testing.assert_frame_equal(
        upto(base.assignments, "rebalance_date"), upto(shocked.assignments, "rebalance_date")
    )
    pd.testing.assert_frame_equal(
        upto(base.period_returns, "period_end"), upto(shocked.period_returns, "period_end")
    )
    pd.testing.assert_frame_equal(
        upto(base.daily_returns, "date"), upto(shocked.daily_returns, "date")
    )
    # And the perturbation did change what came after, so the check can fail.
    assert not np.allclose(
        base.period_returns["ret"].to_numpy()[-10:], shocked.period_returns["ret"].to_numpy()[-10:]
    )


def test_universe_excludes_stale_and_unknown_scores():
    returns = pd.DataFrame(
        {
            "date": pd.to_datetime(["2020-03-31", "2020-03-31", "2020-03-31"]),
            "cik": ["a", "b", "c"],
            "adj_close": [1.0, 1.0, 1.0],
            "market_value": [1.0, 1.0, 1.0],
            "ret": [0.0, 0.0, 0.0],
        }
    )
    cnoi = pd.DataFrame(
        {
            "cik": ["a", "b", "c"],
            "cnoi": [10.0, 20.0, 30.0],
            "known_date": pd.to_datetime(["2020-03-31", "2019-08-01", "2020-04-01"]),
        }
    )
    universe = build_rebalance_universe(cnoi, returns, max_signal_age=200)
    assert universe["cik"].tolist() == ["a"]


def test_summary_matches_sample_data_and_bad_input_is_named():
    data = sample_inputs()
    universe = build_rebalance_universe(data["cnoi"], data["returns"])
    res = form_portfolios(universe, data["returns"])
    assert set(res.summary["frequency"]) == {"quarterly", "daily"}
    spread = res.summary.query("portfolio == @SPREAD and frequency == 'daily'").iloc[0]
    daily_spread = res.daily_returns.query("portfolio == @SPREAD")["ret"]
    assert spread["mean"] == pytest.approx(daily_spread.mean())
    assert spread["sharpe"] == pytest.approx(
        daily_spread.mean() / daily_spread.std() * np.sqrt(252)
    )
    bad = data["returns"].copy()
    bad.loc[5, "ret"] = -1.5
    with pytest.raises(ValueError, match="cik"):
        form_portfolios(universe, bad)
    with pytest.raises(ValueError, match="market_value"):
        form_portfolios(universe.assign(market_value=np.nan), data["returns"], weighting="value")


def test_wide_returns_scatters_the_panel_and_names_a_duplicate_row():
    panel = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-03", "2024-01-02", "2024-01-02", "2024-01-03"]),
            "cik": ["0000000002", "0000000002", "0000000001", "0000000001"],
            "ret": [0.01, -0.02, 0.03, np.nan],
        }
    )
    wide = wide_returns(panel)
    assert list(wide.columns) == ["0000000001", "0000000002"]
    assert wide.loc["2024-01-02"].tolist() == [0.03, -0.02]
    assert np.isnan(wide.at[pd.Timestamp("2024-01-03"), "0000000001"])
    doubled = pd.concat([panel, panel.iloc[[2]]], ignore_index=True)
    with pytest.raises(
        ValueError, match="duplicate \\(date, cik\\) rows, e.g. 2024-01-02 0000000001"
    ):
        wide_returns(doubled)


def _tied_top():
    """12 banks, 4 groups: the six highest CNOIs tie, so rank 'min' puts them all in group 3."""
    dates = pd.to_datetime(["2021-03-31", "2021-06-30", "2021-09-30"])
    cnoi = [10.0, 11.0, 12.0, 20.0, 21.0, 22.0] + [50.0] * 6
    universe = pd.DataFrame(
        {
            "rebalance_date": np.repeat(dates, 12),
            "cik": [f"c{i:02d}" for i in range(12)] * 3,
            "cnoi": cnoi * 3,
            "market_value": 1.0,
        }
    )
    rng = np.random.default_rng(2)
    days = pd.bdate_range("2021-04-01", "2021-09-30")
    returns = pd.DataFrame(
        [(d, f"c{i:02d}", rng.normal(0.0005, 0.01)) for d in days for i in range(12)],
        columns=["date", "cik", "ret"],
    )
    return universe, returns


def test_ties_that_empty_the_top_group_use_the_highest_non_empty_group_and_say_so():
    universe, returns = _tied_top()
    res = form_portfolios(universe, returns, n_groups=4, min_per_group=3, cost_bps=0.0)
    groups = res.assignments.query("rebalance_date == '2021-03-31'").set_index("cik")["group"]
    assert groups.tolist() == [1, 1, 1, 2, 2, 2] + [3] * 6  # ties to the lower group
    assert (res.breakpoints["short_group"] == 3).all()
    assert any("groups 4..4 empty" in n and "group 3" in n for n in res.notes)
    period = res.period_returns.pivot(index="period_start", columns="portfolio", values="ret")
    assert len(period) == 2 and period[SPREAD].notna().all()  # no period silently dropped
    np.testing.assert_allclose(period[SPREAD], period[1] - period[3])
    spread_rows = res.period_returns.query("portfolio == @SPREAD")
    assert (spread_rows["short_group"] == 3).all()
    daily = res.daily_returns.pivot(index="date", columns="portfolio", values="ret")
    np.testing.assert_allclose(daily[SPREAD], daily[1] - daily[3])
    # Deterministic: the order of the input rows does not move a bank between groups.
    shuffled = universe.sample(frac=1.0, random_state=3)
    again = assign_groups(shuffled, n_groups=4, min_per_group=3)[0]
    pd.testing.assert_series_equal(
        again.set_index(["rebalance_date", "cik"])["group"].sort_index(),
        res.assignments.set_index(["rebalance_date", "cik"])["group"].sort_index(),
    )


def test_group_sharpe_uses_excess_returns_and_the_spread_its_raw_return():
    universe, returns, _ = _toy()
    data = sample_inputs()
    rf = data["factors_daily"].set_index("date")["rf"]
    # Sample data: the groups' Sharpe is on ret - rf, the spread's on its raw return.
    sample_universe = build_rebalance_universe(data["cnoi"], data["returns"])
    res = form_portfolios(sample_universe, data["returns"], rf=rf)
    summary = res.summary.set_index(["frequency", "portfolio"])
    daily = res.daily_returns.pivot(index="date", columns="portfolio", values="ret")
    excess = daily[1] - rf.reindex(daily.index)
    assert summary.loc[("daily", 1), "sharpe"] == pytest.approx(
        excess.mean() / excess.std() * np.sqrt(252), rel=1e-10
    )
    assert summary.loc[("daily", 1), "sharpe_basis"] == "excess of rf"
    spread = daily[SPREAD]
    assert summary.loc[("daily", SPREAD), "sharpe"] == pytest.approx(
        spread.mean() / spread.std() * np.sqrt(252), rel=1e-10
    )
    assert summary.loc[("daily", SPREAD), "sharpe_basis"] == "raw zero-cost return"
    period = res.period_returns.query("portfolio == 1").set_index("period_start")
    period_rf = [
        np.prod(1 + rf[(rf.index > p.Index) & (rf.index <= p.period_end)]) - 1
        for p in period.itertuples()
    ]
    q_excess = period["ret"] - period_rf
    assert summary.loc[("quarterly", 1), "sharpe"] == pytest.approx(
        q_excess.mean() / q_excess.std() * np.sqrt(4), rel=1e-10
    )
    net = period["ret_net"] - period_rf
    assert summary.loc[("quarterly", 1), "sharpe_net"] == pytest.approx(
        net.mean() / net.std() * np.sqrt(4), rel=1e-10
    )
    # Without rf the groups' Sharpe is not guessed from raw returns.
    toy = form_portfolios(universe, returns, n_groups=2, min_per_group=2)
    groups = toy.summary[toy.summary["portfolio"] != SPREAD]
    assert groups["sharpe"].isna().all()


def test_newey_west_t_on_too_few_periods_is_not_estimable():
    universe, returns = _tied_top()
    res = form_portfolios(universe, returns, n_groups=4, min_per_group=3)
    quarterly = res.summary.query("frequency == 'quarterly'")
    assert quarterly["nw_t"].isna().all() and quarterly["mean"].notna().all()
    assert quarterly["status"].str.startswith("NW t not estimable: N = 2 < 1 + 20").all()
    daily = res.summary.query("frequency == 'daily'")
    assert (daily["status"] == "ok").all() and daily["nw_t"].notna().all()
    relaxed = form_portfolios(universe, returns, n_groups=4, min_per_group=3, min_obs_margin=0)
    assert relaxed.summary.query("frequency == 'quarterly'")["nw_t"].notna().all()


def test_sorted_codes_equal_a_sorted_factorize_for_strings_dates_and_categoricals():
    from acct445_assets.research.portfolios import sorted_codes

    strings = np.array(["b", "a", None, "c", "a"], dtype=object)
    cases = [
        strings,
        pd.Categorical(strings, categories=["z", "c", "b", "a"]),  # unsorted, one unused
        pd.Categorical(strings[[0, 1, 3, 4]]),
        pd.to_datetime(["2024-01-03", "2024-01-02", "2024-01-03"]).to_numpy(),
    ]
    for values in cases:
        codes, uniques = sorted_codes(values)
        expected_codes, expected = pd.factorize(pd.Series(np.asarray(values)), sort=True)
        assert codes.tolist() == expected_codes.tolist()
        assert list(uniques) == list(expected)


def test_a_prebuilt_matrix_and_categorical_ciks_give_the_same_portfolios():
    from acct445_assets.research.portfolios import wide_returns

    data = sample_inputs()
    universe = build_rebalance_universe(data["cnoi"], data["returns"])
    plain = form_portfolios(universe, data["returns"])
    coded = data["returns"].assign(cik=data["returns"]["cik"].astype("category"))
    shared = form_portfolios(universe, coded, wide=wide_returns(coded))
    assert wide_returns(coded).equals(wide_returns(data["returns"]))
    for name in ("assignments", "daily_returns", "period_returns", "summary"):
        pd.testing.assert_frame_equal(getattr(plain, name), getattr(shared, name))


def test_buy_and_hold_drifts_weights_skips_untraded_days_and_handles_no_days():
    from acct445_assets.research.portfolios import buy_and_hold

    ret = np.array([[0.1, np.nan], [0.0, 0.2]])
    daily, growth = buy_and_hold(
        ret, np.array([0, 0]), np.array([[1, 1]], dtype=np.int16), np.array([[0.5, 0.5]]), 1
    )
    # Day 1: a has grown to 0.55, b (no price on day 0) is still 0.5.
    np.testing.assert_allclose(daily[:, 0], [0.1, (0.55 * 0.0 + 0.5 * 0.2) / 1.05])
    np.testing.assert_allclose(growth, [[1.1, 1.2]])
    empty, ones = buy_and_hold(
        np.empty((0, 2)),
        np.empty(0, dtype=int),
        np.ones((1, 2), dtype=np.int16),
        np.ones((1, 2)),
        1,
    )
    assert empty.shape == (0, 1) and (ones == 1).all()
