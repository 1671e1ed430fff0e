"""Yahoo daily prices from the v8 chart endpoint, and the live bank universe (`live` source).

The chart endpoint is called with `requests` directly rather than through yfinance:
yfinance catches its own errors (rate limits included) and hands back all-NaN columns, and
it cannot be pointed at another host through a setting. Here a 429 is retried (urllib3
`Retry`), an answer without prices for a bank that traded is re-requested with backoff
(tenacity), and what is still missing fails the partition by name.

Prices follow the shared price contract: `close` is the close as traded on the day.
Yahoo's chart `close` is split-adjusted as of the fetch, so every request reaches to today
(bringing all later splits) and the splits after each row's date are undone. Then a
partition fetched months later stores the same `close`, `dividend` and `split_ratio` as
one fetched on the day, and ret = (close * split_ratio + dividend) / prev_close - 1.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import requests
from tenacity import Retrying as _Retrying
from tenacity import retry_if_exception_type, stop_after_attempt, wait_exponential

from ...calendar import trading_days
from ..base import BENCHMARK_TICKERS, UNIVERSE_COLUMNS, PriceBatch
from .http import retrying_session

log = logging.getLogger(__name__)
CURATED_UNIVERSE = Path(__file__).resolve().parents[2] / "data" / "live_universe.csv"
YAHOO_UNAVAILABLE = "Yahoo keeps no prices for delisted tickers"
PRICE_OUTPUT = [
    "date",
    "ticker",
    "close",
    "adj_close",
    "dividend",
    "split_ratio",
    "volume",
    "shares_outstanding",
    "delisted",
    "ret",
    "delisting_return",
]


class YahooError(RuntimeError):
    pass


class IncompletePrices(YahooError):
    """Banks that traded in the window have no price from Yahoo after every retry."""


class UnmappedBanks(ValueError):
    """Universe banks without a CIK and without a recorded reason."""


class _NoPrices(Exception):
    """An answer without prices (Yahoo's rate-limited answers look like this): ask again."""


@dataclass
class Chart:
    ticker: str
    prices: pd.DataFrame  # date, close (split-adjusted as of fetch), adj_close, volume
    dividends: pd.DataFrame  # date, amount (split-adjusted as of fetch)
    splits: pd.DataFrame  # date, ratio


def _local_dates(seconds, zone: str) -> pd.Series:
    stamps = pd.to_datetime(pd.Series(seconds, dtype="float64"), unit="s", utc=True)
    return stamps.dt.tz_convert(zone).dt.tz_localize(None).dt.normalize()


def parse_chart(payload: dict, ticker: str) -> Chart:
    """A v8 `finance/chart` answer (interval 1d, events div|split) as frames."""
    results = (payload.get("chart") or {}).get("result") or []
    if not results:
        error = (payload.get("chart") or {}).get("error") or {}
        raise YahooError(f"{ticker}: {error.get('description') or 'no chart result'}")
    result = results[0]
    zone = (result.get("meta") or {}).get("exchangeTimezoneName") or "America/New_York"
    stamps = result.get("timestamp") or []
    quote = ((result.get("indicators") or {}).get("quote") or [{}])[0]
    adj = ((result.get("indicators") or {}).get("adjclose") or [{}])[0].get("adjclose")
    n = len(stamps)

    def column(values):
        values = list(values or [None] * n)
        return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype(float)

    prices = pd.DataFrame(
        {
            "date": _local_dates(stamps, zone),
            "close": column(quote.get("close")),
            "adj_close": column(adj),
            "volume": column(quote.get("volume")),
        }
    )
    events = result.get("events") or {}
    divs = list((events.get("dividends") or {}).values())
    splits = list((events.get("splits") or {}).values())
    dividends = pd.DataFrame(
        {
            "date": _local_dates([d["date"] for d in divs], zone),
            "amount": [float(d["amount"]) for d in divs],
        }
    )
    split_frame = pd.DataFrame(
        {
            "date": _local_dates([s["date"] for s in splits], zone),
            "ratio": [float(s["numerator"]) / float(s["denominator"]) for s in splits],
        }
    )
    return Chart(ticker, prices, dividends, split_frame)


def as_traded(chart: Chart) -> pd.DataFrame:
    """Rows with the close as traded, the dividend per share then, and the day's split ratio.

    Yahoo's close, dividends and volume are restated for every split after the row's
    date (up to the fetch); multiplying back by those splits undoes it.
    """
    frame = chart.prices.dropna(subset=["close"]).copy()
    splits = chart.splits.groupby("date")["ratio"].prod()
    later = np.ones(len(frame))
    for day, ratio in splits.items():
        later = np.where(frame["date"].to_numpy() < np.datetime64(day), later * ratio, later)
    dividends = chart.dividends.groupby("date")["amount"].sum()
    frame["close"] = frame["close"] * later
    frame["dividend"] = frame["date"].map(dividends).fillna(0.0).to_numpy() * later
    frame["split_ratio"] = frame["date"].map(splits).fillna(1.0)
    frame["volume"] = frame["volume"] / later
    frame["ticker"] = chart.ticker
    return frame.reset_index(drop=True)


def shares_as_of(prices: pd.DataFrame, shares: pd.DataFrame) -> pd.Series:
    """Shares outstanding known on each price date: the latest XBRL value *filed* by then."""
    if shares.empty or prices.empty:
        return pd.Series(np.nan, index=prices.index)
    left = prices[["cik", "date"]].reset_index().sort_values("date")
    left["date"] = pd.to_datetime(left["date"])
    right = (
        shares.dropna(subset=["filed", "shares_outstanding"])
        .sort_values("filed")[["cik", "filed", "shares_outstanding"]]
        .rename(columns={"filed": "date"})
    )
    right["date"] = pd.to_datetime(right["date"])
    right["shares_outstanding"] = right["shares_outstanding"].astype(float)
    merged = pd.merge_asof(left, right, on="date", by="cik", direction="backward")
    return merged.set_index("index")["shares_outstanding"].reindex(prices.index)


def read_curated(path: Path) -> pd.DataFrame:
    """The curated universe: ticker, name, cik, last_date, delisting, note (see data/README)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col in ("cik", "last_date", "delisting", "note"):
        if col not in frame.columns:
            frame[col] = ""
    frame["ticker"] = frame["ticker"].str.strip().str.upper()
    bad = frame.index[frame["ticker"] == ""].tolist()
    if bad:
        raise ValueError(f"{path.name}: row {bad[0] + 2}, column ticker: empty ticker")
    frame["last_date"] = pd.to_datetime(frame["last_date"].replace("", None), errors="coerce")
    return frame


@dataclass
class YahooPrices:
    """Daily prices from Yahoo's chart endpoint; the bank universe and identity from EDGAR."""

    base_url: str = "https://query2.finance.yahoo.com"
    edgar: Any = None  # an EdgarClient
    universe_csv: str | None = None  # default: acct445_assets/data/live_universe.csv
    tickers: list[str] = field(default_factory=list)  # a subset of the curated list
    max_retries: int = 5
    backoff_seconds: float = 2.0
    timeout: float = 30.0
    sleep: Any = field(default=time.sleep, repr=False)

    def __post_init__(self):
        self._session: requests.Session | None = None
        self._curated_cache: pd.DataFrame | None = None

    # ------------------------------------------------------------- universe

    def curated(self) -> pd.DataFrame:
        if self._curated_cache is None:
            frame = read_curated(Path(self.universe_csv or CURATED_UNIVERSE))
            if self.tickers:
                wanted = {t.upper() for t in self.tickers}
                unknown = sorted(wanted - set(frame["ticker"]))
                if unknown:
                    raise ValueError(f"tickers {unknown} are not in the curated live universe")
                frame = frame[frame["ticker"].isin(wanted)]
            self._curated_cache = frame.reset_index(drop=True)
        return self._curated_cache

    def identities(self) -> pd.DataFrame:
        """CIK per curated bank: SEC's ticker map for trading banks, the curated CIK for
        banks that no longer trade (their tickers drop out of the map or get reused)."""
        if self.edgar is None:
            raise ValueError("the live universe needs an EDGAR client (SEC_USER_AGENT)")
        frame = self.curated().copy()
        listed = self.edgar.company_tickers().drop_duplicates("ticker").set_index("ticker")["cik"]
        curated = frame["cik"].map(lambda c: f"{int(c):010d}" if c.strip().isdigit() else pd.NA)
        trading = frame["last_date"].isna()
        frame["cik"] = np.where(
            trading,
            frame["ticker"].map(listed).fillna(curated),
            curated.fillna(frame["ticker"].map(listed)),
        )
        frame["cik"] = frame["cik"].astype(object).where(frame["cik"].notna(), pd.NA)
        unmapped = frame[frame["cik"].isna() & (frame["note"].str.strip() == "")]
        if len(unmapped):
            raise UnmappedBanks(
                "no CIK for "
                + ", ".join(
                    f"{t} ({n})" for t, n in zip(unmapped["ticker"], unmapped["name"], strict=True)
                )
                + ": not in SEC's company_tickers.json; add the CIK (or a note why there is"
                " none) to the live universe CSV"
            )
        return frame

    def universe(self) -> pd.DataFrame:
        frame = self.identities()
        rows = []
        for bank in frame.to_dict("records"):
            row = {
                "cik": bank["cik"],
                "ticker": bank["ticker"],
                "name": bank["name"],
                "sic": np.nan,
            }
            row["smaller_reporting_company"] = pd.NA
            if pd.notna(bank["cik"]):
                profile = self.edgar.profile(bank["cik"])
                row["name"] = profile["name"] or bank["name"]
                row["sic"] = profile["sic"]
                row["smaller_reporting_company"] = self.edgar.filer_status(bank["cik"])[
                    "smaller_reporting_company"
                ]
            row["last_date"] = bank["last_date"]
            row["delisted"] = pd.notna(bank["last_date"])
            rows.append(row)
        out = pd.DataFrame(rows)
        out["shares_outstanding"] = np.nan  # point in time, per price row (METHODS 0)
        out["first_date"] = pd.NaT
        out["smaller_reporting_company"] = out["smaller_reporting_company"].astype("boolean")
        return out[UNIVERSE_COLUMNS].reset_index(drop=True)

    def provenance(self) -> dict:
        curated = self.curated()
        gone = curated[curated["last_date"].notna()]
        return {
            "price_provider": f"Yahoo chart API ({self.base_url})",
            "delisted_banks": ", ".join(
                f"{t} (last traded {d.date()}, {r or 'delisted'})"
                for t, d, r in zip(
                    gone["ticker"], gone["last_date"], gone["delisting"], strict=True
                )
            )
            or "none",
            "survivorship": f"{YAHOO_UNAVAILABLE}; for a survivorship-free study use the files "
            "source with CRSP-style prices",
        }

    # ------------------------------------------------------------- prices

    def session(self) -> requests.Session:
        if self._session is None:
            self._session = retrying_session(
                self.max_retries,
                self.backoff_seconds,
                headers={"User-Agent": "Mozilla/5.0 (compatible; acct445_assets research)"},
            )
        return self._session

    def chart_url(self, ticker: str) -> str:
        return f"{self.base_url.rstrip('/')}/v8/finance/chart/{ticker}"

    def _chart_once(self, ticker: str, start) -> Chart | str:
        """The chart from `start` to now, or the reason Yahoo has none (a 404)."""
        period1 = int(pd.Timestamp(start).tz_localize("UTC").timestamp())
        period2 = int(time.time()) + 86400
        params = {
            "period1": period1,
            "period2": period2,
            "interval": "1d",
            "events": "div|split",
            "includeAdjustedClose": "true",
        }
        url = self.chart_url(ticker)
        try:
            resp = self.session().get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise YahooError(f"{url}: {type(exc).__name__}: {exc}") from exc
        if resp.status_code == 404:
            try:
                error = resp.json()["chart"]["error"]["description"]
            except (ValueError, KeyError, TypeError):
                error = resp.text[:200]
            return f"Yahoo: {error}"
        if resp.status_code != 200:
            raise YahooError(f"HTTP {resp.status_code} from {url} after retries: {resp.text[:200]}")
        try:
            return parse_chart(resp.json(), ticker)
        except ValueError as exc:
            raise YahooError(f"{url}: malformed chart JSON ({exc})") from exc

    def chart(self, ticker: str, start, end) -> Chart | str:
        """Chart with a price on every session in [start, end], re-requested with backoff
        while it has none (Yahoo's rate-limited answers carry all-null prices)."""
        sessions = trading_days(start, end)

        def attempt():
            chart = self._chart_once(ticker, start)
            if isinstance(chart, str):
                return chart
            have = set(chart.prices.dropna(subset=["close"])["date"])
            if any(day not in have for day in sessions):
                raise _NoPrices(ticker)
            return chart

        retrying = _Retrying(
            retry=retry_if_exception_type(_NoPrices),
            wait=wait_exponential(multiplier=self.backoff_seconds, max=120),
            stop=stop_after_attempt(self.max_retries + 1),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _NoPrices:
            log.warning(f"Yahoo: {ticker} still without prices after {self.max_retries + 1} tries")
            return self._chart_once(ticker, start)

    def prices(self, start, end, tickers, ciks: dict[str, str] | None = None) -> PriceBatch:
        start, end = pd.Timestamp(start), pd.Timestamp(end)
        curated = self.curated().set_index("ticker")
        frames, incomplete, unavailable, not_trading = [], {}, {}, []
        for ticker in tickers:
            last = curated["last_date"].get(ticker, pd.NaT) if ticker in curated.index else pd.NaT
            if pd.notna(last) and last < start:
                not_trading.append(ticker)
                continue
            window_end = min(end, last) if pd.notna(last) else end
            chart = self.chart(ticker, start, window_end)
            if isinstance(chart, str):
                if pd.notna(last):
                    unavailable[ticker] = (
                        f"delisted, last traded {last.date()}: {YAHOO_UNAVAILABLE}"
                    )
                else:
                    incomplete[ticker] = chart
                continue
            rows = as_traded(chart)
            rows = rows[(rows["date"] >= start) & (rows["date"] <= window_end)]
            lost = [d for d in trading_days(start, window_end) if d not in set(rows["date"])]
            if lost:
                incomplete[ticker] = f"no price on {len(lost)} session(s), first {lost[0].date()}"
            rows["delisted"] = pd.notna(last) & (rows["date"] == last)
            merged = curated["delisting"].get(ticker, "") == "merged"
            rows["delisting_return"] = np.where(rows["delisted"] & merged, 0.0, np.nan)
            frames.append(rows)
        if incomplete:
            raise IncompletePrices(
                f"Yahoo prices {start.date()} .. {end.date()} incomplete after "
                f"{self.max_retries + 1} tries for banks that traded: "
                + "; ".join(f"{t}: {why}" for t, why in sorted(incomplete.items()))
                + ". Nothing was written; re-run the partition later."
            )
        frame = (
            pd.concat(frames, ignore_index=True)
            if frames
            else pd.DataFrame(columns=["date", "ticker", "close", "adj_close", "volume"])
        )
        for col, default in (("dividend", 0.0), ("split_ratio", 1.0), ("delisted", False)):
            if col not in frame:
                frame[col] = default
        frame["ret"] = np.nan
        if "delisting_return" not in frame:
            frame["delisting_return"] = np.nan
        frame["shares_outstanding"] = np.nan
        if self.edgar is not None and ciks and len(frame):
            frame["cik"] = frame["ticker"].map(ciks)
            wanted = sorted({str(c) for c in frame["cik"].dropna()})
            shares = (
                pd.concat([self.edgar.shares_outstanding(c) for c in wanted])
                if wanted
                else pd.DataFrame()
            )
            frame["shares_outstanding"] = shares_as_of(frame, shares)
            frame = frame.drop(columns="cik")
        return PriceBatch(
            frame[PRICE_OUTPUT].reset_index(drop=True),
            sorted(unavailable),
            {
                "source": "live",
                "provider": "yahoo chart API",
                "unavailable": unavailable,
                "not_trading_in_window": not_trading,
            },
        )

    def benchmarks(self, start, end) -> pd.DataFrame:
        frames = []
        for ticker in BENCHMARK_TICKERS:
            chart = self._chart_once(ticker, start)
            if isinstance(chart, str):
                raise YahooError(f"no prices for benchmark {ticker}: {chart}")
            frames.append(chart.prices.dropna(subset=["adj_close"]).assign(ticker=ticker))
        frame = pd.concat(frames, ignore_index=True)
        frame = frame[(frame["date"] >= pd.Timestamp(start)) & (frame["date"] <= pd.Timestamp(end))]
        return frame[["date", "ticker", "adj_close"]].reset_index(drop=True)
