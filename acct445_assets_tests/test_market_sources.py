from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from acct445_assets.resources.market import (
    FileFactorSource,
    FilePriceSource,
)
from acct445_assets.sources.files.prices import PriceFileError, read_price_file

FIXTURES = Path(__file__).parent / "fixtures" / "kenfrench"


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


def test_prices_parquet_is_read_like_the_csv(tmp_path):
    root = write_files_layout(tmp_path)
    csv = read_price_file(root / "prices.csv")
    pd.read_csv(root / "prices.csv").assign(date=lambda f: pd.to_datetime(f["date"])).to_parquet(
        root / "prices.parquet"
    )
    (root / "prices.csv").unlink()
    source = FilePriceSource(data_dir=str(root))
    pd.testing.assert_frame_equal(source.source().all_prices(), csv)
