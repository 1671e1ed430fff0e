import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from acct445_assets.sources.kenfrench import FactorFileError, merge_files, parse_file, parse_text

FIXTURES = Path(__file__).parent / "fixtures" / "kenfrench"


def test_daily_five_factor_file_with_crlf_three_preamble_lines_and_footer():
    parsed = parse_file(FIXTURES / "F-F_Research_Data_5_Factors_2x3_daily.CSV")
    assert parsed.frequency == "daily"
    assert parsed.vintage == "202409"
    assert list(parsed.frame.columns) == ["mkt_rf", "smb", "hml", "rmw", "cma", "rf"]
    assert parsed.frame.index[0] == pd.Timestamp("2023-03-06")
    assert len(parsed.frame) == 7  # the copyright footer is not a row
    assert parsed.frame.loc["2023-03-10", "mkt_rf"] == pytest.approx(-1.50)
    assert parsed.frame.loc["2023-03-10", "rf"] == pytest.approx(0.018)
    assert len(parsed.sha256) == 64


def test_zipped_momentum_with_trailing_space_header_and_missing_code():
    parsed = parse_file(FIXTURES / "F-F_Momentum_Factor_daily_CSV.zip")
    assert list(parsed.frame.columns) == ["mom"]
    assert np.isnan(parsed.frame.loc["2023-03-08", "mom"])  # -99.99 means missing
    assert parsed.frame.loc["2023-03-13", "mom"] == pytest.approx(2.05)
    raw = (FIXTURES / "F-F_Momentum_Factor_daily_CSV.zip").read_bytes()
    import hashlib

    assert parsed.sha256 == hashlib.sha256(raw).hexdigest()


def test_monthly_file_stops_before_the_annual_section():
    parsed = parse_file(FIXTURES / "F-F_Research_Data_5_Factors_2x3.csv")
    assert parsed.frequency == "monthly"
    assert list(parsed.frame.index) == list(
        pd.to_datetime(["2023-01-31", "2023-02-28", "2023-03-31", "2023-04-30"])
    )
    mom = parse_file(FIXTURES / "F-F_Momentum_Factor.CSV")
    assert np.isnan(mom.frame.loc["2023-03-31", "mom"])  # -999 means missing
    merged = merge_files([parsed, mom], "monthly")
    assert list(merged.columns) == ["mkt_rf", "smb", "hml", "rmw", "cma", "rf", "mom"]
    assert merged.loc["2023-02-28", "mom"] == pytest.approx(-1.13)


def _text(body: str) -> str:
    return (
        "This file was created by X using the 202401 CRSP database.\n\n,Mkt-RF,SMB,HML,RF\n" + body
    )


def test_truncated_file_names_the_row():
    with pytest.raises(FactorFileError, match=r"f\.csv: row 5: expected 5 fields, found 3"):
        parse_text(_text("20240102, 0.1, 0.2, 0.3, 0.01\n20240103, 0.1, 0.2"), "f.csv")


def test_garbled_value_names_row_and_column():
    with pytest.raises(FactorFileError, match=r"row 5, column hml: not a number: '0\.x3'"):
        parse_text(
            _text("20240102, 0.1, 0.2, 0.3, 0.01\n20240103, 0.1, 0.2, 0.x3, 0.01\n"), "f.csv"
        )


def test_bad_date_names_row_and_column():
    with pytest.raises(FactorFileError, match=r"row 4, column date: invalid date '20241399'"):
        parse_text(_text("20241399, 0.1, 0.2, 0.3, 0.01\n"), "f.csv")


def test_header_without_rows_is_truncation():
    with pytest.raises(FactorFileError, match="no data rows"):
        parse_text(_text(""), "f.csv")


def test_not_a_factor_file():
    with pytest.raises(FactorFileError, match="no header line"):
        parse_text("<html>rate limited</html>", "f.csv")


def test_zip_without_csv_is_an_error(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.md", "nothing")
    path = tmp_path / "x_CSV.zip"
    path.write_bytes(buf.getvalue())
    with pytest.raises(FactorFileError, match="holds no CSV"):
        parse_file(path)
