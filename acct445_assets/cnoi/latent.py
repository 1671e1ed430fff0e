"""How scored CNOI tracks the planted latent opacity of a sample universe (METHODS 1).

The opacity premium is planted per point of latent opacity; the research estimators
measure it per CNOI point. These figures say how one unit maps onto the other, across
banks and within them (what a regression with bank fixed effects sees).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def cnoi_latent_fit(scores: pd.DataFrame, path: pd.DataFrame) -> dict:
    """CNOI of each scored filing against the latent opacity of its report quarter.

    Parameters
    ----------
    scores : frame with ``cik, report_date, cnoi`` (scored filings only).
    path : latent opacity, quarters (rows) x CIKs (columns).

    Returns
    -------
    dict with ``filings_matched``; ``cnoi_on_latent_slope_by_filing`` and its reverse
    ``latent_on_cnoi_slope_by_filing`` (pooled OLS slopes; the reverse one with
    ``latent_on_cnoi_intercept_by_filing``);
    ``within_bank_corr`` and ``within_bank_cnoi_on_latent_slope`` (both on bank-demeaned
    values); ``within_bank_latent_on_cnoi_slope`` (the reverse slope: a regression of
    returns on CNOI with bank effects estimates the per-latent-point premium times it).
    Empty when fewer than 3 filings match.
    """
    long = path.rename_axis(index="quarter", columns="cik").stack().rename("latent")
    long.index = long.index.set_levels(long.index.levels[1].astype(str).str.zfill(10), level=1)
    frame = pd.DataFrame(
        {
            "cik": scores["cik"].astype(str).str.zfill(10).to_numpy(),
            "quarter": pd.to_datetime(scores["report_date"]).dt.to_period("Q").to_numpy(),
            "cnoi": pd.to_numeric(scores["cnoi"], errors="coerce").to_numpy(),
        }
    )
    frame = frame.join(long, on=["quarter", "cik"]).dropna(subset=["cnoi", "latent"])
    if len(frame) < 3:
        return {}
    within = frame[["cnoi", "latent"]] - frame.groupby("cik")[["cnoi", "latent"]].transform("mean")
    cov = float((within["cnoi"] * within["latent"]).sum())
    var_latent = float((within["latent"] ** 2).sum())
    var_cnoi = float((within["cnoi"] ** 2).sum())
    out = {
        "filings_matched": int(len(frame)),
        "cnoi_on_latent_slope_by_filing": float(np.polyfit(frame["latent"], frame["cnoi"], 1)[0]),
    }
    slope, intercept = np.polyfit(frame["cnoi"], frame["latent"], 1)
    out["latent_on_cnoi_slope_by_filing"] = float(slope)
    out["latent_on_cnoi_intercept_by_filing"] = float(intercept)
    if var_latent > 0 and var_cnoi > 0:
        out["within_bank_corr"] = float(cov / np.sqrt(var_latent * var_cnoi))
        out["within_bank_cnoi_on_latent_slope"] = cov / var_latent
        out["within_bank_latent_on_cnoi_slope"] = cov / var_cnoi
    return out
