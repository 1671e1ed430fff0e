"""Benchmark inputs built from the sample generator, in the warehouse table shapes.

Built once per run and saved as parquet so every timed stage starts from the same
files in a fresh process (its peak memory then includes only what it loads itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from acct445_assets.calendar import add_trading_days
from acct445_assets.research.event_study import returns_from_prices as benchmark_returns
from acct445_assets.research.portfolios import build_rebalance_universe
from acct445_assets.sources.sample.universe import SampleConfig, generate_universe

DELISTING_RETURN = -0.30


@dataclass(frozen=True)
class ScaleSpec:
    n_banks: int = 5000
    start: str = "2016-01-01"
    end: str = "2025-12-31"
    seed: int = 445


def bank_returns(prices: pd.DataFrame, delisting_return: float = DELISTING_RETURN) -> pd.DataFrame:
    """`stg_bank_returns` from `raw.bank_prices` rows: simple returns, delisting return applied."""
    frame = prices.sort_values(["cik", "date"], kind="mergesort").reset_index(drop=True)
    close = frame["adj_close"].to_numpy(dtype=float)
    same_bank = np.r_[False, frame["cik"].to_numpy()[1:] == frame["cik"].to_numpy()[:-1]]
    ret = np.full(len(frame), np.nan)
    ret[1:] = close[1:] / close[:-1] - 1.0
    ret[~same_bank] = np.nan
    delisted = frame["delisted"].to_numpy(dtype=bool)
    ret[delisted] = (1.0 + ret[delisted]) * (1.0 + delisting_return) - 1.0
    return pd.DataFrame(
        {
            "date": frame["date"].to_numpy(),
            "cik": frame["cik"].to_numpy(),
            "ticker": frame["ticker"].to_numpy(),
            "adj_close": close,
            "ret": ret,
            "market_value": close * frame["shares_outstanding"].to_numpy(dtype=float),
            "delisted": delisted,
        }
    )


def stand_in_scores(
    banks: pd.DataFrame, seed: int, noise_sd: float = 2.0, lag_days: int = 2
) -> pd.DataFrame:
    """CNOI-shaped scores without parsing documents: latent opacity plus noise, filed
    40 days after each quarter end while the bank is listed (``stg_cnoi`` columns)."""
    rng = np.random.default_rng([seed, 8])
    first = pd.to_datetime(banks["first_date"]).min()
    last = pd.to_datetime(banks["last_date"]).max()
    quarter_ends = pd.period_range(first.to_period("Q") - 1, last.to_period("Q"), freq="Q")
    filed = quarter_ends.to_timestamp(how="end").normalize() + pd.Timedelta(days=40)
    grid = pd.DataFrame(
        {
            "cik": np.repeat(banks["cik"].to_numpy(), len(filed)),
            "ticker": np.repeat(banks["ticker"].to_numpy(), len(filed)),
            "filing_date": np.tile(filed.to_numpy(), len(banks)),
            "latent": np.repeat(banks["latent_opacity"].to_numpy(dtype=float), len(filed)),
            "first_date": np.repeat(pd.to_datetime(banks["first_date"]).to_numpy(), len(filed)),
            "last_date": np.repeat(pd.to_datetime(banks["last_date"]).to_numpy(), len(filed)),
        }
    )
    live = (grid["filing_date"] <= grid["last_date"]) & (
        grid["filing_date"] >= grid["first_date"] - pd.Timedelta(days=200)
    )
    grid = grid.loc[live].reset_index(drop=True)
    grid["cnoi"] = np.clip(grid["latent"] + noise_sd * rng.standard_normal(len(grid)), 0, 100)
    grid["accession"] = grid["cik"] + "-" + grid["filing_date"].dt.strftime("%Y%m%d")
    grid["form"] = "10-Q"
    grid["known_date"] = add_trading_days(grid["filing_date"], lag_days)
    return grid[["cik", "ticker", "accession", "form", "filing_date", "cnoi", "known_date"]]


def estimator_inputs(spec: ScaleSpec) -> tuple[dict, dict]:
    """(inputs, sizes): returns, rebalance universe, decimal daily factors, SPY returns."""
    universe = generate_universe(
        SampleConfig(seed=spec.seed, n_banks=spec.n_banks, start=spec.start, end=spec.end)
    )
    returns = bank_returns(universe.prices)
    scores = stand_in_scores(universe.banks, spec.seed)
    inputs = {
        "returns": returns[["date", "cik", "ret", "market_value"]],
        "rebalance_universe": build_rebalance_universe(scores, returns, "quarterly", 200),
        "factors_daily": (universe.factors_daily / 100.0).rename_axis("date").reset_index(),
        "market": benchmark_returns(universe.benchmarks, "SPY").rename("ret").rename_axis("date"),
    }
    sizes = {
        "n_banks": spec.n_banks,
        "start": spec.start,
        "end": spec.end,
        "price_rows": len(universe.prices),
        "return_rows": int(returns["ret"].notna().sum()),
        "sessions": int(universe.factors_daily.shape[0]),
        "rebalance_rows": len(inputs["rebalance_universe"]),
    }
    return inputs, sizes


def build_estimator_inputs(spec: ScaleSpec, directory: Path) -> dict:
    """Generate the universe and write the estimator inputs to ``directory``; returns sizes."""
    directory.mkdir(parents=True, exist_ok=True)
    inputs, sizes = estimator_inputs(spec)
    inputs["returns"].to_parquet(directory / "returns.parquet")
    inputs["rebalance_universe"].to_parquet(directory / "rebalance_universe.parquet")
    inputs["factors_daily"].to_parquet(directory / "factors_daily.parquet")
    inputs["market"].reset_index().to_parquet(directory / "market.parquet")
    return sizes


def load_estimator_inputs(directory: Path) -> dict:
    returns = pd.read_parquet(directory / "returns.parquet")
    market = pd.read_parquet(directory / "market.parquet")
    return {
        "returns": returns,
        "rebalance_universe": pd.read_parquet(directory / "rebalance_universe.parquet"),
        "factors_daily": pd.read_parquet(directory / "factors_daily.parquet"),
        "market": market.set_index("date")["ret"],
    }
