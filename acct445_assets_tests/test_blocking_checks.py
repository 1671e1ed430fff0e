"""Checks that reveal bad data block what comes after them in the same run."""

import duckdb
import numpy as np
import pandas as pd
from dagster import AssetIn, DagsterInstance, asset, materialize
from dagster_duckdb import DuckDBResource

from acct445_assets.assets import disclosure, market
from acct445_assets.research.panel import panel_regression
from acct445_assets.research.validation import opacity_validation
from acct445_assets.resources.filings import FileFilingSource
from acct445_assets.resources.io_manager import AtomicDuckDBIOManager
from acct445_assets.resources.market import FilePriceSource
from acct445_assets.sources.files.cnoi_csv import import_problems


@asset(key=["warehouse", "after_prices"], ins={"p": AssetIn(key=["raw", "bank_prices"])})
def after_prices(p: pd.DataFrame) -> pd.DataFrame:
    return p.head(1)


def _files(root, spike: bool):
    root.mkdir()
    dates = pd.bdate_range("2023-03-06", "2023-03-10")
    close = np.array([10.0, 10.1, 10.2, 10.3, 10.4])
    if spike:
        close[2] = 1020.0  # a 100x price on one day
    pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "ticker": "AAA", "adj_close": close}).to_csv(
        root / "prices.csv", index=False
    )
    pd.DataFrame({"cik": ["123"], "ticker": ["AAA"]}).to_csv(root / "cik_tickers.csv", index=False)
    return root


def _run(root, db):
    resources = {
        "price_source": FilePriceSource(data_dir=str(root)),
        "io_manager": AtomicDuckDBIOManager(database=str(db)),
        "duckdb": DuckDBResource(database=str(db)),
    }
    instance = DagsterInstance.ephemeral()
    materialize([market.bank_universe], resources=resources, instance=instance)
    return materialize(
        [market.bank_prices, market.bank_universe, market.bank_prices_checks, after_prices],
        selection=[market.bank_prices, after_prices],
        resources=resources,
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": "2023-03-06",
            "dagster/asset_partition_range_end": "2023-03-10",
        },
        raise_on_error=False,
    )


def _materialized(result):
    return {
        e.event_specific_data.materialization.asset_key.to_user_string()
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
    }


def test_price_outlier_fails_a_blocking_check_and_downstream_does_not_run(tmp_path):
    result = _run(_files(tmp_path / "bad", spike=True), tmp_path / "w.duckdb")
    checks = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    outliers = next(c for c in checks if c.check_name == "bank_prices_outliers")
    assert not outliers.passed
    assert outliers.metadata["first"].value.startswith("AAA 2023-03-08")
    assert "raw/bank_prices" in _materialized(result)
    assert "warehouse/after_prices" not in _materialized(result)


def test_clean_prices_let_downstream_run(tmp_path):
    result = _run(_files(tmp_path / "ok", spike=False), tmp_path / "w.duckdb")
    assert "warehouse/after_prices" in _materialized(result)
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        cols = [r[0] for r in con.execute("describe raw.bank_prices").fetchall()]
    assert {"close", "dividend", "split_ratio", "ret", "delisting_return"} <= set(cols)


def _panel(with_mv: bool):
    rng = np.random.default_rng(1)
    rows = []
    for b in range(15):
        for q in pd.period_range("2019Q1", "2022Q4", freq="Q"):
            rows.append(
                {
                    "cik": f"{b:010d}",
                    "quarter": str(q),
                    "next_ret": rng.normal(0, 0.1),
                    "cnoi": rng.uniform(10, 60),
                    "log_mv": rng.normal(20, 1) if with_mv else np.nan,
                    "ret": rng.normal(0, 0.1),
                    "volatility": rng.uniform(0.01, 0.03),
                }
            )
    return pd.DataFrame(rows)


def test_panel_without_shares_runs_without_market_value_and_names_it():
    result = panel_regression(_panel(with_mv=False))
    assert (result.coefficients["status"] == "ok").all()
    assert result.coefficients.loc[result.coefficients["term"] == "cnoi", "coef"].notna().all()
    assert "log_mv" not in set(result.coefficients["term"])
    assert result.params["controls"] == ["ret", "volatility"]
    assert result.params["controls_dropped"] == {"log_mv": "no non-missing value"}
    assert any("log_mv dropped" in n for n in result.notes)


def test_validation_without_note_text_says_why():
    scores = pd.DataFrame(
        {
            "cik": "0000000001",
            "accession": [f"a{i}" for i in range(20)],
            "filing_date": pd.date_range("2020-01-01", periods=20, freq="QE"),
            "status": "ok",
            **{c: np.linspace(10, 60, 20) for c in ["cnoi", "d", "g", "r", "j", "t", "s", "x"]},
            **{m: np.nan for m in ["fog", "fk_grade", "flesch", "smog", "words", "sentences"]},
        }
    )
    result = opacity_validation(scores, pd.DataFrame({"cik": [], "quarter": []}))
    status = result.table[result.table["section"] == "status"]
    assert len(status) == 1 and "no note text" in status["reason"].iloc[0]
    assert not (result.table["section"] == "correlation").any()


@asset(key=["warehouse", "after_cnoi"], ins={"s": AssetIn(key=["disclosure", "cnoi_scores"])})
def after_cnoi(s: pd.DataFrame) -> pd.DataFrame:
    return s.head(1)


@asset(key=["raw", "bank_universe"])
def universe_stub() -> pd.DataFrame:
    return pd.DataFrame({"cik": ["0000000123"], "ticker": ["AAA"]})


def _cnoi_run(tmp_path, cnoi_first_row: str):
    data = tmp_path / "data"
    data.mkdir()
    (data / "cnoi_scores.csv").write_text(
        "cik,accession,form,filing_date,CNOI,D,G,R,J,T,S,X\n"
        f"123,a-1,10-K,2023-02-21,{cnoi_first_row},10,20,30,40,10,10,20\n"
        "123,a-2,10-Q,2023-05-05,39,50,30,50,30,40,20,40\n"
    )
    db = tmp_path / "w.duckdb"
    return materialize(
        [
            universe_stub,
            disclosure.bank_filings,
            disclosure.cecl_notes,
            disclosure.cnoi_scores,
            disclosure.cnoi_scores_import_valid,
            after_cnoi,
        ],
        resources={
            "filing_source": FileFilingSource(data_dir=str(data)),
            "io_manager": AtomicDuckDBIOManager(database=str(db)),
            "duckdb": DuckDBResource(database=str(db)),
        },
        raise_on_error=False,
    )


def _check(result, name):
    return next(
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.event_specific_data.check_name == name
    )


def test_imported_cnoi_inconsistent_with_its_dimensions_blocks_downstream(tmp_path):
    # 0.2 (10 + 20 + 30) + 0.1 (40 + 10 + 10 + 20) = 20, not 35.
    result = _cnoi_run(tmp_path, "35")
    check = _check(result, "cnoi_scores_import_valid")
    assert not check.passed
    assert check.metadata["cnoi_not_weighted_dimensions"].value == 1
    assert check.metadata["first"].value == "a-1: cnoi 35 vs weighted dimensions 20.000"
    assert "disclosure/cnoi_scores" in _materialized(result)
    assert "warehouse/after_cnoi" not in _materialized(result)


def test_imported_cnoi_within_rounding_lets_downstream_run(tmp_path):
    result = _cnoi_run(tmp_path, "20.4")
    assert _check(result, "cnoi_scores_import_valid").passed
    assert "warehouse/after_cnoi" in _materialized(result)


def test_import_problems_name_range_date_and_duplicate_rows():
    dims = {d: [20.0, 20.0, 20.0, 20.0] for d in "dgrjtsx"}
    dims["x"] = [20.0, 120.0, 20.0, 20.0]
    frame = pd.DataFrame(
        {
            "accession": ["a-1", "a-2", "a-3", "a-3"],
            "filing_date": pd.to_datetime(["2023-02-21", "2023-05-05", "1970-01-01", "2023-08-01"]),
            "report_date": pd.to_datetime(["2023-03-31", None, None, None]),
            "status": "ok",
            "cnoi": [20.0, 30.0, 20.0, 20.0],
            **dims,
        }
    )
    problems = import_problems(frame, tolerance=1.0, today=pd.Timestamp("2024-01-01"))
    assert problems["scores_outside_0_100"] == ["a-2: x=120.0"]
    assert problems["cnoi_not_weighted_dimensions"] == []
    assert problems["unknown_filing_dates"] == [
        "a-1: filing_date 2023-02-21 is before report_date 2023-03-31",
        "a-3: filing_date 1970-01-01 is outside 1993-01-01..2024-01-01",
    ]
    assert problems["duplicate_accessions"] == ["a-3: 2 rows"]
