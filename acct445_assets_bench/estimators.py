"""Estimator tasks: each runs the project's fast path or the common-way baseline on the
scale inputs, returns its outputs (compared afterwards) and nothing else.

A task is ``(inputs, ciks) -> dict of DataFrames``; ``ciks`` restricts the data to a
subset of banks before the clock starts (baselines too slow for the full universe run
on a subset and are scaled linearly in the report, which says so).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from acct445_assets.research.alphas import portfolio_alphas, regress_on_models
from acct445_assets.research.event_study import event_study
from acct445_assets.research.factor_models import FACTOR_MODELS
from acct445_assets.research.portfolios import form_portfolios, wide_returns

from . import baselines

# One event a year apart over the sample, the SVB failure among them.
EVENTS = ("2017-03-15", "2020-03-16", "2023-03-10", "2025-03-14")
MODELS = tuple(FACTOR_MODELS)
TOLERANCE = 1e-8


def restrict(inputs: dict, ciks) -> dict:
    if ciks is None:
        return inputs
    keep = set(ciks)
    out = dict(inputs)
    if "wide" in inputs:
        out["wide"] = inputs["wide"][sorted(keep)]
    out["returns"] = inputs["returns"].loc[inputs["returns"]["cik"].isin(keep)]
    out["rebalance_universe"] = inputs["rebalance_universe"].loc[
        inputs["rebalance_universe"]["cik"].isin(keep)
    ]
    return out


def bench_events(returns: pd.DataFrame, wide: pd.DataFrame | None = None) -> list[str]:
    """The benchmark's events that the data can estimate: at least a year of sessions
    before (the estimation window) and some after; the middle session otherwise, so a
    short --start/--end still runs."""
    if wide is not None:
        dates = pd.DatetimeIndex(wide.index)
    else:
        dates = pd.DatetimeIndex(pd.to_datetime(returns["date"]).unique()).sort_values()
    usable = [e for e in EVENTS if len(dates[dates < e]) >= 260 and len(dates[dates > e]) >= 10]
    return usable or [str(dates[len(dates) // 2].date())]


def returns_matrix(inputs: dict) -> dict:
    """The dates x banks matrix every fast path shares: built once, timed once."""
    return {"wide": wide_returns(inputs["returns"])}


def event_study_fast(inputs: dict) -> dict:
    events = list(inputs.get("events") or bench_events(inputs["returns"], inputs.get("wide")))
    result = event_study(
        inputs["returns"], events, market=inputs["market"], model="market", wide=inputs.get("wide")
    )
    return {"banks": result.banks, "tests": result.tests}


def event_study_slow(inputs: dict) -> dict:
    events = list(inputs.get("events") or bench_events(inputs["returns"]))
    return baselines.event_study_baseline(inputs["returns"], events, inputs["market"])


def _rf(inputs: dict) -> pd.Series:
    return inputs["factors_daily"].set_index("date")["rf"]


def portfolios_fast(inputs: dict) -> dict:
    result = form_portfolios(
        inputs["rebalance_universe"], inputs["returns"], rf=_rf(inputs), wide=inputs.get("wide")
    )
    return {
        "assignments": result.assignments,
        "daily_returns": result.daily_returns,
        "period_returns": result.period_returns,
        "summary": result.summary,
    }


def portfolios_slow(inputs: dict) -> dict:
    return baselines.portfolios_baseline(
        inputs["rebalance_universe"], inputs["returns"], rf=_rf(inputs)
    )


def portfolio_alphas_fast(inputs: dict) -> dict:
    held = inputs["portfolios"]
    alphas = portfolio_alphas(
        held["daily_returns"], held["period_returns"], inputs["factors_daily"], MODELS
    )
    return {"alphas": alphas}


def portfolio_alphas_slow(inputs: dict) -> dict:
    held = inputs["portfolios"]
    alphas = baselines.portfolio_alphas_baseline(
        held["daily_returns"], held["period_returns"], inputs["factors_daily"], MODELS
    )
    return {"alphas": alphas}


def firm_alphas_fast(inputs: dict) -> dict:
    factors = inputs["factors_daily"].set_index("date")
    wide = inputs["wide"] if "wide" in inputs else wide_returns(inputs["returns"])
    alphas = regress_on_models(wide, factors, MODELS, rf=factors["rf"])
    return {"alphas": alphas}


def firm_alphas_slow(inputs: dict) -> dict:
    factors = inputs["factors_daily"].set_index("date")
    rows = []
    for cik, bank in inputs["returns"].groupby("cik"):
        series = bank.set_index("date")["ret"]
        excess = (series - factors["rf"].reindex(series.index)).rename(cik).to_frame()
        rows.append(baselines.hac_alphas_baseline(excess, factors, MODELS))
    return {"alphas": pd.concat(rows, ignore_index=True)}


TASKS = {
    "event_study": (event_study_fast, event_study_slow),
    "portfolios": (portfolios_fast, portfolios_slow),
    "portfolio_alphas": (portfolio_alphas_fast, portfolio_alphas_slow),
    "firm_alphas": (firm_alphas_fast, firm_alphas_slow),
}

LABELS = {
    "event_study": "market-model fits + event-study tests",
    "portfolios": "per-date CNOI sorts + buy-and-hold returns",
    "portfolio_alphas": "Newey-West alphas of the portfolios",
    "firm_alphas": "Newey-West alphas of every bank",
}


# ---------------------------------------------------------------------- agreement


def max_discrepancy(fast: pd.DataFrame, slow: pd.DataFrame, keys, columns) -> dict:
    """Largest |fast - slow| / max(1, |slow|) per column after joining on ``keys``.

    Rows present on one side only are a disagreement in their own right and raise.
    """
    left = fast[[*keys, *columns]].copy()
    right = slow[[*keys, *columns]].copy()
    for frame in (left, right):
        for key in keys:
            if pd.api.types.is_datetime64_any_dtype(frame[key]):
                continue
            frame[key] = frame[key].astype(str)
    joined = left.merge(
        right, on=list(keys), how="outer", suffixes=("_fast", "_slow"), indicator=True
    )
    unmatched = joined.loc[joined["_merge"] != "both"]
    if len(unmatched):
        raise AssertionError(
            f"fast and baseline rows differ on {list(keys)}: {len(unmatched)} unmatched, "
            f"first {unmatched.iloc[0][[*keys, '_merge']].to_dict()}"
        )
    out = {}
    for col in columns:
        a = joined[f"{col}_fast"].to_numpy(dtype=float)
        b = joined[f"{col}_slow"].to_numpy(dtype=float)
        both_nan = np.isnan(a) & np.isnan(b)
        diff = np.where(both_nan, 0.0, np.abs(a - b) / np.maximum(1.0, np.abs(b)))
        out[col] = float(np.nanmax(np.where(np.isnan(diff), np.inf, diff))) if len(diff) else 0.0
    return out


def compare(task: str, fast: dict, slow: dict) -> dict:
    """Per-column discrepancies between the fast path and the baseline of ``task``."""
    if task == "event_study":
        included = fast["banks"].loc[fast["banks"]["status"] == "included"]
        slow_included = slow["banks"].loc[slow["banks"]["status"] == "included"]
        out = max_discrepancy(
            included,
            slow_included,
            ["event", "cik"],
            ["alpha", "beta", "sigma", "car", "scar", "n_est"],
        )
        out.update(
            max_discrepancy(fast["tests"], slow["tests"], ["event", "test"], ["statistic", "n"])
        )
        return out
    if task == "portfolios":
        out = max_discrepancy(
            fast["assignments"],
            slow["assignments"],
            ["rebalance_date", "cik"],
            ["group", "weight", "n_groups"],
        )
        out.update(
            max_discrepancy(
                fast["daily_returns"],
                slow["daily_returns"],
                ["date", "portfolio"],
                ["ret", "ret_net"],
            )
        )
        period = max_discrepancy(
            fast["period_returns"],
            slow["period_returns"],
            ["period_start", "portfolio"],
            ["ret", "turnover", "ret_net", "n_banks"],
        )
        out.update({f"period_{k}": v for k, v in period.items()})
        summary = max_discrepancy(
            fast["summary"],
            slow["summary"],
            ["portfolio", "frequency"],
            ["mean", "nw_t", "sharpe", "mean_net", "nw_t_net", "sharpe_net"],
        )
        out.update({f"summary_{k}": v for k, v in summary.items()})
        return out
    if task in ("portfolio_alphas", "firm_alphas"):
        keys = ["portfolio", "model"] + (["frequency"] if task == "portfolio_alphas" else [])
        cols = ["alpha", "alpha_t", "r2", "n", "beta_mkt_rf"]
        return max_discrepancy(fast["alphas"], slow["alphas"], keys, cols)
    raise KeyError(task)


def assert_agree(task: str, discrepancies: dict, tolerance: float = TOLERANCE) -> None:
    worst = {k: v for k, v in discrepancies.items() if not v <= tolerance}
    if worst:
        raise AssertionError(f"{task}: fast path and baseline differ beyond {tolerance:g}: {worst}")
