"""Factor model definitions (METHODS section 2): one definition of each model.

Factor frames are in DECIMALS with columns mkt_rf, smb, hml, rmw, cma, rf, mom
(the warehouse ``stg_factors_*`` tables); Ken French's percent files must be divided
by 100 before they reach this module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .stats import as_datetime

FACTOR_COLUMNS = ("mkt_rf", "smb", "hml", "rmw", "cma", "rf", "mom")

FACTOR_MODELS: dict[str, tuple[str, ...]] = {
    "capm": ("mkt_rf",),
    "ff3": ("mkt_rf", "smb", "hml"),
    "carhart": ("mkt_rf", "smb", "hml", "mom"),
    "ff5": ("mkt_rf", "smb", "hml", "rmw", "cma"),
    "ff5_mom": ("mkt_rf", "smb", "hml", "rmw", "cma", "mom"),
}

MODEL_LABELS = {
    "capm": "CAPM",
    "ff3": "FF3",
    "carhart": "Carhart",
    "ff5": "FF5",
    "ff5_mom": "FF5+MOM",
}


def model_factors(model: str) -> tuple[str, ...]:
    try:
        return FACTOR_MODELS[model]
    except KeyError:
        raise ValueError(
            f"unknown factor model {model!r}; expected one of {list(FACTOR_MODELS)}"
        ) from None


def check_decimal_factors(factors: pd.DataFrame, name: str = "factors") -> pd.DataFrame:
    """Return the factor frame indexed by date after checking columns and units.

    Accepts a ``date`` column or a DatetimeIndex. Daily market excess returns above 50%
    in absolute value mean the frame is still in percent.
    """
    frame = factors.copy()
    if "date" in frame.columns:
        frame = frame.set_index("date")
    frame.index = pd.DatetimeIndex(as_datetime(frame.index), name="date")
    missing = [c for c in ("mkt_rf", "rf") if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks columns {missing}; expected {list(FACTOR_COLUMNS)}")
    if frame["mkt_rf"].abs().max() > 0.5:
        raise ValueError(
            f"{name}.mkt_rf has |values| up to {frame['mkt_rf'].abs().max():.2f}: "
            "looks like percent; divide Ken French factors by 100"
        )
    return frame.sort_index()


def compound_factors(factors: pd.DataFrame, period_ends: pd.DatetimeIndex) -> pd.DataFrame:
    """Compound daily decimal factors into the periods ending at ``period_ends``.

    Period p covers days in (period_ends[p-1], period_ends[p]]; the first period starts
    after the first period end (so each compounded period is complete). Long-short factors
    compound as gross returns of the factor; mkt_rf compounds as the market total return
    minus the compounded rf, as Ken French builds monthly files.
    """
    daily = check_decimal_factors(factors)
    ends = pd.DatetimeIndex(as_datetime(period_ends)).sort_values()
    period = ends.searchsorted(daily.index, side="left")
    keep = (period > 0) & (period < len(ends))
    daily = daily[keep]
    label = ends[period[keep]]
    gross = (1.0 + daily).groupby(label).prod()
    rf = gross["rf"] - 1.0
    market = (1.0 + daily["mkt_rf"] + daily["rf"]).groupby(label).prod() - 1.0
    out = gross - 1.0
    out["rf"] = rf
    out["mkt_rf"] = market - rf
    out.index.name = "date"
    return out


def compound_monthly_factors(
    monthly: pd.DataFrame, period_starts, period_ends, name: str = "factors_monthly"
) -> pd.DataFrame:
    """Ken French monthly decimal factors compounded over each holding period (METHODS 4).

    Period p holds the calendar months m with month(period_starts[p]) < m <=
    month(period_ends[p]) (rebalancing on the last session of a month or quarter), so a
    monthly period is one Ken French month and a quarterly one three. Indexed by
    ``period_ends``; a period with any month missing from ``monthly`` is NaN. mkt_rf
    compounds as the market total return minus the compounded rf.
    """
    frame = check_decimal_factors(monthly, name)
    frame.index = frame.index.to_period("M")
    if frame.index.duplicated().any():
        raise ValueError(
            f"{name}: more than one row for month {frame.index[frame.index.duplicated()][0]}"
        )
    starts = pd.DatetimeIndex(pd.to_datetime(period_starts)).to_period("M")
    ends = pd.DatetimeIndex(pd.to_datetime(period_ends))
    cols = [c for c in FACTOR_COLUMNS if c in frame.columns]
    gross = np.log1p(frame[cols])
    market = np.log1p(frame["mkt_rf"] + frame["rf"])
    rows = []
    for start, end in zip(starts, ends.to_period("M"), strict=True):
        months = pd.period_range(start + 1, end, freq="M")
        if len(months) == 0 or not months.isin(frame.index).all():
            rows.append(pd.Series(np.nan, index=cols))
            continue
        out = np.expm1(gross.loc[months].sum())
        out["mkt_rf"] = np.expm1(market.loc[months].sum()) - out["rf"]
        rows.append(out)
    result = pd.DataFrame(rows, index=pd.DatetimeIndex(ends, name="date"))
    return result[cols]
