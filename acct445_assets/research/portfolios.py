"""CNOI quantile portfolios (METHODS section 3).

Groups are numbered 1..G from the lowest CNOI (most transparent) to the highest
(most opaque). Breakpoints come from each rebalance date's own cross-section; with
fewer than ``min_per_group`` banks per group the date uses fewer groups and says so.
Ties share the lowest rank, so tied banks all land in the lower group. Ties can leave the
top group(s) empty; the spread's short leg is then the highest non-empty group, recorded
as ``short_group`` in the breakpoints and period returns and named in the notes
(METHODS 3: an empty group is never silently dropped).

Sharpe ratios (METHODS 3) are on excess returns (minus rf over the same day or holding
period) for the groups and on the raw return for the zero-cost spread; ``sharpe_basis``
says which. Newey-West t of a mean needs N >= 1 + ``min_obs_margin`` observations; below
that the t is not estimable and ``status`` says why (the mean is still reported).

Holding returns are buy-and-hold from the close of rebalance date d to the close of the
next rebalance date: the daily group return weights each bank by its value drifted
since d, so compounding the daily series gives exactly the holding-period return.
A bank that stops trading drops out and its value is spread over the rest of its group.

Turnover at d is sum_i |w_new_i - w_old_drifted_i| per group (buys plus sells as a
fraction of the group's value; forming a group from cash is 1.0, replacing it fully is
2.0); the spread's turnover is the sum of its two legs. Net return = gross return -
cost_bps / 10^4 x turnover, charged in the period that starts at d.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .stats import (
    annualised_sharpe,
    as_datetime,
    latest_known,
    newey_west_mean,
    one_blas_thread,
)

SPREAD = "spread"


@dataclass
class PortfolioResult:
    assignments: pd.DataFrame  # rebalance_date, cik, cnoi, market_value, group, weight, n_groups
    # rebalance_date, group, n_banks, cnoi_min, cnoi_max, n_groups, short_group
    breakpoints: pd.DataFrame
    period_returns: (
        pd.DataFrame
    )  # period_start, period_end, portfolio, ret, turnover, ret_net, n_banks, short_group
    daily_returns: pd.DataFrame  # date, period_start, portfolio, ret, ret_net
    summary: pd.DataFrame  # per portfolio and frequency
    params: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def period_end_dates(dates, frequency: str = "quarterly") -> pd.DatetimeIndex:
    """Last available trading date of each calendar quarter/month in ``dates``."""
    days = pd.DatetimeIndex(sorted(pd.unique(pd.to_datetime(dates))))
    code = {"quarterly": "Q", "monthly": "M"}.get(frequency)
    if code is None:
        raise ValueError(f"rebalance frequency {frequency!r} must be 'quarterly' or 'monthly'")
    labels = days.to_period(code)
    last = pd.Series(days, index=labels).groupby(level=0).max()
    # A period whose data stops before its calendar end is not a rebalance date.
    complete = last.index.to_timestamp(how="end").normalize() - last.to_numpy() <= pd.Timedelta(
        days=6
    )
    return pd.DatetimeIndex(last[complete].to_numpy(), name="rebalance_date")


def build_rebalance_universe(
    cnoi: pd.DataFrame,
    returns: pd.DataFrame,
    frequency: str = "quarterly",
    max_signal_age: int = 200,
) -> pd.DataFrame:
    """The rebalance universe (warehouse ``rebalance_universe`` contract) from scores and prices.

    cnoi: ``cik, cnoi, known_date`` (+ filing_date, accession); returns: ``date, cik,
    adj_close, market_value`` (+ ticker). A bank enters at d when it has a price on d and
    its latest score known at d (known_date <= d) is at most ``max_signal_age`` calendar
    days old, counted from its known date.
    """
    dates = period_end_dates(returns["date"], frequency)
    on_dates = returns.loc[
        pd.to_datetime(returns["date"]).isin(dates) & returns["adj_close"].notna()
    ].rename(columns={"date": "rebalance_date"})
    scores = cnoi.loc[cnoi["cnoi"].notna(), ["cik", "cnoi", "known_date"]]
    merged = latest_known(scores, on_dates, decision_date="rebalance_date")
    age = pd.to_datetime(merged["rebalance_date"]) - pd.to_datetime(merged["known_date"])
    keep = merged["cnoi"].notna() & (age <= pd.Timedelta(days=max_signal_age))
    cols = ["rebalance_date", "cik", "ticker", "cnoi", "known_date", "adj_close", "market_value"]
    out = merged.loc[keep, [c for c in cols if c in merged.columns]]
    out = out.rename(columns={"known_date": "cnoi_known_date"})
    return out.sort_values(["rebalance_date", "cik"]).reset_index(drop=True)


def assign_groups(
    universe: pd.DataFrame, n_groups: int = 10, min_per_group: int = 3
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Per-date quantile groups of CNOI. Returns (assignments, breakpoints, notes)."""
    if n_groups < 2:
        raise ValueError(f"n_groups must be at least 2, got {n_groups}")
    frame = universe.loc[universe["cnoi"].notna()].copy()
    frame["rebalance_date"] = as_datetime(frame["rebalance_date"])
    day, days = sorted_codes(frame["rebalance_date"].to_numpy())
    bank = pd.factorize(frame["cik"])[0] + 1
    repeated = pd.Series(day * (int(bank.max(initial=0)) + 1) + bank).duplicated().to_numpy()
    if repeated.any():
        dup = frame.loc[repeated, ["rebalance_date", "cik"]]
        raise ValueError(
            f"rebalance universe has duplicate (rebalance_date, cik) rows, first {dup.iloc[0].tolist()}"
        )
    cnoi = frame["cnoi"].to_numpy()
    n_banks = np.bincount(day, minlength=len(days))
    groups_used = np.minimum(n_groups, n_banks // min_per_group)
    # Sorted by date, then CNOI: ties share the lowest rank (pandas' rank "min"), so tied
    # banks all land in the lower group.
    order = np.lexsort((cnoi, day))
    day_sorted, cnoi_sorted = day[order], cnoi[order]
    new_value = np.ones(len(order), dtype=bool)
    new_value[1:] = (day_sorted[1:] != day_sorted[:-1]) | (cnoi_sorted[1:] != cnoi_sorted[:-1])
    first_of_value = np.flatnonzero(new_value)[np.cumsum(new_value) - 1]
    date_start = np.cumsum(n_banks) - n_banks
    rank = np.empty(len(order))
    rank[order] = first_of_value - date_start[day_sorted] + 1.0
    used = groups_used[day]
    group = (np.floor((rank - 1) * used / n_banks[day]) + 1).astype(int)
    notes = []
    for d in np.flatnonzero(groups_used < n_groups):
        when, count, used_d = days[d].date(), int(n_banks[d]), int(groups_used[d])
        if used_d < 2:
            notes.append(
                f"{when}: {count} banks cannot fill 2 groups of {min_per_group}; date skipped"
            )
        else:
            notes.append(f"{when}: {count} banks -> {used_d} groups instead of {n_groups}")
    kept = used >= 2
    short_group = np.zeros(len(days), dtype=int)
    np.maximum.at(short_group, day[kept], group[kept])
    for d in np.flatnonzero((groups_used >= 2) & (short_group < groups_used)):
        notes.append(
            f"{days[d].date()}: ties leave groups {short_group[d] + 1}..{groups_used[d]} "
            f"empty; the spread's short leg is group {short_group[d]}"
        )
    frame = frame.loc[kept]
    frame["n_groups"] = used[kept].astype(int)
    frame["group"] = group[kept]
    frame["short_group"] = short_group[day[kept]]
    # In date-then-CNOI order each (date, group) is one run of rows.
    sorted_kept = kept[order]
    run_day, run_group = day_sorted[sorted_kept], group[order][sorted_kept]
    run_cnoi = cnoi_sorted[sorted_kept]
    change = np.ones(len(run_day) + 1, dtype=bool)
    change[1:-1] = (run_day[1:] != run_day[:-1]) | (run_group[1:] != run_group[:-1])
    edges = np.flatnonzero(change)
    starts, ends = edges[:-1], edges[1:] - 1
    breakpoints = pd.DataFrame(
        {
            "rebalance_date": days[run_day[starts]],
            "group": run_group[starts],
            "n_banks": ends - starts + 1,
            "cnoi_min": run_cnoi[starts],
            "cnoi_max": run_cnoi[ends],
            "n_groups": groups_used[run_day[starts]].astype(int),
            "short_group": short_group[run_day[starts]],
        }
    )
    return frame.reset_index(drop=True), breakpoints, notes


def sorted_codes(values) -> tuple[np.ndarray, pd.Index]:
    """(codes, uniques) with uniques in sorted order, as ``pd.factorize(sort=True)``
    (-1 for a missing value).

    Hashes without sorting the 12M values, then sorts only the uniques. A categorical
    (the warehouse hands ``cik`` over as one) is not hashed at all: its codes are used.
    """
    if isinstance(values, pd.Series):
        values = values.array
    if isinstance(values, pd.arrays.NumpyExtensionArray):
        values = values.to_numpy()
    if isinstance(values, pd.Categorical):
        codes, labels = values.codes, values.categories
        complete = len(codes) == 0 or codes.min() >= 0
        used = np.bincount(codes if complete else codes[codes >= 0], minlength=len(labels)) > 0
        if used.all() and labels.is_monotonic_increasing:
            return codes, pd.Index(labels)
    else:
        codes, labels = pd.factorize(values)
        complete = len(codes) == 0 or codes.min() >= 0
        used = np.ones(len(labels), dtype=bool)
    labels = np.asarray(labels)
    kept = np.flatnonzero(used)
    order = kept[np.argsort(labels[kept], kind="stable")]
    rank = np.full(len(labels), -1, dtype=np.int64)
    rank[order] = np.arange(len(order))
    ranked = rank[codes] if complete else np.where(codes >= 0, rank[codes], -1)
    return ranked, pd.Index(labels[order])


def wide_returns(returns: pd.DataFrame) -> pd.DataFrame:
    """dates x banks of returns by integer scatter (a pandas pivot of a 12M-row panel
    dominated the whole portfolio computation in the benchmark)."""
    dates = returns["date"]
    if not pd.api.types.is_datetime64_any_dtype(dates):
        dates = pd.to_datetime(dates)
    ret = returns["ret"].to_numpy(dtype=float)
    if (ret <= -1).any():
        pos = int(np.flatnonzero(ret <= -1)[0])
        raise ValueError(
            f"return <= -100% for cik {returns['cik'].iloc[pos]} on {dates.iloc[pos].date()}"
        )
    day_codes, days = sorted_codes(dates.to_numpy(dtype="datetime64[ns]"))
    bank_codes, ciks = sorted_codes(returns["cik"])
    if (day_codes < 0).any() or (bank_codes < 0).any():
        pos = int(np.flatnonzero((day_codes < 0) | (bank_codes < 0))[0])
        raise ValueError(f"returns row {pos} has no date or no cik")
    # Cells of the banks x dates layout in which the matrix is built below.
    flat = bank_codes.astype(np.int64) * len(days) + day_codes
    # Marking cells is a linear pass; np.unique would sort all 12M keys.
    cells = np.zeros(len(days) * len(ciks), dtype=bool)
    cells[flat] = True
    if np.count_nonzero(cells) < len(flat):
        first_rows = np.unique(flat, return_index=True)[1]
        repeated = np.ones(len(flat), dtype=bool)
        repeated[first_rows] = False
        pos = int(np.flatnonzero(repeated)[0])
        raise ValueError(
            f"returns have duplicate (date, cik) rows, e.g. {dates.iloc[pos].date()} "
            f"{returns['cik'].iloc[pos]}"
        )
    # Banks x dates in memory (the frame's block as pandas stores it), so each bank's series
    # is contiguous for the column-wise estimators and no copy is made here.
    matrix = np.full((len(ciks), len(days)), np.nan)
    matrix.ravel()[flat] = ret
    return pd.DataFrame(
        matrix.T, index=pd.DatetimeIndex(days, name="date"), columns=pd.Index(ciks, name="cik")
    )


def weight_portfolios(
    universe: pd.DataFrame,
    n_groups: int = 10,
    weighting: str = "equal",
    min_per_group: int = 3,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Groups and within-group weights at each rebalance date: (assignments, breakpoints, notes)."""
    if weighting not in ("equal", "value"):
        raise ValueError(f"weighting must be 'equal' or 'value', got {weighting!r}")
    assignments, breakpoints, notes = assign_groups(universe, n_groups, min_per_group)
    if assignments.empty:
        raise ValueError("no rebalance date has enough banks with a known CNOI to form 2 groups")
    if weighting == "value":
        mv = assignments["market_value"]
        if mv.isna().any() or (mv <= 0).any():
            bad = assignments.loc[mv.isna() | (mv <= 0)].iloc[0]
            raise ValueError(
                f"value weighting needs positive market_value; cik {bad['cik']} on "
                f"{bad['rebalance_date'].date()} has {bad['market_value']}"
            )
        raw_weight = mv.to_numpy(dtype=float)
    else:
        raw_weight = np.ones(len(assignments))
    assignments["weight"] = raw_weight / assignments.assign(w=raw_weight).groupby(
        ["rebalance_date", "group"]
    )["w"].transform("sum")
    return assignments, breakpoints, notes


def form_portfolios(
    universe: pd.DataFrame,
    returns: pd.DataFrame,
    n_groups: int = 10,
    weighting: str = "equal",
    cost_bps: float = 10.0,
    nw_lags: int | None = None,
    frequency: str = "quarterly",
    min_per_group: int = 3,
    rf: pd.Series | None = None,
    min_obs_margin: int = 20,
    wide: pd.DataFrame | None = None,
) -> PortfolioResult:
    """Quantile portfolios on ``universe`` (rebalance_universe contract) held with ``returns``
    (``date, cik, ret`` daily simple returns, delisting returns already applied); ``rf``
    daily decimal risk-free returns by date for the groups' Sharpe ratios; ``wide`` the
    ``wide_returns`` matrix of ``returns`` when the caller has already built it."""
    assignments, breakpoints, notes = weight_portfolios(
        universe, n_groups, weighting, min_per_group
    )
    result = holding_returns(
        assignments,
        returns,
        cost_bps,
        nw_lags,
        frequency,
        rf=rf,
        min_obs_margin=min_obs_margin,
        wide=wide,
    )
    result.breakpoints = breakpoints
    result.notes = notes + result.notes
    result.params.update(n_groups=n_groups, weighting=weighting, min_per_group=min_per_group)
    return result


def buy_and_hold(
    ret: np.ndarray,
    period_of_day: np.ndarray,
    group_at: np.ndarray,
    weight_at: np.ndarray,
    n_groups: int,
) -> tuple[np.ndarray, np.ndarray]:
    """METHODS 3, buy and hold: (daily group returns (days x groups), each bank's growth
    over each holding period (periods x banks)).

    A day's group return is the value-weighted mean of its members' returns, weights
    drifted from the rebalance date by each bank's own growth; a bank without a price that
    day is out of that day's mean, and one without a price on the period's last day has
    been sold (growth 0, its value reinvested). One holding period at a time, so every
    temporary is a (days of the period x banks) block that stays in cache.
    """
    n_days, n_banks = ret.shape
    daily = np.full((n_days, n_groups), np.nan)
    end_growth = np.ones((len(group_at), n_banks))
    group_ids = np.arange(1, n_groups + 1)
    bounds = np.flatnonzero(np.r_[True, period_of_day[1:] != period_of_day[:-1], True])
    if n_days == 0:
        bounds = bounds[:1]
    for begin, end in zip(bounds[:-1], bounds[1:], strict=True):
        period = period_of_day[begin]
        block = ret[begin:end]
        traded = np.isfinite(block)
        ret0 = np.where(traded, block, 0.0)
        # A running product, not exp(cumsum(log1p)): two transcendentals per cell were
        # most of the sorts' time.
        growth = np.cumprod(1.0 + ret0, axis=0)
        value = np.empty_like(growth)
        value[0] = weight_at[period]
        np.multiply(growth[:-1], weight_at[period], out=value[1:])
        members = (group_at[period][:, None] == group_ids).astype(float)
        denom = (value * traded) @ members
        numer = (value * ret0) @ members
        with np.errstate(invalid="ignore", divide="ignore"):
            daily[begin:end] = np.where(denom > 0, numer / denom, np.nan)
        end_growth[period] = np.where(traded[-1], growth[-1], 0.0)
    return daily, end_growth


def group_turnover(
    group_at: np.ndarray, weight_at: np.ndarray, end_growth: np.ndarray, n_groups: int
) -> np.ndarray:
    """METHODS 3, turnover at each rebalance: sum |target weight - drifted weight of the
    previous period|, per group (periods x groups; NaN where a group is empty)."""
    n_periods, n_banks = group_at.shape
    turnover = np.full((n_periods, n_groups), np.nan)
    for g in range(1, n_groups + 1):
        target = np.where(group_at == g, weight_at, 0.0)
        drifted = np.where(group_at == g, weight_at * end_growth, 0.0)
        prior = np.vstack([np.zeros((1, n_banks)), drifted[:-1]])
        totals = prior.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            prior = np.where(totals > 0, prior / totals, 0.0)
        has_group = (group_at == g).any(axis=1)
        turnover[:, g - 1] = np.where(has_group, np.abs(target - prior).sum(axis=1), np.nan)
    return turnover


def compounded_rf(
    rf: pd.Series | None,
    days: pd.DatetimeIndex,
    period_of_day: np.ndarray,
    rebal: pd.DatetimeIndex,
    held_periods: np.ndarray,
) -> tuple[pd.Series, pd.Series]:
    """Daily rf on the holding days, and rf compounded over each holding period (NaN when
    a day of the period lacks rf): the excess-return basis of the groups' Sharpe ratios."""
    rf_daily = (
        pd.Series(np.nan, index=days)
        if rf is None
        else pd.Series(rf, dtype=float).set_axis(pd.DatetimeIndex(rf.index)).reindex(days)
    )
    log_rf = np.log1p(rf_daily.to_numpy())
    n_periods = len(rebal)
    rf_sum = np.bincount(period_of_day, np.nan_to_num(log_rf), minlength=n_periods)
    rf_missing = np.bincount(period_of_day, np.isnan(log_rf), minlength=n_periods) > 0
    period_rf = pd.Series(
        np.where(rf_missing, np.nan, np.expm1(rf_sum))[held_periods], index=rebal[held_periods]
    )
    return rf_daily, period_rf


@one_blas_thread
def holding_returns(
    assignments: pd.DataFrame,
    returns: pd.DataFrame,
    cost_bps: float = 10.0,
    nw_lags: int | None = None,
    frequency: str = "quarterly",
    rf: pd.Series | None = None,
    min_obs_margin: int = 20,
    wide: pd.DataFrame | None = None,
) -> PortfolioResult:
    """Daily and holding-period returns of the groups in ``assignments`` (rebalance_date,
    cik, group, weight, n_groups) and of their spread, with turnover and net returns.

    The spread is the lowest group minus the highest non-empty group of each date. ``rf``:
    daily decimal risk-free returns indexed by date (compounded over each holding period)
    for the groups' excess-return Sharpe ratios; without it those are NaN. ``wide``: the
    ``wide_returns`` matrix of ``returns`` when the caller has already built it."""
    missing = [
        c for c in ("rebalance_date", "cik", "group", "weight", "n_groups") if c not in assignments
    ]
    if missing:
        raise ValueError(f"portfolio assignments lack columns {missing}")
    if assignments.empty:
        raise ValueError("portfolio assignments are empty")
    assignments = assignments.assign(rebalance_date=as_datetime(assignments["rebalance_date"]))
    n_groups = int(assignments["n_groups"].max())
    if wide is None:
        wide = wide_returns(returns)
    rebal = pd.DatetimeIndex(sorted(assignments["rebalance_date"].unique()))
    # A slice, not .loc: a view of the matrix instead of a copy of it.
    held_from = wide.index.searchsorted(rebal[0], side="right")
    days = wide.index[held_from:]
    # Period p holds from rebal[p] (exclusive) to rebal[p+1] (inclusive).
    period_of_day = rebal.searchsorted(days, side="left") - 1
    ciks = wide.columns
    bank_pos = ciks.get_indexer(assignments["cik"])
    date_pos = rebal.get_indexer(assignments["rebalance_date"])
    in_data = bank_pos >= 0
    n_periods, n_banks = len(rebal), len(ciks)
    group_at = np.zeros((n_periods, n_banks), dtype=np.int16)
    weight_at = np.zeros((n_periods, n_banks))
    group_at[date_pos[in_data], bank_pos[in_data]] = assignments["group"].to_numpy()[in_data]
    weight_at[date_pos[in_data], bank_pos[in_data]] = assignments["weight"].to_numpy()[in_data]
    # The short leg: the highest non-empty group of each date (ties can empty the top ones).
    top_group = assignments.groupby("rebalance_date")["group"].max().reindex(rebal).to_numpy()

    ret = wide.to_numpy(dtype=float)[held_from:]
    first_day = np.r_[True, period_of_day[1:] != period_of_day[:-1]]
    group_ids = np.arange(1, n_groups + 1)
    daily, end_growth = buy_and_hold(ret, period_of_day, group_at, weight_at, n_groups)
    top = top_group[period_of_day]
    high = daily[np.arange(len(days)), top - 1]
    spread_daily = daily[:, 0] - high

    turnover = group_turnover(group_at, weight_at, end_growth, n_groups)
    spread_turnover = turnover[:, 0] + turnover[np.arange(n_periods), top_group - 1]

    cost = cost_bps / 1e4
    names = [*map(int, group_ids), SPREAD]
    daily_all = np.column_stack([daily, spread_daily])
    turnover_all = np.column_stack([turnover, spread_turnover])
    charge = np.where(first_day[:, None], turnover_all[period_of_day] * cost, 0.0)
    daily_net = daily_all - charge

    daily_long = pd.DataFrame(
        {
            "date": np.repeat(days.to_numpy(), len(names)),
            "period_start": np.repeat(rebal[period_of_day].to_numpy(), len(names)),
            "portfolio": np.tile(np.array(names, dtype=object), len(days)),
            "ret": daily_all.ravel(),
            "ret_net": daily_net.ravel(),
        }
    ).dropna(subset=["ret"])

    log_group = pd.DataFrame(np.log1p(daily)).groupby(period_of_day).sum(min_count=1)
    held_periods = log_group.index.to_numpy()
    complete = held_periods < n_periods - 1
    held_periods = held_periods[complete]
    group_period = np.expm1(log_group.to_numpy()[complete])
    # The spread is held from d as long low, short high: difference of holding returns.
    period_spread = (
        group_period[:, 0] - group_period[np.arange(len(held_periods)), top_group[held_periods] - 1]
    )
    period_ret = np.column_stack([group_period, period_spread])
    period_net = period_ret - turnover_all[held_periods] * cost
    group_counts = np.column_stack(
        [(group_at == g).sum(axis=1) for g in group_ids]
        + [((group_at == 1).sum(axis=1) + (group_at == top_group[:, None]).sum(axis=1))]
    )
    period_long = pd.DataFrame(
        {
            "period_start": np.repeat(rebal[held_periods].to_numpy(), len(names)),
            "period_end": np.repeat(rebal[held_periods + 1].to_numpy(), len(names)),
            "portfolio": np.tile(np.array(names, dtype=object), len(held_periods)),
            "ret": period_ret.ravel(),
            "turnover": turnover_all[held_periods].ravel(),
            "ret_net": period_net.ravel(),
            "n_banks": group_counts[held_periods].ravel(),
            "short_group": np.repeat(top_group[held_periods], len(names)),
        }
    ).dropna(subset=["ret"])

    rf_daily, period_rf = compounded_rf(rf, days, period_of_day, rebal, held_periods)

    summary = pd.concat(
        [
            summarise(
                pd.DataFrame(period_ret, index=rebal[held_periods], columns=names),
                pd.DataFrame(period_net, index=rebal[held_periods], columns=names),
                frequency,
                nw_lags,
                period_rf.to_numpy(),
                min_obs_margin,
                turnover=turnover_all[held_periods],
            ),
            summarise(
                pd.DataFrame(daily_all, index=days, columns=names),
                pd.DataFrame(daily_net, index=days, columns=names),
                "daily",
                nw_lags,
                rf_daily.to_numpy(),
                min_obs_margin,
            ),
        ],
        ignore_index=True,
    )
    params = {
        "cost_bps": cost_bps,
        "nw_lags": nw_lags,
        "frequency": frequency,
        "n_rebalance_dates": n_periods,
        "min_obs_margin": min_obs_margin,
        "rf_supplied": rf is not None,
    }
    return PortfolioResult(
        assignments, pd.DataFrame(), period_long, daily_long, summary, params, []
    )


def summarise(
    gross: pd.DataFrame,
    net: pd.DataFrame,
    frequency: str,
    nw_lags: int | None = None,
    rf: np.ndarray | None = None,
    min_obs_margin: int = 20,
    turnover: np.ndarray | None = None,
) -> pd.DataFrame:
    """Mean, Newey-West t, annualised Sharpe, turnover and net mean per portfolio.

    ``gross`` and ``net``: dates (or holding periods) x portfolios, NaN where a portfolio
    has no return; a portfolio with none at all has no row. ``rf`` (one per row): the
    groups' Sharpe ratios use ret - rf, the spread's its raw zero-cost return.
    ``turnover`` (same shape) is averaged over the rows with a return. The NW t needs
    N >= 1 + ``min_obs_margin``.
    """
    held = gross.notna().any(axis=0).to_numpy()
    gross, net = gross.loc[:, held], net.loc[:, held]
    gross_stats = newey_west_mean(gross, lags=nw_lags)
    net_stats = newey_west_mean(net, lags=nw_lags)
    rf_rows = np.full(len(gross), np.nan) if rf is None else np.asarray(rf, dtype=float)
    zero_cost = [c for c in gross.columns if c == SPREAD]
    excess = excess_of_rf(gross, rf_rows, zero_cost)
    excess_net = excess_of_rf(net, rf_rows, zero_cost)
    n_obs = gross_stats["n"].to_numpy(dtype=float)
    estimable = n_obs >= 1 + min_obs_margin
    status = np.where(
        estimable,
        "ok",
        [f"NW t not estimable: N = {int(n)} < 1 + {min_obs_margin} observations" for n in n_obs],
    )

    def hac(stats_frame, col):
        return np.where(estimable, stats_frame[col].to_numpy(dtype=float), np.nan)

    out = pd.DataFrame(
        {
            "portfolio": np.asarray(gross.columns, dtype=object),
            "frequency": frequency,
            "mean": gross_stats["mean"].to_numpy(dtype=float),
            "nw_se": hac(gross_stats, "se"),
            "nw_t": hac(gross_stats, "t"),
            "sharpe": annualised_sharpe(excess, frequency).to_numpy(),
            "mean_net": net_stats["mean"].to_numpy(dtype=float),
            "nw_t_net": hac(net_stats, "t"),
            "sharpe_net": annualised_sharpe(excess_net, frequency).to_numpy(),
            "sharpe_basis": [
                "raw zero-cost return" if c == SPREAD else "excess of rf" for c in gross.columns
            ],
            "n": gross_stats["n"].to_numpy(),
            "nw_lags": gross_stats["lags"].to_numpy(),
            "status": status,
        }
    )
    if turnover is not None:
        with_return = np.where(gross.notna().to_numpy(), turnover[:, held], np.nan)
        out["mean_turnover"] = _column_means(with_return)
    order = {name: i for i, name in enumerate([*range(1, 101), SPREAD])}
    return out.sort_values("portfolio", key=lambda s: s.map(order)).reset_index(drop=True)


def _column_means(values: np.ndarray) -> np.ndarray:
    """Mean of each column over its non-NaN rows (NaN for none), without nanmean's warning."""
    counts = np.isfinite(values).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, np.nansum(values, axis=0) / counts, np.nan)


def excess_of_rf(frame: pd.DataFrame, rf, zero_cost=(SPREAD,)) -> pd.DataFrame:
    """``frame`` minus ``rf`` (one value per row) in every column except the zero-cost ones."""
    charged = np.array([c not in zero_cost for c in frame.columns], dtype=bool)
    values = frame.to_numpy(dtype=float, copy=True)
    values[:, charged] -= np.asarray(rf, dtype=float)[:, None]
    return pd.DataFrame(values, index=frame.index, columns=frame.columns)
