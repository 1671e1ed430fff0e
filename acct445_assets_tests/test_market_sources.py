import http.server
import io
import threading
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from acct445_assets.resources.market import (
    FileFactorSource,
    FilePriceSource,
    KenFrenchFactorSource,
    YahooPriceSource,
)
from acct445_assets.sources.files.prices import PriceFileError, read_price_file
from acct445_assets.sources.live import yahoo
from acct445_assets.sources.live.yahoo import yahoo_long_frame

FIXTURES = Path(__file__).parent / "fixtures" / "kenfrench"


def yahoo_frame(tickers, failed=(), dates=("2023-03-08", "2023-03-09", "2023-03-10")):
    """The shape `yfinance.download(auto_adjust=True)` returns: (Price, Ticker) columns."""
    index = pd.DatetimeIndex(pd.to_datetime(list(dates)), name="Date")
    fields = ["Close", "High", "Low", "Open", "Volume"]
    cols = pd.MultiIndex.from_product([fields, tickers], names=["Price", "Ticker"])
    rng = np.random.default_rng(0)
    data = rng.uniform(10, 50, (len(index), len(cols)))
    frame = pd.DataFrame(data, index=index, columns=cols)
    for t in failed:
        frame.loc[:, (slice(None), t)] = np.nan
    return frame


def test_yahoo_reshape_drops_failed_tickers():
    wide = yahoo_frame(["JPM", "ZZZZ", "WFC"], failed=["ZZZZ"])
    long = yahoo_long_frame(wide, ["JPM", "ZZZZ", "WFC"])
    assert set(long["ticker"]) == {"JPM", "WFC"}
    assert len(long) == 6
    jpm = long[long["ticker"] == "JPM"].set_index("date")["adj_close"]
    assert jpm.loc["2023-03-09"] == wide.loc["2023-03-09", ("Close", "JPM")]


def test_yahoo_source_batches_reports_missing_and_retries(monkeypatch):
    import yfinance

    calls = []

    class YFRateLimitError(Exception):
        pass

    def fake_download(tickers, **kwargs):
        calls.append(list(tickers))
        assert kwargs["auto_adjust"] is True
        if len(calls) == 1:
            raise YFRateLimitError("Too Many Requests")
        return yahoo_frame(list(tickers), failed=[t for t in tickers if t.startswith("Z")])

    monkeypatch.setattr(yfinance, "download", fake_download)
    monkeypatch.setattr(yahoo.time, "sleep", lambda s: None)
    source = YahooPriceSource(batch_size=2, backoff_seconds=0.01)
    with pytest.warns(UserWarning, match="no data for"):
        batch = source.prices("2023-03-08", "2023-03-10", ["JPM", "ZION", "WFC", "ZZZZ", "USB"])
    # first call rate-limited and retried; then 3 batches of at most 2
    assert calls[0] == calls[1] == ["JPM", "ZION"]
    assert [len(c) for c in calls[1:]] == [2, 2, 1]
    assert batch.missing == ["ZION", "ZZZZ"]
    assert set(batch.frame["ticker"]) == {"JPM", "WFC", "USB"}


def test_yahoo_source_gives_up_on_non_transient_errors(monkeypatch):
    import yfinance

    monkeypatch.setattr(
        yfinance, "download", lambda *a, **k: (_ for _ in ()).throw(ValueError("bad"))
    )
    with pytest.raises(ValueError, match="bad"):
        YahooPriceSource().prices("2023-03-08", "2023-03-10", ["JPM"])


def write_files_layout(root: Path, prices: pd.DataFrame | None = None) -> Path:
    (root / "factors").mkdir(parents=True, exist_ok=True)
    for f in FIXTURES.iterdir():
        (root / "factors" / f.name).write_bytes(f.read_bytes())
    if prices is None:
        dates = pd.bdate_range("2023-03-06", "2023-03-14")
        rows = []
        for t, p0 in [("AAA", 10.0), ("BBB", 20.0), ("SPY", 400.0), ("KRE", 60.0)]:
            for i, d in enumerate(dates):
                rows.append({"date": d.strftime("%Y-%m-%d"), "ticker": t, "adj_close": p0 + i})
        prices = pd.DataFrame(rows)
    prices.to_csv(root / "prices.csv", index=False)
    pd.DataFrame({"cik": ["123", "456"], "ticker": ["AAA", "BBB"]}).to_csv(
        root / "cik_tickers.csv", index=False
    )
    return root


def test_file_factor_source_merges_five_factors_and_momentum(tmp_path):
    write_files_layout(tmp_path)
    daily = FileFactorSource(data_dir=str(tmp_path)).load("daily")
    assert list(daily.frame.columns) == ["mkt_rf", "smb", "hml", "rmw", "cma", "rf", "mom"]
    assert daily.frame.loc["2023-03-13", "mom"] == pytest.approx(2.05)
    assert daily.metadata["vintage"] == "202409"
    monthly = FileFactorSource(data_dir=str(tmp_path)).load("monthly")
    assert len(monthly.frame) == 4 and monthly.metadata["derived_from_daily"] is False


def test_file_price_source_universe_and_benchmarks(tmp_path):
    write_files_layout(tmp_path)
    source = FilePriceSource(data_dir=str(tmp_path))
    universe = source.universe()
    assert list(universe["ticker"]) == ["AAA", "BBB"]
    assert list(universe["cik"]) == ["0000000123", "0000000456"]
    bench = source.benchmarks("2023-01-01", "2023-12-31")
    assert set(bench["ticker"]) == {"SPY", "KRE"}
    batch = source.prices("2023-03-07", "2023-03-08", ["AAA", "CCC"])
    assert len(batch.frame) == 2 and batch.missing == ["CCC"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda f: f.drop(columns="adj_close"),
            r"prices.csv: missing required column\(s\) \['adj_close'\]",
        ),
        (
            lambda f: f.assign(adj_close=f["adj_close"].where(f.index != 3, -1.0)),
            r"prices.csv: row 5, column adj_close: price must be positive",
        ),
        (
            lambda f: f.assign(date=f["date"].where(f.index != 6, "2023-02-30x")),
            r"prices.csv: row 8, column date: unparseable date '2023-02-30x'",
        ),
        (
            lambda f: f.assign(adj_close=f["adj_close"].astype(object).where(f.index != 2, "n/a")),
            r"row 4, column adj_close: not a number: 'n/a'",
        ),
        (
            lambda f: pd.concat([f, f.iloc[[0]]], ignore_index=True),
            r"columns date\+ticker: duplicate",
        ),
    ],
)
def test_bad_price_files_name_file_row_and_column(tmp_path, edit, message):
    base = pd.DataFrame(
        {
            "date": [f"2023-03-0{d}" for d in range(1, 9)],
            "ticker": "AAA",
            "adj_close": np.arange(1.0, 9.0),
        }
    )
    path = tmp_path / "prices.csv"
    edit(base).to_csv(path, index=False)
    with pytest.raises(PriceFileError, match=message):
        read_price_file(path)


class _KenFrenchHandler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    seen: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server API
        self.seen.append(self.path)
        body = self.files.get(self.path.rsplit("/", 1)[-1])
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "application/zip")
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args):
        pass


def _zip_of(path: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(path.name, path.read_bytes())
    return buf.getvalue()


def test_ken_french_live_source_downloads_through_pandas_datareader(tmp_path):
    mom_zip = (FIXTURES / "F-F_Momentum_Factor_daily_CSV.zip").read_bytes()
    _KenFrenchHandler.files = {
        "F-F_Research_Data_5_Factors_2x3_daily_CSV.zip": _zip_of(
            FIXTURES / "F-F_Research_Data_5_Factors_2x3_daily.CSV"
        ),
        "F-F_Momentum_Factor_daily_CSV.zip": mom_zip,
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _KenFrenchHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        source = KenFrenchFactorSource(
            base_url=f"http://127.0.0.1:{server.server_port}/ftp", retry_count=1, pause=0.01
        )
        data = source.load("daily")
    finally:
        server.shutdown()
    import hashlib

    assert data.frame.loc["2023-03-10", "mkt_rf"] == pytest.approx(-1.50)
    assert data.frame.loc["2023-03-10", "mom"] == pytest.approx(0.74)
    assert data.metadata["vintage"] == "202409"
    assert (
        data.metadata["sha256"]["F-F_Momentum_Factor_daily"] == hashlib.sha256(mom_zip).hexdigest()
    )
    assert "downloaded_at" in data.metadata


class _EdgarHandler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, object] = {}

    def do_GET(self):  # noqa: N802 - http.server API
        import json

        body = self.routes.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body or {}).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def edgar_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EdgarHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _edgar_routes():
    def submissions(name, sic, category):
        return {"name": name, "sic": sic, "category": category, "filings": {"recent": {}}}

    def facts(rows):
        return {
            "facts": {"dei": {"EntityCommonStockSharesOutstanding": {"units": {"shares": rows}}}}
        }

    return {
        "/files/company_tickers.json": {
            "0": {"cik_str": 19617, "ticker": "JPM", "title": "JPMORGAN CHASE & CO"},
            "1": {"cik_str": 1000001, "ticker": "TINY", "title": "Tiny Bancorp"},
            "2": {"cik_str": 320193, "ticker": "AAPL", "title": "Apple Inc."},
        },
        "/submissions/CIK0000019617.json": submissions(
            "JPMORGAN CHASE & CO", "6021", "Large accelerated filer"
        ),
        "/submissions/CIK0001000001.json": submissions(
            "Tiny Bancorp", "6022", "Non-accelerated filer<br>Smaller reporting company"
        ),
        "/submissions/CIK0000320193.json": submissions(
            "Apple Inc.", "3571", "Large accelerated filer"
        ),
        "/api/xbrl/companyfacts/CIK0000019617.json": facts(
            [
                {
                    "end": "2022-12-31",
                    "val": 2_900_000_000,
                    "filed": "2023-02-21",
                    "form": "10-K",
                    "accn": "a1",
                },
                {
                    "end": "2023-03-31",
                    "val": 2_800_000_000,
                    "filed": "2023-05-03",
                    "form": "10-Q",
                    "accn": "a2",
                },
            ]
        ),
    }


def _edgar_client(base, tmp_path):
    from acct445_assets.sources.live.edgar import EdgarClient

    return EdgarClient(
        user_agent="acct445 tests test@example.org",
        data_base_url=base,
        tickers_url=f"{base}/files/company_tickers.json",
        cache_dir=str(tmp_path / "edgar"),
        max_retries=0,
    )


def test_live_curated_universe_resolves_ciks_and_profiles_through_edgar(edgar_server, tmp_path):
    _EdgarHandler.routes = _edgar_routes()
    source = YahooPriceSource(tickers=["JPM", "NOPE"], edgar=_edgar_client(edgar_server, tmp_path))
    with pytest.warns(UserWarning, match=r"no CIK for \['NOPE'\]"):
        universe = source.universe()
    jpm = universe.set_index("ticker").loc["JPM"]
    assert (
        jpm["cik"] == "0000019617" and jpm["sic"] == 6021 and jpm["name"] == "JPMORGAN CHASE & CO"
    )
    assert not jpm["smaller_reporting_company"]


def test_live_all_universe_keeps_bank_sic_registrants(edgar_server, tmp_path):
    _EdgarHandler.routes = _edgar_routes()
    universe = YahooPriceSource(
        universe_mode="all", edgar=_edgar_client(edgar_server, tmp_path)
    ).universe()
    assert sorted(universe["ticker"]) == ["JPM", "TINY"]
    assert bool(universe.set_index("ticker").loc["TINY", "smaller_reporting_company"]) is True


def test_live_shares_are_point_in_time_by_filing_date(edgar_server, tmp_path, monkeypatch):
    import yfinance

    _EdgarHandler.routes = _edgar_routes()
    dates = ("2023-02-17", "2023-02-21", "2023-05-02", "2023-05-03")
    monkeypatch.setattr(
        yfinance, "download", lambda tickers, **k: yahoo_frame(list(tickers), dates=dates)
    )
    source = YahooPriceSource(edgar=_edgar_client(edgar_server, tmp_path))
    batch = source.prices("2023-02-01", "2023-05-31", ["JPM"], ciks={"JPM": "0000019617"})
    shares = batch.frame.set_index("date")["shares_outstanding"]
    assert np.isnan(shares.loc["2023-02-17"])  # nothing filed yet
    assert shares.loc["2023-02-21"] == 2_900_000_000
    assert (
        shares.loc["2023-05-02"] == 2_900_000_000
    )  # the 10-Q value is not known until it is filed
    assert shares.loc["2023-05-03"] == 2_800_000_000


def test_prices_parquet_is_read_like_the_csv(tmp_path):
    root = write_files_layout(tmp_path)
    csv = read_price_file(root / "prices.csv")
    pd.read_csv(root / "prices.csv").assign(date=lambda f: pd.to_datetime(f["date"])).to_parquet(
        root / "prices.parquet"
    )
    (root / "prices.csv").unlink()
    source = FilePriceSource(data_dir=str(root))
    pd.testing.assert_frame_equal(source.source().all_prices(), csv)
