"""The files source's price, ticker and shares files: unambiguous dates, refusals that name
file, row and column, and shares known only from their own date."""

import numpy as np
import pandas as pd
import pytest

from acct445_assets.sources.files import FilePrices
from acct445_assets.sources.files.prices import PriceFileError, read_price_file


def _prices(dates, ticker="AAA", close=None):
    return pd.DataFrame(
        {
            "date": dates,
            "ticker": ticker,
            "adj_close": close if close is not None else np.arange(10.0, 10.0 + len(dates)),
        }
    )


def _read(tmp_path, frame):
    path = tmp_path / "prices.csv"
    frame.to_csv(path, index=False)
    return read_price_file(path)


def test_yyyymmdd_integers_are_dates_not_1970(tmp_path):
    out = _read(tmp_path, _prices([20230306, 20230307, 20230308]))
    assert list(out["date"]) == list(pd.to_datetime(["2023-03-06", "2023-03-07", "2023-03-08"]))


def test_yfinance_offset_timestamps_become_the_exchange_date(tmp_path):
    # yfinance writes New York midnight with its offset; a UTC stamp of 03:00 is the previous
    # New York day.
    out = _read(
        tmp_path,
        _prices(["2023-03-06 00:00:00-05:00", "2023-03-07 00:00:00-05:00", "2023-03-09T03:00:00Z"]),
    )
    assert [str(d.date()) for d in out["date"]] == ["2023-03-06", "2023-03-07", "2023-03-08"]


def test_day_first_dates_refused_naming_row_and_column(tmp_path):
    with pytest.raises(
        PriceFileError, match=r"prices.csv: row 2, column date: ambiguous date '03/04/2023'"
    ):
        _read(tmp_path, _prices(["03/04/2023", "04/04/2023", "05/04/2023"]))


def test_day_first_dates_parsed_when_the_file_proves_it(tmp_path):
    out = _read(tmp_path, _prices(["03/04/2023", "13/04/2023", "28/04/2023"]))
    assert [str(d.date()) for d in out["date"]] == ["2023-04-03", "2023-04-13", "2023-04-28"]


def test_yahoo_column_names_and_splits_map_to_the_contract(tmp_path):
    frame = pd.DataFrame(
        {
            "Date": ["2023-03-06", "2023-03-07"],
            "Ticker": ["aaa", "aaa"],
            "Close": [20.0, 10.0],
            "Adj Close": [9.5, 10.0],
            "Dividends": [0.0, 0.1],
            "Stock Splits": [0.0, 2.0],
        }
    )
    out = _read(tmp_path, frame)
    assert out["split_ratio"].tolist() == [1.0, 2.0]
    assert out["dividend"].tolist() == [0.0, 0.1]
    assert out["close"].tolist() == [20.0, 10.0] and out["ticker"].tolist() == ["AAA", "AAA"]


def test_empty_price_file_refused(tmp_path):
    with pytest.raises(PriceFileError, match="no price rows"):
        _read(tmp_path, _prices([]).astype(str))


def _layout(tmp_path, prices, mapping):
    prices.to_csv(tmp_path / "prices.csv", index=False)
    pd.DataFrame(mapping, columns=["cik", "ticker"]).to_csv(
        tmp_path / "cik_tickers.csv", index=False
    )
    return FilePrices(tmp_path)


def test_ticker_mapped_to_two_ciks_refused(tmp_path):
    source = _layout(tmp_path, _prices(["2023-03-06"]), [("123", "AAA"), ("456", "AAA")])
    with pytest.raises(PriceFileError, match=r"ticker: AAA is mapped to 2 CIKs"):
        source.universe()


def test_both_csv_and_parquet_is_an_error(tmp_path):
    source = _layout(tmp_path, _prices(["2023-03-06"]), [("123", "AAA")])
    _prices(["2023-03-06"]).to_parquet(tmp_path / "prices.parquet")
    with pytest.raises(PriceFileError, match="both prices.csv and prices.parquet"):
        source.all_prices()


def test_only_benchmark_rows_is_refused(tmp_path):
    source = _layout(tmp_path, _prices(["2023-03-06"], ticker="SPY"), [("123", "AAA")])
    with pytest.raises(PriceFileError, match="no bank rows"):
        source.universe()


def test_shares_are_used_from_their_own_date_and_never_back_filled(tmp_path):
    prices = _prices(["2023-03-06", "2023-03-07", "2023-03-08", "2023-03-09"])
    prices["shares_outstanding"] = [np.nan, 100.0, np.nan, 120.0]
    source = _layout(tmp_path, prices, [("123", "AAA")])
    out = source.all_prices()
    assert np.isnan(out["shares_outstanding"].iloc[0])  # not back-filled from a later value
    assert out["shares_outstanding"].tolist()[1:] == [100.0, 100.0, 120.0]
    # A separate dated shares file works the same way (as-of, backward only).
    prices.drop(columns="shares_outstanding").to_csv(tmp_path / "prices.csv", index=False)
    pd.DataFrame(
        {"date": ["2023-03-07", "2023-03-09"], "ticker": "AAA", "shares_outstanding": [5e6, 6e6]}
    ).to_csv(tmp_path / "shares_outstanding.csv", index=False)
    out = source.all_prices()
    assert np.isnan(out["shares_outstanding"].iloc[0])
    assert out["shares_outstanding"].tolist()[1:] == [5e6, 5e6, 6e6]
