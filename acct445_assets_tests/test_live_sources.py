"""The live sources against a local server answering in the real formats (127.0.0.1 only)."""

import numpy as np
import pandas as pd
import pytest

from acct445_assets.ops.doctor import run_doctor
from acct445_assets.settings import load_settings
from acct445_assets.sources.live.edgar import (
    EdgarClient,
    EdgarError,
    EdgarRateLimited,
    FileTokenBucket,
    cover_page_status,
)
from acct445_assets.sources.live.filings import EdgarFilings
from acct445_assets.sources.live.kenfrench import KenFrenchFactors
from acct445_assets.sources.live.yahoo import (
    IncompletePrices,
    UnmappedBanks,
    YahooPrices,
    as_traded,
    parse_chart,
)
from acct445_assets_tests import live_server as ls

UA = "Test Research test@example.edu"


@pytest.fixture
def server():
    recorded = ls.Recorded()
    httpd, base = ls.serve(recorded)
    yield recorded, base
    httpd.shutdown()


def edgar(base, tmp_path, **kw) -> EdgarClient:
    return EdgarClient(
        cache_dir=tmp_path / "edgar",
        user_agent=UA,
        www_url=base,
        data_url=base,
        max_requests_per_second=9.0,
        backoff_seconds=0.0,
        rate_limit_wait_seconds=0.0,
        **kw,
    )


def ret(close, split_ratio, dividend, prev_close):
    """The warehouse's total return from the stored columns (shared price contract)."""
    return (close * split_ratio + dividend) / prev_close - 1


# ---------------------------------------------------------------- prices that compose


def test_returns_from_stored_columns_are_the_same_fetched_on_the_day_or_months_later():
    days = pd.to_datetime(["2024-03-01", "2024-03-04", "2024-03-05", "2024-03-06"])
    traded = [100.0, 98.0, 50.5, 51.0]  # ex-dividend 1.00 on 03-04; 2:1 split on 03-05
    # Yahoo restates closes and dividends before each split it knows of at fetch time.
    on_the_day = parse_chart(
        ls.chart_json(
            "BK",
            days,
            [50.0, 49.0, 50.5, 51.0],
            dividends={days[1]: 0.5},
            splits={days[2]: (2, 1)},
        ),
        "BK",
    )
    # Months later a 3:1 split has restated every earlier row once more.
    later_days = days.append(pd.to_datetime(["2024-09-03"]))
    months_later = parse_chart(
        ls.chart_json(
            "BK",
            later_days,
            [50.0 / 3, 49.0 / 3, 50.5 / 3, 51.0 / 3, 17.2],
            dividends={days[1]: 0.5 / 3},
            splits={days[2]: (2, 1), later_days[-1]: (3, 1)},
        ),
        "BK",
    )
    for chart in (on_the_day, months_later):
        rows = as_traded(chart).iloc[:4]
        assert rows["close"].round(10).tolist() == traded
        assert rows["dividend"].round(10).tolist() == [0.0, 1.0, 0.0, 0.0]
        assert rows["split_ratio"].tolist() == [1.0, 1.0, 2.0, 1.0]
        r = ret(rows["close"], rows["split_ratio"], rows["dividend"], rows["close"].shift())
        # ex-dividend day: 98 + 1 over 100; split day: 2 x 50.5 over 98.
        assert r.iloc[1] == pytest.approx(-0.01)
        assert r.iloc[2] == pytest.approx(101 / 98 - 1)
        assert r.iloc[3] == pytest.approx(51 / 50.5 - 1)


# ---------------------------------------------------------------- retries, completeness


def _universe_csv(tmp_path, rows):
    path = tmp_path / "universe.csv"
    pd.DataFrame(rows, columns=["ticker", "name", "cik", "last_date", "delisting", "note"]).to_csv(
        path, index=False
    )
    return path


def test_all_nan_then_429_answers_are_retried_until_complete(server, tmp_path):
    recorded, base = server
    days = pd.to_datetime(["2024-03-04", "2024-03-05"])
    nan = ls.chart_json("AAA", days, [np.nan, np.nan])
    good = ls.chart_json("AAA", days, [10.0, 10.5])
    recorded.add("/v8/finance/chart/AAA", nan, ls.TOO_MANY_429, good)
    path = _universe_csv(tmp_path, [("AAA", "A Bank", "1", "", "", "")])
    prices = YahooPrices(
        base_url=base, universe_csv=str(path), backoff_seconds=0.0, sleep=lambda s: None
    )
    batch = prices.prices("2024-03-04", "2024-03-05", ["AAA"])
    assert batch.frame["close"].tolist() == [10.0, 10.5]
    assert recorded.count("/v8/finance/chart/AAA") == 3


def test_a_bank_still_without_prices_fails_the_partition_by_name(server, tmp_path):
    recorded, base = server
    days = pd.to_datetime(["2024-03-04"])
    recorded.add("/v8/finance/chart/AAA", ls.chart_json("AAA", days, [np.nan]))
    recorded.add("/v8/finance/chart/BBB", ls.chart_json("BBB", days, [20.0]))
    path = _universe_csv(
        tmp_path, [("AAA", "A Bank", "1", "", "", ""), ("BBB", "B Bank", "2", "", "", "")]
    )
    prices = YahooPrices(
        base_url=base,
        universe_csv=str(path),
        max_retries=2,
        backoff_seconds=0.0,
        sleep=lambda s: None,
    )
    with pytest.raises(IncompletePrices, match=r"AAA: no price on 1 session"):
        prices.prices("2024-03-04", "2024-03-04", ["AAA", "BBB"])


def test_a_delisted_bank_without_yahoo_prices_is_reported_with_the_reason(server, tmp_path):
    recorded, base = server
    days = pd.to_datetime(["2023-03-08", "2023-03-09", "2023-03-10"])
    recorded.add("/v8/finance/chart/BBB", ls.chart_json("BBB", days, [20.0, 20.1, 20.2]))
    path = _universe_csv(
        tmp_path,
        [
            ("SIVB", "SVB", "719739", "2023-03-09", "failed", "x"),
            ("BBB", "B Bank", "2", "", "", ""),
        ],
    )
    prices = YahooPrices(
        base_url=base, universe_csv=str(path), backoff_seconds=0.0, sleep=lambda s: None
    )
    batch = prices.prices("2023-03-08", "2023-03-10", ["SIVB", "BBB"])
    assert batch.missing == ["SIVB"]
    assert "last traded 2023-03-09" in batch.metadata["unavailable"]["SIVB"]
    assert "no prices for delisted" in batch.metadata["unavailable"]["SIVB"]
    after = prices.prices("2023-03-13", "2023-03-13", ["SIVB"])
    assert after.metadata["not_trading_in_window"] == ["SIVB"]


def test_shares_are_used_from_their_filed_date_only(server, tmp_path):
    recorded, base = server
    days = pd.to_datetime(["2024-04-30", "2024-05-01", "2024-05-02"])
    recorded.add("/v8/finance/chart/AAA", ls.chart_json("AAA", days, [10.0, 10.0, 10.0]))
    recorded.add(
        "/api/xbrl/companyconcept/CIK0000000001/dei/EntityCommonStockSharesOutstanding.json",
        ls.concept_json(
            1,
            "A Bank",
            [
                {
                    "end": "2024-02-15",
                    "val": 1000,
                    "accn": "a-1",
                    "form": "10-K",
                    "filed": "2024-02-20",
                },
                {
                    "end": "2024-04-25",
                    "val": 1200,
                    "accn": "a-2",
                    "form": "10-Q",
                    "filed": "2024-05-01",
                },
            ],
        ),
    )
    path = _universe_csv(tmp_path, [("AAA", "A Bank", "1", "", "", "")])
    prices = YahooPrices(
        base_url=base, universe_csv=str(path), edgar=edgar(base, tmp_path), sleep=lambda s: None
    )
    batch = prices.prices("2024-04-30", "2024-05-02", ["AAA"], ciks={"AAA": "0000000001"})
    assert batch.frame["shares_outstanding"].tolist() == [1000, 1200, 1200]


# ---------------------------------------------------------------- identity


def test_tickers_map_to_ciks_and_an_unmappable_bank_is_named(server, tmp_path):
    recorded, base = server
    recorded.add(
        "/files/company_tickers.json", ls.company_tickers([(19617, "JPM", "JPMORGAN CHASE & CO")])
    )
    path = _universe_csv(
        tmp_path,
        [
            ("JPM", "JPMorgan", "", "", "", ""),
            ("SIVB", "SVB", "719739", "2023-03-09", "failed", "closed"),
            ("SBNY", "Signature", "", "2023-03-10", "failed", "files with the FDIC"),
        ],
    )
    prices = YahooPrices(base_url=base, universe_csv=str(path), edgar=edgar(base, tmp_path))
    ids = prices.identities().set_index("ticker")["cik"]
    assert ids["JPM"] == "0000019617" and ids["SIVB"] == "0000719739" and pd.isna(ids["SBNY"])
    path = _universe_csv(tmp_path, [("ZZZ", "Zed Bancorp", "", "", "", "")])
    prices = YahooPrices(base_url=base, universe_csv=str(path), edgar=edgar(base, tmp_path))
    with pytest.raises(UnmappedBanks, match=r"ZZZ \(Zed Bancorp\)"):
        prices.identities()
    assert recorded.count("/files/company_tickers.json") == 1  # cached on disk


def test_filer_status_unknown_stays_unknown():
    assert cover_page_status(ls.cover_page(True, "Non-accelerated Filer"))[
        "smaller_reporting_company"
    ]
    assert not cover_page_status(ls.cover_page(False, "Large Accelerated Filer"))[
        "smaller_reporting_company"
    ]
    assert (
        cover_page_status(ls.cover_page(None, "Large Accelerated Filer"))[
            "smaller_reporting_company"
        ]
        is False
    )
    assert (
        cover_page_status(ls.cover_page(None, "Non-accelerated Filer"))["smaller_reporting_company"]
        is pd.NA
    )
    assert cover_page_status("<html>no cover tags</html>")["smaller_reporting_company"] is pd.NA


# ---------------------------------------------------------------- EDGAR


def test_edgar_rate_threshold_403_backs_off_then_fails_clearly(server, tmp_path):
    recorded, base = server
    waits = []
    recorded.add(
        "/files/company_tickers.json", ls.RATE_THRESHOLD_403, ls.company_tickers([(1, "A", "A")])
    )
    client = edgar(base, tmp_path, sleep=waits.append)
    client.rate_limit_wait_seconds = 600.0
    assert client.company_tickers()["ticker"].tolist() == ["A"]
    assert 600.0 in waits
    recorded.add("/submissions/CIK0000000001.json", ls.RATE_THRESHOLD_403)
    with pytest.raises(EdgarRateLimited, match="Request Rate Threshold Exceeded"):
        client.submissions(1)
    assert recorded.count("/submissions/CIK0000000001.json") == client.rate_limit_retries + 1
    recorded.add("/submissions/CIK0000000002.json", (403, {}, b"Forbidden"))
    with pytest.raises(EdgarError, match="HTTP 403") as info:
        client.submissions(2)
    assert not isinstance(info.value, EdgarRateLimited)
    assert recorded.count("/submissions/CIK0000000002.json") == 1


def test_rate_limit_is_one_token_bucket_shared_through_the_cache_dir(tmp_path):
    now = [100.0]
    slept = []
    first = FileTokenBucket(tmp_path / "rl", 5.0, sleep=slept.append, clock=lambda: now[0])
    second = FileTokenBucket(tmp_path / "rl", 5.0, sleep=slept.append, clock=lambda: now[0])
    starts = [first.acquire(), second.acquire(), first.acquire()]
    assert starts == pytest.approx([100.0, 100.2, 100.4])
    with pytest.raises(EdgarError, match="below SEC"):
        FileTokenBucket(tmp_path / "rl", 10.0)


def _subs(rows):
    return pd.DataFrame(
        rows, columns=["accession", "form", "filing_date", "report_date", "primary_document"]
    )


def test_submissions_pages_amendments_and_ex13(server, tmp_path):
    recorded, base = server
    note_doc = (ls.FIXTURES / "filings" / "bank_10k_ixbrl.htm").read_bytes()
    shell = b"<html><body><p>Item 8. Financial statements: see Exhibit 13.</p></body></html>"
    recent = _subs(
        [
            ("0000000001-21-000001", "10-K", "2021-03-01", "2020-12-31", "k2020.htm"),
            ("0000000001-21-000002", "8-K", "2021-04-01", "", "e.htm"),
            ("0000000001-21-000003", "10-Q", "2021-05-05", "2021-03-31", "q1.htm"),
            ("0000000001-21-000004", "10-Q/A", "2021-06-01", "2021-03-31", "q1a.htm"),
        ]
    )
    page = _subs([("0000000001-20-000001", "10-K", "2020-03-01", "2019-12-31", "k2019.htm")])
    ancient = _subs([("0000000001-05-000001", "10-K", "2005-03-01", "2004-12-31", "k2004.htm")])
    pages = [
        {
            "name": "CIK0000000001-submissions-001.json",
            "filingFrom": "2019-06-01",
            "filingTo": "2020-12-31",
        },
        {
            "name": "CIK0000000001-submissions-002.json",
            "filingFrom": "2001-01-01",
            "filingTo": "2010-12-31",
        },
    ]
    recorded.add(
        "/submissions/CIK0000000001.json", ls.submissions_json(1, "A Bank", "6022", recent, pages)
    )
    recorded.add("/submissions/CIK0000000001-submissions-001.json", ls.submissions_block(page))
    recorded.add("/submissions/CIK0000000001-submissions-002.json", ls.submissions_block(ancient))
    folder = "/Archives/edgar/data/1/000000000121000001"
    recorded.add(f"{folder}/k2020.htm", shell)
    recorded.add(
        f"{folder}/0000000001-21-000001-index.htm",
        ls.filing_index_html(
            "0000000001-21-000001",
            [("10-K", "k2020.htm", "10-K"), ("ANNUAL REPORT", "ex13.htm", "EX-13")],
        ),
    )
    recorded.add(f"{folder}/ex13.htm", note_doc)
    recorded.add("/Archives/edgar/data/1/000000000121000004/q1a.htm", shell)
    recorded.add("/Archives/edgar/data/1/000000000121000003/q1.htm", note_doc)

    client = edgar(base, tmp_path)
    source = EdgarFilings(client, start="2020-01-01", end="2021-12-31")
    banks = pd.DataFrame({"cik": ["0000000001", pd.NA], "ticker": ["AAA", "SBNY"]})
    listing = source.list_filings(banks)
    again = EdgarFilings(client, start="2020-01-01", end="2021-12-31").list_filings(banks)
    assert again.frame["accession"].tolist() == listing.frame["accession"].tolist()
    assert recorded.count("/submissions/CIK0000000001.json") == 1  # once per run
    assert recorded.count("/submissions/CIK0000000001-submissions-002.json") == 0  # before start
    frame = listing.frame.set_index("accession")
    assert list(frame.index) == [
        "0000000001-20-000001",
        "0000000001-21-000001",
        "0000000001-21-000004",
    ]
    assert frame.loc["0000000001-21-000004", "original_accession"] == "0000000001-21-000003"
    meta = listing.metadata
    assert meta["filings_seen_by_form"] == {"10-K": 2, "8-K": 1, "10-Q": 1, "10-Q/A": 1}
    assert meta["filings_skipped_by_reason_and_form"] == {
        "form not studied": {"8-K": 1},
        "replaced by amendment": {"10-Q": 1},
    }
    assert meta["amendments_replacing_originals"][0]["original"] == "0000000001-21-000003"
    assert listing.failures == [{"cik": None, "ticker": "SBNY", "reason": "no SEC CIK"}]
    rows = listing.frame.to_dict("records")
    assert source.read_document(rows[1]) == note_doc  # the 10-K's note is in its EX-13
    assert source.read_document(rows[2]) == note_doc  # the amendment falls back to its original


def test_rate_limited_listing_fails_instead_of_skipping_banks(server, tmp_path):
    recorded, base = server
    recorded.add("/submissions/CIK0000000001.json", ls.RATE_THRESHOLD_403)
    source = EdgarFilings(edgar(base, tmp_path), start="2020-01-01")
    with pytest.raises(EdgarRateLimited):
        source.list_filings(pd.DataFrame({"cik": ["0000000001"], "ticker": ["AAA"]}))


# ---------------------------------------------------------------- Ken French, doctor


def test_ken_french_zips_with_full_history(server):
    recorded, base = server
    ls.add_ken_french(recorded)
    source = KenFrenchFactors(base_url=f"{base}/kf", backoff_seconds=0.0)
    daily = source.load("daily")
    assert daily.frame["mkt_rf"].first_valid_index() == pd.Timestamp("1963-07-01")
    # Momentum starts in 1926; the files are joined on the days they share, so no factor
    # row has a missing mkt_rf.
    assert daily.frame["mom"].first_valid_index() == pd.Timestamp("1963-07-01")
    assert daily.frame.notna().all().all()
    assert daily.metadata["vintage"] == "202601"
    monthly = source.load("monthly")
    assert monthly.frame["mkt_rf"].first_valid_index() == pd.Timestamp("1963-07-31")
    assert monthly.frame.index.is_month_end.all()  # the annual section is not read as months
    assert len(monthly.frame) == len(daily.frame.index.to_period("M").unique())


def test_doctor_says_what_is_wrong_in_plain_words(server, tmp_path):
    recorded, base = server
    env = {
        "ACCT445_SOURCE": "live",
        "ACCT445_HOME": str(tmp_path),
        "ACCT445_KEN_FRENCH_URL": f"{base}/kf",
        "ACCT445_YAHOO_URL": base,
        "ACCT445_SEC_WWW_URL": base,
        "ACCT445_SEC_DATA_URL": base,
    }
    problems = run_doctor(load_settings(env))
    text = " ".join(problems)
    assert "SEC_USER_AGENT is not set" in text
    assert "Ken French's data library answered HTTP 404" in text
    ls.add_ken_french(recorded)
    recorded.add("/v8/finance/chart/SPY", ls.chart_json("SPY", ["2024-03-04"], [500.0]))
    recorded.add("/files/company_tickers.json", ls.company_tickers([(19617, "JPM", "JPM")]))
    recorded.add(
        "/submissions/CIK0000019617.json", ls.submissions_json(19617, "JPM", "6021", _subs([]), [])
    )
    assert run_doctor(load_settings({**env, "SEC_USER_AGENT": UA})) == []


def test_live_resources_take_their_endpoints_from_settings(tmp_path):
    from acct445_assets.resources import build_resources

    env = {
        "ACCT445_SOURCE": "live",
        "ACCT445_HOME": str(tmp_path),
        "ACCT445_KEN_FRENCH_URL": "http://127.0.0.1:1/kf",
        "ACCT445_YAHOO_URL": "http://127.0.0.1:2",
        "ACCT445_SEC_WWW_URL": "http://127.0.0.1:3",
        "ACCT445_SEC_DATA_URL": "http://127.0.0.1:4",
        "ACCT445_SEC_MAX_RPS": "4",
    }
    resources = build_resources(load_settings(env))
    prices = resources["price_source"].source()
    filings = resources["filing_source"].source()
    assert resources["factor_source"].source().base_url == "http://127.0.0.1:1/kf"
    assert prices.base_url == "http://127.0.0.1:2"
    for client in (prices.edgar, filings.edgar):
        assert (client.www_url, client.data_url) == ("http://127.0.0.1:3", "http://127.0.0.1:4")
        assert client.max_requests_per_second == 4.0
        assert client.cache_dir == tmp_path / "cache" / "edgar"
