"""CRSP daily stock files in both layouts through the files source (METHODS 0)."""

import numpy as np
import pandas as pd
import pytest

from acct445_assets.sources.files import FilePrices


def _link(root):
    pd.DataFrame(
        {"permno": [10001, 10002], "cik": ["123", "456"], "ticker": ["AAA", "BBB"]}
    ).to_csv(root / "crsp_link.csv", index=False)
    pd.DataFrame(
        {
            "date": ["2023-03-06", "2023-03-07", "2023-03-08"],
            "ticker": "SPY",
            "adj_close": [400.0, 401, 402],
        }
    ).to_csv(root / "prices.csv", index=False)


def test_legacy_dsf_with_separate_delisting_file(tmp_path):
    _link(tmp_path)
    pd.DataFrame(
        {
            "permno": [10001, 10001, 10001, 10002, 10002],
            "date": [20230306, 20230307, 20230308, 20230306, 20230307],
            "ret": ["C", "0.10", "-0.05", "C", "-0.20"],
            "retx": ["C", "0.10", "-0.05", "C", "-0.20"],
            # Negative price: no trade, CRSP gives the bid/ask midpoint.
            "prc": [10.0, -11.0, 10.45, 5.0, 4.0],
            "shrout": [1000, 1000, 1100, 2000, 2000],
        }
    ).to_csv(tmp_path / "crsp_dsf.csv", index=False)
    pd.DataFrame(
        {"permno": [10002], "dlstdt": [20230308], "dlret": [-0.55], "dlstcd": [552]}
    ).to_csv(tmp_path / "crsp_delist.csv", index=False)
    out = FilePrices(tmp_path).all_prices().set_index(["ticker", "date"])
    a = out.loc["AAA"]
    assert a["close"].tolist() == [10.0, 11.0, 10.45]
    assert a["shares_outstanding"].tolist() == [1e6, 1e6, 1.1e6]  # shrout is in thousands
    assert np.isnan(a["ret"].iloc[0]) and a["ret"].iloc[1] == pytest.approx(0.10)
    assert (a["close"] * a["shares_outstanding"]).iloc[1] == pytest.approx(11e6)
    b = out.loc["BBB"]
    assert b["delisted"].tolist() == [False, True]
    assert b["delisting_return"].iloc[-1] == pytest.approx(-0.55)
    universe = FilePrices(tmp_path).universe()
    assert dict(zip(universe["ticker"], universe["cik"], strict=True)) == {
        "AAA": "0000000123",
        "BBB": "0000000456",
    }


def test_legacy_dsf_with_delisting_columns_in_the_file_and_default_when_dlret_missing(tmp_path):
    _link(tmp_path)
    pd.DataFrame(
        {
            "permno": [10001, 10001, 10002, 10002, 10002],
            "date": ["2023-03-06", "2023-03-07", "2023-03-06", "2023-03-07", "2023-03-08"],
            "ret": [np.nan, 0.01, np.nan, 0.02, np.nan],
            "retx": [np.nan, 0.01, np.nan, 0.02, np.nan],
            "prc": [10.0, 10.1, 5.0, 5.1, np.nan],
            "shrout": [1000, 1000, 2000, 2000, np.nan],
            "dlret": [np.nan, np.nan, np.nan, np.nan, np.nan],
            "dlstcd": [np.nan, np.nan, np.nan, np.nan, 574],
        }
    ).to_csv(tmp_path / "crsp_dsf.csv", index=False)
    out = FilePrices(tmp_path, default_delisting_return=-0.30).all_prices()
    b = out[out["ticker"] == "BBB"]
    assert b["date"].max() == pd.Timestamp("2023-03-07")  # the delisting line has no price
    assert b["delisted"].tolist() == [False, True]
    assert b["delisting_return"].iloc[-1] == pytest.approx(-0.30)


def test_dsf_v2_folds_delisting_into_dlyret_and_splits_from_dlyfacprc(tmp_path):
    _link(tmp_path)
    pd.DataFrame(
        {
            "permno": [10001, 10001, 10001, 10002, 10002],
            "dlycaldt": ["2023-03-06", "2023-03-07", "2023-03-08", "2023-03-06", "2023-03-07"],
            "dlyret": [0.0, 0.02, 0.01, 0.0, -0.6],
            "dlyretx": [0.0, 0.02, 0.01, 0.0, -0.6],
            "dlyprc": [20.0, 10.2, 10.302, 5.0, -2.0],
            "shrout": [1000, 2000, 2000, 3000, 3000],
            "dlyfacprc": [1.0, 2.0, 1.0, 1.0, 1.0],
        }
    ).to_csv(tmp_path / "crsp_dsf_v2.csv", index=False)
    out = FilePrices(tmp_path).all_prices()
    a = out[out["ticker"] == "AAA"]
    assert a["split_ratio"].tolist() == [1.0, 2.0, 1.0]
    assert a["ret"].tolist() == pytest.approx([0.0, 0.02, 0.01])
    b = out[out["ticker"] == "BBB"]
    assert b["delisted"].tolist() == [False, True]
    assert b["ret"].iloc[-1] == pytest.approx(-0.6) and np.isnan(b["delisting_return"].iloc[-1])
    assert b["close"].iloc[-1] == 2.0  # |prc| of a bid/ask midpoint
