import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from acct445_assets.cnoi.adoption import find_adoption_date
from acct445_assets.cnoi.extract import extract_note
from acct445_assets.cnoi.latent import cnoi_latent_fit
from acct445_assets.cnoi.pipeline import score_filings
from acct445_assets.sources.sample import SampleFilings, SampleSpec
from acct445_assets.sources.sample.filings import generate_filings
from acct445_assets.sources.sample.universe import SampleConfig, generate_universe


@pytest.fixture(scope="module")
def universe():
    return generate_universe(SampleConfig())


@pytest.fixture(scope="module")
def filings(universe):
    return generate_filings(
        universe.banks,
        seed=445,
        start="2021-01-01",
        end="2023-12-31",
        opacity_path=universe.opacity_path,
    )


@pytest.fixture(scope="module")
def scored(filings):
    return score_filings(filings)


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


def test_bank_average_cnoi_ranks_banks_by_latent_opacity(universe, filings, scored):
    # Notes follow the opacity path, so a bank's average CNOI tracks its average opacity
    # over the quarters it reported, not its level alone.
    notes, scores = scored
    assert (scores["status"] == "ok").all(), scores.loc[scores["status"] != "ok", "reason"].unique()
    per_bank = scores.groupby("cik")["cnoi"].mean()
    quarters = filings["report_date"].dt.to_period("Q")
    path = universe.opacity_path
    latent = (
        pd.Series([path.loc[q, c] for q, c in zip(quarters, filings["cik"], strict=True)])
        .groupby(filings["cik"].to_numpy())
        .mean()
        .reindex(per_bank.index)
    )
    rho = spearmanr(per_bank, latent).statistic
    assert rho >= 0.8
    slope, intercept = np.polyfit(latent, per_bank, 1)
    # Roughly one CNOI point per latent point, so the planted premium keeps its scale.
    assert 0.7 <= slope <= 1.3
    assert scores["located_by"].isin(["heading", "fallback"]).all()
    assert (notes["located_by"] == "fallback").any() and (notes["located_by"] == "heading").any()


def test_cnoi_moves_within_banks_with_the_opacity_path(universe, filings, scored):
    _, scores = scored
    fit = cnoi_latent_fit(scores, universe.opacity_path)
    assert fit["filings_matched"] == len(filings)
    assert fit["within_bank_corr"] > 0.7
    assert 0.5 < fit["within_bank_cnoi_on_latent_slope"] < 1.3
    # Notes written at each bank's constant level do not move with the path at all.
    few = universe.banks.head(12)
    constant = generate_filings(few, seed=445, start="2021-01-01", end="2023-12-31")
    flat = cnoi_latent_fit(score_filings(constant)[1], universe.opacity_path)
    assert abs(flat["within_bank_corr"]) < 0.2


def test_a_path_at_each_level_gives_the_level_documents(universe):
    few = universe.banks.head(4)
    level = universe.banks.set_index("cik")["latent_opacity"]
    flat_path = universe.opacity_path * 0 + level
    at_level = generate_filings(few, seed=5, start="2021-01-01", end="2022-12-31")
    on_path = generate_filings(
        few, seed=5, start="2021-01-01", end="2022-12-31", opacity_path=flat_path
    )
    pd.testing.assert_frame_equal(at_level, on_path)
    moving = generate_filings(
        few, seed=5, start="2021-01-01", end="2022-12-31", opacity_path=universe.opacity_path
    )
    assert not moving["document"].equals(at_level["document"])


def test_sample_source_documents_follow_the_path(universe):
    spec = SampleSpec(seed=445, n_banks=60, start="2018-01-01", end="2025-12-31")
    source = SampleFilings(spec, "2021-01-01", "2023-12-31")
    pd.testing.assert_frame_equal(spec.opacity_path(), universe.opacity_path)
    bank = universe.banks.iloc[[5]]
    expected = generate_filings(
        bank, seed=445, start="2021-01-01", end="2023-12-31", opacity_path=universe.opacity_path
    )
    listed = source.list_filings(bank).frame
    assert [source.read_document(row) for _, row in listed.iterrows()] == list(
        expected.set_index("accession").loc[listed["accession"], "document"]
    )


def test_filing_outside_the_opacity_path_is_an_error(universe):
    short = universe.opacity_path.loc["2022Q1":]
    with pytest.raises(
        ValueError, match=r"covers 2022Q1\.\.2025Q4; CIK \d{10} has a filing reporting 2021Q"
    ):
        generate_filings(
            universe.banks.head(1), seed=1, start="2021-06-01", end="2022-12-31", opacity_path=short
        )


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
