"""The fast paths give the numbers of the common-way baselines the benchmark times them
against (issue 8): per-bank statsmodels OLS, groupby().apply sorts, per-portfolio HAC
OLS, BeautifulSoup. Small data here; `make bench` repeats the checks at scale."""

from functools import lru_cache

import numpy as np
import pandas as pd
import pytest

from acct445_assets.sources.sample.filings import generate_filings
from acct445_assets.sources.sample.universe import SampleConfig, generate_universe
from acct445_assets_bench import estimators
from acct445_assets_bench.cnoi import compare_outputs
from acct445_assets_bench.data import ScaleSpec, estimator_inputs

EVENTS = ("2022-06-15", "2023-03-10")


@lru_cache(maxsize=1)
def small_inputs():
    inputs, sizes = estimator_inputs(
        ScaleSpec(n_banks=36, start="2021-06-01", end="2024-03-31", seed=11)
    )
    return {**inputs, "events": EVENTS}, sizes


@lru_cache(maxsize=4)
def outputs(task: str):
    inputs, _ = small_inputs()
    if task == "portfolio_alphas":
        inputs = {**inputs, "portfolios": outputs("portfolios")[0]}
    fast, slow = estimators.TASKS[task]
    return fast(inputs), slow(inputs)


def test_small_universe_is_unbalanced_and_has_a_failure():
    inputs, sizes = small_inputs()
    first_day = inputs["returns"].groupby("cik")["date"].min()
    assert first_day.nunique() > 1  # late listings give banks their own estimation samples
    assert sizes["return_rows"] < sizes["n_banks"] * sizes["sessions"]


def test_event_study_matches_one_statsmodels_ols_per_bank():
    fast, slow = outputs("event_study")
    included = fast["banks"]["status"].eq("included")
    assert included.sum() >= 60  # both events, most banks
    # Same banks excluded for the same reasons.
    statuses = fast["banks"].merge(slow["banks"], on=["event", "cik"], suffixes=("_f", "_s"))
    assert (statuses["status_f"] == statuses["status_s"]).all()
    # The SVB failures stop trading inside the window and stay in (no survivorship).
    assert fast["banks"]["stopped_in_window"].sum() >= 2
    discrepancies = estimators.compare("event_study", fast, slow)
    assert set(discrepancies) >= {"alpha", "beta", "sigma", "car", "scar", "statistic"}
    estimators.assert_agree("event_study", discrepancies)


def test_portfolios_match_groupby_apply_sorts_and_returns():
    fast, slow = outputs("portfolios")
    assert fast["period_returns"]["portfolio"].nunique() == 11  # ten groups and the spread
    assert (fast["period_returns"]["turnover"] > 0).all()
    discrepancies = estimators.compare("portfolios", fast, slow)
    estimators.assert_agree("portfolios", discrepancies)


def test_portfolio_alphas_match_statsmodels_hac_per_portfolio():
    fast, slow = outputs("portfolio_alphas")
    assert set(fast["alphas"]["frequency"]) == {"daily", "quarterly"}
    assert len(fast["alphas"]) == len(slow["alphas"]) == 2 * 11 * len(estimators.MODELS)
    estimators.assert_agree("portfolio_alphas", estimators.compare("portfolio_alphas", fast, slow))


def test_bank_alphas_match_statsmodels_hac_per_bank():
    inputs, sizes = small_inputs()
    few = estimators.restrict(inputs, sorted(inputs["returns"]["cik"].unique())[:8])
    fast = estimators.firm_alphas_fast(few)
    slow = estimators.firm_alphas_slow(few)
    assert len(fast["alphas"]) == 8 * len(estimators.MODELS)
    estimators.assert_agree("firm_alphas", estimators.compare("firm_alphas", fast, slow))


@pytest.mark.parametrize("task", ["event_study", "portfolios", "firm_alphas"])
def test_fast_paths_on_the_shared_matrix_agree_with_the_baselines(task):
    """As `make bench` runs them: cik as the warehouse's categorical, one matrix shared."""
    inputs, _ = small_inputs()
    coded = {
        **inputs,
        "returns": inputs["returns"].assign(cik=lambda r: r["cik"].astype("category")),
    }
    coded.update(estimators.returns_matrix(coded))
    if task == "firm_alphas":
        keep = sorted(inputs["returns"]["cik"].unique())[:8]
        inputs, coded = estimators.restrict(inputs, keep), estimators.restrict(coded, keep)
    fast, slow = estimators.TASKS[task]
    estimators.assert_agree(task, estimators.compare(task, fast(coded), slow(inputs)))


def test_agreement_check_fails_on_a_changed_number_or_a_missing_row():
    fast, slow = outputs("portfolio_alphas")
    nudged = {"alphas": slow["alphas"].copy()}
    nudged["alphas"].loc[3, "alpha"] += 1e-6
    discrepancies = estimators.compare("portfolio_alphas", fast, nudged)
    assert discrepancies["alpha"] == pytest.approx(1e-6, rel=1e-3)
    with pytest.raises(AssertionError, match="differ beyond"):
        estimators.assert_agree("portfolio_alphas", discrepancies)
    short = {"alphas": slow["alphas"].drop(index=5)}
    with pytest.raises(AssertionError, match="unmatched"):
        estimators.compare("portfolio_alphas", fast, short)


def test_cnoi_lxml_pipeline_matches_bs4_baseline_on_padded_filings():
    from acct445_assets.cnoi.pipeline import extract_notes, score_notes
    from acct445_assets_bench.baselines import extract_notes_baseline

    banks = generate_universe(SampleConfig(n_banks=3, seed=7)).banks
    filings = generate_filings(banks.iloc[:1], seed=7, target_bytes=150_000).iloc[:4]
    assert filings["document"].str.len().min() > 150_000
    assert filings["document"].str.contains("<ix:nonFraction").all()
    fast_notes = extract_notes(filings)
    slow_notes = extract_notes_baseline(filings)
    agreement = compare_outputs(
        fast_notes, score_notes(fast_notes), slow_notes, score_notes(slow_notes)
    )
    assert (fast_notes["status"] == "ok").all()
    assert all(v == 0 for v in agreement.values()), agreement


def test_cnoi_comparison_reports_a_different_note():
    frame = pd.DataFrame(
        {
            "accession": ["a", "b"],
            "located_by": ["heading", "heading"],
            "heading": ["Note 4", "Note 4"],
            "note_text": ["x", "y"],
            "n_tables": [1, 2],
            "status": ["ok", "ok"],
        }
    )
    scores = pd.DataFrame({"accession": ["a", "b"], "status": ["ok", "ok"]}).assign(
        **{c: [1.0, 2.0] for c in ["cnoi", "d", "g", "r", "j", "t", "s", "x", "fk_grade", "words"]}
    )
    other = frame.assign(note_text=["x", "z"])
    other_scores = scores.assign(cnoi=[1.0, np.nan])
    result = compare_outputs(frame, scores, other, other_scores)
    assert result["note_text_mismatches"] == 1
    assert result["cnoi_max_abs_diff"] == np.inf


def test_bench_events_fit_the_generated_period():
    from acct445_assets_bench.estimators import EVENTS, bench_events

    ten_years = pd.DataFrame({"date": pd.bdate_range("2016-01-01", "2025-12-31")})
    assert bench_events(ten_years) == list(EVENTS)
    two_years = pd.DataFrame({"date": pd.bdate_range("2022-01-03", "2023-12-29")})
    assert bench_events(two_years) == ["2023-03-10"]
    one_year = pd.DataFrame({"date": pd.bdate_range("2024-01-01", "2024-12-31")})
    (middle,) = bench_events(one_year)
    assert "2024-06-01" < middle < "2024-08-01"
