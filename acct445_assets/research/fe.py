"""Two-way (bank, quarter) fixed-effects OLS on an unbalanced panel, in numpy.

The within transformation is exact, not iterative (METHODS, difference-in-differences and
panel regressions): by Frisch-Waugh-Lovell the residual of a column on bank and quarter
dummies is its bank-demeaned value less the bank-demeaned quarter dummies times their
coefficients, and those coefficients solve a (quarters x quarters) system built from
per-bank counts. Only bincounts over the rows and one small dense solve are needed, so
the cost is linear in the rows; the smaller of the two dimensions takes the dense role.

Covariances reproduce linearmodels ``PanelOLS(entity_effects=True, time_effects=True)``:

- ``"clustered"`` = ``fit(cov_type="clustered", cluster_entity=True, cluster_time=True)``:
  Cameron-Gelbach-Miller, bank + quarter - (bank x quarter), scaled by
  n / (n - k - (N + T - 1)) (``debiased=True`` and the effects counted);
- ``"driscoll-kraay"`` = ``fit(cov_type="kernel", kernel="bartlett", bandwidth=L)``:
  Bartlett-weighted autocovariances of the per-quarter score sums, same scale;
- ``"unadjusted"``: s^2 (X'X)^-1 with the same degrees of freedom.

Inference uses t(n - k - (N + T - 1)), as linearmodels does when debiased.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .stats import t_ppf, t_sf

COVARIANCES = ("clustered", "driscoll-kraay", "unadjusted")


@dataclass(frozen=True)
class TwoWayFit:
    """Result of :func:`twfe_ols`; arrays are ordered as ``names``."""

    names: list[str]
    params: np.ndarray
    cov: np.ndarray
    se: np.ndarray
    tstat: np.ndarray
    pvalue: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    nobs: int
    n_entities: int
    n_times: int
    df_resid: int
    rsquared: float  # of the two-way demeaned regression (linearmodels ``rsquared``)
    rsquared_within: float  # on bank-demeaned data (linearmodels ``rsquared_within``)
    resid: np.ndarray

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "term": self.names,
                "coef": self.params,
                "se": self.se,
                "t": self.tstat,
                "p": self.pvalue,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
            }
        )


def codes(labels) -> tuple[np.ndarray, int]:
    """Dense integer codes 0..G-1 of ``labels`` and G; integer labels skip factorising."""
    labels = np.asarray(labels)
    if labels.dtype.kind in "iu" and len(labels):
        low = labels.min()
        span = int(labels.max() - low) + 1
        if span <= 4 * len(labels) + 16:
            shifted = (labels - low).astype(np.intp)
            present = np.zeros(span, dtype=bool)
            present[shifted] = True
            remap = np.cumsum(present) - 1
            return remap[shifted], int(present.sum())
    inverse = pd.factorize(labels, sort=True)[0].astype(np.intp)
    return inverse, int(inverse.max()) + 1 if len(inverse) else 0


def _group_sums(group: np.ndarray, n_groups: int, values: np.ndarray) -> np.ndarray:
    return np.stack(
        [
            np.bincount(group, weights=values[:, j], minlength=n_groups)
            for j in range(values.shape[1])
        ],
        axis=1,
    )


class TwoWayDemeaner:
    """Exact two-way within transformation for fixed (entity, time) codes.

    Built once per panel; :meth:`demean` then costs a few bincounts per column, so the
    outcome, the regressors and any bootstrap draws share the factorisation.
    """

    def __init__(self, entity: np.ndarray, time: np.ndarray, n_entity: int, n_time: int):
        # The larger dimension is absorbed by group means, the smaller solved densely.
        if n_time <= n_entity:
            self.big, self.small, self.n_big, self.n_small = entity, time, n_entity, n_time
        else:
            self.big, self.small, self.n_big, self.n_small = time, entity, n_time, n_entity
        self.count_big = np.bincount(self.big, minlength=self.n_big).astype(float)
        self.count_small = np.bincount(self.small, minlength=self.n_small).astype(float)
        # incidence[b, s] = rows of big group b in small group s (0/1 when cells are unique)
        cell = self.big * self.n_small + self.small
        incidence = np.bincount(cell, minlength=self.n_big * self.n_small).astype(float)
        self.incidence = incidence.reshape(self.n_big, self.n_small)
        # D_s' M_b D_s = diag(count_s) - C' diag(1 / count_b) C
        gram = np.diag(self.count_small) - self.incidence.T @ (
            self.incidence / self.count_big[:, None]
        )
        # One small-dimension level per connected component is not identified; the
        # pseudo-inverse picks the minimum-norm solution, which leaves the residual exact.
        self.gram_pinv = np.linalg.pinv(gram, rcond=1e-10, hermitian=True)

    def demean(self, values: np.ndarray, *, big_only: bool = False) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        flat = values.ndim == 1
        v = values[:, None] if flat else values
        mean_big = _group_sums(self.big, self.n_big, v) / self.count_big[:, None]
        out = v - mean_big[self.big]
        if not big_only:
            # D_s' M_b v = sums of v by small group - C' (means of v by big group)
            rhs = _group_sums(self.small, self.n_small, v) - self.incidence.T @ mean_big
            gamma = self.gram_pinv @ rhs
            # M_b D_s gamma = gamma[small] - (C gamma / count_b)[big]
            gamma_big = (self.incidence @ gamma) / self.count_big[:, None]
            out -= gamma[self.small] - gamma_big[self.big]
        return out[:, 0] if flat else out


def _cluster_meat(scores: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    sums = _group_sums(group, n_groups, scores)
    return sums.T @ sums


def twfe_ols(
    y,
    X,
    entity,
    time,
    *,
    names: list[str] | None = None,
    cov: str = "clustered",
    bandwidth: float | None = None,
    alpha: float = 0.05,
) -> TwoWayFit:
    """OLS of ``y`` on ``X`` with entity and time fixed effects.

    Parameters
    ----------
    y : (n,) array
    X : (n, k) array of regressors (no constant: the effects absorb it)
    entity, time : (n,) labels of the bank and the quarter (integers are used as codes)
    cov : "clustered" (two-way, bank and quarter), "driscoll-kraay" or "unadjusted"
    bandwidth : Bartlett bandwidth of Driscoll-Kraay (linearmodels' rule of thumb if None)
    """
    if cov not in COVARIANCES:
        raise ValueError(f"cov must be one of {COVARIANCES}, got {cov!r}")
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    n, k = X.shape
    names = list(names) if names is not None else [f"x{j}" for j in range(k)]
    if len(y) != n or len(names) != k:
        raise ValueError(f"y has {len(y)} rows, X {n} rows x {k} columns, names {len(names)}")
    if not (np.isfinite(y).all() and np.isfinite(X).all()):
        raise ValueError("y and X must be finite (drop missing rows first)")
    e_codes, n_e = codes(entity)
    t_codes, n_t = codes(time)
    demeaner = TwoWayDemeaner(e_codes, t_codes, n_e, n_t)
    both = demeaner.demean(np.column_stack([y, X]))
    y_w, X_w = both[:, 0], both[:, 1:]
    n_effects = n_e + n_t - 1
    df_resid = n - k - n_effects
    if df_resid <= 0:
        raise ValueError(
            f"no residual degrees of freedom: {n} rows, {k} regressors, {n_effects} effects"
        )
    xtx = X_w.T @ X_w
    scale_x = np.sqrt(np.maximum(np.diag(xtx), 1e-300) / np.maximum((X**2).sum(axis=0), 1e-300))
    absorbed = [name for name, s in zip(names, scale_x, strict=True) if s < 1e-8]
    if absorbed or np.linalg.matrix_rank(xtx) < k:
        raise ValueError(
            f"regressors absorbed by the bank and quarter effects or collinear: {absorbed or names}"
        )
    xtx_inv = np.linalg.inv(xtx)
    params = xtx_inv @ (X_w.T @ y_w)
    resid = y_w - X_w @ params
    scale = n / df_resid
    if cov == "unadjusted":
        covariance = xtx_inv * float(resid @ resid) / df_resid
    else:
        scores = X_w * resid[:, None]
        if cov == "clustered":
            cell, n_cell = codes(e_codes.astype(np.int64) * n_t + t_codes)
            if n_cell == n:
                meat_cell = scores.T @ scores
            else:
                meat_cell = _cluster_meat(scores, cell, n_cell)
            meat = (
                _cluster_meat(scores, e_codes, n_e)
                + _cluster_meat(scores, t_codes, n_t)
                - meat_cell
            )
        else:
            if bandwidth is None:
                bandwidth = float(np.floor(4 * (n_t / 100) ** (2 / 9)))
            if bandwidth >= n_t:
                raise ValueError(f"bandwidth {bandwidth:g} must be below the {n_t} periods")
            per_time = _group_sums(t_codes, n_t, scores)  # codes are sorted periods
            meat = per_time.T @ per_time
            for lag in range(1, int(np.floor(bandwidth)) + 1):
                weight = 1.0 - lag / (bandwidth + 1.0)
                cross = per_time[lag:].T @ per_time[:-lag]
                meat += weight * (cross + cross.T)
        covariance = xtx_inv @ meat @ xtx_inv * scale
        covariance = (covariance + covariance.T) / 2
    se = np.sqrt(np.diag(covariance))
    tstat = params / se
    pvalue = 2 * t_sf(np.abs(tstat), df_resid)
    crit = t_ppf(1 - alpha / 2, df_resid)
    y_e = demeaner.demean(y, big_only=True) if demeaner.big is e_codes else None
    if y_e is None:  # entity is the small dimension: bank-demean directly
        y_e = y - (np.bincount(e_codes, weights=y, minlength=n_e) / np.bincount(e_codes))[e_codes]
        X_e = X - _group_sums(e_codes, n_e, X)[e_codes] / np.bincount(e_codes)[e_codes, None]
    else:
        X_e = demeaner.demean(X, big_only=True)
    resid_e = y_e - X_e @ params
    return TwoWayFit(
        names=names,
        params=params,
        cov=covariance,
        se=se,
        tstat=tstat,
        pvalue=pvalue,
        ci_low=params - crit * se,
        ci_high=params + crit * se,
        nobs=n,
        n_entities=n_e,
        n_times=n_t,
        df_resid=df_resid,
        rsquared=_r2(resid, y_w),
        rsquared_within=_r2(resid_e, y_e),
        resid=resid,
    )


def _r2(resid: np.ndarray, centred: np.ndarray) -> float:
    total = float(centred @ centred)
    return 1.0 - float(resid @ resid) / total if total > 0 else np.nan


def twfe_frame(
    frame: pd.DataFrame,
    outcome: str,
    regressors: list[str],
    *,
    entity: str = "cik",
    time: str = "t",
    cov: str = "clustered",
    bandwidth: float | None = None,
    alpha: float = 0.05,
) -> TwoWayFit:
    """:func:`twfe_ols` on columns of ``frame`` (rows with a missing value dropped)."""
    data = frame[[entity, time, outcome, *regressors]].dropna()
    return twfe_ols(
        data[outcome].to_numpy(dtype=float),
        data[regressors].to_numpy(dtype=float),
        data[entity].to_numpy(),
        data[time].to_numpy(),
        names=list(regressors),
        cov=cov,
        bandwidth=bandwidth,
        alpha=alpha,
    )
