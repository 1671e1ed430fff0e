import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from dagster import asset, materialize
from dagster_duckdb import DuckDBResource

from acct445_assets.assets import disclosure
from acct445_assets.resources.filings import (
    EdgarFilingSource,
    EdgarResource,
    FileFilingSource,
    SampleFilingSource,
)
from acct445_assets.resources.io_manager import AtomicDuckDBIOManager
from acct445_assets.sources.sample.store import load_sample_universe

FIXTURES = Path(__file__).parent / "fixtures" / "filings"
ASSETS = [
    disclosure.bank_filings,
    disclosure.cecl_notes,
    disclosure.cnoi_scores,
    disclosure.cecl_adoption,
]
SAMPLE = dict(
    seed=445,
    n_banks=8,
    start="2018-01-01",
    end="2025-12-31",
    filings_start="2022-01-01",
    filings_end="2023-12-31",
)


def universe_asset(frame):
    @asset(key=["raw", "bank_universe"])
    def bank_universe() -> pd.DataFrame:
        return frame

    return bank_universe


def run(tmp_path, source, universe, extra=()):
    db = tmp_path / "w.duckdb"
    result = materialize(
        [universe_asset(universe), *ASSETS, disclosure.cnoi_scores_import_valid, *extra],
        resources={
            "filing_source": source,
            "io_manager": AtomicDuckDBIOManager(database=str(db)),
            "duckdb": DuckDBResource(database=str(db)),
        },
        raise_on_error=True,
    )
    return result, db


def table(db, name):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"select * from disclosure.{name}").df()


def metadata(result, name):
    mats = result.asset_materializations_for_node(f"disclosure__{name}")
    return {k: v.value for k, v in mats[0].metadata.items()}


def test_sample_source_scores_generated_filings(tmp_path):
    banks = load_sample_universe(445, 8, "2018-01-01", "2025-12-31").banks
    universe = banks.drop(columns=["latent_opacity", "adoption_quarter"])
    result, db = run(tmp_path, SampleFilingSource(**SAMPLE), universe)
    scores = table(db, "cnoi_scores")
    assert len(scores) == len(table(db, "bank_filings")) > 50
    assert (scores["status"] == "ok").all() and scores["cnoi"].between(0, 100).all()
    assert (
        scores["rubric_version"].eq("cnoi-1").all()
        and scores["penalty_reasons"].str.contains(":").all()
    )
    meta = metadata(result, "cnoi_scores")
    assert meta["filings_scored"] == len(scores)
    assert "located_by_fallback" in meta and "| cnoi |" in meta["score_distribution"]
    assert meta["spearman_bank_cnoi_vs_latent_opacity"] > 0.6
    # The notes follow each bank's opacity path, so CNOI moves within banks with it.
    assert meta["filings_matched"] == len(scores)
    assert meta["within_bank_corr"] > 0.6
    assert 0.4 < meta["within_bank_cnoi_on_latent_slope"] < 1.3
    adoption = table(db, "cecl_adoption").set_index("cik")
    truth = banks.set_index("cik")["adoption_quarter"]
    assert (adoption["adoption_quarter"] == truth.reindex(adoption.index)).all()
    # Banks that filed after adopting carry the stated date; the rest (failed before their
    # first post-adoption filing) fall back to the rule, which agrees with the truth here.
    filings = table(db, "bank_filings")
    filings["adopted_by_report"] = pd.to_datetime(filings["report_date"]) >= filings["cik"].map(
        truth.map(lambda q: pd.Period(q, freq="Q").start_time)
    )
    stated = set(filings.loc[filings["adopted_by_report"], "cik"])
    assert (adoption.loc[list(stated), "source"] == "filing").all()
    assert set(adoption["source"]) <= {"filing", "rule"}


def test_files_source_with_precomputed_csv(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "cnoi_scores.csv").write_text(
        "cik,accession,form,filing_date,CNOI,D,G,R,J,T,S,X,issuer\n"
        "123456,0000123456-24-000001,10-K,2024-02-20,20,10,20,30,40,10,10,20,HARBOR VALLEY BANCORP\n"
        "654321,0000654321-24-000002,10-Q,2024-05-08,39,50,30,50,30,40,20,40,SUMMIT PRAIRIE\n"
    )
    (data / "cecl_adoption.csv").write_text("cik,adoption_date\n654321,2021-01-01\n")
    universe = pd.DataFrame(
        {
            "cik": ["0000123456", "0000654321"],
            "ticker": ["HVB", "SPB"],
            "smaller_reporting_company": [False, True],
        }
    )
    result, db = run(tmp_path, FileFilingSource(data_dir=str(data)), universe)
    scores = table(db, "cnoi_scores")
    assert scores["cnoi"].tolist() == [20.0, 39.0] and scores["ticker"].tolist() == ["HVB", "SPB"]
    assert metadata(result, "cnoi_scores")["origin"] == "cnoi_scores.csv"
    check = next(
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    )
    assert check.check_name == "cnoi_scores_import_valid" and check.passed
    assert check.metadata["imported_rows"].value == 2
    adoption = table(db, "cecl_adoption").set_index("cik")
    assert adoption.loc["0000654321", ["adoption_quarter", "source"]].tolist() == [
        "2021Q1",
        "override",
    ]
    assert adoption.loc["0000123456", ["adoption_quarter", "source"]].tolist() == ["2020Q1", "rule"]


def test_extra_csv_columns_reach_the_table_by_name_and_new_ones_are_added(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    universe = pd.DataFrame(
        {"cik": ["0000123456"], "ticker": ["HVB"], "smaller_reporting_company": [False]}
    )
    csv = data / "cnoi_scores.csv"
    csv.write_text(
        "cik,accession,form,filing_date,CNOI,D,G,R,J,T,S,X,analyst_note\n"
        "123456,a-1,10-K,2024-02-20,20,10,20,30,40,10,10,20,checked\n"
    )
    _, db = run(tmp_path, FileFilingSource(data_dir=str(data)), universe)
    assert table(db, "cnoi_scores")["analyst_note"].tolist() == ["checked"]
    # A later export puts a new column first and reorders the rest: values follow names.
    csv.write_text(
        "review_round,X,S,T,J,R,G,D,CNOI,filing_date,form,accession,cik,analyst_note\n"
        "2,20,10,10,40,30,20,10,20,2024-02-20,10-K,a-1,123456,rechecked\n"
        "1,0,0,0,0,0,0,0,0,2024-05-08,10-Q,a-2,123456,new\n"
    )
    run(tmp_path, FileFilingSource(data_dir=str(data)), universe)
    scores = table(db, "cnoi_scores").set_index("accession")
    assert scores.loc["a-1", ["analyst_note", "review_round", "d", "x"]].tolist() == [
        "rechecked",
        "2",
        10.0,
        20.0,
    ]
    assert scores.loc["a-2", "analyst_note"] == "new" and scores.loc["a-2", "cnoi"] == 0


def test_files_source_scores_documents_and_records_failures(tmp_path):
    data = tmp_path / "data"
    folder = data / "filings"
    folder.mkdir(parents=True)
    shutil.copy(FIXTURES / "bank_10k_ixbrl.htm", folder / "0000123456-24-000001.htm")
    shutil.copy(FIXTURES / "bank_10q_legacy.htm", folder / "0000654321-21-000007.htm")
    (folder / "0000123456-24-000003.txt").write_text("FORM 10-Q\n\nNothing about credit here.\n")
    (folder / "index.csv").write_text(
        "cik,accession,form,filing_date,report_date\n"
        "123456,0000123456-24-000001,10-K,2024-02-20,2023-12-31\n"
        "654321,0000654321-21-000007,10-Q,2021-08-09,2021-06-30\n"
        "123456,0000123456-24-000003,10-Q,2024-05-08,2024-03-31\n"
        "123456,0000123456-24-000009,10-Q,2024-08-08,2024-06-30\n"
    )
    universe = pd.DataFrame(
        {
            "cik": ["0000123456", "0000654321"],
            "ticker": ["HVB", "SPB"],
            "smaller_reporting_company": [False, True],
        }
    )
    result, db = run(tmp_path, FileFilingSource(data_dir=str(data)), universe)
    scores = table(db, "cnoi_scores").set_index("accession")
    assert scores.loc["0000123456-24-000001", "status"] == "ok"
    assert scores.loc["0000123456-24-000001", "heading_selected_title"].startswith("NOTE 5 - LOANS")
    assert scores.loc["0000654321-21-000007", "status"] == "ok"
    failed = scores[scores["status"] == "failed"]
    assert set(failed.index) == {"0000123456-24-000003", "0000123456-24-000009"}
    assert failed["cnoi"].isna().all()  # never a silent zero
    assert "not located" in failed.loc["0000123456-24-000003", "reason"]
    assert "no document" in failed.loc["0000123456-24-000009", "reason"]
    meta = metadata(result, "cecl_notes")
    assert meta["failures"] == 2 and meta["located_by_heading"] == 2
    adoption = table(db, "cecl_adoption").set_index("cik")
    assert pd.Timestamp(adoption.loc["0000654321", "adoption_date"]) == pd.Timestamp("2020-01-01")
    assert adoption.loc["0000654321", "source"] == "filing"


def test_live_source_against_local_edgar(tmp_path, monkeypatch):
    doc = (FIXTURES / "bank_10k_ixbrl.htm").read_bytes()
    subs = {
        "filings": {
            "recent": {
                "accessionNumber": ["0000123456-24-000001", "0000123456-24-000002"],
                "form": ["10-K", "8-K"],
                "filingDate": ["2024-02-20", "2024-03-01"],
                "reportDate": ["2023-12-31", ""],
                "primaryDocument": ["hvb-20231231.htm", "hvb8k.htm"],
            },
            "files": [],
        }
    }
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            hits.append(self.path)
            if self.path == "/submissions/CIK0000123456.json":
                body, ctype = json.dumps(subs).encode(), "application/json"
            elif self.path == "/Archives/edgar/data/123456/000012345624000001/hvb-20231231.htm":
                body, ctype = doc, "text/html"
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    monkeypatch.setenv("SEC_USER_AGENT", "ACCT445 tests test@example.edu")
    client = EdgarResource(www_url=base, data_url=base, cache_dir=str(tmp_path / "edgar"))
    source = EdgarFilingSource(edgar=client, start="2020-01-01")
    universe = pd.DataFrame(
        {
            "cik": ["0000123456", "0000999999"],
            "ticker": ["HVB", "GONE"],
            "smaller_reporting_company": [False, False],
        }
    )
    try:
        result, db = run(tmp_path, source, universe)
        (tmp_path / "again").mkdir()
        run(tmp_path / "again", source, universe)
    finally:
        httpd.shutdown()
        httpd.server_close()
    scores = table(db, "cnoi_scores")
    assert (
        scores["accession"].tolist() == ["0000123456-24-000001"] and scores["status"].eq("ok").all()
    )
    assert metadata(result, "bank_filings")["listing_failures"] == 1  # the 404 bank, recorded
    # The second run re-lists submissions but reads the document from the accession cache.
    assert hits.count("/Archives/edgar/data/123456/000012345624000001/hvb-20231231.htm") == 1


def test_opacity_validation_asset_reads_the_panel(tmp_path):
    rng = np.random.default_rng(1)
    rows, panel = [], []
    for b in range(12):
        cik = f"{b + 1:010d}"
        for k, q in enumerate(pd.period_range("2021Q1", periods=8, freq="Q")):
            c = rng.uniform(5, 70)
            acc = f"{cik}-{k}"
            rows.append(
                dict(
                    cik=cik,
                    accession=acc,
                    filing_date=q.end_time.normalize(),
                    cnoi=c,
                    **{d: c for d in "dgrjtsx"},
                    fog=14 + rng.normal(),
                    fk_grade=12 + rng.normal(),
                    flesch=30.0,
                    smog=13.0,
                    words=400,
                    sentences=20,
                    status="ok",
                )
            )
            panel.append(
                dict(
                    cik=cik,
                    quarter=str(q),
                    quarter_end=q.end_time.normalize(),
                    volatility=0.01 + 0.0001 * c + rng.normal(0, 0.001),
                    cnoi=c,
                    cnoi_accession=acc,
                )
            )

    @asset(key=["disclosure", "cnoi_scores"])
    def scores_stub() -> pd.DataFrame:
        return pd.DataFrame(rows)

    @asset(key=["warehouse", "bank_quarter_panel"])
    def panel_stub() -> pd.DataFrame:
        return pd.DataFrame(panel)

    db = tmp_path / "w.duckdb"
    result = materialize(
        [scores_stub, panel_stub, disclosure.opacity_validation],
        resources={"io_manager": AtomicDuckDBIOManager(database=str(db))},
    )
    out = table(db, "opacity_validation")
    assert set(out["section"]) == {"correlation", "horse_race", "incremental_f", "variance_share"}
    meta = metadata(result, "opacity_validation")
    assert meta["n_horse_race"] == 12 * 7
    assert "| cnoi |" in meta["horse_race"]
