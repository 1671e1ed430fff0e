"""Warehouse-shaped research inputs built in Python from the sample universe.

Stand-ins for the dbt models (same column contracts as docs/architecture.md) so the
estimators can be tested before, and independently of, the SQL pipeline. The CNOI
stand-in is the quarter's latent opacity plus small noise, filed 40 days after each
quarter end; ``cnoi="scored"`` scores the universe's generated 10-K/10-Q documents
instead, as the disclosure assets do.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from acct445_assets.calendar import add_trading_days
from acct445_assets.cnoi.latent import cnoi_latent_fit
from acct445_assets.cnoi.pipeline import score_filings
from acct445_assets.sources.sample.filings import generate_filings
from acct445_assets.sources.sample.universe import SampleConfig, generate_universe

# The tables of the `research` schema, one per research asset.
RESEARCH_TABLES = [
    "decile_portfolios",
    "decile_returns",
    "factor_alphas",
    "event_study_cars",
    "did_estimates",
    "panel_regression",
]

DELISTING_RETURN = -0.30


def returns_from_prices(prices: pd.DataFrame, delisting_return: float = DELISTING_RETURN):
    frame = prices.sort_values(["cik", "date"]).reset_index(drop=True)
    ret = frame.groupby("cik")["adj_close"].pct_change()
    ret = np.where(frame["delisted"], (1 + ret) * (1 + delisting_return) - 1, ret)
    out = frame[["date", "cik", "ticker", "adj_close", "delisted"]].copy()
    out["ret"] = ret
    out["market_value"] = frame["adj_close"] * frame["shares_outstanding"]
    return out[["date", "cik", "ticker", "adj_close", "ret", "market_value", "delisted"]]


def stand_in_cnoi(banks: pd.DataFrame, noise_sd: float, seed: int, lag_days: int = 2, path=None):
    """One score per bank and quarter, filed 40 days after the quarter end: the bank's
    latent opacity in that quarter (``path``, quarters x ciks; else its level) plus noise."""
    rng = np.random.default_rng(seed)
    quarter_ends = pd.period_range("2017Q4", "2025Q3", freq="Q").to_timestamp(how="end").normalize()
    rows = []
    for bank in banks.itertuples():
        filed = quarter_ends + pd.Timedelta(days=40)
        filed = filed[
            (filed <= bank.last_date) & (filed >= bank.first_date - pd.Timedelta(days=200))
        ]
        latent = (
            bank.latent_opacity
            if path is None
            else path[bank.cik].loc[(filed - pd.Timedelta(days=40)).to_period("Q")].to_numpy()
        )
        scores = np.clip(latent + noise_sd * rng.standard_normal(len(filed)), 0, 100)
        rows.append(
            pd.DataFrame(
                {
                    "cik": bank.cik,
                    "ticker": bank.ticker,
                    "accession": [f"{bank.cik}-{d:%Y%m%d}" for d in filed],
                    "form": "10-Q",
                    "filing_date": filed,
                    "cnoi": scores,
                }
            )
        )
    cnoi = pd.concat(rows, ignore_index=True)
    cnoi["known_date"] = add_trading_days(cnoi["filing_date"], lag_days)
    return cnoi


def scored_cnoi(universe, start: str = "2018-01-01", lag_days: int = 2):
    """CNOI scored from the universe's generated filings (notes following its opacity
    path), with ``known_date``; and how that CNOI tracks the path (``cnoi_latent_fit``)."""
    filings = generate_filings(
        universe.banks,
        seed=universe.config.seed,
        start=start,
        end=universe.config.end,
        opacity_path=universe.opacity_path,
    )
    _, scores = score_filings(filings)
    scores = scores[scores["status"] == "ok"].reset_index(drop=True)
    fit = cnoi_latent_fit(scores, universe.opacity_path)
    cnoi = scores[["cik", "ticker", "accession", "form", "filing_date", "report_date", "cnoi"]]
    cnoi = cnoi.assign(known_date=add_trading_days(cnoi["filing_date"], lag_days))
    return cnoi, fit


def quarter_panel(returns: pd.DataFrame, cnoi: pd.DataFrame, adoption: pd.Series) -> pd.DataFrame:
    frame = returns.dropna(subset=["ret"]).copy()
    frame["quarter"] = pd.to_datetime(frame["date"]).dt.to_period("Q")
    grouped = frame.groupby(["cik", "quarter"])
    panel = grouped.agg(
        ticker=("ticker", "last"),
        quarter_end=("date", "max"),
        ret=("ret", lambda r: float(np.prod(1 + r) - 1)),
        volatility=("ret", "std"),
        n_days=("ret", "size"),
        market_value=("market_value", "last"),
    ).reset_index()
    panel = panel.sort_values(["cik", "quarter"]).reset_index(drop=True)
    panel["log_mv"] = np.log(panel["market_value"])
    by_bank = panel.groupby("cik")
    consecutive_next = by_bank["quarter"].shift(-1) == panel["quarter"] + 1
    panel["next_ret"] = by_bank["ret"].shift(-1).where(consecutive_next)
    panel["adoption_quarter"] = panel["cik"].map(adoption)
    panel["adopted"] = panel["quarter"] >= pd.PeriodIndex(panel["adoption_quarter"], freq="Q")
    known = cnoi.rename(columns={"known_date": "cnoi_known_date", "accession": "cnoi_accession"})
    known = known[["cik", "cnoi", "cnoi_known_date", "cnoi_accession"]].sort_values(
        "cnoi_known_date"
    )
    panel = pd.merge_asof(
        panel.sort_values("quarter_end"),
        known,
        left_on="quarter_end",
        right_on="cnoi_known_date",
        by="cik",
    ).sort_values(["cik", "quarter"])
    panel["quarter"] = panel["quarter"].astype(str)
    return panel.reset_index(drop=True)


def latent_opacity_path(universe) -> pd.DataFrame:
    truth = universe.truth
    return pd.DataFrame(
        truth["latent_opacity_path"],
        index=pd.PeriodIndex(truth["latent_opacity_quarters"], freq="Q"),
    )


@lru_cache(maxsize=4)
def sample_inputs(
    n_banks: int = 60, seed: int = 445, noise_sd: float = 2.0, cnoi: str = "stand_in"
) -> dict:
    universe = generate_universe(SampleConfig(seed=seed, n_banks=n_banks))
    returns = returns_from_prices(universe.prices)
    fit = None
    if cnoi == "scored":
        cnoi, fit = scored_cnoi(universe)
    else:
        cnoi = stand_in_cnoi(universe.banks, noise_sd, seed, path=latent_opacity_path(universe))
    adoption = universe.banks.set_index("cik")["adoption_quarter"]
    factors_daily = (universe.factors_daily / 100.0).reset_index()
    factors_monthly = (universe.factors_monthly / 100.0).reset_index()
    return {
        "universe": universe,
        "returns": returns,
        "cnoi": cnoi,
        "factors_daily": factors_daily,
        "factors_monthly": factors_monthly,
        "benchmarks": universe.benchmarks,
        "panel": quarter_panel(returns, cnoi, adoption),
        "adoption": adoption.rename_axis("cik").reset_index(),
        "truth": universe.truth,
        "cnoi_fit": fit,
    }
