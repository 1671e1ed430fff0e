"""ACCT445_SOURCE=live end to end: every asset from a local server answering in the real formats.

A server on 127.0.0.1 plays Ken French's library (the full-history zips), Yahoo's chart
API and SEC EDGAR (company_tickers.json, submissions with an older `filings.files` page,
companyconcept, filing indexes and documents). The banks, their prices and their 10-K/10-Q
documents come from the sample generator, so the truth is known: three banks fail in the
2023 crisis (Yahoo has no prices for them), one bank pays a dividend, one splits 2:1, one
10-K keeps its CECL note only in EX-13, and one 10-Q is amended. Rate limiting is played
too: an all-null chart, 429s from Yahoo and SEC, and SEC's 403 "Request Rate Threshold
Exceeded". Every setting reaches the code through the environment, as a user sets it, and
the graph is built by `python -m acct445_assets.cli demo`.
"""

import os
import subprocess
import sys

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml
from dagster import (
    AssetCheckKey,
    DagsterEventType,
    DagsterInstance,
    load_asset_checks_from_modules,
    load_assets_from_modules,
)

from acct445_assets.assets import ASSET_MODULES
from acct445_assets.params import PARAMS_FILE
from acct445_assets.resources import build_resources
from acct445_assets.settings import load_settings
from acct445_assets.sources.sample.filings import generate_filings
from acct445_assets.sources.sample.universe import SampleConfig, generate_universe
from acct445_assets_tests import live_server as ls
from acct445_assets_tests.research_inputs import RESEARCH_TABLES

START, END = "2020-01-02", "2024-06-28"
UA = "Test Research test@example.edu"
DIVIDEND = 0.75  # dollars per share, ex on DIVIDEND_DAY
DIVIDEND_DAY, SPLIT_DAY = "2022-06-15", "2022-09-01"
ANCIENT_PAGE = "submissions-002"


def _sessions_from(dates: pd.DatetimeIndex, day: str) -> pd.Timestamp:
    return dates[dates >= pd.Timestamp(day)][0]


def _doc_name(ticker: str, form: str, report) -> str:
    kind = "10k" if form.startswith("10-K") else "10q"
    return f"{ticker.lower()}-{kind}{pd.Timestamp(report):%Y%m%d}.htm"


class Scenario:
    """What the server holds, and what the test knows is true about it."""

    def __init__(self, recorded: ls.Recorded):
        self.recorded = recorded
        u = generate_universe(SampleConfig(seed=445, n_banks=11, start=START, end=END))
        banks = u.banks
        # The live source cannot know a listing date, so a bank that listed mid-window
        # would fail its partition; keep the banks listed from the start.
        banks = banks[banks["first_date"] == banks["first_date"].min()].reset_index(drop=True)
        self.banks = banks
        self.failed = banks[banks["delisted"]].reset_index(drop=True)
        trading = banks[~banks["delisted"]].reset_index(drop=True)
        self.dividend_bank, self.split_bank, self.throttled_bank = trading["ticker"][:3]
        self.amended_bank, self.ex13_bank = trading["ticker"][3:5]
        self.rate_limited_cik = trading["cik"][5]
        self.concept_429_cik = trading["cik"][0]
        self.panel = u.prices
        self.dates = u.panel.dates
        self.dividend_day = _sessions_from(self.dates, DIVIDEND_DAY)
        self.split_day = _sessions_from(self.dates, SPLIT_DAY)
        self.benchmarks = u.benchmarks
        self.amendment = None
        self.ex13_accession = None
        self._yahoo()
        self._edgar()
        ls.add_ken_french(recorded, "/kf")

    # ------------------------------------------------------------- Yahoo

    def total_return(self, ticker: str, day: pd.Timestamp) -> float:
        series = self.panel[self.panel["ticker"] == ticker].set_index("date")["adj_close"]
        at = series.index.get_loc(day)
        return float(series.iloc[at] / series.iloc[at - 1] - 1)

    def _yahoo(self) -> None:
        add = self.recorded.add
        for ticker in ("SPY", "KRE"):
            rows = self.benchmarks[self.benchmarks["ticker"] == ticker]
            add(
                f"/v8/finance/chart/{ticker}",
                ls.chart_json(ticker, rows["date"], rows["adj_close"]),
            )
        for bank in self.banks[~self.banks["delisted"]].itertuples():
            rows = self.panel[self.panel["ticker"] == bank.ticker]
            dates, total = rows["date"].reset_index(drop=True), rows["adj_close"].to_numpy()
            volume = rows["volume"].to_numpy()
            if bank.ticker == self.dividend_bank:
                # Traded closes whose total return, dividend included, is the planted one;
                # Yahoo's adjclose scales the days before the ex date by 1 - d / prev close.
                before = (dates < self.dividend_day).to_numpy()
                at = int(np.flatnonzero(~before)[0])
                close = np.where(before, total * (1 + DIVIDEND / total[at]), total)
                adj = np.where(before, close * (1 - DIVIDEND / close[at - 1]), close)
                chart = ls.chart_json(
                    bank.ticker, dates, close, adj, volume, dividends={self.dividend_day: DIVIDEND}
                )
            elif bank.ticker == self.split_bank:
                # 2:1: traded closes halve on the split day; Yahoo restates the earlier ones.
                before = (dates < self.split_day).to_numpy()
                shown = total / 2
                chart = ls.chart_json(
                    bank.ticker,
                    dates,
                    shown,
                    shown,
                    np.where(before, volume * 2, volume),
                    splits={self.split_day: (2, 1)},
                )
            else:
                chart = ls.chart_json(bank.ticker, dates, total, total, volume)
            if bank.ticker == self.throttled_bank:
                empty = ls.chart_json(bank.ticker, dates, [np.nan] * len(dates))
                add(f"/v8/finance/chart/{bank.ticker}", empty, ls.TOO_MANY_429, chart)
            else:
                add(f"/v8/finance/chart/{bank.ticker}", chart)
        # The failed banks get Yahoo's 404 "symbol may be delisted" (the server's default).

    # ------------------------------------------------------------- EDGAR

    def _edgar(self) -> None:
        add = self.recorded.add
        trading = self.banks[~self.banks["delisted"]]
        tickers = ls.company_tickers([(int(b.cik), b.ticker, b.name) for b in trading.itertuples()])
        add("/files/company_tickers.json", ls.TOO_MANY_429, tickers)
        # The FY2019 10-K (filed in 2020) carries the cover page with the filer status.
        schedule = generate_filings(
            self.banks.assign(first_date=pd.Timestamp("2019-01-01")),
            seed=445,
            start="2020-01-01",
            end=END,
        )
        schedule["primary_document"] = [
            _doc_name(t, f, r)
            for t, f, r in zip(
                schedule["ticker"], schedule["form"], schedule["report_date"], strict=True
            )
        ]
        self.schedule = schedule
        for bank in self.banks.itertuples():
            self._bank(bank, schedule[schedule["cik"] == bank.cik].reset_index(drop=True))

    def _bank(self, bank, filings: pd.DataFrame) -> None:
        add, cik = self.recorded.add, int(bank.cik)
        base = f"/Archives/edgar/data/{cik}"
        for row in filings.itertuples():
            doc = row.document
            if row.form == "10-K" and row.report_date.year == 2019:
                cover = (
                    ls.cover_page(True, "Non-accelerated Filer")
                    if bank.smaller_reporting_company
                    else ls.cover_page(False, "Large Accelerated Filer")
                )
                doc = doc.replace("<body>", "<body>" + cover, 1)
            folder = f"{base}/{row.accession.replace('-', '')}"
            if (
                bank.ticker == self.ex13_bank
                and row.form == "10-K"
                and row.report_date.year == 2021
            ):
                self.ex13_accession = row.accession
                add(
                    f"{folder}/{row.primary_document}",
                    "<html><body><p>Item 8. Financial Statements and Supplementary Data: "
                    "incorporated by reference to the Annual Report, Exhibit 13.</p></body></html>",
                )
                add(
                    f"{folder}/{row.accession}-index.htm",
                    ls.filing_index_html(
                        row.accession,
                        [
                            ("10-K", row.primary_document, "10-K"),
                            ("ANNUAL REPORT TO SHAREHOLDERS", "ex13.htm", "EX-13"),
                        ],
                    ),
                )
                add(f"{folder}/ex13.htm", doc)
            else:
                add(f"{folder}/{row.primary_document}", doc)
        listed = filings[["accession", "form", "filing_date", "report_date", "primary_document"]]
        eight_k = pd.DataFrame(
            [[f"{bank.cik}-22-900001", "8-K", "2022-04-20", "", "press.htm"]],
            columns=listed.columns,
        )
        listed = pd.concat([listed, eight_k], ignore_index=True)
        if bank.ticker == self.amended_bank:
            original = filings[
                (filings["form"] == "10-Q") & (filings["report_date"] == "2022-06-30")
            ].iloc[0]
            accession = f"{bank.cik}-22-800001"
            filed = pd.Timestamp(original["filing_date"]) + pd.Timedelta(days=20)
            self.amendment = {"original": original["accession"], "amendment": accession}
            name = "amended-" + original["primary_document"]
            add(f"{base}/{accession.replace('-', '')}/{name}", original["document"])
            listed = pd.concat(
                [
                    listed,
                    pd.DataFrame(
                        [[accession, "10-Q/A", filed, original["report_date"], name]],
                        columns=listed.columns,
                    ),
                ],
                ignore_index=True,
            )
        listed["filing_date"] = pd.to_datetime(listed["filing_date"])
        listed["report_date"] = pd.to_datetime(listed["report_date"].replace("", None))
        recent = listed[listed["filing_date"] >= "2021-01-01"].sort_values(
            "filing_date", ascending=False
        )
        older = listed[listed["filing_date"] < "2021-01-01"]
        pages = [
            {
                "name": f"CIK{bank.cik}-submissions-001.json",
                "filingFrom": "2019-06-01",
                "filingTo": "2020-12-31",
            },
            {
                "name": f"CIK{bank.cik}-{ANCIENT_PAGE}.json",
                "filingFrom": "2001-01-01",
                "filingTo": "2010-12-31",
            },
        ]
        main = ls.submissions_json(cik, bank.name, str(bank.sic), recent, pages)
        path = f"/submissions/CIK{bank.cik}.json"
        if bank.cik == self.rate_limited_cik:
            add(path, ls.RATE_THRESHOLD_403, main)
        else:
            add(path, main)
        add(f"/submissions/CIK{bank.cik}-submissions-001.json", ls.submissions_block(older))
        add(f"/submissions/CIK{bank.cik}-{ANCIENT_PAGE}.json", ls.submissions_block(older.iloc[:0]))
        periodic = filings[filings["form"].isin(["10-K", "10-Q"])]
        concept = ls.concept_json(
            cik,
            bank.name,
            [
                {
                    "end": (pd.Timestamp(f) - pd.Timedelta(days=10)).strftime("%Y-%m-%d"),
                    "val": int(bank.shares_outstanding),
                    "accn": a,
                    "form": form,
                    "filed": pd.Timestamp(f).strftime("%Y-%m-%d"),
                }
                for a, form, f in zip(
                    periodic["accession"], periodic["form"], periodic["filing_date"], strict=True
                )
            ],
        )
        path = f"/api/xbrl/companyconcept/CIK{bank.cik}/dei/EntityCommonStockSharesOutstanding.json"
        if bank.cik == self.concept_429_cik:
            add(path, ls.TOO_MANY_429, concept)
        else:
            add(path, concept)

    def universe_csv(self, path) -> None:
        rows = []
        for bank in self.banks.itertuples():
            if bank.delisted:
                rows.append(
                    (
                        bank.ticker,
                        bank.name,
                        str(int(bank.cik)),
                        f"{bank.last_date:%Y-%m-%d}",
                        "failed",
                        "failed in the 2023 crisis; CIK kept from the curated list",
                    )
                )
            else:
                rows.append((bank.ticker, bank.name, "", "", "", ""))
        pd.DataFrame(
            rows, columns=["ticker", "name", "cik", "last_date", "delisting", "note"]
        ).to_csv(path, index=False)


def _fast_params(path) -> None:
    params = yaml.safe_load(PARAMS_FILE.read_text())
    params["market"]["prices_start"] = START
    params["event_study"]["n_permutations"] = 99
    params["did"].update(panel_start="2020Q1", panel_end="2024Q2", bootstrap_reps=49, leads_lags=4)
    path.write_text(yaml.safe_dump(params))


def _events(instance: DagsterInstance, event_type: DagsterEventType) -> list:
    out = []
    for run in instance.get_runs():
        out += [r.dagster_event for r in instance.all_logs(run.run_id, of_type=event_type)]
    return out


def _errors(log: str) -> str:
    """The lines of a failed run that say what went wrong (Dagster logs are long)."""
    lines = [line for line in log.splitlines() if "Error" in line or "error" in line]
    return "\n".join(lines[-40:]) or log[-4000:]


@pytest.fixture
def server():
    recorded = ls.Recorded()
    httpd, base = ls.serve(recorded)
    yield recorded, base
    httpd.shutdown()


def test_live_source_end_to_end_materializes_whole_graph(server, tmp_path):
    recorded, base = server
    scenario = Scenario(recorded)
    scenario.universe_csv(tmp_path / "live_universe.csv")
    _fast_params(tmp_path / "params.yaml")
    (tmp_path / "dh").mkdir()
    env = {
        **os.environ,
        "ACCT445_SOURCE": "live",
        "ACCT445_HOME": str(tmp_path / "home"),
        "ACCT445_RESULTS_DIR": str(tmp_path / "results"),
        "ACCT445_PARAMS": str(tmp_path / "params.yaml"),
        "DAGSTER_HOME": str(tmp_path / "dh"),
        "ACCT445_KEN_FRENCH_URL": f"{base}/kf",
        "ACCT445_YAHOO_URL": base,
        "ACCT445_SEC_WWW_URL": base,
        "ACCT445_SEC_DATA_URL": base,
        "SEC_USER_AGENT": UA,
        "ACCT445_SEC_MAX_RPS": "9.5",
        "ACCT445_SEC_RATE_LIMIT_WAIT_SECONDS": "0",
        "ACCT445_LIVE_BACKOFF_SECONDS": "0",
        "ACCT445_LIVE_UNIVERSE": str(tmp_path / "live_universe.csv"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "acct445_assets.cli",
            "demo",
            "--partition-range",
            f"{START}...{END}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    (tmp_path / "demo.log").write_text(out.stdout + out.stderr)
    assert out.returncode == 0, _errors(out.stdout + out.stderr)
    banks = scenario.banks

    # Every asset materialized, every check passed.
    instance = DagsterInstance.from_config(str(tmp_path / "dh"))
    materialized = {e.asset_key for e in _events(instance, DagsterEventType.ASSET_MATERIALIZATION)}
    expected = {key for a in load_assets_from_modules(ASSET_MODULES) for key in a.keys}
    assert expected - materialized == set(), "not materialized"
    evaluations = [
        e.event_specific_data for e in _events(instance, DagsterEventType.ASSET_CHECK_EVALUATION)
    ]
    failing = sorted(
        f"{c.asset_key.to_user_string()}:{c.check_name}" for c in evaluations if not c.passed
    )
    assert failing == [], f"failing checks: {failing}"
    declared = {
        key for checks in load_asset_checks_from_modules(ASSET_MODULES) for key in checks.check_keys
    }
    evaluated = {AssetCheckKey(c.asset_key, c.check_name) for c in evaluations}
    assert {k for k in declared if k.asset_key in expected} - evaluated == set(), "checks not run"

    with duckdb.connect(str(tmp_path / "home" / "acct445.duckdb"), read_only=True) as con:
        universe = con.execute("select * from raw.bank_universe").df().set_index("ticker")
        prices = con.execute("select * from raw.bank_prices").df()
        filings = con.execute("select * from disclosure.bank_filings").df().set_index("accession")
        scores = con.execute("select * from disclosure.cnoi_scores").df().set_index("accession")
        returns = con.execute("select * from warehouse.stg_bank_returns").df()
        raw_columns = set(prices.columns)
        research = {
            name: con.execute(f"select count(*) from research.{name}").fetchone()[0]
            for name in RESEARCH_TABLES
        }
        event_days = con.execute(
            "select min(date), max(date) from warehouse.stg_bank_returns"
        ).fetchone()

    # Research and publication from live data: rows in every table (estimates or not-estimable
    # rows), over a span holding the SVB event.
    assert all(n > 0 for n in research.values()), research
    assert event_days[0] < pd.Timestamp("2023-03-10").date() < event_days[1]
    assert (tmp_path / "results" / "report.html").exists()

    # CIKs mapped: from company_tickers.json for trading banks, the curated list for failed ones.
    assert universe["cik"].to_dict() == banks.set_index("ticker")["cik"].to_dict()
    assert (
        universe["smaller_reporting_company"].astype(bool).to_dict()
        == banks.set_index("ticker")["smaller_reporting_company"].to_dict()
    ), "filer status from the FY2019 10-K cover page"
    # Failed banks stay in the universe; bank_prices says which have no prices, and why.
    failed = scenario.failed["ticker"].tolist()
    assert universe.loc[failed, "delisted"].all()
    assert set(prices["ticker"]) == set(banks["ticker"]) - set(failed)
    why = next(
        e.event_specific_data.materialization.metadata["tickers_missing_why"].value
        for e in _events(instance, DagsterEventType.ASSET_MATERIALIZATION)
        if e.asset_key.path == ["raw", "bank_prices"]
    )
    for bank in scenario.failed.itertuples():
        assert f"last traded {bank.last_date:%Y-%m-%d}" in why[bank.ticker]
        assert "Yahoo keeps no prices for delisted tickers" in why[bank.ticker]

    # Filings: the EX-13 note scored, the amendment in place of its original (recorded).
    assert scores.loc[scenario.ex13_accession, "status"] == "ok"
    amendment = scenario.amendment
    assert amendment["original"] not in filings.index
    assert filings.loc[amendment["amendment"], "original_accession"] == amendment["original"]
    assert scores.loc[amendment["amendment"], "status"] == "ok"
    assert filings["form"].isin(["10-K", "10-Q", "10-Q/A"]).all()

    # Rate-limited answers were retried; pages before the study start never fetched.
    count = recorded.count
    assert count(f"/v8/finance/chart/{scenario.throttled_bank}") == 3  # all-null, 429, good
    assert count("/files/company_tickers.json") == 2  # 429, then cached for the run
    assert count(f"/submissions/CIK{scenario.rate_limited_cik}.json") == 2  # 403, then cached
    for cik in banks["cik"]:
        if cik != scenario.rate_limited_cik:
            assert count(f"/submissions/CIK{cik}.json") == 1, cik
        assert count(f"/submissions/CIK{cik}-{ANCIENT_PAGE}.json") == 0
    assert (
        count(
            f"/api/xbrl/companyconcept/CIK{scenario.concept_429_cik}/dei/EntityCommonStockSharesOutstanding.json"
        )
        == 2
    )

    # Ex-dividend day and split day: the stored columns give the planted total return.
    settings = load_settings(env)
    source = build_resources(settings)["price_source"].source()
    for ticker, day in (
        (scenario.dividend_bank, scenario.dividend_day),
        (scenario.split_bank, scenario.split_day),
    ):
        prev = scenario.dates[scenario.dates.get_loc(day) - 1]
        rows = source.prices(str(prev.date()), str(day.date()), [ticker]).frame.set_index("date")
        total = (rows["close"] * rows["split_ratio"] + rows["dividend"]).iloc[1] / rows[
            "close"
        ].iloc[0] - 1
        assert total == pytest.approx(scenario.total_return(ticker, day), rel=1e-9), ticker
    day = scenario.dividend_day
    prev = scenario.dates[scenario.dates.get_loc(day) - 1]
    rows = source.prices(str(prev.date()), str(day.date()), [scenario.dividend_bank]).frame
    assert rows["dividend"].tolist() == [0.0, DIVIDEND]
    assert_warehouse_ex_dividend_total_return(
        returns,
        prices,
        raw_columns,
        scenario.dividend_bank,
        day,
        truth=scenario.total_return(scenario.dividend_bank, day),
        dividend_yield=DIVIDEND / rows["close"].iloc[0],
    )


def assert_warehouse_ex_dividend_total_return(
    returns, prices, raw_columns, ticker, day, truth, dividend_yield
):
    """The warehouse return on the ex-dividend day.

    With close/dividend/split_ratio in raw.bank_prices (shared price contract), the
    warehouse return must be the total return exactly. Until they are stored, raw keeps
    Yahoo's adjclose and the warehouse must return its ratio, close / (prev close -
    dividend): it counts the dividend (a price-only return would miss all of it) but not
    exactly, which is what the stored columns fix.
    """
    ret = returns[(returns["ticker"] == ticker) & (pd.to_datetime(returns["date"]) == day)]["ret"]
    bank = prices[prices["ticker"] == ticker].assign(date=lambda f: pd.to_datetime(f["date"]))
    bank = bank.sort_values("date").set_index("date")
    at = bank.index.get_loc(day)
    if {"close", "dividend", "split_ratio"} <= raw_columns:
        row, prev = bank.iloc[at], bank.iloc[at - 1]
        stored = (row["close"] * row["split_ratio"] + row["dividend"]) / prev["close"] - 1
        assert stored == pytest.approx(truth, rel=1e-9)
        assert ret.item() == pytest.approx(truth, rel=1e-9)
    else:
        adjusted = bank["adj_close"].iloc[at] / bank["adj_close"].iloc[at - 1] - 1
        assert ret.item() == pytest.approx(adjusted, rel=1e-9)
        assert abs(ret.item() - truth) < dividend_yield / 4
