import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from acct445_assets.cnoi.adoption import find_adoption_date
from acct445_assets.cnoi.extract import extract_note
from acct445_assets.cnoi.pipeline import score_filings
from acct445_assets.sources.sample.filings import generate_filings
from acct445_assets.sources.sample.universe import SampleConfig, generate_universe


@pytest.fixture(scope="module")
def universe():
    return generate_universe(SampleConfig())


@pytest.fixture(scope="module")
def filings(universe):
    return generate_filings(universe.banks, seed=445, start="2021-01-01", end="2023-12-31")


def test_columns_schedule_and_alive_banks_only(universe, filings):
    assert list(filings.columns) == [
        "cik",
        "ticker",
        "accession",
        "form",
        "filing_date",
        "report_date",
        "document",
    ]
    assert filings["accession"].is_unique
    banks = universe.banks.set_index("cik")
    last = filings["cik"].map(banks["last_date"])
    assert (filings["filing_date"] <= last).all()
    tenk = filings[filings["form"] == "10-K"]
    assert (
        tenk["report_date"].dt.month.eq(12).all()
        and tenk["filing_date"].dt.month.isin([2, 3]).all()
    )
    tenq = filings[filings["form"] == "10-Q"]
    lag = (tenq["filing_date"] - tenq["report_date"]).dt.days
    assert tenq["report_date"].dt.month.isin([3, 6, 9]).all() and lag.between(40, 45).all()
    # A surviving bank files three 10-Qs and one 10-K a year.
    alive = banks.index[~banks["delisted"] & (banks["first_date"] <= "2020-01-31")][0]
    per_year = (
        filings[filings["cik"] == alive]
        .groupby(filings["filing_date"].dt.year)["form"]
        .value_counts()
    )
    assert per_year.loc[(2022, "10-Q")] == 3 and per_year.loc[(2022, "10-K")] == 1
    # Failed banks stop filing.
    failed = banks.index[banks["delisted"]]
    assert not filings[filings["cik"].isin(failed) & (filings["filing_date"] > "2023-05-01")].shape[
        0
    ]


def test_deterministic_for_a_seed(universe):
    few = universe.banks.head(3)
    a = generate_filings(few, seed=7, start="2022-01-01", end="2022-12-31")
    b = generate_filings(few, seed=7, start="2022-01-01", end="2022-12-31")
    c = generate_filings(few, seed=8, start="2022-01-01", end="2022-12-31")
    pd.testing.assert_frame_equal(a, b)
    assert not a["document"].equals(c["document"])


def test_documents_use_real_filing_markup(filings):
    doc = filings["document"].iloc[0]
    assert "<ix:header>" in doc and "<ix:nonFraction" in doc
    assert "(continued)" in doc
    assert 10_000 < len(doc) < 150_000


def test_adoption_sentence_matches_adoption_quarter(universe, filings):
    banks = universe.banks.set_index("cik")
    late = filings[filings["report_date"] >= "2023-06-30"].groupby("cik").head(1)
    for row in late.itertuples():
        stated = find_adoption_date(extract_note(row.document).text)
        assert stated is not None
        assert str(stated.to_period("Q")) == banks.loc[row.cik, "adoption_quarter"]


def test_bank_average_cnoi_ranks_banks_by_latent_opacity(universe, filings):
    notes, scores = score_filings(filings)
    assert (scores["status"] == "ok").all(), scores.loc[scores["status"] != "ok", "reason"].unique()
    per_bank = scores.groupby("cik")["cnoi"].mean()
    latent = universe.banks.set_index("cik")["latent_opacity"].reindex(per_bank.index)
    rho = spearmanr(per_bank, latent).statistic
    assert rho >= 0.8
    slope, intercept = np.polyfit(latent, per_bank, 1)
    # Roughly one CNOI point per latent point, so the planted premium keeps its scale.
    assert 0.7 <= slope <= 1.3
    assert scores["located_by"].isin(["heading", "fallback"]).all()
    assert (notes["located_by"] == "fallback").any() and (notes["located_by"] == "heading").any()


def test_padding_reaches_target_size_and_keeps_the_note(universe):
    few = universe.banks.head(1)
    small = generate_filings(few, seed=3, start="2022-01-01", end="2022-06-30")
    big = generate_filings(
        few, seed=3, start="2022-01-01", end="2022-06-30", target_bytes=1_000_000
    )
    sizes = big["document"].str.len()
    assert (sizes > 900_000).all() and (sizes < 1_400_000).all()
    a, b = extract_note(small["document"].iloc[0]), extract_note(big["document"].iloc[0])
    assert a.heading == b.heading and a.located_by == b.located_by
