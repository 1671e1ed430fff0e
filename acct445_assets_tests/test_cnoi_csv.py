import pandas as pd
import pytest

from acct445_assets.sources.files.cnoi_csv import CnoiCsvError, read_cnoi_csv

HEADER = "cik,accession,form,filing_date,CNOI,D,G,R,J,T,S,X,issuer,penalty_reasons,heading_selected_title,heading_selected_score,score,analyst_note"
ROWS = [
    "19617,0000019617-23-000231,10-K,2023-02-21,31.5,20,30,40,35,25,10,45,JPMORGAN CHASE & CO,D:cross_references_2|G:missing_aging,Note 12 - Allowance for credit losses,95,31.5,checked",
    "0000036104,0000036104-23-000012,10-Q,05/05/2023,48.25,50,40,60,45,55,30,50,US BANCORP,,,,48.25,",
]


def write(tmp_path, lines, name="cnoi_scores.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_seed_layout_imports_with_optional_and_extra_columns(tmp_path):
    out = read_cnoi_csv(write(tmp_path, [HEADER, *ROWS]))
    assert list(out["cik"]) == ["0000019617", "0000036104"]
    assert out["filing_date"].tolist() == [pd.Timestamp("2023-02-21"), pd.Timestamp("2023-05-05")]
    assert out["cnoi"].tolist() == [31.5, 48.25]
    assert out.loc[0, ["d", "g", "r", "j", "t", "s", "x"]].tolist() == [20, 30, 40, 35, 25, 10, 45]
    assert out.loc[0, "penalty_reasons"] == "D:cross_references_2|G:missing_aging"
    assert out.loc[0, "heading_selected_score"] == 95 and pd.isna(
        out.loc[1, "heading_selected_score"]
    )
    assert out.loc[0, "issuer"] == "JPMORGAN CHASE & CO"
    assert out.loc[0, "analyst_note"] == "checked"  # extra column kept
    assert (out["status"] == "ok").all()


def test_only_required_columns_is_enough(tmp_path):
    lines = [
        "cik,accession,form,filing_date,CNOI,D,G,R,J,T,S,X",
        "1,a-1,10-K,2024-03-01,0,0,0,0,0,0,0,0",
    ]
    out = read_cnoi_csv(write(tmp_path, lines))
    assert out.loc[0, "cik"] == "0000000001" and out.loc[0, "cnoi"] == 0


def test_missing_required_columns_named(tmp_path):
    path = write(
        tmp_path, ["cik,accession,filing_date,CNOI,D,G,R,J,T,S", "1,a,2024-01-01,1,1,1,1,1,1,1"]
    )
    with pytest.raises(
        CnoiCsvError, match=r"cnoi_scores\.csv: missing required column\(s\): form, X"
    ):
        read_cnoi_csv(path)


def test_duplicate_accession_names_lines(tmp_path):
    dup = ROWS[1].replace("0000036104-23-000012", "0000019617-23-000231")
    with pytest.raises(
        CnoiCsvError,
        match=r"column accession: duplicate accession '0000019617-23-000231' on lines 2, 3",
    ):
        read_cnoi_csv(write(tmp_path, [HEADER, ROWS[0], dup]))


def test_non_numeric_score_names_line_and_column(tmp_path):
    bad = ROWS[1].replace(",50,40,60,", ",50,forty,60,")
    with pytest.raises(CnoiCsvError, match=r"line 3, column G: not a number: 'forty'"):
        read_cnoi_csv(write(tmp_path, [HEADER, ROWS[0], bad]))


@pytest.mark.parametrize("value, col", [("100.5", "CNOI"), ("-1", "CNOI")])
def test_out_of_range_score(tmp_path, value, col):
    bad = ROWS[0].replace(",31.5,20,", f",{value},20,").replace(",95,31.5,", f",95,{value},")
    with pytest.raises(CnoiCsvError, match=rf"line 2, column {col}: .* is outside 0\.\.100"):
        read_cnoi_csv(write(tmp_path, [HEADER, bad]))


def test_out_of_range_dimension(tmp_path):
    bad = ROWS[1].replace(",30,50,US", ",130,50,US")
    with pytest.raises(CnoiCsvError, match=r"line 3, column S: 130(\.0)? is outside 0\.\.100"):
        read_cnoi_csv(write(tmp_path, [HEADER, ROWS[0], bad]))


def test_unparseable_date(tmp_path):
    bad = ROWS[1].replace("05/05/2023", "sometime in May")
    with pytest.raises(
        CnoiCsvError, match=r"line 3, column filing_date: cannot parse date 'sometime in May'"
    ):
        read_cnoi_csv(write(tmp_path, [HEADER, ROWS[0], bad]))


def test_score_must_duplicate_cnoi(tmp_path):
    bad = ROWS[0].replace(",95,31.5,", ",95,32.5,")
    with pytest.raises(
        CnoiCsvError, match=r"line 2, column score: 32.5 does not duplicate CNOI 31.5"
    ):
        read_cnoi_csv(write(tmp_path, [HEADER, bad]))


def test_bad_cik_and_empty_file(tmp_path):
    bad = ROWS[0].replace("19617,", "JPM,", 1)
    with pytest.raises(CnoiCsvError, match=r"line 2, column cik: not a CIK: 'JPM'"):
        read_cnoi_csv(write(tmp_path, [HEADER, bad]))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(CnoiCsvError, match="empty.csv: empty file"):
        read_cnoi_csv(empty)
