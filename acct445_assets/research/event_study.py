"""Event study of bank returns around an event day (METHODS section 5).

Windows are in trading days of the benchmark's (or factors') calendar; day 0 is the
first session on or after the event date. All banks' expected-return models are fitted
at once as one batched least-squares problem on masked normal equations (each bank uses
its own valid estimation returns).

Statistics (N banks, L event days, T_i valid estimation returns, k model parameters,
s_i the residual sd, X the design, x_t a design row):
- cross-sectional t: mean CAR / (sd CAR / sqrt N), t(N-1);
- Patell: SAR_it = AR_it / (s_i sqrt(1 + x_t'(X'X)^-1 x_t)), CSAR_i = sum_t SAR_it,
  Z = sum_i CSAR_i / sqrt(L (T_i-k)/(T_i-k-2)) / sqrt N (for the market model the
  correction is 1 + 1/T_i + (Rm_t - mean Rm)^2 / sum (Rm - mean Rm)^2);
- BMP: SCAR_i = CAR_i / (s_i sqrt(L + 1'X_e (X'X)^-1 X_e' 1)), the CAR's own forecast-error
  sd; t = mean SCAR / (sd SCAR / sqrt N), t(N-1);
- Kolari-Pynnonen: t_BMP sqrt((1 - r) / (1 + (N - 1) r)), r the mean over bank pairs of
  the Pearson correlation of estimation residuals, each pair over its own common days
  (pairs with fewer than 3 common days are left out);
- Corrado: ranks of each bank's ARs over estimation + event window, U_it = K_it/(n_i+1)
  - 1/2, Ubar_t the cross-sectional mean, S_U = sqrt(mean over all window days of
  Ubar_t^2), statistic sum_{event days} Ubar_t / (sqrt L S_U);
- generalised sign (Cowan 1992): p0 = mean_i share of positive estimation ARs,
  Z = (w - N p0) / sqrt(N p0 (1 - p0)), w = number of positive CARs.

Survivorship (METHODS 5): every bank with a return on the first event-window day (day -1)
and enough estimation returns is in. A bank that stops trading inside the window (its
last return, which in ``stg_bank_returns`` already compounds the delisting return, is
followed by no return on any later window day) has ARs through that last day and zero
after; its Patell and BMP variances use its own number of traded window days L_i, and
the Corrado ranks leave its untraded days out. A bank with a gap inside the window that
trades again later is excluded (``incomplete_event_window``). The survivors-only CAAR
and its cross-sectional t are reported as sensitivity rows of ``tests``.

The cross-sectional regression of CAR on CNOI needs N >= k + ``min_obs_margin`` banks;
below that it is reported as not estimable, with the reason. Its p-values use t(N - k).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .portfolios import sorted_codes
from .stats import latest_known, norm_sf, one_blas_thread, t_sf

MODELS = ("market", "market_adjusted", "ff3")


class EventWindowError(ValueError):
    """The event window does not fit inside the data."""


@dataclass
class EventStudyResult:
    # event, cik, status, n_est, stopped_in_window, last_rel_day, alpha, beta, sigma, car,
    # scar, cnoi, quartile
    banks: pd.DataFrame
    abnormal_returns: pd.DataFrame  # event, cik, rel_day, date, ar, traded (included banks)
    tests: pd.DataFrame  # event, test, statistic, p_value, n, sample
    quartiles: pd.DataFrame  # event, quartile, n, caar, sd, t
    quartile_difference: pd.DataFrame  # event, diff, welch_t, welch_p, perm_p, n_q1, n_q4
    cnoi_regression: pd.DataFrame  # event, term, coef, se, t, p, ci_low, ci_high, n, r2
    counts: pd.DataFrame  # event, counts by reason
    notes: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)


def returns_from_prices(prices: pd.DataFrame, ticker: str) -> pd.Series:
    """Simple daily returns of one benchmark from ``date, ticker, adj_close`` rows."""
    rows = prices.loc[prices["ticker"] == ticker, ["date", "adj_close"]]
    if rows.empty:
        raise ValueError(
            f"benchmark {ticker!r} not in benchmark prices (tickers: {sorted(prices['ticker'].unique())})"
        )
    series = rows.set_index(pd.to_datetime(rows["date"]))["adj_close"].sort_index()
    return series.pct_change().iloc[1:].rename(ticker)


def _design(model: str, market: pd.Series | None, factors: pd.DataFrame | None, calendar):
    if model in ("market", "market_adjusted"):
        if market is None:
            raise ValueError(f"model {model!r} needs the benchmark return series")
        return market.reindex(calendar).to_numpy(dtype=float)[:, None], None
    if model == "ff3":
        if factors is None:
            raise ValueError("model 'ff3' needs daily factors (decimals)")
        frame = factors.reindex(calendar)
        return frame[["mkt_rf", "smb", "hml"]].to_numpy(dtype=float), frame["rf"].to_numpy(
            dtype=float
        )
    raise ValueError(f"unknown event-study model {model!r}; expected one of {MODELS}")


def _masked_ols(X: np.ndarray, Y: np.ndarray, mask: np.ndarray):
    """OLS of each column of Y on [1, X] over its own rows ``mask``: one batched solve.

    Returns (coef (N, k), XtX (N, k, k) in scaled units, scale (k,)). Regressors are scaled
    to unit sd first so the normal equations stay well conditioned.
    """
    n_rows = X.shape[0]
    design = np.column_stack([np.ones(n_rows), np.nan_to_num(X)])
    scale = np.r_[1.0, np.maximum(design[:, 1:].std(axis=0), 1e-12)]
    design = design / scale
    k = design.shape[1]
    weight = mask.astype(float)
    outer = (design[:, :, None] * design[:, None, :]).reshape(n_rows, k * k)
    xtx = (outer.T @ weight).T.reshape(-1, k, k)
    xty = (design.T @ np.where(mask, Y, 0.0)).T
    coef_scaled = np.linalg.solve(xtx, xty[..., None])[..., 0]
    return coef_scaled / scale, xtx, scale


def _quadratic_form(xtx: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """x' (X'X)^-1 x for each bank (xtx (N,k,k)) and each row of ``rows`` (L, k): (N, L)."""
    rhs = np.broadcast_to(rows.T, (xtx.shape[0], *rows.T.shape))
    solved = np.linalg.solve(xtx, rhs)
    return np.einsum("lk,nkl->nl", rows, solved)


def _mean_pairwise_correlation(
    resid: np.ndarray, mask: np.ndarray, min_common: int = 3, chunk: int = 256
) -> float:
    """Mean over bank pairs of the Pearson correlation of ``resid`` columns on each pair's
    common rows (``mask`` True in both), as ``DataFrame.corr()`` computes pairwise.

    Banks sharing the most common estimation sample are handled in O(N T) (their pairs'
    common days are that sample); every pair involving another bank comes from masked
    cross-product sums, a few (b x T) @ (T x N) products per chunk of b such banks.
    """
    n_banks = resid.shape[1]
    if n_banks < 2:
        return np.nan
    # Each bank's mask as one packed byte string: np.unique on the (N x T) bool rows sorted
    # them element by element and was most of this function's time.
    packed = np.ascontiguousarray(np.packbits(mask, axis=0).T)
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inverse, sizes = np.unique(
        keys, return_index=True, return_inverse=True, return_counts=True
    )
    inverse = np.asarray(inverse).ravel()
    common = inverse == sizes.argmax()
    total, pairs = 0.0, 0.0
    n_common = int(common.sum())
    rows = mask[:, first[sizes.argmax()]]
    if n_common >= 2 and rows.sum() >= min_common:
        z = resid[rows][:, common]
        z = z - z.mean(axis=0)
        z = z / np.sqrt((z**2).mean(axis=0))
        total += float(((z.sum(axis=1) ** 2).sum() - (z**2).sum()) / rows.sum())
        pairs += n_common * (n_common - 1)
    others = np.flatnonzero(~common)
    if len(others):
        weight_mask = mask.astype(float)
        values = np.where(mask, resid, 0.0)
        squares = values**2
        # Ordered pairs: a partner in the common block is seen once here, so it counts twice.
        pair_weight = np.where(common, 2.0, 1.0)
        for start in range(0, len(others), chunk):
            cols = others[start : start + chunk]
            m_i, x_i = weight_mask[:, cols], values[:, cols]
            n_ij = m_i.T @ weight_mask
            sx, sy = x_i.T @ weight_mask, m_i.T @ values
            var_x = n_ij * (squares[:, cols].T @ weight_mask) - sx**2
            var_y = n_ij * (m_i.T @ squares) - sy**2
            cov = n_ij * (x_i.T @ values) - sx * sy
            valid = (n_ij >= min_common) & (var_x > 0) & (var_y > 0)
            valid[np.arange(len(cols)), cols] = False
            with np.errstate(invalid="ignore", divide="ignore"):
                corr = np.where(valid, cov / np.sqrt(var_x * var_y), 0.0)
            total += float((corr * pair_weight).sum())
            pairs += float((valid * pair_weight).sum())
    return total / pairs if pairs else np.nan


def _assign_quartiles(values: pd.Series) -> pd.Series:
    rank = values.rank(method="min")
    return (np.floor((rank - 1) * 4 / len(values)) + 1).astype(int)


def patell_z(sar: np.ndarray, n_traded: np.ndarray, dof: np.ndarray) -> float:
    """METHODS 5, Patell (1976): standardised ARs (prediction-error corrected) summed over
    each bank's traded window days, each CSAR scaled by its null variance T (d-2)^-1 d."""
    csar = sar.sum(axis=0)
    return float(np.sum(csar / np.sqrt(n_traded * dof / (dof - 2.0))) / np.sqrt(sar.shape[1]))


def mean_t(values: np.ndarray) -> float:
    """Cross-sectional t of a mean (the CAR t; BMP 1991 on standardised CARs)."""
    return float(values.mean() / (values.std(ddof=1) / np.sqrt(len(values))))


def kolari_pynnonen_t(t_bmp: float, r_bar: float, n_banks: int) -> float:
    """METHODS 5, Kolari-Pynnonen (2010): t_BMP sqrt((1 - r) / (1 + (N - 1) r))."""
    return float(t_bmp * np.sqrt((1.0 - r_bar) / (1.0 + (n_banks - 1) * r_bar)))


def corrado_rank(resid: np.ndarray, ar: np.ndarray, traded: np.ndarray) -> float:
    """METHODS 5, Corrado (1989): ranks over the combined estimation + event window, each
    bank's ranks on its own valid days; days after a bank's last price are left out."""
    n_window = len(ar)
    combined = np.vstack([resid, np.where(traded, ar, np.nan)])
    ranks = average_ranks(combined)
    n_valid = np.isfinite(combined).sum(axis=0)
    u_bar = np.nanmean(ranks / (n_valid + 1.0) - 0.5, axis=1)
    s_u = np.sqrt(np.nanmean(u_bar**2))
    return float(u_bar[-n_window:].sum() / (np.sqrt(n_window) * s_u))


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks down each column (1 = smallest, ties averaged, NaN left NaN), as pandas'
    ``rank(method="average")``. One argsort of the whole matrix; only columns with ties
    go through pandas."""
    # Sorted as rows of the transpose: each column contiguous, twice as fast as axis=0.
    # Not a stable sort (twice as slow): order among ties is irrelevant, as tied columns
    # are ranked by pandas below.
    series = np.ascontiguousarray(values.T)
    order = np.argsort(series, axis=1)
    ranks = np.empty_like(series, dtype=float)
    positions = np.arange(1, series.shape[1] + 1, dtype=float)
    np.put_along_axis(ranks, order, np.broadcast_to(positions, series.shape), axis=1)
    ranks[np.isnan(series)] = np.nan
    ordered = np.take_along_axis(series, order, axis=1)
    tied = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
    ranks = ranks.T
    if tied.any():
        ranks[:, tied] = pd.DataFrame(values[:, tied]).rank(axis=0, method="average").to_numpy()
    return ranks


def generalized_sign(
    car: np.ndarray, resid: np.ndarray, mask: np.ndarray, n_est: np.ndarray
) -> tuple[float, float]:
    """METHODS 5, Cowan (1992): z of the positive-CAR count against p0, the share of
    positive estimation-window residuals. Returns (z, p0)."""
    p0 = float(np.mean((np.where(mask, resid, 0.0) > 0).sum(axis=0) / n_est))
    n_banks = len(car)
    z = (int((car > 0).sum()) - n_banks * p0) / np.sqrt(n_banks * p0 * (1 - p0))
    return float(z), p0


def event_tests(label, car, scar, sar, resid, mask, ar, traded, stopped, dof) -> pd.DataFrame:
    """Every test of METHODS 5 on all banks trading on day -1, plus the survivors-only
    CAAR and t as a labelled sensitivity (never the headline)."""
    n_banks = len(car)
    n_est = mask.sum(axis=0).astype(float)

    def t_p(t, n=n_banks):
        return float(2 * t_sf(abs(t), n - 1))

    def z_p(z):
        return float(2 * norm_sf(abs(z)))

    t_cs, t_bmp = mean_t(car), mean_t(scar)
    r_bar = _mean_pairwise_correlation(resid, mask)
    t_kp = kolari_pynnonen_t(t_bmp, r_bar, n_banks)
    z_patell = patell_z(sar, traded.sum(axis=0).astype(float), dof)
    t_corrado = corrado_rank(resid, ar, traded)
    z_sign, p0 = generalized_sign(car, resid, mask, n_est)
    tests = pd.DataFrame(
        [
            ("caar", car.mean(), np.nan),
            ("cross_sectional_t", t_cs, t_p(t_cs)),
            ("patell_z", z_patell, z_p(z_patell)),
            ("bmp_t", t_bmp, t_p(t_bmp)),
            ("kolari_pynnonen_t", t_kp, t_p(t_kp)),
            ("corrado_rank", t_corrado, z_p(t_corrado)),
            ("generalized_sign_z", z_sign, z_p(z_sign)),
            ("mean_residual_correlation", r_bar, np.nan),
            ("sign_p0", p0, np.nan),
            ("n_stopped_in_window", float(stopped.sum()), np.nan),
        ],
        columns=["test", "statistic", "p_value"],
    ).assign(event=label, n=n_banks, sample="all banks trading on day -1")
    survivors = car[~stopped]
    n_survivors = len(survivors)
    t_survivors = mean_t(survivors) if n_survivors >= 2 else np.nan
    sensitivity = pd.DataFrame(
        [
            ("caar_survivors_only", survivors.mean() if n_survivors else np.nan, np.nan),
            ("cross_sectional_t_survivors_only", t_survivors, t_p(t_survivors, n_survivors)),
        ],
        columns=["test", "statistic", "p_value"],
    ).assign(event=label, n=n_survivors, sample="survivors only (sensitivity)")
    return pd.concat([tests, sensitivity], ignore_index=True)


def quartile_difference(q4: np.ndarray, q1: np.ndarray, n_permutations: int, seed: int) -> dict:
    """METHODS 5: Q4 - Q1 CAR difference, Welch t and a two-sided permutation p."""
    # Imported here, not at the top: scipy.stats costs every process that loads the
    # code location a second, and only the CNOI sorts need it.
    from scipy.stats import ttest_ind

    welch = ttest_ind(q4, q1, equal_var=False)
    observed = q4.mean() - q1.mean()
    rng = np.random.default_rng(seed)
    shuffled = rng.permuted(np.tile(np.r_[q4, q1], (n_permutations, 1)), axis=1)
    null = shuffled[:, : len(q4)].mean(axis=1) - shuffled[:, len(q4) :].mean(axis=1)
    perm_p = (1 + np.sum(np.abs(null) >= abs(observed) - 1e-15)) / (n_permutations + 1)
    return {
        "diff_q4_q1": observed,
        "welch_t": float(welch.statistic),
        "welch_p": float(welch.pvalue),
        "perm_p": float(perm_p),
        "n_permutations": n_permutations,
        "n_q1": len(q1),
        "n_q4": len(q4),
    }


def car_on_cnoi(
    scored: pd.DataFrame, label: str, cnoi_center: float, min_obs_margin: int
) -> tuple[pd.DataFrame, str | None]:
    """METHODS 5: cross-sectional OLS of CAR on CNOI (HC3, t(N - k) p-values), or a
    not-estimable row below k + margin banks. Returns the table and a note."""
    terms = [f"car_at_cnoi_{cnoi_center:g}", "cnoi_slope"]
    if len(scored) < len(terms) + min_obs_margin:
        reason = (
            f"not estimable: {len(scored)} banks with a CNOI < k + margin = "
            f"{len(terms)} + {min_obs_margin}"
        )
        table = pd.DataFrame({"event": label, "term": terms, "n": len(scored), "status": reason})
        return table, f"event {label}: CAR on CNOI {reason}"
    import statsmodels.api as sm  # as above: only this regression needs it

    exog = sm.add_constant(scored["cnoi"].to_numpy() - cnoi_center)
    fit = sm.OLS(scored["car"].to_numpy(), exog).fit(cov_type="HC3", use_t=True)
    ci = fit.conf_int()
    table = pd.DataFrame(
        {
            "event": label,
            "term": terms,
            "coef": fit.params,
            "se": fit.bse,
            "t": fit.tvalues,
            "p": fit.pvalues,
            "ci_low": ci[:, 0],
            "ci_high": ci[:, 1],
            "n": int(fit.nobs),
            "r2": fit.rsquared,
            "status": "ok",
        }
    )
    return table, None


def cnoi_sorts(
    banks: pd.DataFrame,
    cnoi: pd.DataFrame,
    known_by: pd.Timestamp,
    label: str,
    *,
    n_permutations: int,
    cnoi_center: float,
    seed: int,
    min_obs_margin: int,
):
    """METHODS 5, CNOI groups: each included bank's latest CNOI known before ``known_by``
    (banks without one are marked and counted), quartiles, Q4 - Q1, CAR on CNOI."""
    notes = []
    included = banks.loc[banks["status"].eq("included"), "cik"]
    lookup = latest_known(
        cnoi.loc[cnoi["cnoi"].notna(), ["cik", "cnoi", "known_date"]],
        pd.DataFrame({"cik": included.to_numpy(), "date": known_by}),
        strict=True,
    )
    banks = banks.merge(lookup[["cik", "cnoi", "known_date"]], on="cik", how="left")
    banks.loc[banks["status"].eq("included") & banks["cnoi"].isna(), "status"] = "included_no_cnoi"
    scored = banks.loc[banks["status"].eq("included")].copy()
    quartiles = difference = pd.DataFrame()
    if len(scored) < 8:
        notes.append(
            f"event {label}: {len(scored)} banks with a CNOI known before day -1; quartiles need 8"
        )
    else:
        scored["quartile"] = _assign_quartiles(scored["cnoi"])
        banks = banks.merge(scored[["cik", "quartile"]], on="cik", how="left")
        quartiles = (
            scored.groupby("quartile")["car"]
            .agg(n="size", caar="mean", sd="std")
            .reset_index()
            .assign(event=label)
        )
        quartiles["t"] = quartiles["caar"] / (quartiles["sd"] / np.sqrt(quartiles["n"]))
        q1 = scored.loc[scored["quartile"] == 1, "car"].to_numpy()
        q4 = scored.loc[scored["quartile"] == 4, "car"].to_numpy()
        difference = pd.DataFrame(
            [{"event": label, **quartile_difference(q4, q1, n_permutations, seed)}]
        )
    regression, note = car_on_cnoi(scored, label, cnoi_center, min_obs_margin)
    if note:
        notes.append(note)
    return banks, quartiles, difference, regression, notes


def single_event(
    returns_wide: pd.DataFrame,
    event_date,
    *,
    market: pd.Series | None = None,
    factors: pd.DataFrame | None = None,
    cnoi: pd.DataFrame | None = None,
    model: str = "market",
    window: tuple[int, int] = (-1, 5),
    estimation_window: tuple[int, int] = (-250, -11),
    min_estimation_returns: int = 100,
    n_permutations: int = 2000,
    cnoi_center: float = 50.0,
    seed: int = 0,
    min_obs_margin: int = 10,
) -> dict:
    """One event. ``returns_wide``: dates x banks of simple returns. See ``event_study``."""
    if window[0] > window[1] or estimation_window[0] > estimation_window[1]:
        raise ValueError(
            f"windows must be (start, end) with start <= end: {window}, {estimation_window}"
        )
    if estimation_window[1] >= window[0]:
        raise ValueError(f"estimation window {estimation_window} overlaps event window {window}")
    label = str(pd.Timestamp(event_date).date())
    base = market if model != "ff3" else factors["mkt_rf"]
    calendar = pd.DatetimeIndex(base.dropna().index).sort_values()
    day0 = calendar.searchsorted(pd.Timestamp(event_date))
    first, last = day0 + window[0], day0 + window[1]
    if day0 >= len(calendar) or first < 0 or last >= len(calendar):
        raise EventWindowError(
            f"event {label}: window {window} needs sessions outside the data "
            f"({calendar[0].date()}..{calendar[-1].date()})"
        )
    notes = []
    if calendar[day0] != pd.Timestamp(event_date):
        notes.append(f"event {label}: not a session, day 0 = {calendar[day0].date()}")
    est_lo = day0 + estimation_window[0]
    if est_lo < 0:
        notes.append(
            f"event {label}: estimation window starts before the data; {-est_lo} sessions missing"
        )
    est_rows = np.arange(max(est_lo, 0), day0 + estimation_window[1] + 1)
    evt_rows = np.arange(first, last + 1)
    factors_x, rf = _design(model, market, factors, calendar)
    ciks = returns_wide.columns

    matrix_row = returns_wide.index.get_indexer(calendar)

    def bank_returns(rows):
        at = matrix_row[rows]
        if len(at) and at[0] >= 0 and (np.diff(at) == 1).all():
            # Consecutive rows of the matrix: a view of them, not a reindexed copy.
            values = returns_wide.iloc[at[0] : at[-1] + 1].to_numpy(dtype=float)
        else:
            values = returns_wide.reindex(calendar[rows]).to_numpy(dtype=float)
        return values - rf[rows, None] if rf is not None else values

    x_est, x_evt = factors_x[est_rows], factors_x[evt_rows]
    y_est, y_evt = bank_returns(est_rows), bank_returns(evt_rows)
    x_ok = np.isfinite(x_est).all(axis=1)
    mask = np.isfinite(y_est) & x_ok[:, None]
    n_est = mask.sum(axis=0)
    n_window = len(evt_rows)
    traded = np.isfinite(y_evt)
    # Last traded window day of each bank; a bank "stops" when no later window day trades.
    last_day = n_window - 1 - traded[::-1].argmax(axis=0)
    after_last = np.arange(n_window)[:, None] > last_day[None, :]
    on_start = traded[0]
    no_gap = (traded | after_last).all(axis=0)
    if not np.isfinite(x_evt).all():
        raise EventWindowError(
            f"event {label}: the benchmark/factors miss a day of the event window"
        )
    enough = n_est >= min_estimation_returns
    eligible = on_start & no_gap
    included = enough & eligible
    status = np.where(
        included,
        "included",
        np.where(
            ~on_start,
            "no_return_on_window_start",
            np.where(~no_gap, "incomplete_event_window", "too_few_estimation_returns"),
        ),
    )
    stopped_all = eligible & ~traded.all(axis=0)
    banks = pd.DataFrame(
        {
            "event": label,
            "cik": ciks,
            "status": status,
            "n_est": n_est,
            "stopped_in_window": np.where(included, stopped_all, False),
            "last_rel_day": np.where(included, window[0] + last_day, np.nan),
        }
    )
    idx = np.flatnonzero(included)
    n_banks = len(idx)
    if n_banks < 2:
        raise EventWindowError(
            f"event {label}: only {n_banks} banks have {min_estimation_returns}+ estimation returns "
            "and a return on the first event-window day"
        )
    y_est, y_evt, mask, n_i = y_est[:, idx], y_evt[:, idx], mask[:, idx], n_est[idx].astype(float)
    traded, after_last = traded[:, idx], after_last[:, idx]
    stopped = stopped_all[idx]
    n_traded = traded.sum(axis=0).astype(float)

    if model == "market_adjusted":
        k = 1
        resid = np.where(mask, y_est - x_est, np.nan)
        ar = np.where(traded, y_evt - x_evt, 0.0)
        mean_resid = np.nanmean(resid, axis=0)
        sigma2 = np.nansum((resid - mean_resid) ** 2, axis=0) / (n_i - 1)
        correction = np.zeros((n_banks, n_window))
        car_correction = np.zeros(n_banks)
        coef = np.column_stack([np.zeros(n_banks), np.ones(n_banks)])
    else:
        coef, xtx, scale = _masked_ols(x_est, y_est, mask)
        k = coef.shape[1]
        design_est = np.column_stack([np.ones(len(est_rows)), np.nan_to_num(x_est)])
        design_evt = np.column_stack([np.ones(n_window), x_evt])
        resid = np.where(mask, y_est - design_est @ coef.T, np.nan)
        ar = np.where(traded, y_evt - design_evt @ coef.T, 0.0)
        sigma2 = np.nansum(resid**2, axis=0) / (n_i - k)
        correction = _quadratic_form(xtx, design_evt / scale)
        # Sum of the design rows over each bank's own traded window days: (N, k).
        traded_sum = traded.T.astype(float) @ (design_evt / scale)
        car_correction = np.einsum(
            "nk,nk->n", traded_sum, np.linalg.solve(xtx, traded_sum[..., None])[..., 0]
        )
    sigma = np.sqrt(sigma2)
    car = ar.sum(axis=0)
    dof = n_i - k

    scar = car / (sigma * np.sqrt(n_traded + car_correction))
    sar = ar / (sigma[None, :] * np.sqrt(1.0 + correction.T))
    if stopped.any():
        notes.append(
            f"event {label}: {int(stopped.sum())} banks stop trading inside the window; "
            "their ARs run through the last price (incl. the delisting return), zero after"
        )
    tests = event_tests(label, car, scar, sar, resid, mask, ar, traded, stopped, dof)

    # Each bank is one row of ``banks``: the fitted ones are its rows ``idx``.
    for name, fitted in (
        ("alpha", coef[:, 0]),
        ("beta", coef[:, 1]),
        ("sigma", sigma),
        ("car", car),
        ("scar", scar),
    ):
        column = np.full(len(banks), np.nan)
        column[idx] = fitted
        banks[name] = column
    rel_days = np.arange(window[0], window[1] + 1)
    abnormal = pd.DataFrame(
        {
            "event": label,
            "cik": np.tile(ciks[idx], n_window),
            "rel_day": np.repeat(rel_days, n_banks),
            "date": np.repeat(calendar[evt_rows], n_banks),
            "ar": ar.ravel(),
            "traded": traded.ravel(),
        }
    )

    quartiles = difference = regression = pd.DataFrame()
    if cnoi is not None:
        # Rule 0: a score counts only if known strictly before day -1 (or the window start).
        known_by = calendar[max(min(first, day0 - 1), 0)]
        banks, quartiles, difference, regression, cnoi_notes = cnoi_sorts(
            banks,
            cnoi,
            known_by,
            label,
            n_permutations=n_permutations,
            cnoi_center=cnoi_center,
            seed=seed,
            min_obs_margin=min_obs_margin,
        )
        notes.extend(cnoi_notes)
    counts = banks["status"].value_counts().rename_axis("status").reset_index(name="n_banks")
    counts["event"] = label
    return {
        "banks": banks,
        "abnormal_returns": abnormal,
        "tests": tests,
        "quartiles": quartiles,
        "quartile_difference": difference,
        "cnoi_regression": regression,
        "counts": counts,
        "notes": notes,
    }


def _wide_window(returns: pd.DataFrame, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """sessions x banks matrix of returns, built by integer scatter (no pandas pivot)."""
    dates = returns["date"]
    if not pd.api.types.is_datetime64_any_dtype(dates):
        dates = pd.to_datetime(dates)
    values = dates.to_numpy(dtype="datetime64[ns]")
    session_values = sessions.to_numpy(dtype="datetime64[ns]")
    if len(session_values) == 0:
        return pd.DataFrame(index=sessions)
    mask = (values >= session_values[0]) & (values <= session_values[-1])
    row = np.searchsorted(session_values, values[mask])
    row = np.minimum(row, len(session_values) - 1)
    on_session = session_values[row] == values[mask]
    codes, ciks = sorted_codes(returns["cik"].array[mask][on_session])
    row = row[on_session]
    ret = returns["ret"].to_numpy(dtype=float)[mask][on_session]
    flat = row.astype(np.int64) * len(ciks) + codes
    counts = np.bincount(flat, minlength=len(sessions) * len(ciks))
    if len(flat) and counts.max() > 1:
        dup = int(np.flatnonzero(counts[flat] > 1)[0])
        raise ValueError(
            f"returns have duplicate rows for cik {ciks[codes[dup]]} on {sessions[row[dup]].date()}"
        )
    matrix = np.full((len(sessions), len(ciks)), np.nan)
    matrix[row, codes] = ret
    return pd.DataFrame(matrix, index=sessions, columns=pd.Index(ciks, name="cik"))


@one_blas_thread
def event_study(
    returns: pd.DataFrame,
    events,
    *,
    market: pd.Series | None = None,
    factors: pd.DataFrame | None = None,
    cnoi: pd.DataFrame | None = None,
    model: str = "market",
    window: tuple[int, int] = (-1, 5),
    estimation_window: tuple[int, int] = (-250, -11),
    min_estimation_returns: int = 100,
    n_permutations: int = 2000,
    cnoi_center: float = 50.0,
    seed: int = 0,
    min_obs_margin: int = 10,
    wide: pd.DataFrame | None = None,
) -> EventStudyResult:
    """Event study for each event date.

    returns: ``date, cik, ret`` (daily simple returns); market: benchmark daily returns
    indexed by date (models ``market`` and ``market_adjusted``); factors: daily decimal
    factors indexed by date (model ``ff3``); cnoi: ``cik, cnoi, known_date``. An event
    whose window lies outside the data is skipped and named in ``notes``. ``wide``: the
    dates x banks matrix of ``returns`` (``portfolios.wide_returns``) when the caller has
    already built it.
    """
    if model not in MODELS:
        raise ValueError(f"unknown event-study model {model!r}; expected one of {MODELS}")
    if factors is not None:
        factors = factors.set_index("date") if "date" in factors.columns else factors.copy()
        factors.index = pd.DatetimeIndex(factors.index)
    if market is not None:
        market = market.copy()
        market.index = pd.DatetimeIndex(market.index)
    base = market if model != "ff3" else (factors["mkt_rf"] if factors is not None else None)
    if base is None:
        raise ValueError(f"model {model!r} needs {'factors' if model == 'ff3' else 'a benchmark'}")
    calendar = pd.DatetimeIndex(base.dropna().index).sort_values()
    # Only the sessions some event needs are pivoted (the full panel can be millions of rows).
    needed = np.zeros(len(calendar), dtype=bool)
    for event in events:
        day0 = calendar.searchsorted(pd.Timestamp(event))
        lo = max(day0 + min(estimation_window[0], window[0]), 0)
        needed[lo : day0 + max(window[1], 0) + 1] = True
    if wide is None:
        wide = _wide_window(returns, calendar[needed])
    else:
        wide = wide.reindex(calendar[needed])
        wide = wide.loc[:, wide.notna().to_numpy().any(axis=0)]
    parts, notes = [], []
    for event in events:
        try:
            parts.append(
                single_event(
                    wide,
                    event,
                    market=market,
                    factors=factors,
                    cnoi=cnoi,
                    model=model,
                    window=tuple(window),
                    estimation_window=tuple(estimation_window),
                    min_estimation_returns=min_estimation_returns,
                    n_permutations=n_permutations,
                    cnoi_center=cnoi_center,
                    seed=seed,
                    min_obs_margin=min_obs_margin,
                )
            )
        except EventWindowError as err:
            notes.append(str(err))
    keys = [
        "banks",
        "abnormal_returns",
        "tests",
        "quartiles",
        "quartile_difference",
        "cnoi_regression",
        "counts",
    ]
    joined = {
        key: pd.concat([p[key] for p in parts], ignore_index=True) if parts else pd.DataFrame()
        for key in keys
    }
    for part in parts:
        notes.extend(part["notes"])
    params = {
        "events": [str(pd.Timestamp(e).date()) for e in events],
        "model": model,
        "window": list(window),
        "estimation_window": list(estimation_window),
        "min_estimation_returns": min_estimation_returns,
        "n_permutations": n_permutations,
        "cnoi_center": cnoi_center,
        "min_obs_margin": min_obs_margin,
        "survivorship": "banks trading on day -1 kept; AR zero after the last price",
    }
    return EventStudyResult(**joined, notes=notes, params=params)
