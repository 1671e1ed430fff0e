"""Panel regression of next-quarter returns on CNOI (METHODS section 7).

Two estimators on the bank x quarter panel (``next_ret``, the return of quarter q+1, on
the ``cnoi`` known at the end of q plus q's own controls ``log_mv`` (at its end), ``ret``
and ``volatility``, all known at the decision date):
- bank and quarter fixed effects, Driscoll-Kraay SEs (``research.fe``: the numbers of
  linearmodels PanelOLS cov_type="kernel", Bartlett kernel, bandwidth ``nw_lags``). With bank effects the CNOI
  coefficient is identified only from changes in a bank's CNOI over time;
- Fama-MacBeth: one cross-sectional OLS per quarter, Newey-West SEs on the series of
  quarterly coefficients. This is the estimator of the cross-sectional opacity premium.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .did import quarter_number
from .fe import twfe_frame
from .stats import newey_west_mean, t_ppf, t_sf

CONTROLS = ("log_mv", "ret", "volatility")


@dataclass
class PanelResult:
    coefficients: (
        pd.DataFrame
    )  # estimator, term, coef, se, t, p, ci_low, ci_high, n_obs, n_periods, r2
    fm_series: pd.DataFrame  # quarter x term coefficient series of Fama-MacBeth
    notes: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)


def regression_sample(
    panel: pd.DataFrame, outcome: str = "next_ret", signal: str = "cnoi", controls=CONTROLS
) -> pd.DataFrame:
    cols = [outcome, signal, *controls]
    missing = [c for c in ("cik", "quarter", *cols) if c not in panel.columns]
    if missing:
        raise ValueError(f"bank_quarter_panel lacks columns {missing}")
    frame = panel[["cik", "quarter", *cols]].dropna().copy()
    frame["t"] = quarter_number(frame["quarter"]).astype(int)
    return frame.reset_index(drop=True)


def fixed_effects_dk(frame: pd.DataFrame, outcome: str, regressors: list[str], nw_lags: int):
    fit = twfe_frame(
        frame, outcome, regressors, entity="cik", time="t", cov="driscoll-kraay", bandwidth=nw_lags
    )
    return pd.DataFrame(
        {
            "estimator": "fixed_effects_driscoll_kraay",
            "term": regressors,
            "coef": fit.params,
            "se": fit.se,
            "t": fit.tstat,
            "p": fit.pvalue,
            "ci_low": fit.ci_low,
            "ci_high": fit.ci_high,
            "n_obs": int(fit.nobs),
            "n_periods": int(frame["t"].nunique()),
            "r2": float(fit.rsquared_within),
        }
    )


def fama_macbeth(
    frame: pd.DataFrame, outcome: str, regressors: list[str], nw_lags: int | None
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Per-quarter OLS, then Newey-West mean of each coefficient series."""
    notes = []
    terms = ["const", *regressors]
    rows, index = [], []
    frame = frame.sort_values("t")
    for t, block in frame.groupby("t", sort=True):
        if len(block) <= len(terms) + 1:
            notes.append(
                f"quarter {t // 4}Q{t % 4 + 1}: {len(block)} banks, too few for the cross-section"
            )
            continue
        X = np.column_stack([np.ones(len(block)), block[regressors].to_numpy(dtype=float)])
        coef, _, rank, _ = np.linalg.lstsq(X, block[outcome].to_numpy(dtype=float), rcond=None)
        if rank < len(terms):
            notes.append(f"quarter {t // 4}Q{t % 4 + 1}: regressors collinear; skipped")
            continue
        rows.append(coef)
        index.append(f"{t // 4}Q{t % 4 + 1}")
    series = pd.DataFrame(rows, index=pd.Index(index, name="quarter"), columns=terms)
    summary = newey_west_mean(series, lags=nw_lags)
    dof = len(series) - 1
    crit = t_ppf(0.975, dof) if dof > 0 else np.nan
    table = pd.DataFrame(
        {
            "estimator": "fama_macbeth",
            "term": terms,
            "coef": summary["mean"].to_numpy(dtype=float),
            "se": summary["se"].to_numpy(dtype=float),
            "t": summary["t"].to_numpy(dtype=float),
            # t(T-1) reference for the few quarters a bank panel has.
            "p": 2 * t_sf(np.abs(summary["t"].to_numpy(dtype=float)), dof),
            "n_obs": int(len(frame)),
            "n_periods": len(series),
        }
    )
    table["ci_low"] = table["coef"] - crit * table["se"]
    table["ci_high"] = table["coef"] + crit * table["se"]
    return table, series, notes


def panel_regression(
    panel: pd.DataFrame,
    *,
    outcome: str = "next_ret",
    signal: str = "cnoi",
    controls=CONTROLS,
    nw_lags: int = 4,
    min_banks: int = 10,
) -> PanelResult:
    # METHODS 7: a control the data cannot supply (no shares -> no log_mv) is dropped and
    # recorded, never a reason to return no estimate.
    dropped = {
        c: "column absent" if c not in panel.columns else "no non-missing value"
        for c in controls
        if c not in panel.columns or panel[c].notna().sum() == 0
    }
    controls = [c for c in controls if c not in dropped]
    notes = [
        f"control {c} dropped: {why} (the data cannot supply it)" for c, why in dropped.items()
    ]
    frame = regression_sample(panel, outcome, signal, controls)
    regressors = [signal, *controls]
    params = {
        "outcome": outcome,
        "signal": signal,
        "controls": list(controls),
        "controls_dropped": dropped,
        "nw_lags": nw_lags,
    }
    if frame["cik"].nunique() < min_banks or frame["t"].nunique() < 3:
        message = (
            f"{frame['cik'].nunique()} banks x {frame['t'].nunique()} quarters with {outcome}, "
            f"{signal} and controls: too few for panel regressions (need {min_banks} banks, 3 quarters)"
        )
        empty = pd.DataFrame(
            [
                {"estimator": e, "term": signal, "status": message}
                for e in ("fixed_effects_driscoll_kraay", "fama_macbeth")
            ]
        )
        return PanelResult(empty, pd.DataFrame(), [*notes, message], params)
    fe = fixed_effects_dk(frame, outcome, regressors, nw_lags)
    fm, series, fm_notes = fama_macbeth(frame, outcome, regressors, nw_lags)
    notes.extend(fm_notes)
    table = pd.concat([fe, fm], ignore_index=True)
    table["status"] = "ok"
    table["controls"] = ",".join(controls)
    table["controls_dropped"] = ",".join(dropped) or None
    return PanelResult(table, series, notes, params)
