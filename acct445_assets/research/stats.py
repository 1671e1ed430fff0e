"""Shared statistics: Newey-West (HAC) inference, batched OLS, Sharpe ratios, point-in-time lookups.

Everything here is vectorised over many series at once: a matrix ``Y`` (T x m) is m
series (portfolios, banks) regressed on one design ``X`` (T x k). Inverses of X'X are
never formed explicitly; the bread of the sandwich comes from the QR factor of X.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg, special
from threadpoolctl import ThreadpoolController

# Built at import: finding the BLAS libraries reads every loaded library's path (20 ms),
# which a first estimate in a fresh process would otherwise pay.
_THREADPOOLS = ThreadpoolController()
PERIODS_PER_YEAR = {"daily": 252, "weekly": 52, "monthly": 12, "quarterly": 4, "annual": 1}


# Distribution functions from scipy.special, the functions scipy.stats evaluates (same
# values), without importing scipy.stats: about 1 s at the start of every process that
# loads the code location.
def norm_sf(x):
    return special.ndtr(-np.asarray(x, dtype=float))


def norm_ppf(q):
    return special.ndtri(q)


def t_sf(x, df):
    return special.stdtr(df, -np.asarray(x, dtype=float))


def t_ppf(q, df):
    return special.stdtrit(df, q)


def chi2_sf(x, df):
    x = np.asarray(x, dtype=float)
    return np.where(x < 0, 1.0, special.chdtrc(df, np.maximum(x, 0.0)))


def f_sf(x, dfn, dfd):
    x = np.asarray(x, dtype=float)
    return np.where(x < 0, 1.0, special.fdtrc(dfn, dfd, np.maximum(x, 0.0)))


def as_datetime(values):
    """``pd.to_datetime`` that returns datetime64 input as it is (to_datetime still scans a
    sample of a datetime column's values, a few ms per 100,000 rows)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    return pd.to_datetime(values)


def default_nw_lags(n_obs: int) -> int:
    """Newey-West (1994) rule of thumb: floor(4 (T/100)^(2/9))."""
    if n_obs <= 0:
        return 0
    return int(np.floor(4.0 * (n_obs / 100.0) ** (2.0 / 9.0)))


def periods_per_year(frequency: str) -> int:
    try:
        return PERIODS_PER_YEAR[frequency]
    except KeyError:
        raise ValueError(
            f"unknown frequency {frequency!r}; expected one of {sorted(PERIODS_PER_YEAR)}"
        ) from None


def one_blas_thread(function):
    """Run ``function`` with BLAS on one thread: these estimators issue many small
    products, and OpenBLAS's threads cost more to synchronise than they save (3-10x
    slower on a busy 2-core host)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with _THREADPOOLS.limit(limits=1, user_api="blas"):
            return function(*args, **kwargs)

    return wrapper


@dataclass
class OLSBatch:
    """Results of m OLS regressions on one design. Arrays are (k, m) unless noted."""

    params: np.ndarray
    bse: np.ndarray
    tvalues: np.ndarray
    pvalues: np.ndarray
    rsquared: np.ndarray  # (m,)
    nobs: int
    lags: int


@one_blas_thread
def ols_hac(
    X: np.ndarray,
    Y: np.ndarray,
    lags: int | None = None,
    small_sample: bool = False,
    columns: np.ndarray | None = None,
    block: int = 32,
    offset: np.ndarray | None = None,
) -> OLSBatch:
    """OLS of every column of Y (or of Y's ``columns``) on X with Newey-West (Bartlett) SEs.

    Matches statsmodels ``OLS(y, X).fit(cov_type="HAC", cov_kwds={"maxlags": lags})``
    (``small_sample`` = its ``use_correction``). X and Y must be free of NaN; ``lags``
    None uses the Newey-West rule of thumb for T. p-values are normal, as in statsmodels.
    ``offset`` (T,) is subtracted from every column first (excess returns without a copy
    of the whole matrix). See ``ols_hac_designs`` for how it is computed.
    """
    return ols_hac_designs([X], Y, lags, small_sample, columns, block, offset)[0]


class _Design:
    """What every block of columns reuses for one design: the QR factor, the influence
    rows a_t = (X'X)^{-1} x_t and their lagged products."""

    def __init__(self, X: np.ndarray, lags: int | None):
        X = np.asarray(X, dtype=float)
        n_obs, k = X.shape
        if not np.isfinite(X).all():
            raise ValueError("ols_hac needs finite X and Y; drop missing rows first")
        if n_obs <= k:
            raise ValueError(f"{n_obs} observations cannot identify {k} parameters")
        self.X, self.k = X, k
        self.lags = default_nw_lags(n_obs) if lags is None else int(lags)
        self.q_factor, self.r_factor = np.linalg.qr(X)
        diagonal = np.abs(np.diag(self.r_factor))
        if diagonal.min() <= max(n_obs, k) * np.finfo(float).eps * diagonal.max():
            raise ValueError(f"design matrix is rank deficient ({k} columns, collinear)")
        # (X'X)^{-1} = R^{-1} R^{-T} from X = QR, without inverting X'X.
        r_inv = linalg.solve_triangular(self.r_factor, np.eye(k))
        influence = X @ (r_inv @ r_inv.T)
        n_lags = min(self.lags, n_obs - 1)
        self.lagged = [
            (lag, 2.0 * (1.0 - lag / (self.lags + 1.0)), (influence[lag:] * influence[:-lag]).T)
            for lag in range(1, n_lags + 1)
        ]
        self.squared = (influence**2).T
        self.intercept = _has_intercept(X)


@one_blas_thread
def ols_hac_designs(
    designs,
    Y: np.ndarray,
    lags: int | None = None,
    small_sample: bool = False,
    columns: np.ndarray | None = None,
    block: int = 32,
    offset: np.ndarray | None = None,
) -> list[OLSBatch]:
    """``ols_hac`` of the same columns of Y on each design in ``designs``, in one pass over
    Y: each block of columns is gathered (less ``offset``) and its total sum of squares
    taken once for every design (the factor models of one bank sample).

    With a_t = (X'X)^{-1} x_t, var_j = sum_l w_l c_l sum_t a_tj a_(t-l)j u_t u_(t-l)
    (c_0 = 1, c_l = 2), so each lag costs one (k x T) @ (T x m) product rather than k^2
    per column. Columns go through in blocks of ``block`` so that every temporary stays
    in cache: a (T x m) temporary is a fresh allocation the kernel must fault in, which
    cost more than the arithmetic.
    """
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    n_obs = Y.shape[0]
    for X in designs:
        if np.shape(X)[0] != n_obs:
            raise ValueError(f"X has {np.shape(X)[0]} rows but Y has {n_obs}")
    fitted = [_Design(X, lags) for X in designs]
    columns = np.arange(Y.shape[1]) if columns is None else np.asarray(columns)
    m = len(columns)
    params = [np.empty((d.k, m)) for d in fitted]
    variances = [np.empty((d.k, m)) for d in fitted]
    rsquared = [np.empty(m) for _ in fitted]
    resid = np.empty((n_obs, min(block, m)))
    products = np.empty_like(resid)
    for start in range(0, m, block):
        y = Y[:, columns[start : start + block]]
        if offset is not None:
            y = y - offset[:, None]
        width = y.shape[1]
        if not np.isfinite(y).all():
            raise ValueError("ols_hac needs finite X and Y; drop missing rows first")
        u, prod = resid[:, :width], products[:, :width]
        tss = {}
        if any(d.intercept for d in fitted):
            np.subtract(y, y.mean(axis=0), out=prod)
            tss[True] = np.einsum("tj,tj->j", prod, prod)
        if not all(d.intercept for d in fitted):
            tss[False] = np.einsum("tj,tj->j", y, y)
        cols = slice(start, start + width)
        for i, d in enumerate(fitted):
            beta = linalg.solve_triangular(d.r_factor, d.q_factor.T @ y)
            np.subtract(y, np.matmul(d.X, beta, out=u), out=u)
            np.multiply(u, u, out=prod)
            var = d.squared @ prod
            rss = prod.sum(axis=0)
            for lag, weight, lagged in d.lagged:
                np.multiply(u[lag:], u[:-lag], out=prod[: n_obs - lag])
                var += weight * (lagged @ prod[: n_obs - lag])
            params[i][:, cols] = beta
            variances[i][:, cols] = var
            with np.errstate(divide="ignore", invalid="ignore"):
                rsquared[i][cols] = 1.0 - rss / tss[d.intercept]
    out = []
    for d, beta, var, r2 in zip(fitted, params, variances, rsquared, strict=True):
        if small_sample:
            var *= n_obs / (n_obs - d.k)
        bse = np.sqrt(var)
        with np.errstate(divide="ignore", invalid="ignore"):
            tvalues = beta / bse
        pvalues = 2.0 * norm_sf(np.abs(tvalues))
        out.append(OLSBatch(beta, bse, tvalues, pvalues, r2, n_obs, d.lags))
    return out


@dataclass
class MaskedOLSBatch:
    """Results of m OLS regressions, each on its own rows of one design.

    Arrays are (k, m) as in ``OLSBatch``; ``nobs`` and ``lags`` are (m,) because each
    column has its own sample.
    """

    params: np.ndarray
    bse: np.ndarray
    tvalues: np.ndarray
    pvalues: np.ndarray
    rsquared: np.ndarray
    nobs: np.ndarray
    lags: np.ndarray


def contiguous_columns(mask: np.ndarray) -> np.ndarray:
    """(m,) True where column j of a (T, m) mask is one unbroken run of True rows."""
    mask = np.asarray(mask, dtype=bool)
    n_rows = mask.shape[0]
    count = mask.sum(axis=0)
    first = mask.argmax(axis=0)
    last = n_rows - 1 - mask[::-1].argmax(axis=0)
    return (count > 0) & (last - first + 1 == count)


@one_blas_thread
def ols_hac_masked(
    X: np.ndarray,
    Y: np.ndarray,
    mask: np.ndarray,
    lags: int | None = None,
    small_sample: bool = False,
    chunk: int = 1024,
) -> MaskedOLSBatch:
    """OLS with Newey-West SEs of each column of Y on the rows of X where ``mask`` is True.

    Equal to ``ols_hac`` on each column's own rows when every column's rows are one
    contiguous run (firms that list late or delist early): lag l of the column's own
    sample is then lag l of the full index. Columns with gaps must go through ``ols_hac``;
    this function refuses them. Instead of one QR per missing-value pattern, every
    column's X'X, X'y and lagged score cross-products come from one matrix product each
    with the (T, k^2) row outer products of X, so the cost is a handful of BLAS calls
    whatever the number of patterns. Columns of X are scaled to unit RMS first to keep
    the normal equations well conditioned.
    """
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float)
    mask = np.asarray(mask, dtype=bool)
    if Y.ndim == 1:
        Y, mask = Y[:, None], mask.reshape(-1, 1)
    n_rows, k = X.shape
    if Y.shape != mask.shape or Y.shape[0] != n_rows:
        raise ValueError(f"X has {n_rows} rows; Y {Y.shape} and mask {mask.shape} must match")
    if not np.isfinite(X).all():
        raise ValueError("ols_hac_masked needs a finite X; drop missing rows first")
    if not np.isfinite(Y[mask]).all():
        raise ValueError("ols_hac_masked: Y is missing where mask is True")
    gaps = ~contiguous_columns(mask) & mask.any(axis=0)
    if gaps.any():
        raise ValueError(
            f"{int(gaps.sum())} columns have gaps inside their sample (first: column "
            f"{int(np.flatnonzero(gaps)[0])}); estimate those with ols_hac on their own rows"
        )
    nobs = mask.sum(axis=0)
    if (nobs <= k).any():
        j = int(np.flatnonzero(nobs <= k)[0])
        raise ValueError(f"column {j}: {int(nobs[j])} observations cannot identify {k} parameters")
    if lags is None:
        col_lags = np.floor(4.0 * (nobs / 100.0) ** (2.0 / 9.0)).astype(int)
    else:
        col_lags = np.full(Y.shape[1], int(lags))

    scale = np.sqrt((X**2).mean(axis=0))
    scale[scale == 0] = 1.0
    Xs = X / scale
    outer = (Xs[:, :, None] * Xs[:, None, :]).reshape(n_rows, k * k)
    m = Y.shape[1]
    params = np.empty((k, m))
    variances = np.empty((k, m))
    rsquared = np.empty(m)
    intercept = _has_intercept(X)
    for start in range(0, m, chunk):
        cols = slice(start, start + chunk)
        weight = mask[:, cols].astype(float)
        y = np.where(mask[:, cols], Y[:, cols], 0.0)
        xtx = (weight.T @ outer).reshape(-1, k, k)
        eigen = np.linalg.eigvalsh(xtx)
        singular = eigen[:, 0] <= nobs[cols] * k * np.finfo(float).eps * eigen[:, -1]
        if singular.any():
            j = start + int(np.flatnonzero(singular)[0])
            raise ValueError(f"column {j}: design matrix is rank deficient on its rows")
        beta = np.linalg.solve(xtx, (y.T @ Xs)[:, :, None])[:, :, 0]
        resid = (y - Xs @ beta.T) * weight
        meat = (resid**2).T @ outer
        lag_weight = np.empty(resid.shape[1])
        products = np.empty_like(resid)
        for lag in range(1, int(col_lags[cols].max(initial=0)) + 1):
            np.multiply(1.0 - lag / (col_lags[cols] + 1.0), col_lags[cols] >= lag, out=lag_weight)
            np.multiply(resid[lag:], resid[:-lag], out=products[: n_rows - lag])
            lagged = (Xs[lag:, :, None] * Xs[:-lag, None, :]).reshape(n_rows - lag, k * k)
            cross = (products[: n_rows - lag].T @ lagged).reshape(-1, k, k)
            meat += (lag_weight[:, None, None] * (cross + cross.transpose(0, 2, 1))).reshape(
                -1, k * k
            )
        bread = np.linalg.inv(xtx)
        sandwich = bread @ meat.reshape(-1, k, k) @ bread
        params[:, cols] = beta.T
        variances[:, cols] = np.diagonal(sandwich, axis1=1, axis2=2).T
        n_col = nobs[cols]
        if intercept:
            centred = (y - y.sum(axis=0) / n_col) * weight
        else:
            centred = y
        rsquared[cols] = 1.0 - (resid**2).sum(axis=0) / (centred**2).sum(axis=0)
    if small_sample:
        variances *= nobs / (nobs - k)
    params /= scale[:, None]
    bse = np.sqrt(variances) / scale[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        tvalues = params / bse
    pvalues = 2.0 * norm_sf(np.abs(tvalues))
    return MaskedOLSBatch(params, bse, tvalues, pvalues, rsquared, nobs, col_lags)


def _has_intercept(X: np.ndarray) -> bool:
    return bool(np.any(np.all(X == 1.0, axis=0)))


@one_blas_thread
def newey_west_mean(values, lags: int | None = None, small_sample: bool = False) -> pd.DataFrame:
    """Mean, Newey-West SE, t and p of each column (series may have different NaN spans).

    Columns sharing a missing-value pattern are estimated together in one batch.
    """
    frame = values.to_frame() if isinstance(values, pd.Series) else pd.DataFrame(values)
    data = frame.to_numpy(dtype=float)
    finite = ~np.isnan(data)
    # mean, se, t, p, n, lags
    out = np.full((frame.shape[1], 6), np.nan)
    patterns: dict[bytes, list[int]] = {}
    for j in range(frame.shape[1]):
        patterns.setdefault(finite[:, j].tobytes(), []).append(j)
    for cols in patterns.values():
        mask = finite[:, cols[0]]
        n_obs = int(mask.sum())
        if n_obs < 2:
            out[cols, 4] = n_obs
            continue
        res = ols_hac(
            np.ones((n_obs, 1)), data[mask][:, cols], lags=lags, small_sample=small_sample
        )
        out[cols, :4] = np.column_stack([res.params[0], res.bse[0], res.tvalues[0], res.pvalues[0]])
        out[cols, 4] = n_obs
        out[cols, 5] = res.lags
    result = pd.DataFrame(out[:, :4], index=frame.columns, columns=["mean", "se", "t", "p"])
    result["n"] = pd.array(out[:, 4], dtype="Float64").astype("Int64")
    result["lags"] = pd.array(out[:, 5], dtype="Float64").astype("Int64")
    return result


def annualised_sharpe(values, frequency: str) -> pd.Series:
    """mean / sd x sqrt(periods per year) per column (no rf subtracted: pass excess or spread returns)."""
    frame = values.to_frame() if isinstance(values, pd.Series) else pd.DataFrame(values)
    scale = np.sqrt(periods_per_year(frequency))
    return frame.mean() / frame.std(ddof=1) * scale


def latest_known(
    signal: pd.DataFrame,
    decisions: pd.DataFrame,
    *,
    entity: str = "cik",
    decision_date: str = "date",
    known_date: str = "known_date",
    strict: bool = False,
) -> pd.DataFrame:
    """For each (entity, decision date) row, the signal row with the latest known_date usable then.

    ``strict`` False allows known_date <= decision date (known at the decision), True only
    known_date < decision date. Returns ``decisions`` with the signal's columns attached
    (NaN where nothing was known yet); rows keep their original order.
    """
    for col in (entity, known_date):
        if col not in signal.columns:
            raise KeyError(f"signal frame has no column {col!r}")
    for col in (entity, decision_date):
        if col not in decisions.columns:
            raise KeyError(f"decision frame has no column {col!r}")
    left = decisions.reset_index(drop=True).assign(_row=lambda d: np.arange(len(d)))
    left["_key"] = pd.to_datetime(left[decision_date]).astype("datetime64[ns]")
    right = signal.copy()
    right["_key"] = pd.to_datetime(right[known_date]).astype("datetime64[ns]")
    right = right.dropna(subset=["_key"])
    overlap = [c for c in right.columns if c in left.columns and c not in (entity, "_key")]
    right = right.drop(columns=overlap)
    # Among filings known on the same day keep the last one in filing order.
    sort_cols = ["_key"] + [c for c in ("filing_date", "accession") if c in right.columns]
    right = right.sort_values(sort_cols, kind="mergesort")
    merged = pd.merge_asof(
        left.sort_values("_key", kind="mergesort"),
        right,
        on="_key",
        by=entity,
        direction="backward",
        allow_exact_matches=not strict,
    )
    return merged.sort_values("_row").drop(columns=["_row", "_key"]).reset_index(drop=True)
