from datetime import datetime

import duckdb
import numpy as np
import pandas as pd
import pytest

from acct445_assets.cnoi.adoption import (
    ADOPTED_RE,
    DATE_RE,
    FUTURE_RE,
    STANDARD_RE,
    adoption_table,
    find_adoption_date,
    names_standard,
    read_overrides,
    rule_adoption_quarter,
)
from acct445_assets.cnoi.readability import split_sentences


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "On January 1, 2020, the Company adopted ASU 2016-13 using the modified retrospective approach.",
            "2020-01-01",
        ),
        (
            "Effective January 1, 2023, the Bank adopted ASC 326, Financial Instruments - Credit Losses.",
            "2023-01-01",
        ),
        (
            "The Company adopted the current expected credit loss (CECL) standard on 1/1/2021.",
            "2021-01-01",
        ),
        (
            "In accordance with the CARES Act, the Company delayed CECL. It adopted ASU No. 2016-13 as of October 1, 2020, retroactive to the beginning of the year.",
            "2020-10-01",
        ),
    ],
)
def test_parses_past_tense_adoption_sentences(text, expected):
    assert find_adoption_date(text) == pd.Timestamp(expected)


@pytest.mark.parametrize(
    "text",
    [
        "ASU 2016-13 (Topic 326) is effective for the Company on January 1, 2023.",
        "The Company will adopt ASU 2016-13 on January 1, 2023 and expects an increase in the allowance.",
        "ASU 2016-13 is effective for fiscal years beginning after December 15, 2022; the Company has not yet adopted it.",
        "Deposits increased on March 31, 2023.",
        "",
    ],
)
def test_ignores_future_and_unrelated_sentences(text):
    assert find_adoption_date(text) is None


def test_rule_fallback_quarters():
    assert rule_adoption_quarter(False) == "2020Q1"
    assert rule_adoption_quarter(True) == "2023Q1"


def test_table_priority_override_then_filing_then_rule():
    banks = pd.DataFrame({"cik": ["1", "2", "3"], "smaller_reporting_company": [False, True, True]})
    parsed = pd.DataFrame(
        {
            "cik": ["0000000002", "0000000002", "0000000003"],
            "adoption_date": ["2023-01-01", "2023-04-01", "2023-01-01"],
        }
    )
    overrides = pd.DataFrame({"cik": ["3"], "adoption_date": ["2021-01-01"]})
    out = adoption_table(banks, parsed, overrides).set_index("cik")
    assert out.loc["0000000001", ["adoption_quarter", "source"]].tolist() == ["2020Q1", "rule"]
    assert out.loc["0000000002", ["adoption_quarter", "source"]].tolist() == [
        "2023Q1",
        "filing",
    ]  # earliest stated
    assert out.loc["0000000003", ["adoption_quarter", "source"]].tolist() == ["2021Q1", "override"]
    assert out.loc["0000000001", "adoption_date"] == pd.Timestamp("2020-01-01")


def test_override_file_errors_name_row_and_column(tmp_path):
    good = tmp_path / "cecl_adoption.csv"
    good.write_text("cik,adoption_date\n12345,2020-01-01\n")
    assert read_overrides(good).loc[0, "cik"] == "0000012345"
    bad = tmp_path / "bad.csv"
    bad.write_text("cik,adoption_date\n12345,2020-01-01\n678,not a date\n")
    with pytest.raises(
        ValueError, match=r"bad.csv: row 3, column adoption_date: cannot parse date 'not a date'"
    ):
        read_overrides(bad)
    missing = tmp_path / "missing.csv"
    missing.write_text("cik,date\n1,2020-01-01\n")
    with pytest.raises(
        ValueError, match=r"missing.csv: missing required column\(s\) adoption_date"
    ):
        read_overrides(missing)


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA, ""])
def test_unknown_filer_status_leaves_the_adoption_quarter_unknown(missing):
    assert rule_adoption_quarter(missing) is None
    banks = pd.DataFrame(
        {
            "cik": ["1", "2", "3"],
            "smaller_reporting_company": pd.Series([missing, True, missing], dtype=object),
        }
    )
    parsed = pd.DataFrame({"cik": ["3"], "adoption_date": ["2021-01-01"]})
    out = adoption_table(banks, parsed).set_index("cik")
    assert out.loc["0000000001", "source"] == "unknown"
    assert pd.isna(out.loc["0000000001", "adoption_quarter"])
    assert pd.isna(out.loc["0000000001", "adoption_date"])
    assert out.loc["0000000002", "adoption_quarter"] == "2023Q1"
    assert out.loc["0000000003", ["adoption_quarter", "source"]].tolist() == ["2021Q1", "filing"]


def test_unknown_status_survives_the_duckdb_round_trip():
    banks = pd.DataFrame(
        {
            "cik": ["1", "2", "3"],
            "smaller_reporting_company": pd.array([pd.NA, True, False], dtype="boolean"),
        }
    )
    with duckdb.connect() as con:
        con.register("banks", banks)
        stored = con.execute("select * from banks").df()
        out = adoption_table(stored).set_index("cik")
        con.register("adoption", out.reset_index())
        back = con.execute("select cik, adoption_quarter from adoption order by cik").df()
    assert out["adoption_quarter"].tolist()[1:] == ["2023Q1", "2020Q1"]
    assert pd.isna(back.loc[0, "adoption_quarter"])


def test_filer_status_accepts_yes_no_values_and_rejects_others():
    assert rule_adoption_quarter(np.bool_(True)) == "2023Q1"
    assert rule_adoption_quarter("false") == "2020Q1"
    assert rule_adoption_quarter(1) == "2023Q1"
    with pytest.raises(ValueError, match="smaller_reporting_company: not a yes/no value 'maybe'"):
        rule_adoption_quarter("maybe")


def test_names_standard_matches_the_case_insensitive_pattern():
    # Pieces of every STANDARD_RE branch in odd cases and with the letters re.I also
    # matches outside ASCII (dotless i, long s, Kelvin sign), glued at random.
    pieces = [
        "ASU",
        "asu",
        "AsU",
        "No.",
        " ",
        "  ",
        "\t",
        "2016-13",
        "2016-1",
        "Topic",
        "TOPIC",
        "topıc",
        "ASC",
        "aſc",
        "326",
        "32",
        "CECL",
        "cecl",
        "CeCl",
        "xCECL",
        "CECLx",
        "current expected",
        "CURRENT EXPECTED",
        " credit loss",
        " CRED\u0130T LOSS",
        " credıt loss",
        "\u212a",
        "adopted",
        "İ",
        "—",
        "\n",
        ".",
    ]
    rng = np.random.default_rng(17)
    texts = ["", "On January 1, 2020 the Company adopted ASU 2016-13."]
    for _ in range(20_000):
        texts.append("".join(rng.choice(pieces, rng.integers(1, 9))))
    matched = 0
    for text in texts:
        expected = STANDARD_RE.search(text) is not None
        assert names_standard(text) == expected, text
        matched += expected
    assert 0 < matched < len(texts)


def _reference_adoption_date(text):
    """find_adoption_date as first written: STANDARD_RE on the text, each paragraph, each sentence."""
    if not text or not STANDARD_RE.search(text):
        return None
    for para in text.split("\n"):
        if not (STANDARD_RE.search(para) and ADOPTED_RE.search(para)):
            continue
        for whole in split_sentences(" ".join(para.split())):
            for sentence in (p for p in whole.split(";") if p.strip()):
                if not (STANDARD_RE.search(sentence) and ADOPTED_RE.search(sentence)):
                    continue
                if FUTURE_RE.search(sentence):
                    continue
                for m in DATE_RE.finditer(sentence):
                    before = sentence[max(0, m.start() - 7) : m.start()].lower()
                    if "after" in before or "ended" in before:
                        continue
                    cleaned = " ".join(m.group(0).replace(",", " ").split())
                    for fmt in ("%B %d %Y", "%m/%d/%Y"):
                        try:
                            return pd.Timestamp(datetime.strptime(cleaned, fmt))
                        except ValueError:
                            continue
    return None


def test_find_adoption_date_matches_the_reference_on_random_paragraphs():
    pieces = [
        "On January 1, 2020, the Company adopted ASU 2016-13.",
        "The Bank adopted ASC\n326 on 1/1/2021.",
        "It will adopt CECL on January 1, 2023.",
        "For fiscal years beginning after December 15, 2022, Topic 326 applies; the Company adopted it.",
        "Adoption of current expected credıt losses (CECL) was implemented March 31, 2021.",
        "ASU No. 2016-13 became effective October 1, 2020",
        "The allowance is reviewed each quarter.",
        "Loans are grouped into pools.",
        " ",
        "\n",
        "; ",
        "\u2014",
        "aſc 326 adopted June 30, 2022.",
    ]
    rng = np.random.default_rng(445)
    found = 0
    for _ in range(3_000):
        text = " ".join(rng.choice(pieces, rng.integers(1, 7)))
        expected = _reference_adoption_date(text)
        assert find_adoption_date(text) == expected, text
        found += expected is not None
    assert 0 < found < 3_000
