from pathlib import Path

import pytest

from acct445_assets.cnoi.baseline import document_blocks_bs4, extract_note_bs4
from acct445_assets.cnoi.extract import (
    HEADING_QUALIFIES,
    document_blocks,
    extract_note,
    heading_score,
)
from acct445_assets.cnoi.rubric import score_note

FIXTURES = Path(__file__).parent / "fixtures" / "filings"


def read(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_ixbrl_10k_picks_numbered_note_over_mdna_and_toc():
    note = extract_note(read("bank_10k_ixbrl.htm"))
    assert note.located_by == "heading"
    assert note.heading == "NOTE 5 - LOANS, ALLOWANCE FOR CREDIT LOSSES, AND CREDIT QUALITY"
    assert note.heading_score >= HEADING_QUALIFIES
    assert note.statements_found
    assert note.balance_sheet_acl == 21735.0
    text = note.text
    # "(continued)" page merged, its repeated heading and the page numbers dropped.
    assert "30-59 Days Past Due" in text and "Collateral-dependent loans totaled" in text
    assert "(continued)" not in text
    assert "\n78\n" not in f"\n{text}\n" and "\n79\n" not in f"\n{text}\n"
    # Neighbouring notes and the MD&A stay out.
    assert "Premises and equipment" not in text
    assert "critical accounting estimate" not in text
    assert "Available-for-sale" not in text


def test_ixbrl_tags_stripped_hidden_header_dropped_and_tables_kept():
    blocks = document_blocks(read("bank_10k_ixbrl.htm"))
    joined = "\n".join(b.text for b in blocks)
    assert "hidden fact" not in joined and "ix:" not in joined
    note = extract_note(read("bank_10k_ixbrl.htm"))
    tables = note.tables
    assert note.n_tables == 3
    roll = tables[0]
    # The data table nested in a layout table comes out as rows of cells, spacer "$" cells dropped.
    assert roll[1] == ["Beginning balance", "6,410", "11,920", "1,780", "20,110"]
    assert roll[-1][-1] == "21,735"  # value that sat inside ix:nonFraction


def test_legacy_10q_heading_in_table_continuation_after_other_note_and_images():
    note = extract_note(read("bank_10q_legacy.htm"))
    assert note.located_by == "heading"
    assert note.heading == "4. Loans and Allowance for Credit Losses"
    assert "Collateral-dependent loans are measured" in note.text
    assert "Deposits consist" not in note.text
    assert "Net income increased" not in note.text
    assert note.n_tables == 0 and note.n_images == 2
    assert note.balance_sheet_acl == 9412.0  # parsed from "net of allowance ... of $9,412"


def test_unrecognised_heading_falls_back_to_best_snippet():
    note = extract_note(read("bank_10q_fallback.htm"))
    assert note.located_by == "fallback"
    assert note.heading == "NOTE 2 – LENDING ACTIVITIES AND RESERVES"
    assert note.heading_score < HEADING_QUALIFIES
    assert "charge-offs" in note.text and "nonaccrual" in note.text
    assert "Deposits increased" not in note.text


def test_text_filing_with_column_table():
    note = extract_note(read("bank_10q.txt"))
    assert note.located_by == "heading" and note.heading == "NOTE 3 - ALLOWANCE FOR CREDIT LOSSES"
    assert note.n_tables == 1
    assert note.tables[0][0][:3] == ["Beginning balance", "Charge-offs", "Recoveries"]
    assert "Deposits increased" not in note.text


def test_document_without_cecl_content_is_not_located():
    note = extract_note(
        "<html><body><p><b>NOTE 1 - DEPOSITS</b></p><p>Deposits rose.</p></body></html>"
    )
    assert note.located_by == "none" and note.segments == []


def test_bytes_and_sgml_submission_wrapper():
    html = read("bank_10k_ixbrl.htm")
    wrapped = f"<SEC-DOCUMENT>0001-23-000001.txt\n<DOCUMENT>\n<TYPE>10-K\n<TEXT>\n{html}\n</TEXT>\n</DOCUMENT>"
    a = extract_note(wrapped.encode("utf-8"))
    b = extract_note(html)
    assert a.text == b.text and a.heading == b.heading


def test_heading_scores_rank_candidates():
    numbered = heading_score("NOTE 5 - LOANS, ALLOWANCE FOR CREDIT LOSSES, AND CREDIT QUALITY")
    plain = heading_score("Allowance for Credit Losses", bold=True)
    old = heading_score("Allowance for Loan Losses", bold=True)
    topic = heading_score("Note 3. Financial Instruments - Credit Losses (Topic 326)")
    securities = heading_score(
        "Allowance for Credit Losses on Available-for-Sale Securities", bold=True
    )
    assert numbered > plain > old
    assert topic >= HEADING_QUALIFIES and old >= HEADING_QUALIFIES
    assert heading_score("Provision for credit losses") < HEADING_QUALIFIES
    assert securities < plain
    assert heading_score("NOTE 5 - LOANS AND ALLOWANCE FOR CREDIT LOSSES (continued)") == 0
    assert heading_score("NOTE 6 - PREMISES AND EQUIPMENT") == 0


@pytest.mark.parametrize(
    "name",
    [
        "bank_10k_ixbrl.htm",
        "bank_10q_legacy.htm",
        "bank_10q_fallback.htm",
        "bank_10q.txt",
        "bank_10k_running_headers.htm",
    ],
)
def test_bs4_baseline_gives_the_same_note_and_score(name):
    doc = read(name)
    fast, slow = document_blocks(doc), document_blocks_bs4(doc)
    assert [(b.kind, b.text, b.bold) for b in fast] == [(b.kind, b.text, b.bold) for b in slow]
    a, b = extract_note(doc), extract_note_bs4(doc)
    assert (a.located_by, a.heading, a.text) == (b.located_by, b.heading, b.text)
    assert score_note(a).cnoi == score_note(b).cnoi


def test_note_record_round_trip_scores_identically():
    from acct445_assets.cnoi.extract import CeclNote

    note = extract_note(read("bank_10k_ixbrl.htm"))
    again = CeclNote.from_record(note.to_record())
    assert again.text == note.text
    assert score_note(again).as_record() == score_note(note).as_record()


def test_running_page_headers_uppercase_subheadings_and_toc_lines():
    note = extract_note(read("bank_10k_running_headers.htm"))
    assert note.located_by == "heading"
    assert note.heading == "Note 4 – Loans and Allowance for Credit Losses"
    text = note.text
    # The note runs over two page breaks and its upper-case subheadings, to Note 5.
    assert "loss-rate methodology" in text
    assert "Substandard" in text and "Collateral-dependent loans are measured" in text
    assert "Time deposits" not in text
    # Repeated page headers and page numbers are not note content.
    assert "HARBOR BANKSHARES" not in text and "NOTES TO CONSOLIDATED" not in text
    assert not any(p in text.split("\n") for p in ("52", "53"))


@pytest.mark.parametrize(
    "title",
    [
        "Note E - Loans and Allowance for Credit Losses",
        "(5) Loans and Allowance for Credit Losses",
        "NOTE IV. ALLOWANCE FOR CREDIT LOSSES",
        "5. Loans and Allowance for Credit Losses",
    ],
)
def test_numbering_styles_qualify_and_end_at_the_next_note(title):
    nxt = title.replace("Loans and Allowance for Credit Losses", "Deposits").replace(
        "ALLOWANCE FOR CREDIT LOSSES", "DEPOSITS"
    )
    nxt = (
        nxt.replace("Note E", "Note F").replace("(5)", "(6)").replace("IV", "V").replace("5.", "6.")
    )
    doc = (
        f"<html><body><p><b>{title}</b></p><p>The allowance for credit losses is measured on pools.</p>"
        f"<p><b>CREDIT QUALITY</b></p><p>Loans are rated pass or substandard.</p>"
        f"<p><b>{nxt}</b></p><p>Deposits rose.</p></body></html>"
    )
    note = extract_note(doc)
    assert note.located_by == "heading" and note.heading == title
    assert "rated pass" in note.text and "Deposits rose" not in note.text


def test_pipeline_records_each_failure_with_a_reason_and_no_score():
    import pandas as pd

    from acct445_assets.cnoi.pipeline import score_filings

    good = read("bank_10k_ixbrl.htm")
    filings = pd.DataFrame(
        {
            "cik": ["1"] * 5,
            "ticker": ["HVB"] * 5,
            "accession": [f"a-{k}" for k in range(5)],
            "form": ["10-Q"] * 5,
            "filing_date": pd.date_range("2023-02-01", periods=5, freq="90D"),
            "report_date": pd.date_range("2022-12-31", periods=5, freq="90D"),
            "document": [
                good,
                None,
                "",
                "<html><body><p>NOTE 1 - DEPOSITS</p><p>Deposits rose.</p></body></html>",
                "\x00\x01\x02 binary garbage",
            ],
        }
    )
    notes, scores = score_filings(filings)
    reasons = dict(zip(scores["accession"], scores["reason"], strict=True))
    assert scores.set_index("accession").loc["a-0", "status"] == "ok"
    assert reasons["a-1"] == "document missing"
    assert reasons["a-2"] == "document empty"
    assert "not located" in reasons["a-3"]
    assert scores.set_index("accession").loc["a-4", "status"] == "failed" and reasons["a-4"]
    assert scores.loc[scores["status"] == "failed", "cnoi"].isna().all()
    assert len(notes) == len(scores) == 5
