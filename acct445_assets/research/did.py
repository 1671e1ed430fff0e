"""Difference-in-differences of CECL adoption on bank x quarter outcomes (METHODS section 6).

- TWFE y_iq = a_i + l_q + b D_iq + e with linearmodels PanelOLS, SEs clustered by bank
  and quarter (two-way); wild cluster bootstrap p-value (Rademacher, null imposed, by
  bank) from the maintained ``wildboottest`` package, run on the two-way-demeaned data
  (Frisch-Waugh-Lovell: the same coefficient and the same bootstrap t distribution).
- Event study: leads and lags -L..+L around adoption, -1 omitted, endpoints binned,
  two-way clustered SEs and a joint Wald test of the leads.
- Callaway & Sant'Anna ATT(g,t) with not-yet-treated controls and long differences
  against g-1 (``base_period="universal"``) from the maintained ``differences`` package
  (ATTgt), aggregated to an overall ATT and an event-time curve, analytic SEs.

Where the panel cannot identify an effect (no adoption dates, no untreated comparison,
no pre-period) the functions return a row whose ``status`` says why, never a bare NaN.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from linearmodels import PanelOLS
from scipy import stats

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
    periods = pd.PeriodIndex(pd.Series(quarters).astype("string").fillna(pd.NA), freq="Q")
    return np.where(periods.isna(), np.nan, periods.year * 4 + periods.quarter - 1).astype(float)


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


def _panel_ols(frame: pd.DataFrame, outcome: str, regressors: list[str]):
    data = frame.set_index(["cik", "t"])
    model = PanelOLS(data[outcome], data[regressors], entity_effects=True, time_effects=True)
    return model.fit(cov_type="clustered", cluster_entity=True, cluster_time=True)


def twfe(frame: pd.DataFrame, outcome: str, bootstrap_reps: int = 999, seed: int = 0) -> dict:
    """TWFE estimate of D with two-way clustered SEs and a wild cluster bootstrap p."""
    from wildboottest.wildboottest import wildboottest

    res = _panel_ols(frame, outcome, ["D"])
    ci = res.conf_int().loc["D"]
    entity = pd.factorize(frame["cik"])[0]
    time = pd.factorize(frame["t"])[0]
    tilde = demean_two_way(frame[[outcome, "D"]].to_numpy(), entity, time)
    wild_p = np.nan
    if bootstrap_reps:
        boot = wildboottest(
            sm.OLS(tilde[:, 0], pd.DataFrame({"D": tilde[:, 1]})),
            B=bootstrap_reps,
            cluster=entity,
            param="D",
            weights_type="rademacher",
            impose_null=True,
            seed=seed,
            show=False,
        )
        wild_p = float(boot["p-value"].iloc[0])
    return {
        "estimator": "twfe",
        "coef": float(res.params["D"]),
        "se": float(res.std_errors["D"]),
        "t": float(res.tstats["D"]),
        "p": float(res.pvalues["D"]),
        "ci_low": float(ci["lower"]),
        "ci_high": float(ci["upper"]),
        "wild_p": wild_p,
        "n_obs": int(res.nobs),
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
    ci = res.conf_int()
    rel = [(-int(n[5:]) if n.startswith("rel_m") else int(n[5:])) for n in present]
    curve = pd.DataFrame(
        {
            "estimator": "twfe_event",
            "rel_quarter": rel,
            "coef": res.params[present].to_numpy(),
            "se": res.std_errors[present].to_numpy(),
            "ci_low": ci.loc[present, "lower"].to_numpy(),
            "ci_high": ci.loc[present, "upper"].to_numpy(),
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
        b = res.params[leads].to_numpy()
        cov = res.cov.loc[leads, leads].to_numpy()
        wald = float(b @ np.linalg.solve(cov, b))
        pretrend = {
            "wald": wald,
            "df": len(leads),
            "p": float(stats.chi2.sf(wald, len(leads))),
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


def callaway_santanna(frame: pd.DataFrame, outcome: str):
    """ATT(g,t) with not-yet-treated controls (differences.ATTgt), overall and dynamic."""
    from differences import ATTgt

    data = frame.assign(cohort=frame["g"]).set_index(["cik", "t"])[[outcome, "cohort"]]
    notes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        att = ATTgt(data=data, cohort_column="cohort", base_period="universal")
        result = att.fit(outcome, control_group="not_yet_treated", progress_bar=False)
        simple = att.aggregate("simple")
        dynamic = att.aggregate("event")
    notes.extend(f"differences: {w.message}" for w in caught if issubclass(w.category, UserWarning))
    del result
    table = att.results()
    table.columns = [c[-1] for c in table.columns]
    att_gt = table.reset_index()[["cohort", "time", "ATT", "std_error", "lower", "upper"]]
    att_gt.columns = ["cohort", "t", "att", "se", "ci_low", "ci_high"]
    simple.columns = [c[-1] for c in simple.columns]
    dynamic.columns = [c[-1] for c in dynamic.columns]
    overall = simple.iloc[0]
    z = overall["ATT"] / overall["std_error"]
    estimate = {
        "estimator": "callaway_santanna",
        "coef": float(overall["ATT"]),
        "se": float(overall["std_error"]),
        "t": float(z),
        "p": float(2 * stats.norm.sf(abs(z))),
        "ci_low": float(overall["lower"]),
        "ci_high": float(overall["upper"]),
        "wild_p": np.nan,
        "n_obs": int(len(frame)),
        "status": OK,
    }
    curve = pd.DataFrame(
        {
            "estimator": "cs_dynamic",
            "rel_quarter": dynamic.index.to_numpy().astype(int),
            "coef": dynamic["ATT"].to_numpy(),
            "se": dynamic["std_error"].to_numpy(),
            "ci_low": dynamic["lower"].to_numpy(),
            "ci_high": dynamic["upper"].to_numpy(),
        }
    )
    return estimate, curve, att_gt, notes


def _quarter_label(number) -> str:
    number = int(number)
    return f"{number // 4}Q{number % 4 + 1}"


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
        counts[outcome] = cluster_counts(frame) if len(frame) else {"n_obs": 0}
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
        except Exception as err:  # the library raises bare errors on degenerate panels
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
        "cs_library": "differences.ATTgt",
        "wild_bootstrap_library": "wildboottest (Rademacher, null imposed, clustered by bank)",
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
