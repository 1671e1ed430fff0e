import pandas as pd
import pytest

from acct445_assets.sources.files.cnoi_csv import CnoiCsvError, read_cnoi_csv

HEADER = "cik,accession,form,filing_date,CNOI,D,G,R,J,T,S,X,issuer,penalty_reasons,heading_selected_title,heading_selected_score,score,analyst_note"
ROWS = [
    "19617,0000019617-23-000231,10-K,2023-02-21,29.5,20,30,40,35,25,10,45,JPMORGAN CHASE & CO,D:cross_references_2|G:missing_aging,Note 12 - Allowance for credit losses,95,29.5,checked",
    "0000036104,0000036104-23-000012,10-Q,2023-05-05,48,50,40,60,45,55,30,50,US BANCORP,,,,48,",
]


def write(tmp_path, lines, name="cnoi_scores.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_seed_layout_imports_with_optional_and_extra_columns(tmp_path):
    out = read_cnoi_csv(write(tmp_path, [HEADER, *ROWS]))
    assert list(out["cik"]) == ["0000019617", "0000036104"]
    assert out["filing_date"].tolist() == [pd.Timestamp("2023-02-21"), pd.Timestamp("2023-05-05")]
    assert out["cnoi"].tolist() == [29.5, 48.0]
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
    bad = ROWS[0].replace(",29.5,20,", f",{value},20,").replace(",95,29.5,", f",95,{value},")
    with pytest.raises(CnoiCsvError, match=rf"line 2, column {col}: .* is outside 0\.\.100"):
        read_cnoi_csv(write(tmp_path, [HEADER, bad]))


def test_out_of_range_dimension(tmp_path):
    bad = ROWS[1].replace(",30,50,US", ",130,50,US")
    with pytest.raises(CnoiCsvError, match=r"line 3, column S: 130(\.0)? is outside 0\.\.100"):
        read_cnoi_csv(write(tmp_path, [HEADER, ROWS[0], bad]))


def test_unparseable_date(tmp_path):
    bad = ROWS[1].replace("2023-05-05", "sometime in May")
    with pytest.raises(
        CnoiCsvError, match=r"row 3, column filing_date: unparseable date 'sometime in May'"
    ):
        read_cnoi_csv(write(tmp_path, [HEADER, ROWS[0], bad]))


def test_score_must_duplicate_cnoi(tmp_path):
    bad = ROWS[0].replace(",95,29.5,", ",95,32.5,")
    with pytest.raises(
        CnoiCsvError, match=r"line 2, column score: 32.5 does not duplicate CNOI 29.5"
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


def _dated(dates, extra_header="", extra_values=None):
    header = "cik,accession,form,filing_date,CNOI,D,G,R,J,T,S,X" + extra_header
    lines = [header]
    for i, date in enumerate(dates):
        tail = "" if extra_values is None else "," + extra_values[i]
        lines.append(f"1,a-{i},10-Q,{date},0,0,0,0,0,0,0,0{tail}")
    return lines


def test_ambiguous_slashed_filing_dates_are_refused_naming_row_and_column(tmp_path):
    # 05/04 and 06/03 read as May 4 and June 3 or as 5 April and 6 March: nothing in the file says.
    path = write(tmp_path, _dated(["2023-02-21", "05/04/2023", "06/03/2023"]))
    with pytest.raises(
        CnoiCsvError,
        match=r"cnoi_scores\.csv: row 3, column filing_date: ambiguous date '05/04/2023'",
    ):
        read_cnoi_csv(path)


def test_day_first_filing_dates_are_read_day_first_when_the_file_proves_it(tmp_path):
    out = read_cnoi_csv(write(tmp_path, _dated(["21/02/2023", "05/04/2023"])))
    assert out["filing_date"].tolist() == [pd.Timestamp("2023-02-21"), pd.Timestamp("2023-04-05")]


def test_offset_timestamps_and_yyyymmdd_become_exchange_dates(tmp_path):
    # 01:30 UTC on 22 February is still 21 February in New York.
    out = read_cnoi_csv(write(tmp_path, _dated(["2023-02-22T01:30:00+00:00", "20230505"])))
    assert out["filing_date"].tolist() == [pd.Timestamp("2023-02-21"), pd.Timestamp("2023-05-05")]


def test_report_dates_follow_the_same_rule_and_may_be_blank(tmp_path):
    lines = _dated(["2023-02-21", "2023-05-05"], ",report_date", ["2022-12-31", ""])
    out = read_cnoi_csv(write(tmp_path, lines))
    assert out["report_date"].iloc[0] == pd.Timestamp("2022-12-31")
    assert pd.isna(out["report_date"].iloc[1])
    lines = _dated(["2023-02-21", "2023-05-05"], ",report_date", ["03/04/2023", "04/03/2023"])
    with pytest.raises(CnoiCsvError, match=r"row 2, column report_date: ambiguous date"):
        read_cnoi_csv(write(tmp_path, lines, "cnoi_report.csv"))


def test_extra_columns_named_like_the_table_own_keep_a_prefix(tmp_path):
    lines = _dated(["2023-02-21"], ",status,Reviewer", ["draft,ab"])
    out = read_cnoi_csv(write(tmp_path, lines))
    assert out.loc[0, "status"] == "ok" and out.loc[0, "csv_status"] == "draft"
    assert out.loc[0, "Reviewer"] == "ab"


def test_columns_differing_only_in_case_are_refused(tmp_path):
    lines = _dated(["2023-02-21"], ",note,NOTE", ["a,b"])
    with pytest.raises(CnoiCsvError, match=r"columns NOTE, note differ only in case"):
        read_cnoi_csv(write(tmp_path, lines))


def test_filings_index_dates_follow_the_same_rule(tmp_path):
    from acct445_assets.sources.files import FileFilings
    from acct445_assets.sources.files.prices import PriceFileError

    (tmp_path / "filings").mkdir()
    (tmp_path / "filings" / "index.csv").write_text(
        "cik,accession,form,filing_date\n1,a-1,10-Q,03/04/2024\n1,a-2,10-Q,04/03/2024\n"
    )
    banks = pd.DataFrame({"cik": ["0000000001"], "ticker": ["AAA"]})
    with pytest.raises(
        PriceFileError, match=r"index\.csv: row 2, column filing_date: ambiguous date '03/04/2024'"
    ):
        FileFilings(tmp_path).list_filings(banks)
