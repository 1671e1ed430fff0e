"""The estimators and the CNOI pipeline written the common way, as references.

Each function computes what its fast counterpart in ``acct445_assets.research`` computes,
the way it is usually written: one statsmodels OLS per bank and event, pandas
``groupby().apply`` for the per-date sorts and daily portfolio returns, one statsmodels
HAC regression per portfolio (or bank) and model, BeautifulSoup with ``html.parser``
for the filings. They exist to be timed against the fast paths and to check that the
fast paths give the same numbers (``acct445_assets_tests/test_bench_agreement.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from acct445_assets.research.factor_models import FACTOR_MODELS
from acct445_assets.research.stats import PERIODS_PER_YEAR, default_nw_lags

# --------------------------------------------------------------------- event study


def event_study_baseline(
    returns: pd.DataFrame,
    events,
    market: pd.Series,
    window: tuple[int, int] = (-1, 5),
    estimation_window: tuple[int, int] = (-250, -11),
    min_estimation_returns: int = 100,
) -> dict[str, pd.DataFrame]:
    """Market-model event study, one statsmodels OLS per bank and event.

    Returns ``banks`` (event, cik, status, n_est, alpha, beta, sigma, car, scar) and
    ``tests`` (event, test, statistic, n) as ``event_study.event_study`` defines them.
    """
    market = market.copy()
    market.index = pd.DatetimeIndex(market.index)
    market = market.dropna().sort_index()
    calendar = market.index
    frame = returns[["date", "cik", "ret"]].copy()
    frame["date"] = pd.to_datetime(frame["date"])
    by_bank = {cik: g.set_index("date")["ret"] for cik, g in frame.groupby("cik", sort=True)}
    bank_rows, test_rows = [], []
    for event in events:
        label = str(pd.Timestamp(event).date())
        day0 = calendar.searchsorted(pd.Timestamp(event))
        est_days = calendar[max(day0 + estimation_window[0], 0) : day0 + estimation_window[1] + 1]
        evt_days = calendar[day0 + window[0] : day0 + window[1] + 1]
        m_est, m_evt = market.loc[est_days], market.loc[evt_days]
        x_evt = sm.add_constant(m_evt.to_numpy(), has_constant="add")
        fits = []
        for cik, series in by_bank.items():
            y_est = series.reindex(est_days)
            y_evt = series.reindex(evt_days)
            ok = y_est.notna().to_numpy()
            row = {"event": label, "cik": cik, "n_est": int(ok.sum())}
            traded = y_evt.notna().to_numpy()
            n_traded = int(np.flatnonzero(traded)[-1]) + 1 if traded.any() else 0
            if not traded[0]:
                bank_rows.append({**row, "status": "no_return_on_window_start"})
                continue
            if not traded[:n_traded].all():
                bank_rows.append({**row, "status": "incomplete_event_window"})
                continue
            if ok.sum() < min_estimation_returns:
                bank_rows.append({**row, "status": "too_few_estimation_returns"})
                continue
            x_est = sm.add_constant(m_est.to_numpy()[ok], has_constant="add")
            fit = sm.OLS(y_est.to_numpy()[ok], x_est).fit()
            # A bank that stops trading: ARs through its last price, zero after.
            x_traded = x_evt[:n_traded]
            ar = np.zeros(len(evt_days))
            ar[:n_traded] = y_evt.to_numpy()[:n_traded] - x_traded @ fit.params
            inverse = fit.normalized_cov_params
            correction = np.einsum("lk,kp,lp->l", x_evt, inverse, x_evt)
            total = x_traded.sum(axis=0)
            car_correction = float(total @ inverse @ total)
            sigma = float(np.sqrt(fit.scale))
            resid = pd.Series(np.nan, index=est_days)
            resid[ok] = fit.resid
            car = float(ar.sum())
            fits.append(
                {
                    "cik": cik,
                    "ar": ar,
                    "resid": resid.to_numpy(),
                    "sar": ar / (sigma * np.sqrt(1.0 + correction)),
                    "dof": ok.sum() - 2,
                    "n_est": int(ok.sum()),
                    "n_traded": n_traded,
                }
            )
            bank_rows.append(
                {
                    **row,
                    "status": "included",
                    "alpha": fit.params[0],
                    "beta": fit.params[1],
                    "sigma": sigma,
                    "car": car,
                    "scar": car / (sigma * np.sqrt(n_traded + car_correction)),
                    "stopped": n_traded < len(evt_days),
                }
            )
        test_rows.extend(_event_tests(label, fits, bank_rows, len(evt_days)))
    banks = pd.DataFrame(bank_rows)
    return {"banks": banks, "tests": pd.DataFrame(test_rows)}


def _event_tests(label, fits, bank_rows, n_window) -> list[dict]:
    included = pd.DataFrame([r for r in bank_rows if r["event"] == label])
    included = included.loc[included["status"] == "included"]
    n = len(included)
    car, scar = included["car"], included["scar"]
    t_cs = car.mean() / (car.std(ddof=1) / np.sqrt(n))
    t_bmp = scar.mean() / (scar.std(ddof=1) / np.sqrt(n))
    patell = sum(
        f["sar"].sum() / np.sqrt(f["n_traded"] * f["dof"] / (f["dof"] - 2.0)) for f in fits
    ) / np.sqrt(n)
    # Mean pairwise correlation of estimation residuals, each pair over its common days.
    resid = np.column_stack([f["resid"] for f in fits])
    corr = pd.DataFrame(resid).corr(min_periods=3).to_numpy()
    r_bar = np.nanmean(corr[np.triu_indices(n, 1)])
    t_kp = t_bmp * np.sqrt((1.0 - r_bar) / (1.0 + (n - 1) * r_bar))
    # Corrado: ranks over each bank's estimation and event days.
    u = np.full((resid.shape[0] + n_window, n), np.nan)
    for j, f in enumerate(fits):
        event_ar = np.where(np.arange(n_window) < f["n_traded"], f["ar"], np.nan)
        combined = np.r_[f["resid"], event_ar]
        ok = np.isfinite(combined)
        u[ok, j] = stats.rankdata(combined[ok]) / (ok.sum() + 1.0) - 0.5
    u_bar = np.nanmean(u, axis=1)
    s_u = np.sqrt(np.nanmean(u_bar**2))
    corrado = u_bar[-n_window:].sum() / (np.sqrt(n_window) * s_u)
    p0 = np.mean([(f["resid"][np.isfinite(f["resid"])] > 0).sum() / f["n_est"] for f in fits])
    positive = int((car > 0).sum())
    sign_z = (positive - n * p0) / np.sqrt(n * p0 * (1 - p0))
    survivors = car[~included["stopped"].astype(bool)]
    values = {
        "caar": car.mean(),
        "cross_sectional_t": t_cs,
        "patell_z": patell,
        "bmp_t": t_bmp,
        "kolari_pynnonen_t": t_kp,
        "corrado_rank": corrado,
        "generalized_sign_z": sign_z,
        "mean_residual_correlation": r_bar,
        "sign_p0": p0,
        "n_stopped_in_window": float(included["stopped"].sum()),
    }
    rows = [{"event": label, "test": k, "statistic": float(v), "n": n} for k, v in values.items()]
    n_s = len(survivors)
    t_s = survivors.mean() / (survivors.std(ddof=1) / np.sqrt(n_s))
    rows += [
        {"event": label, "test": "caar_survivors_only", "statistic": survivors.mean(), "n": n_s},
        {"event": label, "test": "cross_sectional_t_survivors_only", "statistic": t_s, "n": n_s},
    ]
    return rows


# ---------------------------------------------------------------------- portfolios


def _sort_one_date(day: pd.DataFrame, n_groups, min_per_group, weighting) -> pd.DataFrame:
    size = len(day)
    used = min(n_groups, size // min_per_group)
    day = day.copy()
    day["n_groups"] = used
    rank = day["cnoi"].rank(method="min")
    day["group"] = (np.floor((rank - 1) * used / size) + 1).astype(int)
    raw = day["market_value"] if weighting == "value" else pd.Series(1.0, index=day.index)
    day["weight"] = raw / raw.groupby(day["group"]).transform("sum")
    return day


def portfolios_baseline(
    universe: pd.DataFrame,
    returns: pd.DataFrame,
    n_groups: int = 10,
    weighting: str = "equal",
    cost_bps: float = 10.0,
    min_per_group: int = 3,
    frequency: str = "quarterly",
    nw_lags: int | None = None,
    rf: pd.Series | None = None,
    min_obs_margin: int = 20,
) -> dict[str, pd.DataFrame]:
    """Per-date sorts and buy-and-hold group returns with ``groupby().apply``.

    Returns ``assignments``, ``daily_returns`` (date, portfolio, ret, ret_net),
    ``period_returns`` (period_start, portfolio, ret, turnover, ret_net, n_banks) and
    ``summary`` (portfolio, frequency, mean, nw_t, sharpe, mean_net, nw_t_net), as
    ``portfolios.form_portfolios`` defines them.
    """
    frame = universe.loc[universe["cnoi"].notna()].copy()
    frame["rebalance_date"] = pd.to_datetime(frame["rebalance_date"])
    assignments = frame.groupby("rebalance_date", group_keys=False).apply(
        _sort_one_date, n_groups, min_per_group, weighting
    )
    assignments = assignments.loc[assignments["n_groups"] >= 2]
    rebal = pd.DatetimeIndex(sorted(assignments["rebalance_date"].unique()))
    top = assignments.groupby("rebalance_date")["group"].max()  # highest non-empty group

    daily = returns[["date", "cik", "ret"]].dropna().copy()
    daily["date"] = pd.to_datetime(daily["date"])
    daily = daily.loc[daily["date"] > rebal[0]]
    daily["period_start"] = rebal[rebal.searchsorted(daily["date"], side="left") - 1]
    held = daily.merge(
        assignments[["rebalance_date", "cik", "group", "weight"]],
        left_on=["period_start", "cik"],
        right_on=["rebalance_date", "cik"],
    ).sort_values(["cik", "date"])
    growth = (1.0 + held["ret"]).groupby([held["period_start"], held["cik"]]).cumprod()
    held["value"] = held["weight"] * growth / (1.0 + held["ret"])
    held["end_value"] = held["weight"] * growth

    def weighted(day):
        return (day["value"] * day["ret"]).sum() / day["value"].sum()

    group_daily = held.groupby(["date", "group"]).apply(weighted).unstack("group")
    group_daily.columns = [int(c) for c in group_daily.columns]
    all_days = pd.DatetimeIndex(sorted(daily["date"].unique()))
    group_daily = group_daily.reindex(all_days)
    period_of_day = rebal[rebal.searchsorted(all_days, side="left") - 1]
    top_of_day = top.reindex(period_of_day).to_numpy()
    spread = group_daily[1].to_numpy() - np.array(
        [group_daily.iloc[i][t] for i, t in enumerate(top_of_day)]
    )
    group_daily["spread"] = spread

    # Turnover: the new target weights against the previous period's drifted weights;
    # a bank without a price on its period's last session counts as sold (weight 0).
    last_session = pd.Series(all_days, index=all_days).groupby(period_of_day).max()
    at_end = held.loc[
        held["date"].to_numpy() == last_session.reindex(held["period_start"]).to_numpy()
    ]
    turnover_rows = []
    for p, start in enumerate(rebal):
        target = assignments.loc[assignments["rebalance_date"] == start]
        prior_end = at_end.loc[at_end["period_start"] == rebal[p - 1]] if p > 0 else at_end.iloc[:0]
        for g in range(1, n_groups + 1):
            new = target.loc[target["group"] == g].set_index("cik")["weight"]
            if new.empty:
                continue
            old = prior_end.loc[prior_end["group"] == g].set_index("cik")["end_value"]
            old = old / old.sum() if old.sum() > 0 else old
            both = pd.concat([new.rename("new"), old.rename("old")], axis=1).fillna(0.0)
            turnover_rows.append(
                {
                    "period_start": start,
                    "portfolio": g,
                    "turnover": float((both["new"] - both["old"]).abs().sum()),
                    "n_banks": len(new),
                }
            )
    turnover = pd.DataFrame(turnover_rows).pivot(
        index="period_start", columns="portfolio", values="turnover"
    )
    n_banks = pd.DataFrame(turnover_rows).pivot(
        index="period_start", columns="portfolio", values="n_banks"
    )
    top_at = top.reindex(turnover.index).to_numpy()
    turnover["spread"] = turnover[1].to_numpy() + np.array(
        [turnover.iloc[i][t] for i, t in enumerate(top_at)]
    )
    n_banks["spread"] = n_banks[1].to_numpy() + np.array(
        [n_banks.iloc[i][t] for i, t in enumerate(top_at)]
    )
    cost = cost_bps / 1e4

    first_day = np.r_[True, period_of_day[1:] != period_of_day[:-1]]
    daily_rows = []
    for name in group_daily.columns:
        charge = np.where(
            first_day,
            turnover[name].reindex(period_of_day).to_numpy() * cost,
            0.0,
        )
        col = group_daily[name]
        daily_rows.append(
            pd.DataFrame(
                {
                    "date": all_days,
                    "period_start": period_of_day,
                    "portfolio": name,
                    "ret": col.to_numpy(),
                    "ret_net": col.to_numpy() - charge,
                }
            )
        )
    daily_long = pd.concat(daily_rows, ignore_index=True).dropna(subset=["ret"])

    period_rows = []
    for start in rebal[:-1]:
        in_period = group_daily.loc[period_of_day == start]
        for name in group_daily.columns:
            if name == "spread":
                continue
            values = in_period[name].dropna()
            if values.empty:
                continue
            period_rows.append(
                {"period_start": start, "portfolio": name, "ret": (1 + values).prod() - 1}
            )
    period_long = pd.DataFrame(period_rows)
    by_start = period_long.pivot(index="period_start", columns="portfolio", values="ret")
    top_at = top.reindex(by_start.index).to_numpy()
    by_start["spread"] = by_start[1].to_numpy() - np.array(
        [by_start.iloc[i][t] for i, t in enumerate(top_at)]
    )
    period_long = by_start.stack().rename("ret").reset_index()
    period_long["turnover"] = [
        turnover.loc[s, p]
        for s, p in zip(period_long["period_start"], period_long["portfolio"], strict=True)
    ]
    period_long["n_banks"] = [
        n_banks.loc[s, p]
        for s, p in zip(period_long["period_start"], period_long["portfolio"], strict=True)
    ]
    period_long["ret_net"] = period_long["ret"] - period_long["turnover"] * cost
    period_long["period_end"] = rebal[rebal.get_indexer(period_long["period_start"]) + 1]

    rf = pd.Series(dtype=float) if rf is None else rf
    period_rf = {
        start: float(np.prod(1 + rf.reindex(all_days[(all_days > start) & (all_days <= end)])) - 1)
        for start, end in zip(rebal[:-1], rebal[1:], strict=True)
    }
    summary = pd.concat(
        [
            _summary_baseline(
                period_long, "period_start", frequency, nw_lags, period_rf, min_obs_margin
            ),
            _summary_baseline(daily_long, "date", "daily", nw_lags, rf, min_obs_margin),
        ],
        ignore_index=True,
    )
    return {
        "assignments": assignments,
        "daily_returns": daily_long,
        "period_returns": period_long,
        "summary": summary,
    }


def _hac_mean(values: pd.Series, nw_lags) -> tuple[float, float]:
    values = values.dropna()
    lags = default_nw_lags(len(values)) if nw_lags is None else nw_lags
    fit = sm.OLS(values.to_numpy(), np.ones(len(values))).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags}
    )
    return float(fit.params[0]), float(fit.tvalues[0])


def _summary_baseline(long, index_col, frequency, nw_lags, rf, min_obs_margin) -> pd.DataFrame:
    rows = []
    scale = np.sqrt(PERIODS_PER_YEAR[frequency])
    rf = pd.Series(rf, dtype=float)
    for name, series in long.groupby("portfolio", sort=False):
        gross = series.set_index(index_col)["ret"]
        net = series.set_index(index_col)["ret_net"]
        mean, t = _hac_mean(gross, nw_lags)
        mean_net, t_net = _hac_mean(net, nw_lags)
        if gross.notna().sum() < 1 + min_obs_margin:
            t = t_net = np.nan
        # Groups: Sharpe of the excess return; the zero-cost spread: of its raw return.
        rf_here = 0.0 if name == "spread" else rf.reindex(gross.index).to_numpy()
        excess, excess_net = gross - rf_here, net - rf_here
        rows.append(
            {
                "portfolio": name,
                "frequency": frequency,
                "mean": mean,
                "nw_t": t,
                "sharpe": excess.mean() / excess.std(ddof=1) * scale,
                "mean_net": mean_net,
                "nw_t_net": t_net,
                "sharpe_net": excess_net.mean() / excess_net.std(ddof=1) * scale,
            }
        )
    return pd.DataFrame(rows)


# -------------------------------------------------------------------------- alphas


def hac_alphas_baseline(
    excess: pd.DataFrame,
    factors: pd.DataFrame,
    models=tuple(FACTOR_MODELS),
    nw_lags: int | None = None,
    min_obs_margin: int = 20,
) -> pd.DataFrame:
    """One statsmodels HAC OLS per column of ``excess`` and model, on that column's own
    non-missing dates: ``portfolio, model, alpha, alpha_t, r2, n`` and factor betas."""
    rows = []
    for model in models:
        cols = list(FACTOR_MODELS[model])
        for name in excess.columns:
            joined = pd.concat([excess[name].rename("y"), factors[cols]], axis=1, join="inner")
            joined = joined.dropna()
            if len(joined) < len(cols) + 1 + min_obs_margin:  # not estimable: a row, no numbers
                rows.append({"portfolio": name, "model": model, "n": len(joined)})
                continue
            lags = default_nw_lags(len(joined)) if nw_lags is None else nw_lags
            fit = sm.OLS(joined["y"], sm.add_constant(joined[cols], has_constant="add")).fit(
                cov_type="HAC", cov_kwds={"maxlags": lags}
            )
            row = {
                "portfolio": name,
                "model": model,
                "alpha": fit.params["const"],
                "alpha_t": fit.tvalues["const"],
                "r2": fit.rsquared,
                "n": int(fit.nobs),
            }
            row.update({f"beta_{c}": fit.params[c] for c in cols})
            rows.append(row)
    return pd.DataFrame(rows)


def compound_baseline(factors: pd.DataFrame, period_ends) -> pd.DataFrame:
    """Daily decimal factors compounded over (previous end, end], one period at a time."""
    ends = sorted(pd.to_datetime(period_ends))
    rows = []
    for lo, hi in zip(ends[:-1], ends[1:], strict=False):
        days = factors.loc[(factors.index > lo) & (factors.index <= hi)]
        if days.empty:
            continue
        out = (1.0 + days).prod() - 1.0
        out["mkt_rf"] = (1.0 + days["mkt_rf"] + days["rf"]).prod() - 1.0 - out["rf"]
        rows.append(out.rename(hi))
    return pd.DataFrame(rows).rename_axis("date")


def portfolio_alphas_baseline(
    daily_returns: pd.DataFrame,
    period_returns: pd.DataFrame,
    factors: pd.DataFrame,
    models=tuple(FACTOR_MODELS),
    nw_lags: int | None = None,
) -> pd.DataFrame:
    """Alphas of each portfolio at daily and holding-period frequency, one fit at a time."""
    factors = factors.set_index("date") if "date" in factors.columns else factors
    factors.index = pd.DatetimeIndex(factors.index)
    daily = daily_returns.pivot(index="date", columns="portfolio", values="ret")
    daily.index = pd.DatetimeIndex(daily.index)
    for col in daily.columns:
        if col != "spread":
            daily[col] = daily[col] - factors["rf"].reindex(daily.index)
    out = [hac_alphas_baseline(daily, factors, models, nw_lags).assign(frequency="daily")]
    ends = period_returns.groupby("period_start")["period_end"].first()
    period = period_returns.pivot(index="period_end", columns="portfolio", values="ret")
    period.index = pd.DatetimeIndex(period.index)
    compounded = compound_baseline(factors, [*ends.index, *ends.to_numpy()])
    covered = (pd.DatetimeIndex(ends.index) >= factors.index[0]) & (
        pd.DatetimeIndex(ends.to_numpy()) <= factors.index[-1]
    )
    period = period.loc[pd.DatetimeIndex(ends.to_numpy()[covered])]
    for col in period.columns:
        if col != "spread":
            period[col] = period[col] - compounded["rf"].reindex(period.index)
    out.append(
        hac_alphas_baseline(period, compounded, models, nw_lags).assign(frequency="quarterly")
    )
    return pd.concat(out, ignore_index=True)


# ---------------------------------------------------------------------------- CNOI


def extract_notes_baseline(filings: pd.DataFrame) -> pd.DataFrame:
    """Note records like ``cnoi.pipeline.extract_notes`` with BeautifulSoup/html.parser."""
    from acct445_assets.cnoi.baseline import document_blocks_bs4
    from acct445_assets.cnoi.extract import locate_note
    from acct445_assets.cnoi.pipeline import NOTE_COLUMNS

    rows = []
    for filing in filings.to_dict("records"):
        base = {
            k: filing.get(k)
            for k in ("cik", "ticker", "accession", "form", "filing_date", "report_date")
        }
        note = locate_note(document_blocks_bs4(filing["document"]))
        rec = note.to_record()
        ok = note.located_by != "none" and bool(note.text.strip())
        rows.append(
            {
                **base,
                **rec,
                "document_bytes": len(filing["document"]),
                "status": "ok" if ok else "failed",
                "reason": None if ok else "CECL note not located",
            }
        )
    out = pd.DataFrame(rows)
    for col in NOTE_COLUMNS:
        if col not in out.columns:
            out[col] = None
    out = out[NOTE_COLUMNS]
    for col in ("filing_date", "report_date"):
        out[col] = pd.to_datetime(out[col])
    return out
