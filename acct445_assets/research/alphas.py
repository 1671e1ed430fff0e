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

from .factor_models import (
    FACTOR_MODELS,
    MODEL_LABELS,
    check_decimal_factors,
    compound_factors,
    compound_monthly_factors,
    model_factors,
)
from .portfolios import SPREAD
from .stats import (
    ols_hac,
    ols_hac_designs,
    ols_hac_masked,
    one_blas_thread,
    periods_per_year,
    t_sf,
)

ALL_FACTORS = ("mkt_rf", "smb", "hml", "rmw", "cma", "mom")
# Columns sharing a span below this many are cheaper in the masked batch than in a design of their own.
SHARED_SPAN_MIN = 8


def excess_returns(
    returns: pd.DataFrame, rf: pd.Series, zero_cost: tuple = (SPREAD,)
) -> pd.DataFrame:
    """Subtract rf from every column except the zero-cost ones (the spread)."""
    charged = ~returns.columns.isin(list(zero_cost))
    values = returns.to_numpy(dtype=float, copy=True)
    values[:, charged] -= rf.reindex(returns.index).to_numpy(dtype=float)[:, None]
    return pd.DataFrame(values, index=returns.index, columns=returns.columns)


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
    factor_names = list(dict.fromkeys(f for m in models for f in model_factors(m)))
    missing = [f for f in factor_names if f not in factors.columns]
    if missing:
        raise ValueError(
            f"factor models {list(models)} need columns {missing} that the factor frame lacks"
        )
    factor_values = factors[factor_names].reindex(dates).to_numpy(dtype=float)
    factor_known = ~np.isnan(factor_values)
    factor_filled = np.where(factor_known, factor_values, 0.0)
    offset = None
    if rf is not None:
        offset = rf.reindex(dates).to_numpy(dtype=float)
        observed &= np.isfinite(offset)[:, None]

    def columns_of(model):
        return [factor_names.index(f) for f in model_factors(model)]

    fitted, short = [], []
    # Models whose factors cover the same days share each bank's sample, so the spans,
    # and the pass over each block of banks, are shared too.
    samples: dict[bytes, list[str]] = {}
    for model in models:
        factor_ok = factor_known[:, columns_of(model)].all(axis=1)
        samples.setdefault(factor_ok.tobytes(), []).append(model)
    for sample_models in samples.values():
        factor_ok = factor_known[:, columns_of(sample_models[0])].all(axis=1)
        finite = observed if factor_ok.all() else observed & factor_ok[:, None]
        spans = SpanGroups(finite)
        nobs = spans.count
        estimable = {}
        for model in sample_models:
            n_params = len(model_factors(model)) + 1
            estimable[model] = nobs >= n_params + min_obs_margin
            if (~estimable[model]).any():
                short.append((model, n_params, np.flatnonzero(~estimable[model]), nobs))
        designs = {
            m: np.column_stack([np.ones(len(dates)), factor_filled[:, columns_of(m)]])
            for m in sample_models
        }
        for model, members, fit in _fit_columns(designs, values, spans, estimable, nw_lags, offset):
            fitted.append(_fit_columns_out(dates, spans, members, fit, model))
    blocks = []
    if fitted:
        blocks.append(_fit_rows(returns.columns, fitted))
    for model, n_params, columns, nobs in short:
        blocks.append(
            pd.DataFrame(
                {
                    "portfolio": np.asarray(returns.columns)[columns],
                    "model": model,
                    "model_label": MODEL_LABELS[model],
                    "n": nobs[columns],
                    "status": [
                        f"not estimable: N = {n} < k + {min_obs_margin} = "
                        f"{n_params + min_obs_margin} ({n_params} parameters)"
                        for n in nobs[columns]
                    ],
                }
            )
        )
    if not blocks:
        return pd.DataFrame(columns=["portfolio", "frequency", "model", "alpha"])
    out = pd.concat(blocks, ignore_index=True) if len(blocks) > 1 else blocks[0]
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
    """Columns of a (T, m) sample mask grouped by their span: ``count``, ``first`` and
    ``last`` observed row per column; ``contiguous`` columns are one unbroken run of True
    rows, ``groups`` the (first, last, members) of each span held by at least
    SHARED_SPAN_MIN such columns."""

    def __init__(self, finite: np.ndarray):
        self.finite = finite
        self.first = first = finite.argmax(axis=0)
        self.last = last = len(finite) - 1 - finite[::-1].argmax(axis=0)
        self.count = count = finite.sum(axis=0)
        self.contiguous = (count > 0) & (last - first + 1 == count)
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


def _fit_columns_out(dates, spans, members, fit, model) -> dict:
    """The per-column arrays of one fit (``_fit_rows`` puts all fits in one frame)."""
    size = len(members)
    cols = list(model_factors(model))
    out = {
        "members": members,
        "model": np.full(size, model, dtype=object),
        "alpha": fit.params[0],
        "alpha_se": fit.bse[0],
        "alpha_t": fit.tvalues[0],
        "r2": fit.rsquared,
        "n": np.broadcast_to(fit.nobs, size),
        "n_params": np.full(size, len(cols) + 1),
        "nw_lags": np.broadcast_to(fit.lags, size),
        "start": dates[spans.first[members]],
        "end": dates[spans.last[members]],
    }
    for f in ALL_FACTORS:
        out[f"beta_{f}"] = fit.params[1 + cols.index(f)] if f in cols else np.full(size, np.nan)
        out[f"t_{f}"] = fit.tvalues[1 + cols.index(f)] if f in cols else np.full(size, np.nan)
    return out


def _fit_rows(names, fitted: list[dict]) -> pd.DataFrame:
    """One row per fitted column, in one frame: the regress_on_models columns."""

    def joined(key):
        return np.concatenate([np.asarray(f[key]) for f in fitted])

    models = joined("model")
    nobs = joined("n")
    alpha_t = joined("alpha_t")
    # Small samples: t(N - k) rather than the normal for the alpha's p-value.
    alpha_p = 2.0 * t_sf(np.abs(alpha_t), nobs - joined("n_params"))
    frame = {
        "portfolio": np.asarray(names)[joined("members")],
        "model": models,
        "model_label": pd.Series(models).map(MODEL_LABELS).to_numpy(),
        "alpha": joined("alpha"),
        "alpha_se": joined("alpha_se"),
        "alpha_t": alpha_t,
        "alpha_p": alpha_p,
        "r2": joined("r2"),
        "n": nobs,
        "nw_lags": joined("nw_lags"),
        "start": pd.DatetimeIndex(joined("start")),
        "end": pd.DatetimeIndex(joined("end")),
        "status": "ok",
    }
    for f in ALL_FACTORS:
        frame[f"beta_{f}"] = joined(f"beta_{f}")
        frame[f"t_{f}"] = joined(f"t_{f}")
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
