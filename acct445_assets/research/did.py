"""Difference-in-differences of CECL adoption on bank x quarter outcomes (METHODS section 6).

- TWFE y_iq = a_i + l_q + b D_iq + e (research.fe: linearmodels PanelOLS's numbers), SEs clustered by bank
  and quarter (two-way); restricted wild cluster bootstrap p-value (Rademacher, null
  imposed, by bank) re-fitting the full two-way model at each draw through an exact
  projection, vectorised numpy; p < 1/(B+1) is reported as that bound with a flag.
- Event study: leads and lags -L..+L around adoption, -1 omitted, endpoints binned,
  two-way clustered SEs and a joint Wald test of the leads.
- Callaway & Sant'Anna ATT(g,t) with not-yet-treated controls and within-bank long
  differences against g-1 (universal base period) over the banks observed in both
  quarters, so listings, delistings and mergers cannot move a cell; aggregated to an overall ATT and an event-time
  curve, analytic SEs from bank-level influence functions; numpy.

The bootstrap and Callaway-Sant'Anna are the project's own code rather than the
``wildboottest`` and ``differences`` packages because those pull numba/llvmlite and polars
(~360 MB) into the deployment image; the tests check them against both packages.

Where the panel cannot identify an effect (no adoption dates, no untreated comparison,
no pre-period) the functions return a row whose ``status`` says why, never a bare NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from .fe import twfe_frame
from .stats import chi2_sf, norm_ppf, norm_sf

OK = "ok"


@dataclass
class DidResult:
    estimates: (
        pd.DataFrame
    )  # outcome, estimator, coef, se, t, p, ci_low, ci_high, wild_p, n_obs, clusters, status
    event_time: (
        pd.DataFrame
    )  # outcome, estimator (twfe_event|cs_dynamic), rel_quarter, coef, se, ci_low, ci_high
    att_gt: pd.DataFrame  # outcome, cohort, quarter, att, se
    pretrends: pd.DataFrame  # outcome, wald, df, p
    counts: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)


def quarter_number(quarters) -> np.ndarray:
    """'2020Q1' -> 4 x 2020 + 0, NaN for missing."""
    # Parse each distinct label once: a 5,000-bank panel has 200,000 rows but 40 quarters.
    codes, labels = pd.factorize(pd.Series(quarters).astype("string"))
    periods = pd.PeriodIndex(pd.Series(labels, dtype="string"), freq="Q")
    numbers = np.append(periods.year * 4 + periods.quarter - 1, np.nan).astype(float)
    return numbers[codes]


def prepare_panel(
    panel: pd.DataFrame,
    outcome: str,
    panel_start: str = "2018Q1",
    panel_end: str = "2025Q4",
    adoption: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Bank x quarter rows with ``t`` (quarter number), ``g`` (adoption quarter number, NaN if
    not adopted by panel_end) and ``D`` (adopted by t). ``adoption`` (cik, adoption_quarter)
    overrides the panel's own adoption_quarter column."""
    for col in ("cik", "quarter", outcome):
        if col not in panel.columns:
            raise ValueError(f"bank_quarter_panel has no column {col!r}")
    frame = panel[[c for c in ("cik", "quarter", outcome, "adoption_quarter") if c in panel]].copy()
    if adoption is not None:
        frame = frame.drop(columns="adoption_quarter", errors="ignore").merge(
            adoption[["cik", "adoption_quarter"]], on="cik", how="left"
        )
    if "adoption_quarter" not in frame:
        frame["adoption_quarter"] = pd.NA
    frame["t"] = quarter_number(frame["quarter"])
    lo, hi = quarter_number([panel_start, panel_end])
    frame = frame.loc[(frame["t"] >= lo) & (frame["t"] <= hi) & frame[outcome].notna()]
    g = quarter_number(frame["adoption_quarter"])
    frame["g"] = np.where(g > hi, np.nan, g)
    frame["D"] = (frame["t"] >= frame["g"]).astype(float)
    frame["t"] = frame["t"].astype(int)
    return frame.reset_index(drop=True)


def drop_unknown_adoption(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Rows of banks with a known adoption quarter and the number of banks left out.

    An unknown quarter is never read as "not adopted" (METHODS section 6); when no bank has
    one the frame is returned whole so that the caller reports "no adoption dates"."""
    unknown = frame["adoption_quarter"].isna()
    if unknown.all():
        return frame, 0
    n_unknown = int(frame.loc[unknown, "cik"].nunique())
    return frame.loc[~unknown].reset_index(drop=True), n_unknown


def cluster_counts(frame: pd.DataFrame) -> dict:
    first_t = frame.groupby("cik")["t"].min()
    g = frame.groupby("cik")["g"].first()
    treated_in_panel = g.notna() & (g > first_t)
    always = g.notna() & (g <= first_t)
    return {
        "n_banks": int(len(g)),
        "n_treated_clusters": int(treated_in_panel.sum()),
        "n_never_treated_clusters": int(g.isna().sum()),
        "n_always_treated_clusters": int(always.sum()),
        # Not-yet-treated comparisons: banks adopting after the earliest cohort, or never.
        "n_control_clusters": int((g.isna() | (g > g[treated_in_panel].min())).sum())
        if treated_in_panel.any()
        else int(g.isna().sum()),
        "n_cohorts": int(g[treated_in_panel].nunique()),
        "n_quarter_clusters": int(frame["t"].nunique()),
        "n_obs": int(len(frame)),
    }


def identification_problem(frame: pd.DataFrame) -> str | None:
    """Why TWFE/CS cannot identify an effect on this panel, or None."""
    if frame["g"].isna().all() and frame["adoption_quarter"].isna().all():
        return "no adoption dates: every bank lacks an adoption quarter"
    counts = cluster_counts(frame)
    if counts["n_treated_clusters"] == 0:
        return "no bank adopts inside the panel (no pre-period before adoption)"
    cohorts = frame.groupby("cik")["g"].first()
    latest = cohorts.max()
    has_control = cohorts.isna().any() or (cohorts.dropna() != cohorts.dropna().iloc[0]).any()
    if not has_control:
        return (
            f"no never- or not-yet-treated units: every bank adopts in the same quarter "
            f"({int(latest) // 4}Q{int(latest) % 4 + 1})"
        )
    return None


def demean_two_way(
    values: np.ndarray, entity: np.ndarray, time: np.ndarray, tol=1e-13, max_iter=10_000
):
    """Residuals of each column on entity and time dummies by alternating projections."""
    out = np.array(values, dtype=float, copy=True)
    if out.ndim == 1:
        out = out[:, None]
    n_e, n_t = entity.max() + 1, time.max() + 1
    count_e = np.bincount(entity, minlength=n_e)[:, None]
    count_t = np.bincount(time, minlength=n_t)[:, None]
    scale = np.maximum(np.abs(out).max(axis=0), 1e-300)
    for _ in range(max_iter):
        before = out.copy()
        sums = np.zeros((n_e, out.shape[1]))
        np.add.at(sums, entity, out)
        out -= (sums / count_e)[entity]
        sums = np.zeros((n_t, out.shape[1]))
        np.add.at(sums, time, out)
        out -= (sums / count_t)[time]
        if np.max(np.abs(out - before).max(axis=0) / scale) < tol:
            break
    return out


def _panel_ols(frame: pd.DataFrame, outcome: str, regressors: list[str]) -> pd.DataFrame:
    """Bank and quarter effects, two-way clustered SEs: linearmodels PanelOLS's numbers
    (``fit(cov_type="clustered", cluster_entity=True, cluster_time=True)``), exactly."""
    fit = twfe_frame(frame, outcome, regressors, entity="cik", time="t", cov="clustered")
    table = fit.table().set_index("term")
    table.attrs.update(nobs=fit.nobs, cov=pd.DataFrame(fit.cov, fit.names, fit.names))
    return table


def twfe(frame: pd.DataFrame, outcome: str, bootstrap_reps: int = 999, seed: int = 0) -> dict:
    """TWFE estimate of D with two-way clustered SEs and a wild cluster bootstrap p."""
    fitted = _panel_ols(frame, outcome, ["D"])
    res = fitted.loc["D"]
    # Sorted codes: each bank draws the same Rademacher sign whatever the row order.
    entity = pd.factorize(frame["cik"], sort=True)[0]
    time = pd.factorize(frame["t"], sort=True)[0]
    wild = {"wild_p": np.nan, "wild_p_bound": np.nan, "wild_p_below_bound": False}
    if bootstrap_reps:
        boot = wild_cluster_bootstrap(
            frame[outcome].to_numpy(),
            frame["D"].to_numpy(),
            entity,
            bootstrap_reps,
            seed,
            fixed_effects=(entity, time),
        )
        wild = {k: boot[k] for k in wild}
    return {
        "estimator": "twfe",
        "coef": float(res["coef"]),
        "se": float(res["se"]),
        "t": float(res["t"]),
        "p": float(res["p"]),
        "ci_low": float(res["ci_low"]),
        "ci_high": float(res["ci_high"]),
        **wild,
        "n_obs": int(fitted.attrs["nobs"]),
        "status": OK,
    }


def event_time_dummies(frame: pd.DataFrame, leads_lags: int = 8) -> tuple[pd.DataFrame, list[str]]:
    rel = (frame["t"] - frame["g"]).clip(-leads_lags, leads_lags)
    names = []
    out = frame.copy()
    for k in range(-leads_lags, leads_lags + 1):
        if k == -1:
            continue
        name = f"rel_m{-k}" if k < 0 else f"rel_p{k}"
        out[name] = (rel == k).astype(float)
        names.append(name)
    return out, names


def twfe_event_study(frame: pd.DataFrame, outcome: str, leads_lags: int = 8):
    """Leads/lags around adoption (-1 omitted, endpoints binned) and the pre-trend Wald test."""
    with_dummies, names = event_time_dummies(frame, leads_lags)
    present = [n for n in names if with_dummies[n].any()]
    res = _panel_ols(with_dummies, outcome, present)
    rel = [(-int(n[5:]) if n.startswith("rel_m") else int(n[5:])) for n in present]
    curve = pd.DataFrame(
        {
            "estimator": "twfe_event",
            "rel_quarter": rel,
            "coef": res.loc[present, "coef"].to_numpy(),
            "se": res.loc[present, "se"].to_numpy(),
            "ci_low": res.loc[present, "ci_low"].to_numpy(),
            "ci_high": res.loc[present, "ci_high"].to_numpy(),
        }
    )
    curve = pd.concat(
        [
            curve,
            pd.DataFrame(
                [
                    {
                        "estimator": "twfe_event",
                        "rel_quarter": -1,
                        "coef": 0.0,
                        "se": 0.0,
                        "ci_low": 0.0,
                        "ci_high": 0.0,
                    }
                ]
            ),
        ],
        ignore_index=True,
    ).sort_values("rel_quarter")
    leads = [n for n in present if n.startswith("rel_m")]
    if leads:
        b = res.loc[leads, "coef"].to_numpy()
        cov = res.attrs["cov"].loc[leads, leads].to_numpy()
        wald = float(b @ np.linalg.solve(cov, b))
        pretrend = {
            "wald": wald,
            "df": len(leads),
            "p": float(chi2_sf(wald, len(leads))),
            "status": OK,
        }
    else:
        pretrend = {
            "wald": np.nan,
            "df": 0,
            "p": np.nan,
            "status": "no pre-adoption quarters in the panel",
        }
    return curve.reset_index(drop=True), pretrend


def _quarter_label(number) -> str:
    number = int(number)
    return f"{number // 4}Q{number % 4 + 1}"


RADEMACHER = np.array([-1, 1])


def rademacher_weights(n_clusters: int, reps: int, seed: int) -> np.ndarray:
    """clusters x reps matrix of +-1. Drawn as one stream (cluster-major) so that, for the
    same seed, the matrix is the one ``wildboottest`` draws; all 2^G sign vectors when
    2^G < reps, as there."""
    if 2**n_clusters < reps:
        bits = (np.arange(2**n_clusters)[None, :] >> np.arange(n_clusters)[::-1, None]) & 1
        return (2 * bits - 1).astype(np.int8)
    draws = np.random.default_rng(seed).choice(RADEMACHER, size=n_clusters * reps)
    return draws.reshape(n_clusters, reps).astype(np.int8)


def group_sums(codes: np.ndarray, size: int) -> sparse.csr_matrix:
    """The (size x n) 0/1 matrix that sums the rows of an (n x k) array by code: one sparse
    product instead of np.add.at, which is an order of magnitude slower on the wild
    bootstrap's (rows x draws) blocks."""
    n = len(codes)
    return sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(size, n))


class TwoWayProjection:
    """Exact residuals of columns on bank and quarter dummies (any unbalanced panel).

    Bank effects are swept out by within-bank demeaning; the quarter effects then solve
    the T x T normal equations A g = c with A = diag(n_t) - C' diag(1/n_i) C (C the bank x
    quarter count matrix) and c the quarter sums of the within-bank residuals, so the
    projection costs one small pseudo-inverse, not an iteration per column.
    """

    def __init__(self, entity: np.ndarray, time: np.ndarray):
        self.entity = np.asarray(entity)
        self.time = np.asarray(time)
        n_e, n_t = int(self.entity.max()) + 1, int(self.time.max()) + 1
        counts = np.zeros((n_e, n_t))
        np.add.at(counts, (self.entity, self.time), 1.0)
        self.counts = counts
        self.n_entity = counts.sum(axis=1)
        gram = np.diag(counts.sum(axis=0)) - counts.T @ (counts / self.n_entity[:, None])
        self.inverse = np.linalg.pinv(gram)
        self.shape = (n_e, n_t)
        self.entity_sums = group_sums(self.entity, n_e)
        self.time_sums = group_sums(self.time, n_t)

    def residuals(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        flat = values.ndim == 1
        w = values[:, None] if flat else values
        w = w - (self.entity_sums @ w / self.n_entity[:, None])[self.entity]
        gamma = self.inverse @ (self.time_sums @ w)
        bank_part = (self.counts @ gamma) / self.n_entity[:, None]
        out = w - gamma[self.time] + bank_part[self.entity]
        return out[:, 0] if flat else out


def wild_cluster_bootstrap(
    y: np.ndarray,
    x: np.ndarray,
    cluster: np.ndarray,
    reps: int = 999,
    seed: int = 0,
    chunk_elements: int = 4_000_000,
    fixed_effects: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict:
    """Restricted (null b = 0 imposed) wild cluster bootstrap of the slope of y on one
    regressor x, Rademacher signs per cluster, CRV1 t statistics.

    Without ``fixed_effects`` the model is y = b x + e (for data already partialled out):
    the restricted residuals are y itself and t_b = sum_g c_g v_gb / sqrt(ssc sum_g
    Z_gb^2) with c_g = s_g / X'X, s_g = X_g'y_g and Z_gb = c_g v_gb - (X_g'X_g / (X'X)^2)
    sum_h s_h v_hb, the score form of Roodman et al. (2019).

    With ``fixed_effects=(entity, time)`` the full two-way model y = a_i + l_t + b x + e is
    re-fitted at every draw: restricted residuals u = M y (M the exact two-way
    annihilator), y*_b = (y - u) + u v_b, and the draw's residuals M y*_b - b_b M x are
    projected exactly. Demeaning once and bootstrapping the demeaned data instead is exact
    only when the quarter effects are nested in the clusters (they are not: clusters are
    banks); the re-fit has no such approximation.

    Returns p (share of |t_b| > |t|), t, the bootstrap t draws, and ``p_bound`` =
    1/(B+1) with ``p_below_bound``: when no draw exceeds |t| the p-value is only known to
    be below the bound, and ``wild_p`` reports the bound, never 0."""
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    codes = np.unique(np.asarray(cluster), return_inverse=True)[1].ravel()
    n_clusters = int(codes.max()) + 1
    projection = None
    if fixed_effects is not None:
        projection = TwoWayProjection(*fixed_effects)
        y, x = projection.residuals(np.column_stack([y, x])).T
        cluster_sums = group_sums(codes, n_clusters)
    xx = float(x @ x)
    slope = float(x @ y) / xx
    # CRV1 with k = 1 regressor: (N-1)/(N-k) = 1; the factor cancels in p anyway.
    ssc = n_clusters / (n_clusters - 1)
    score_hat = np.bincount(codes, weights=x * (y - slope * x), minlength=n_clusters)
    t_stat = slope / np.sqrt(ssc * np.sum(score_hat**2) / xx**2)
    score = np.bincount(codes, weights=x * y, minlength=n_clusters)
    leverage = np.bincount(codes, weights=x * x, minlength=n_clusters) / xx**2
    contribution = score / xx
    weights = rademacher_weights(n_clusters, reps, seed)
    width = max(1, chunk_elements // (len(y) if projection is not None else n_clusters))
    t_boot = np.empty(weights.shape[1])
    for start in range(0, weights.shape[1], width):
        v = weights[:, start : start + width].astype(float)
        numer = contribution @ v
        if projection is None:
            z = contribution[:, None] * v - leverage[:, None] * (score @ v)[None, :]
        else:
            # x'M(u v) = x'(u v) since x is already M x, so the slope needs no projection.
            resid = projection.residuals(y[:, None] * v[codes]) - numer[None, :] * x[:, None]
            z = cluster_sums @ (x[:, None] * resid) / xx
        t_boot[start : start + width] = numer / np.sqrt(ssc * np.sum(z**2, axis=0))
    # The all-ones sign vector (and its negative) reproduces |t| itself; rounding must not
    # decide whether such a draw "exceeds" it.
    p = float(np.mean(np.abs(t_boot) > np.abs(t_stat) * (1 + 1e-10)))
    bound = 1.0 / (weights.shape[1] + 1)
    return {
        "p": p,
        "wild_p": max(p, bound),
        "wild_p_bound": bound,
        "wild_p_below_bound": bool(p == 0.0),
        "t": float(t_stat),
        "t_boot": t_boot,
    }


@dataclass
class GroupTimeATT:
    cells: pd.DataFrame  # cohort, t, base, att, se, ci_low, ci_high, n_treated, n_control
    influence: np.ndarray  # banks x cells, unit-level influence functions
    cohort_share: np.ndarray  # banks x cells, 1 if the bank is in the cell's cohort
    banks: np.ndarray
    notes: list[str]


def _se_from_influence(influence: np.ndarray) -> np.ndarray:
    return np.sqrt(np.sum(influence**2, axis=0)) / influence.shape[0]


def group_time_att(frame: pd.DataFrame, outcome: str, alpha: float = 0.05) -> GroupTimeATT:
    """Callaway-Sant'Anna ATT(g,t), no covariates, not-yet-treated controls, universal base
    period b = last quarter before g.

    Each cell uses within-bank long differences d_i = y_it - y_ib over the banks observed
    in both t and b: ATT(g,t) = mean_treated(d) - mean_control(d). A bank that lists,
    delists or merges between b and t is left out of that cell, so entry and exit cannot
    move the estimate (METHODS section 6; R's ``did`` treats unbalanced panels the same
    way cell by cell, whereas pooling cohort means over whoever is present turns the panel
    into repeated cross-sections). On a balanced panel the two coincide, and the cells
    equal ``differences.ATTgt``. Controls are never-treated banks and banks with
    G > max(t, b). Influence functions are per bank, so SEs are clustered by bank. With no
    never-treated bank the last cohort is the comparison group and quarters from its
    adoption on are dropped (the ``differences`` convention)."""
    notes = []
    data = frame[["cik", "t", "g", outcome]].copy()
    cohort_of = data.groupby("cik")["g"].first()
    if cohort_of.notna().all():
        last = cohort_of.max()
        notes.append(
            "no never-treated banks: the last cohort "
            f"({_quarter_label(last)}) is the comparison group, quarters from its adoption on dropped"
        )
        data = data.loc[data["t"] < last]
        data["g"] = data["g"].where(data["g"] != last)
    banks, bank_code = np.unique(data["cik"].to_numpy(), return_inverse=True)
    n_banks = len(banks)
    times, time_code = np.unique(data["t"].to_numpy(), return_inverse=True)
    # banks x quarters; NaN where a bank has no observation.
    wide = np.full((n_banks, len(times)), np.nan)
    wide[bank_code, time_code] = data[outcome].to_numpy(dtype=float)
    bank_cohort = np.full(n_banks, np.nan)
    bank_cohort[bank_code] = data["g"].to_numpy()
    z = norm_ppf(1 - alpha / 2)
    rows, influences, members = [], [], []
    for cohort in np.unique(bank_cohort[~np.isnan(bank_cohort)]):
        earlier = np.flatnonzero(times < cohort)
        if not len(earlier):
            continue
        base_col = earlier.max()
        base = times[base_col]
        treated = bank_cohort == cohort
        member = treated.astype(float)
        for col, t in enumerate(times):
            row = {"cohort": int(cohort), "t": int(t), "base": int(base)}
            influence = np.zeros(n_banks)
            if t == base:
                rows.append({**row, "att": 0.0, "se": np.nan, "n_treated": 0, "n_control": 0})
                influences.append(influence)
                members.append(member)
                continue
            change = wide[:, col] - wide[:, base_col]
            observed = ~np.isnan(change)
            control = np.isnan(bank_cohort) | (~treated & (bank_cohort > max(t, base)))
            in_treated, in_control = treated & observed, control & observed
            n_treated, n_control = int(in_treated.sum()), int(in_control.sum())
            if n_treated == 0 or n_control == 0:
                notes.append(
                    f"ATT({_quarter_label(cohort)}, {_quarter_label(t)}) not estimable: "
                    "no treated or no comparison bank observed in both quarters"
                )
                continue
            mean_treated = change[in_treated].mean()
            mean_control = change[in_control].mean()
            influence[in_treated] = n_banks / n_treated * (change[in_treated] - mean_treated)
            influence[in_control] = -n_banks / n_control * (change[in_control] - mean_control)
            rows.append(
                {
                    **row,
                    "att": float(mean_treated - mean_control),
                    "se": float(_se_from_influence(influence[:, None])[0]),
                    "n_treated": n_treated,
                    "n_control": n_control,
                }
            )
            influences.append(influence)
            members.append(member)
    if not any(row["t"] >= row["cohort"] for row in rows):
        raise ValueError("no estimable post-adoption ATT(g,t) cell (no comparison banks)")
    cells = pd.DataFrame(rows)
    cells["ci_low"] = cells["att"] - z * cells["se"]
    cells["ci_high"] = cells["att"] + z * cells["se"]
    return GroupTimeATT(
        cells=cells,
        influence=np.column_stack(influences),
        cohort_share=np.column_stack(members),
        banks=banks,
        notes=notes,
    )


def aggregate_att(result: GroupTimeATT, selected: np.ndarray) -> tuple[float, float]:
    """Cohort-size-weighted average of the selected ATT(g,t) cells and its SE from the
    aggregated influence function, including the term for the estimated cohort shares
    (Callaway & Sant'Anna 2021, as in ``differences``/``did``)."""
    att = result.cells["att"].to_numpy()[selected]
    dummies = result.cohort_share[:, selected]
    shares = dummies.mean(axis=0)
    total = shares.sum()
    centred = dummies - shares
    weight_influence = centred / total - np.outer(centred.sum(axis=1), shares / total**2)
    influence = result.influence[:, selected] @ (shares / total) + weight_influence @ att
    return float(att @ (shares / total)), float(_se_from_influence(influence[:, None])[0])


def callaway_santanna(frame: pd.DataFrame, outcome: str, alpha: float = 0.05):
    """ATT(g,t) cells, the overall ATT (post-adoption cells, cohort-size weighted) and the
    dynamic event-time curve, with analytic bank-clustered SEs."""
    result = group_time_att(frame, outcome, alpha)
    cells = result.cells
    z = norm_ppf(1 - alpha / 2)
    att, se = aggregate_att(result, (cells["t"] >= cells["cohort"]).to_numpy())
    estimate = {
        "estimator": "callaway_santanna",
        "coef": att,
        "se": se,
        "t": att / se,
        "p": float(2 * norm_sf(abs(att / se))),
        "ci_low": att - z * se,
        "ci_high": att + z * se,
        "wild_p": np.nan,
        "n_obs": int(len(frame)),
        "status": OK,
    }
    relative = (cells["t"] - cells["cohort"]).to_numpy()
    is_base = (cells["t"] == cells["base"]).to_numpy()
    dynamic = []
    for rel in np.unique(relative):
        selected = relative == rel
        coef, se = aggregate_att(result, selected)
        dynamic.append(
            {"rel_quarter": int(rel), "coef": coef, "se": np.nan if is_base[selected].all() else se}
        )
    curve = pd.DataFrame(dynamic).assign(estimator="cs_dynamic")
    curve["ci_low"] = curve["coef"] - z * curve["se"]
    curve["ci_high"] = curve["coef"] + z * curve["se"]
    curve = curve[["estimator", "rel_quarter", "coef", "se", "ci_low", "ci_high"]]
    att_gt = cells[["cohort", "t", "att", "se", "ci_low", "ci_high"]]
    return estimate, curve, att_gt, result.notes


def did_analysis(
    panel: pd.DataFrame,
    outcomes=("volatility", "ret"),
    *,
    adoption: pd.DataFrame | None = None,
    panel_start: str = "2018Q1",
    panel_end: str = "2025Q4",
    leads_lags: int = 8,
    bootstrap_reps: int = 999,
    seed: int = 0,
) -> DidResult:
    """All DiD estimators for each outcome of the bank_quarter_panel."""
    estimates, curves, cells, pretrends, notes = [], [], [], [], []
    counts = {}
    for outcome in outcomes:
        frame = prepare_panel(panel, outcome, panel_start, panel_end, adoption)
        frame, n_unknown = drop_unknown_adoption(frame)
        counts[outcome] = cluster_counts(frame) if len(frame) else {"n_obs": 0}
        counts[outcome]["n_excluded_unknown_adoption"] = n_unknown
        if n_unknown and len(frame):
            notes.append(
                f"{outcome}: {n_unknown} bank(s) with an unknown adoption quarter (filer status "
                "unknown, no stated or supplied date) excluded"
            )
        problem = "panel is empty" if frame.empty else identification_problem(frame)
        if problem:
            notes.append(f"{outcome}: {problem}; DiD not estimated")
            for estimator in ("twfe", "callaway_santanna"):
                estimates.append({"outcome": outcome, "estimator": estimator, "status": problem})
            pretrends.append({"outcome": outcome, "status": problem})
            continue
        estimates.append({"outcome": outcome, **twfe(frame, outcome, bootstrap_reps, seed)})
        curve, pretrend = twfe_event_study(frame, outcome, leads_lags)
        curves.append(curve.assign(outcome=outcome))
        pretrends.append({"outcome": outcome, **pretrend})
        try:
            estimate, dynamic, att_gt, cs_notes = callaway_santanna(frame, outcome)
        except ValueError as err:
            message = f"Callaway-Sant'Anna not estimable: {err}"
            estimates.append(
                {"outcome": outcome, "estimator": "callaway_santanna", "status": message}
            )
            notes.append(f"{outcome}: {message}")
            continue
        estimates.append({"outcome": outcome, **estimate})
        curves.append(dynamic.assign(outcome=outcome))
        cells.append(
            att_gt.assign(
                outcome=outcome,
                cohort=att_gt["cohort"].map(_quarter_label),
                quarter=att_gt["t"].map(_quarter_label),
            ).drop(columns="t")
        )
        notes.extend(f"{outcome}: {n}" for n in cs_notes)
    for row in estimates:
        row.update({k: v for k, v in counts[row["outcome"]].items() if k != "n_obs"})
    params = {
        "outcomes": list(outcomes),
        "panel_start": panel_start,
        "panel_end": panel_end,
        "leads_lags": leads_lags,
        "bootstrap_reps": bootstrap_reps,
        "control_group": "not_yet_treated",
        "base_period": "universal (g-1)",
        "cs_differences": "within-bank long differences over banks observed at t and g-1",
        "unknown_adoption": "excluded and counted (n_excluded_unknown_adoption)",
        "cs_library": (
            "acct445_assets.research.did.callaway_santanna (numpy; cross-checked against "
            "differences.ATTgt in the tests)"
        ),
        "wild_bootstrap_library": (
            "acct445_assets.research.did.wild_cluster_bootstrap (Rademacher, null imposed, "
            "clustered by bank, two-way model re-fitted at each draw; numpy, cross-checked "
            "against wildboottest and a dummy-variable re-fit in the tests)"
        ),
    }

    def frame_of(parts):
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    return DidResult(
        estimates=pd.DataFrame(estimates),
        event_time=frame_of(curves),
        att_gt=frame_of(cells),
        pretrends=pd.DataFrame(pretrends),
        counts=counts,
        notes=notes,
        params=params,
    )
