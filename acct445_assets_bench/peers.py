"""Peers side by side: TWFE with two-way (bank, quarter) clustered SEs.

The same bank-quarter panel goes to the project's ``research.fe.twfe_frame``, pyfixest
``feols``, linearmodels ``PanelOLS`` (the call ``research.did`` makes today) and
statsmodels OLS on bank and quarter dummies (the baseline). Each runs in its own process;
the clock covers the estimate from the in-memory frame to coefficient and SE.

Small-sample conventions differ by library, so each is asked for what it does natively
and converted outside the clock to linearmodels' convention, n / (n - k - (N + T - 1))
times the raw Cameron-Gelbach-Miller sandwich: pyfixest and statsmodels are called with
their corrections off (the raw sandwich) and scaled by sqrt(n / df_resid).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

IMPLEMENTATIONS = ("project", "pyfixest", "linearmodels", "statsmodels")
REGRESSORS = ["D", "size"]
# statsmodels' design is dense: rows x (banks + quarters) doubles.
STATSMODELS_MAX_BYTES = 1.5e9


def twfe_panel(n_banks: int, n_quarters: int = 32, seed: int = 445) -> pd.DataFrame:
    """An unbalanced bank-quarter panel shaped like ``did.prepare_panel``'s: string CIKs,
    late listings and early exits, staggered adoption, a bank-level control."""
    rng = np.random.default_rng([seed, 17])
    first = rng.integers(0, n_quarters // 3, size=n_banks) * (rng.random(n_banks) < 0.3)
    last = n_quarters - rng.integers(0, n_quarters // 3, size=n_banks) * (rng.random(n_banks) < 0.2)
    present = (np.arange(n_quarters)[None, :] >= first[:, None]) & (
        np.arange(n_quarters)[None, :] < last[:, None]
    )
    present &= rng.random((n_banks, n_quarters)) < 0.97  # a missing filing here and there
    bank, quarter = np.nonzero(present)
    adoption = np.where(rng.random(n_banks) < 0.25, 10**6, rng.integers(4, n_quarters, n_banks))
    bank_effect = rng.normal(size=n_banks)
    quarter_effect = rng.normal(scale=0.5, size=n_quarters)
    frame = pd.DataFrame(
        {
            "cik": np.char.zfill(np.char.mod("%d", 70_000 + bank), 10),
            "t": 8064 + quarter,  # 2016Q1 as did.quarter_number counts
            "D": (quarter >= adoption[bank]).astype(float),
            "size": bank_effect[bank] + rng.normal(size=len(bank)),
        }
    )
    frame["y"] = (
        0.02 * frame["D"]
        - 0.01 * frame["size"]
        + bank_effect[bank]
        + quarter_effect[quarter]
        + rng.standard_t(5, size=len(bank))
    )
    return frame


def _project(frame: pd.DataFrame) -> dict:
    from acct445_assets.research.fe import twfe_frame

    fit = twfe_frame(frame, "y", REGRESSORS)
    return {"coef": fit.params, "se": fit.se, "nobs": fit.nobs, "df_resid": fit.df_resid}


def _pyfixest(frame: pd.DataFrame) -> dict:
    import pyfixest as pf

    fit = pf.feols(
        "y ~ D + size | cik + t",
        data=frame,
        vcov={"CRV1": "cik+t"},
        ssc=pf.ssc(k_adj=False, G_adj=False),
        fixef_rm="none",
    )
    return {
        "coef": fit.coef()[REGRESSORS].to_numpy(),
        "se_raw": fit.se()[REGRESSORS].to_numpy(),
        "nobs": int(fit._N),
    }


def _linearmodels(frame: pd.DataFrame) -> dict:
    from linearmodels import PanelOLS

    data = frame.set_index(["cik", "t"])
    model = PanelOLS(data["y"], data[REGRESSORS], entity_effects=True, time_effects=True)
    fit = model.fit(cov_type="clustered", cluster_entity=True, cluster_time=True)
    return {
        "coef": fit.params[REGRESSORS].to_numpy(),
        "se": fit.std_errors[REGRESSORS].to_numpy(),
        "nobs": int(fit.nobs),
        "df_resid": int(fit.df_resid),
    }


def _statsmodels(frame: pd.DataFrame) -> dict:
    import statsmodels.api as sm

    bank = pd.factorize(frame["cik"])[0]
    quarter = pd.factorize(frame["t"])[0]
    design = pd.concat(
        [
            frame[REGRESSORS],
            pd.get_dummies(frame["cik"], dtype=float),
            pd.get_dummies(frame["t"], drop_first=True, dtype=float),
        ],
        axis=1,
    ).to_numpy()
    fit = sm.OLS(frame["y"].to_numpy(), design).fit(
        cov_type="cluster",
        cov_kwds={"groups": np.column_stack([bank, quarter]), "use_correction": False},
    )
    k = len(REGRESSORS)
    return {"coef": fit.params[:k], "se_raw": fit.bse[:k], "nobs": int(fit.nobs)}


RUNNERS = {
    "project": _project,
    "pyfixest": _pyfixest,
    "linearmodels": _linearmodels,
    "statsmodels": _statsmodels,
}


def statsmodels_fits(n_rows: int, n_banks: int, n_quarters: int) -> bool:
    return n_rows * (n_banks + n_quarters + len(REGRESSORS)) * 8 <= STATSMODELS_MAX_BYTES


def in_linearmodels_convention(result: dict, frame: pd.DataFrame) -> dict:
    """coef and SE on linearmodels' scale; raw sandwiches get sqrt(n / df_resid)."""
    if "se" in result:
        return {"coef": np.asarray(result["coef"]), "se": np.asarray(result["se"])}
    n = len(frame)
    df_resid = n - len(REGRESSORS) - (frame["cik"].nunique() + frame["t"].nunique() - 1)
    return {
        "coef": np.asarray(result["coef"]),
        "se": np.asarray(result["se_raw"]) * np.sqrt(n / df_resid),
    }


def discrepancy(a: dict, b: dict) -> float:
    worst = 0.0
    for key in ("coef", "se"):
        x, y = np.asarray(a[key], float), np.asarray(b[key], float)
        worst = max(worst, float(np.max(np.abs(x - y) / np.maximum(1.0, np.abs(y)))))
    return worst


def write_panel(n_banks: int, n_quarters: int, path: Path) -> dict:
    frame = twfe_panel(n_banks, n_quarters)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path)
    return {
        "rows": len(frame),
        "banks": int(frame["cik"].nunique()),
        "quarters": int(frame["t"].nunique()),
    }
