"""Factor-model alphas of the CNOI portfolios (METHODS section 4).

Each group's excess return (return - rf) and the spread (already zero-cost, so no rf)
are regressed on each model at the frequency of the returns: daily portfolio returns on
daily factors; monthly holding periods on Ken French's monthly factors and quarterly ones
on the monthly factors compounded over the quarter (``factors`` column). Without monthly
factors, holding periods fall back to daily factors compounded over exactly the same
periods, and the ``factors`` column says so. All portfolios sharing a sample are
estimated in one least-squares call.

A fit needs N >= k + ``min_obs_margin`` observations (k parameters incl. the intercept);
below that its row has ``status`` "not estimable: ..." and no estimates. p-values of the
alphas use t(N - k).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .factor_models import (
    FACTOR_MODELS,
    MODEL_LABELS,
    check_decimal_factors,
    compound_factors,
    compound_monthly_factors,
    design_matrix,
    model_factors,
)
from .portfolios import SPREAD
from .stats import (
    contiguous_columns,
    ols_hac,
    ols_hac_designs,
    ols_hac_masked,
    one_blas_thread,
    periods_per_year,
)

ALL_FACTORS = ("mkt_rf", "smb", "hml", "rmw", "cma", "mom")
# Columns sharing a span below this many are cheaper in the masked batch than in a design of their own.
SHARED_SPAN_MIN = 8


def excess_returns(
    returns: pd.DataFrame, rf: pd.Series, zero_cost: tuple = (SPREAD,)
) -> pd.DataFrame:
    """Subtract rf from every column except the zero-cost ones (the spread)."""
    out = returns.copy()
    for col in out.columns:
        if col not in zero_cost:
            out[col] = out[col] - rf.reindex(out.index)
    return out


@one_blas_thread
def regress_on_models(
    returns: pd.DataFrame,
    factors: pd.DataFrame,
    models=tuple(FACTOR_MODELS),
    nw_lags: int | None = None,
    frequency: str = "daily",
    min_obs_margin: int = 20,
    rf: pd.Series | None = None,
) -> pd.DataFrame:
    """OLS with Newey-West SEs of each column of ``returns`` (already excess, or less ``rf``
    by date when given: no excess-return copy of a dates x banks matrix) on each model.

    ``returns`` and ``factors`` are indexed by the same dates. Returns one row per
    (portfolio, model) with alpha per period, annualised alpha, t, p, betas, R^2, N.
    Each column uses its own non-missing dates (see ``_fit_columns`` for how columns
    are batched).
    """
    per_year = periods_per_year(frequency)
    on_factor_dates = returns.index.isin(factors.index)
    dates = returns.index[on_factor_dates]
    # A view of the frame's block, not a copy: at 5,000 banks a copy per model cost more
    # than the regressions.
    values = returns.to_numpy(dtype=float)
    if not on_factor_dates.all():
        values = values[on_factor_dates]
    observed = np.isfinite(values)
    aligned = factors.reindex(dates)
    offset = None
    if rf is not None:
        offset = rf.reindex(dates).to_numpy(dtype=float)
        observed &= np.isfinite(offset)[:, None]
    blocks = []
    # Models whose factors cover the same days share each bank's sample, so the spans,
    # and the pass over each block of banks, are shared too.
    samples: dict[bytes, list[str]] = {}
    for model in models:
        factor_ok = aligned[list(model_factors(model))].notna().all(axis=1).to_numpy()
        samples.setdefault(factor_ok.tobytes(), []).append(model)
    for sample_models in samples.values():
        cols = list(model_factors(sample_models[0]))
        factor_ok = aligned[cols].notna().all(axis=1).to_numpy()
        finite = observed if factor_ok.all() else observed & factor_ok[:, None]
        nobs = finite.sum(axis=0)
        spans = SpanGroups(finite)
        estimable = {}
        for model in sample_models:
            n_params = len(model_factors(model)) + 1
            estimable[model] = nobs >= n_params + min_obs_margin
            if (~estimable[model]).any():
                short = np.flatnonzero(~estimable[model])
                blocks.append(
                    pd.DataFrame(
                        {
                            "portfolio": np.asarray(returns.columns)[short],
                            "model": model,
                            "model_label": MODEL_LABELS[model],
                            "n": nobs[short],
                            "status": [
                                f"not estimable: N = {n} < k + {min_obs_margin} = "
                                f"{n_params + min_obs_margin} ({n_params} parameters)"
                                for n in nobs[short]
                            ],
                        }
                    )
                )
        designs = {
            m: design_matrix(aligned[list(model_factors(m))].fillna(0.0), m) for m in sample_models
        }
        for model, members, fit in _fit_columns(designs, values, spans, estimable, nw_lags, offset):
            blocks.append(
                _fit_rows(
                    returns.columns, dates, finite, members, fit, model, list(model_factors(model))
                )
            )
    if not blocks:
        return pd.DataFrame(columns=["portfolio", "frequency", "model", "alpha"])
    out = pd.concat(blocks, ignore_index=True)
    for col in ("alpha", "alpha_se", "alpha_t", "alpha_p", "r2"):
        if col not in out:
            out[col] = np.nan
    out.insert(1, "frequency", frequency)
    out.insert(5, "alpha_annual", out["alpha"] * per_year)
    order = {name: i for i, name in enumerate(returns.columns)}
    rank = out["portfolio"].map(order) + len(order) * out["model"].map(
        {m: i for i, m in enumerate(models)}
    )
    return out.iloc[np.argsort(rank.to_numpy(), kind="stable")].reset_index(drop=True)


class SpanGroups:
    """Columns of a (T, m) sample mask grouped by their span: ``contiguous`` columns are
    one unbroken run of True rows, ``groups`` the (first, last, members) of each span
    held by at least SHARED_SPAN_MIN such columns."""

    def __init__(self, finite: np.ndarray):
        self.finite = finite
        self.contiguous = contiguous_columns(finite)
        first = finite.argmax(axis=0)
        last = len(finite) - 1 - finite[::-1].argmax(axis=0)
        members = np.flatnonzero(self.contiguous)
        codes, span_of = np.unique(
            np.column_stack([first[members], last[members]]), axis=0, return_inverse=True
        )
        span_of = span_of.ravel()
        sizes = np.bincount(span_of, minlength=len(codes))
        self.groups = [
            (int(codes[c][0]), int(codes[c][1]), members[span_of == c])
            for c in np.flatnonzero(sizes >= SHARED_SPAN_MIN)
        ]
        self.in_group = np.zeros(finite.shape[1], dtype=bool)
        for _, _, group in self.groups:
            self.in_group[group] = True


def _fit_columns(designs, values, spans, estimable, nw_lags, offset=None):
    """(model, columns, fit) triples covering every estimable column of ``values`` (less
    ``offset``) for each model of one sample.

    Columns observed over the same unbroken span (most banks: listed throughout) share
    one design per model and go through ``ols_hac_designs`` on that span, all models in
    one pass; the other one-span columns are fitted together by ``ols_hac_masked``;
    columns with gaps, per missing-value pattern, as statsmodels would on their own rows.
    """
    finite = spans.finite

    def columns_of(group):
        picked = values[:, group]
        return picked if offset is None else picked - offset[:, None]

    fits = []
    for begin, end, group in spans.groups:
        rows = slice(begin, end + 1)
        # A model short of observations on this span (a short listing) leaves the shared
        # pass for its own.
        together = [m for m in designs if estimable[m][group].all()]
        alone = [m for m in designs if m not in together]
        fitted = ols_hac_designs(
            [designs[m][rows] for m in together],
            values[rows],
            nw_lags,
            columns=group,
            offset=None if offset is None else offset[rows],
        )
        fits.extend((m, group, fit) for m, fit in zip(together, fitted, strict=True))
        for m in alone:
            kept = group[estimable[m][group]]
            if len(kept):
                fit = ols_hac(
                    designs[m][rows],
                    values[rows],
                    nw_lags,
                    columns=kept,
                    offset=None if offset is None else offset[rows],
                )
                fits.append((m, kept, fit))
    for model, X in designs.items():
        scattered = np.flatnonzero(estimable[model] & spans.contiguous & ~spans.in_group)
        if len(scattered):
            fit = ols_hac_masked(X, columns_of(scattered), finite[:, scattered], nw_lags)
            fits.append((model, scattered, fit))
        patterns: dict[bytes, list[int]] = {}
        for j in np.flatnonzero(estimable[model] & ~spans.contiguous):
            patterns.setdefault(finite[:, j].tobytes(), []).append(int(j))
        for group in patterns.values():
            mask = finite[:, group[0]]
            # Columns first: values[mask] would copy every column once per pattern.
            fit = ols_hac(X[mask], columns_of(group)[mask], lags=nw_lags)
            fits.append((model, np.asarray(group), fit))
    return fits


def _fit_rows(names, dates, finite, members, fit, model, cols) -> pd.DataFrame:
    """One row per fitted column: the regress_on_models columns, built as arrays."""
    observed = finite[:, members]
    first = observed.argmax(axis=0)
    last = len(dates) - 1 - observed[::-1].argmax(axis=0)
    size = len(members)
    nobs = np.broadcast_to(fit.nobs, size)
    # Small samples: t(N - k) rather than the normal for the alpha's p-value.
    alpha_p = 2.0 * stats.t.sf(np.abs(fit.tvalues[0]), nobs - len(cols) - 1)
    frame = {
        "portfolio": np.asarray(names)[members],
        "model": model,
        "model_label": MODEL_LABELS[model],
        "alpha": fit.params[0],
        "alpha_se": fit.bse[0],
        "alpha_t": fit.tvalues[0],
        "alpha_p": alpha_p,
        "r2": fit.rsquared,
        "n": nobs,
        "nw_lags": np.broadcast_to(fit.lags, size),
        "start": dates[first],
        "end": dates[last],
        "status": "ok",
    }
    for f in ALL_FACTORS:
        frame[f"beta_{f}"] = fit.params[1 + cols.index(f)] if f in cols else np.nan
        frame[f"t_{f}"] = fit.tvalues[1 + cols.index(f)] if f in cols else np.nan
    return pd.DataFrame(frame)


@one_blas_thread
def portfolio_alphas(
    daily_returns: pd.DataFrame,
    period_returns: pd.DataFrame,
    factors_daily: pd.DataFrame,
    models=tuple(FACTOR_MODELS),
    nw_lags: int | None = None,
    period_frequency: str = "quarterly",
    factors_monthly: pd.DataFrame | None = None,
    min_obs_margin: int = 20,
) -> pd.DataFrame:
    """Alphas of every portfolio at daily and holding-period frequency.

    daily_returns: ``date, portfolio, ret``; period_returns: ``period_start, period_end,
    portfolio, ret`` (the outputs of ``portfolios.form_portfolios``); factors in decimals.
    ``factors_monthly`` (Ken French's monthly file) drives the holding-period fits when
    given (METHODS 4); otherwise daily factors are compounded over each period.
    """
    factors = check_decimal_factors(factors_daily, "factors_daily")
    daily = daily_returns.pivot(index="date", columns="portfolio", values="ret")
    daily.index = pd.DatetimeIndex(daily.index)
    out = [
        regress_on_models(
            excess_returns(daily, factors["rf"]), factors, models, nw_lags, "daily", min_obs_margin
        ).assign(factors="daily")
    ]
    if len(period_returns):
        period = period_returns.pivot(index="period_end", columns="portfolio", values="ret")
        period.index = pd.DatetimeIndex(period.index)
        start_of = period_returns.groupby("period_end")["period_start"].first()
        period_start = pd.DatetimeIndex(start_of.reindex(period.index))
        if factors_monthly is not None:
            compounded = compound_monthly_factors(factors_monthly, period_start, period.index)
            covered = compounded.notna().all(axis=1).to_numpy()
            source = "monthly" if period_frequency == "monthly" else "monthly, compounded"
        else:
            starts = pd.DatetimeIndex(period_returns["period_start"].unique())
            ends = starts.union(pd.DatetimeIndex(period.index))
            compounded = compound_factors(factors, ends)
            # Only periods the factor data fully covers.
            covered = (period_start >= factors.index[0]) & (period.index <= factors.index[-1])
            source = "daily, compounded"
        period = period.loc[covered]
        out.append(
            regress_on_models(
                excess_returns(period, compounded["rf"]),
                compounded,
                models,
                nw_lags,
                period_frequency,
                min_obs_margin,
            ).assign(factors=source)
        )
    return pd.concat(out, ignore_index=True)
