"""Deterministic synthetic bank universe with planted effects and a truth record.

Every planted parameter is written to the truth record so tests can check that the
estimators recover it: an opacity premium (daily alpha per point of latent opacity, which
varies within each bank over time so that bank fixed effects cannot absorb it),
an SVB shock whose size grows with opacity, a CECL-adoption increase in idiosyncratic
volatility, and banks that fail and delist in the 2023 crisis.

Factor returns are generated in percent, as Ken French publishes them.
"""

from __future__ import annotations

import string
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ...calendar import trading_days
from ..base import FACTOR_COLUMNS

BANK_SICS = (6021, 6022, 6035, 6036)
SVB_DAY0 = pd.Timestamp("2023-03-10")
# (trading-day offset from day 0, share of the bank-wide shock, share of the opacity effect)
SVB_PATH = ((-1, 0.35, 0.30), (0, 0.40, 0.40), (1, 0.25, 0.30))
# Failures modelled on SVB (last trade 2023-03-09), Signature (03-10), First Republic (04-28).
FAILURE_DATES = ("2023-03-09", "2023-03-10", "2023-04-28")


@dataclass(frozen=True)
class SampleConfig:
    seed: int = 445
    n_banks: int = 60
    start: str = "2018-01-01"
    end: str = "2025-12-31"
    n_failures: int = 3
    # Planted effects (decimal returns).
    opacity_premium_daily: float = 0.00001  # per latent-opacity point, centred at 50
    svb_shock_mean: float = -0.08  # CAR[-1,+1] of a bank of opacity 50 beyond its market model
    svb_car_per_point: float = -0.0015  # extra CAR per opacity point above 50
    cecl_vol_multiplier: float = 1.35  # idiosyncratic volatility after adoption
    idio_vol_daily: float = 0.014
    # Within-bank opacity: AR(1) by quarter around the bank's level (points, persistence).
    opacity_within_sd: float = 12.0
    opacity_persistence: float = 0.8


# A quarter's note is filed about 40 days after the quarter ends: when quarter Q begins,
# the latest note the market knows is that of Q-2, and Q's premium is priced on it.
PREMIUM_NOTE_LAG_QUARTERS = 2
# Own stream for the opacity path, so every other draw (and the filings) is unchanged.
OPACITY_PATH_STREAM = 12


@dataclass(frozen=True)
class PricePanel:
    """Bank prices as (sessions x banks) matrices; long rows are built per request.

    At 5,000 banks x 10 years the long frame is 12M rows (over 1 GB with its strings);
    a daily run needs one session of it, a backfill a range.
    """

    dates: pd.DatetimeIndex
    tickers: np.ndarray
    ciks: np.ndarray
    shares: np.ndarray
    delisted_on: np.ndarray  # datetime64: the last session of a delisted bank, else NaT
    adj_close: np.ndarray
    volume: np.ndarray
    alive: np.ndarray

    def frame(self, start=None, end=None, tickers=None, with_cik: bool = True) -> pd.DataFrame:
        """``date, ticker, cik, adj_close, volume, shares_outstanding, delisted`` rows for
        sessions in [start, end] (inclusive) and the given tickers, in (date, bank) order
        (without ``cik`` for a price source, whose assets attach it)."""
        lo = 0 if start is None else self.dates.searchsorted(pd.Timestamp(start), "left")
        hi = len(self.dates) if end is None else self.dates.searchsorted(pd.Timestamp(end), "right")
        cols = (
            np.arange(len(self.tickers))
            if tickers is None
            else np.flatnonzero(np.isin(self.tickers, list(tickers)))
        )
        ii, jj = np.nonzero(self.alive[lo:hi][:, cols])
        ii, jj = ii + lo, cols[jj]
        days = self.dates.to_numpy()[ii]
        adj_close = self.adj_close[ii, jj]
        # The sample pays no dividends and never splits, so its close is the adjusted close.
        columns = {
            "date": days,
            "ticker": self.tickers[jj],
            "cik": self.ciks[jj],
            "adj_close": adj_close,
            "volume": self.volume[ii, jj],
            "shares_outstanding": self.shares[jj],
            "delisted": days == self.delisted_on[jj],
            "close": adj_close.copy(),
            "dividend": np.zeros(len(ii)),
            "split_ratio": np.ones(len(ii)),
            "ret": np.full(len(ii), np.nan),
            "delisting_return": np.full(len(ii), np.nan),
        }
        if not with_cik:
            del columns["cik"]
        # copy=False: one block per column, not a consolidated copy of 12M rows (at 5,000
        # banks each full copy of the panel is about 1 GB).
        return pd.DataFrame(columns, copy=False)


@dataclass
class SampleUniverse:
    config: SampleConfig
    banks: pd.DataFrame
    factors_daily: pd.DataFrame
    factors_monthly: pd.DataFrame
    benchmarks: pd.DataFrame
    panel: PricePanel
    truth: dict = field(default_factory=dict)
    # Latent opacity by quarter (rows) and bank (columns, cik): what the filings follow.
    opacity_path: pd.DataFrame | None = None

    @property
    def prices(self) -> pd.DataFrame:
        """Every bank price row (built on each access; prefer ``panel.frame`` for a range)."""
        return self.panel.frame()


def _tickers(rng: np.random.Generator, n: int) -> list[str]:
    letters = np.array(list(string.ascii_uppercase))
    seen: set[str] = {"SPY", "KRE"}
    out: list[str] = []
    while len(out) < n:
        size = int(rng.integers(3, 5))
        tick = "".join(rng.choice(letters, size))
        if tick not in seen:
            seen.add(tick)
            out.append(tick)
    return out


def _rf_percent_daily(dates: pd.DatetimeIndex) -> np.ndarray:
    # Annual T-bill path (percent) interpolated through the period, then per trading day.
    anchors = pd.Series(
        [1.4, 2.3, 1.6, 0.1, 0.05, 0.05, 1.5, 4.5, 5.2, 5.2, 4.3, 3.8, 3.5],
        index=pd.to_datetime(
            [
                "2018-01-01",
                "2018-12-31",
                "2019-12-31",
                "2020-04-01",
                "2020-12-31",
                "2021-12-31",
                "2022-06-30",
                "2022-12-31",
                "2023-06-30",
                "2023-12-31",
                "2024-12-31",
                "2025-12-31",
                "2035-12-31",
            ]
        ),
    )
    days = (dates - pd.Timestamp("1970-01-01")).days.to_numpy()
    annual = np.interp(
        days, (anchors.index - pd.Timestamp("1970-01-01")).days.to_numpy(), anchors.to_numpy()
    )
    return np.round(annual / 252.0, 3)


def _vol_regime(dates: pd.DatetimeIndex) -> np.ndarray:
    regime = np.ones(len(dates))
    covid = (dates >= "2020-02-24") & (dates <= "2020-04-30")
    regime[covid] = 3.0
    regime[(dates > "2020-04-30") & (dates <= "2020-12-31")] = 1.6
    regime[(dates >= "2022-01-01") & (dates <= "2022-12-31")] = 1.4
    regime[(dates >= "2023-03-08") & (dates <= "2023-05-05")] = 1.8
    return regime


def generate_factors(dates: pd.DatetimeIndex, rng: np.random.Generator) -> pd.DataFrame:
    n = len(dates)
    regime = _vol_regime(dates)
    # Daily sd in percent; means in percent per day.
    spec = {
        "mkt_rf": (0.035, 0.95),
        "smb": (0.0, 0.50),
        "hml": (-0.005, 0.60),
        "rmw": (0.01, 0.35),
        "cma": (0.0, 0.30),
        "mom": (0.02, 0.75),
    }
    out = {}
    for col, (mu, sd) in spec.items():
        out[col] = mu + sd * regime * rng.standard_normal(n)
    crash = {
        "2023-03-09": -1.9,
        "2023-03-10": -1.5,
        "2023-03-13": -0.3,
        "2023-03-15": -0.9,
        "2023-03-17": -1.2,
    }
    for day, value in crash.items():
        hit = dates == pd.Timestamp(day)
        out["mkt_rf"][hit] = value
    frame = pd.DataFrame(out, index=dates)
    frame["rf"] = _rf_percent_daily(dates)
    frame = frame.round(2)
    frame["rf"] = _rf_percent_daily(dates)
    frame.index.name = "date"
    return frame[FACTOR_COLUMNS]


def monthly_from_daily(daily_percent: pd.DataFrame) -> pd.DataFrame:
    """Compound daily percent factors into calendar months (index = month-end date)."""
    d = daily_percent / 100.0
    month = d.index.to_period("M")
    gross = (1 + d).groupby(month).prod()
    rf = gross["rf"] - 1
    mkt = (1 + d["mkt_rf"] + d["rf"]).groupby(month).prod() - 1 - rf
    out = (gross - 1).assign(mkt_rf=mkt, rf=rf) * 100.0
    out.index = out.index.to_timestamp(how="end").normalize()
    out.index.name = "date"
    return out[FACTOR_COLUMNS].round(2)


def svb_opacity_quarter() -> pd.Period:
    """Quarter of the latest note known at the SVB event (filed ~40 days after its end)."""
    return (SVB_DAY0 - pd.Timedelta(days=42)).to_period("Q") - 1


def _quarter_start(q: str) -> pd.Timestamp:
    return pd.Period(q, freq="Q").start_time


def generate_banks(
    cfg: SampleConfig, dates: pd.DatetimeIndex, rng: np.random.Generator
) -> pd.DataFrame:
    n = cfg.n_banks
    ciks = rng.choice(np.arange(700_000, 1_999_999), size=n, replace=False)
    tickers = _tickers(rng, n)
    latent = np.round(rng.uniform(15, 85, n), 2)
    src = rng.random(n) < 0.4
    adoption = np.where(src, "2023Q1", "2020Q1").astype(object)
    non_src = np.flatnonzero(~src)
    # CARES Act deferrals: a few large filers adopted later than 2020Q1.
    for idx, quarter in zip(
        rng.choice(non_src, size=min(3, len(non_src)), replace=False),
        ["2020Q4", "2021Q1", "2022Q1"],
        strict=False,
    ):
        adoption[idx] = quarter
    prefixes = [
        "First",
        "Citizens",
        "Peoples",
        "Farmers",
        "Heritage",
        "Pacific",
        "Summit",
        "Harbor",
        "Union",
        "Commerce",
        "Valley",
        "Liberty",
    ]
    suffixes = ["Bancorp", "Financial Corp", "Bancshares", "Savings Bank", "Bank Holding Co"]
    names = [
        f"{prefixes[i % len(prefixes)]} {t.title()} {suffixes[i % len(suffixes)]}"
        for i, t in enumerate(tickers)
    ]
    banks = pd.DataFrame(
        {
            "cik": [f"{c:010d}" for c in ciks],
            "ticker": tickers,
            "name": names,
            "sic": rng.choice(BANK_SICS, n),
            "smaller_reporting_company": src,
            "shares_outstanding": np.round(np.exp(rng.normal(np.log(40e6), 0.9, n))),
            "adoption_quarter": adoption,
            "latent_opacity": latent,
            "first_date": dates[0],
            "last_date": dates[-1],
            "delisted": False,
        }
    )
    # Late listings make the panel unbalanced as real ones are.
    late = rng.choice(n, size=max(1, n // 20), replace=False)
    banks.loc[late, "first_date"] = dates[rng.integers(len(dates) // 8, len(dates) // 3, len(late))]
    if cfg.n_failures:
        # The most opaque banks fail, as in the 2023 crisis narrative.
        order = np.argsort(-latent)
        # Only failures inside the sample period can happen (and need 3 sessions to slide).
        in_period = [d for d in FAILURE_DATES if dates[2] <= pd.Timestamp(d) <= dates[-1]]
        for k, day in enumerate(in_period[: cfg.n_failures]):
            idx = order[k]
            banks.loc[idx, ["last_date", "delisted", "first_date"]] = [
                pd.Timestamp(day),
                True,
                dates[0],
            ]
    return banks


def latent_opacity_path(cfg: SampleConfig, banks: pd.DataFrame) -> pd.DataFrame:
    """Latent opacity by quarter (rows, from two quarters before ``cfg.start``) and bank
    (columns, cik): the bank's level ``latent_opacity`` plus a stationary AR(1) with sd
    ``opacity_within_sd`` and persistence ``opacity_persistence``, clipped to 0..100."""
    quarters = pd.period_range(
        pd.Period(cfg.start, freq="Q") - PREMIUM_NOTE_LAG_QUARTERS,
        pd.Period(cfg.end, freq="Q"),
        freq="Q",
    )
    rng = np.random.default_rng([cfg.seed, OPACITY_PATH_STREAM])
    rho, sd = cfg.opacity_persistence, cfg.opacity_within_sd
    shocks = rng.standard_normal((len(quarters), len(banks)))
    within = np.empty_like(shocks)
    within[0] = sd * shocks[0]
    for k in range(1, len(quarters)):
        within[k] = rho * within[k - 1] + sd * np.sqrt(1 - rho**2) * shocks[k]
    level = banks["latent_opacity"].to_numpy(dtype=float)
    path = np.round(np.clip(level[None, :] + within, 0.0, 100.0), 2)
    return pd.DataFrame(path, index=quarters, columns=banks["cik"].to_numpy())


def generate_sample_banks(cfg: SampleConfig = SampleConfig()) -> pd.DataFrame:
    """The banks table of ``generate_universe(cfg)`` without generating any prices.

    The same draws in the same order as ``generate_universe`` up to its banks, so the
    rows are identical; the filing source needs only these, not 12M price rows.
    """
    rng = np.random.default_rng(cfg.seed)
    dates = trading_days(cfg.start, cfg.end)
    generate_factors(dates, rng)
    return generate_banks(cfg, dates, rng)


def generate_sample_opacity_path(cfg: SampleConfig = SampleConfig()) -> pd.DataFrame:
    """``latent_opacity_path`` of ``generate_universe(cfg)`` without generating any prices."""
    return latent_opacity_path(cfg, generate_sample_banks(cfg))


def generate_universe(cfg: SampleConfig = SampleConfig()) -> SampleUniverse:
    rng = np.random.default_rng(cfg.seed)
    dates = trading_days(cfg.start, cfg.end)
    if len(dates) < 20:
        raise ValueError(
            f"sample period {cfg.start}..{cfg.end} has {len(dates)} sessions; need 20 or more"
        )
    factors = generate_factors(dates, rng)
    banks = generate_banks(cfg, dates, rng)
    n, t = len(banks), len(dates)

    f = factors[["mkt_rf", "smb", "hml", "rmw", "cma", "mom"]].to_numpy() / 100.0
    rf = factors["rf"].to_numpy() / 100.0
    regime = _vol_regime(dates)
    betas = np.column_stack(
        [
            rng.normal(1.05, 0.2, n),  # mkt
            rng.normal(0.45, 0.2, n),  # smb
            rng.normal(0.55, 0.2, n),  # hml
            rng.normal(0.0, 0.1, n),  # rmw
            rng.normal(0.0, 0.1, n),  # cma
            rng.normal(-0.05, 0.1, n),  # mom
        ]
    )
    bank_factor = 0.006 * regime * rng.standard_normal(t)
    bank_loading = rng.normal(1.0, 0.25, n)
    idio_sd = cfg.idio_vol_daily * rng.uniform(0.8, 1.2, n)
    eps = rng.standard_normal((t, n)) * idio_sd * np.sqrt(regime)[:, None]

    adoption_start = np.array(
        [_quarter_start(q) for q in banks["adoption_quarter"]], dtype="datetime64[ns]"
    )
    post = dates.to_numpy()[:, None] >= adoption_start[None, :]
    eps_cecl = np.where(post, eps * cfg.cecl_vol_multiplier, eps)

    path = latent_opacity_path(cfg, banks)
    # Each session's premium is priced on the note known when its quarter began.
    priced_quarter = dates.to_period("Q") - PREMIUM_NOTE_LAG_QUARTERS
    alpha = cfg.opacity_premium_daily * (path.loc[priced_quarter].to_numpy() - 50.0)
    systematic = rf[:, None] + f @ betas.T + bank_factor[:, None] * bank_loading[None, :] + alpha

    shock = np.zeros((t, n))
    day0 = dates.searchsorted(SVB_DAY0)
    # The SVB shock loads on the opacity of the latest note known on the event days.
    svb_quarter = svb_opacity_quarter()
    opacity_c = (
        path.loc[svb_quarter].to_numpy() - 50.0
        if svb_quarter in path.index
        else banks["latent_opacity"].to_numpy() - 50.0
    )
    for offset, base_share, slope_share in SVB_PATH:
        pos = day0 + offset
        if 0 <= pos < t:
            shock[pos] = (
                base_share * cfg.svb_shock_mean + slope_share * cfg.svb_car_per_point * opacity_c
            )
    returns = systematic + shock + eps_cecl
    returns_no_cecl = systematic + shock + eps

    # Failing banks slide in their last sessions, then delist.
    first = banks["first_date"].to_numpy(dtype="datetime64[ns]")
    last = banks["last_date"].to_numpy(dtype="datetime64[ns]")
    for idx in np.flatnonzero(banks["delisted"].to_numpy()):
        end = dates.searchsorted(pd.Timestamp(last[idx]))
        returns[end - 2 : end + 1, idx] = [-0.25, -0.35, -0.45][-min(3, end + 1) :]
        returns_no_cecl[end - 2 : end + 1, idx] = returns[end - 2 : end + 1, idx]
    alive = (dates.to_numpy()[:, None] >= first[None, :]) & (
        dates.to_numpy()[:, None] <= last[None, :]
    )

    start_price = np.exp(rng.normal(np.log(40), 0.5, n))
    growth = np.where(alive, np.log1p(returns), 0.0)
    log_price = np.log(start_price)[None, :] + np.cumsum(growth, axis=0)
    price = np.round(np.exp(log_price), 4)
    volume = np.round(np.exp(rng.normal(np.log(2e5), 0.6, (t, n))))

    panel = PricePanel(
        dates=dates,
        tickers=banks["ticker"].to_numpy(),
        ciks=banks["cik"].to_numpy(),
        shares=banks["shares_outstanding"].to_numpy(),
        delisted_on=np.where(banks["delisted"].to_numpy(), last, np.datetime64("NaT")),
        adj_close=price,
        volume=volume,
        alive=alive,
    )

    mkt_total = f[:, 0] + rf
    spy = mkt_total + 0.0004 * rng.standard_normal(t)
    kre = rf + 1.1 * f[:, 0] + bank_factor + shock.mean(axis=1) + 0.003 * rng.standard_normal(t)
    benchmarks = pd.concat(
        [
            pd.DataFrame(
                {
                    "date": dates,
                    "ticker": sym,
                    "adj_close": np.round(p0 * np.exp(np.cumsum(np.log1p(r))), 4),
                }
            )
            for sym, p0, r in (("SPY", 270.0, spy), ("KRE", 60.0, kre))
        ],
        ignore_index=True,
    )

    truth = _truth(cfg, banks, dates, returns, returns_no_cecl, alive, betas, idio_sd)
    truth["latent_opacity_quarters"] = [str(q) for q in path.index]
    truth["latent_opacity_path"] = {cik: path[cik].tolist() for cik in path.columns}
    truth["opacity_premium_priced_on"] = (
        f"latent opacity of quarter Q-{PREMIUM_NOTE_LAG_QUARTERS} (the latest note known "
        "when quarter Q begins)"
    )
    truth["svb_opacity_quarter"] = str(svb_quarter)
    # SPY does not span the bank factor, so its move on each event day is part of every
    # bank's abnormal return against a SPY market model, on top of the planted shock.
    truth["svb_bank_factor_ar_by_day"] = {
        offset: float(bank_factor[day0 + offset] * bank_loading.mean())
        for offset in range(-10, 11)
        if 0 <= day0 + offset < t
    }
    universe_banks = banks.assign(first_date=banks["first_date"], last_date=banks["last_date"])
    return SampleUniverse(
        config=cfg,
        banks=universe_banks,
        factors_daily=factors,
        factors_monthly=monthly_from_daily(factors),
        benchmarks=benchmarks,
        panel=panel,
        truth=truth,
        opacity_path=path,
    )


def _truth(cfg, banks, dates, returns, returns_no_cecl, alive, betas, idio_sd) -> dict:
    # The realised CECL effect on quarterly volatility, measured on the generated paths
    # themselves (with and without the effect), so tests compare against what was planted
    # in this sample, not an asymptotic approximation.
    quarters = dates.to_period("Q")
    adoption = pd.PeriodIndex(banks["adoption_quarter"], freq="Q")
    # Sessions are sorted, so each quarter is one block of rows; per-(quarter, bank) standard
    # deviations of the alive days come from block sums (a per-bank groupby took a minute
    # at 5,000 banks).
    codes, blocks = pd.factorize(quarters)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    n_alive = np.add.reduceat(alive.astype(float), starts, axis=0)

    def quarterly_sd(values: np.ndarray) -> np.ndarray:
        kept = np.where(alive, values, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.add.reduceat(kept, starts, axis=0) / n_alive
            deviation = np.where(alive, values - mean[codes], 0.0)
            variance = np.add.reduceat(deviation**2, starts, axis=0) / (n_alive - 1)
        return np.sqrt(np.where(n_alive >= 2, variance, np.nan))

    difference = quarterly_sd(returns) - quarterly_sd(returns_no_cecl)
    treated = blocks.asi8[:, None] >= adoption.asi8[None, :]
    effects = difference.T[treated.T & ~np.isnan(difference.T)]
    return {
        "config": asdict(cfg),
        "opacity_premium_daily_per_point": cfg.opacity_premium_daily,
        "opacity_premium_monthly_per_point": cfg.opacity_premium_daily * 21,
        "opacity_premium_quarterly_per_point": cfg.opacity_premium_daily * 63,
        "svb_day0": str(SVB_DAY0.date()),
        "svb_car_mean_at_50": cfg.svb_shock_mean,  # planted on days -1..+1, beyond all factors
        "svb_car_per_point": cfg.svb_car_per_point,
        "cecl_vol_multiplier": cfg.cecl_vol_multiplier,
        "cecl_att_volatility": float(np.mean(effects)) if len(effects) else None,
        "cecl_att_return": 0.0,
        "latent_opacity": dict(
            zip(banks["cik"], banks["latent_opacity"].astype(float), strict=True)
        ),
        "adoption_quarter": dict(zip(banks["cik"], banks["adoption_quarter"], strict=True)),
        "failed_banks": banks.loc[banks["delisted"], ["cik", "ticker", "last_date"]]
        .assign(last_date=lambda x: x["last_date"].dt.strftime("%Y-%m-%d"))
        .to_dict("records"),
        "market_beta": dict(zip(banks["cik"], betas[:, 0].round(6).tolist(), strict=True)),
        "idio_vol_daily": dict(zip(banks["cik"], idio_sd.round(6).tolist(), strict=True)),
    }
