import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from acct445_assets.research.validation import next_quarter_sample, opacity_validation

DIMS = ["d", "g", "r", "j", "t", "s", "x"]
WEIGHTS = np.array([0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1])


def make_inputs(n_banks=40, n_quarters=12, seed=0):
    rng = np.random.default_rng(seed)
    quarters = pd.period_range("2021Q1", periods=n_quarters, freq="Q")
    score_rows, panel_rows = [], []
    for b in range(n_banks):
        cik = f"{b + 1:010d}"
        level = rng.uniform(0, 80)
        for k, q in enumerate(quarters):
            dims = np.clip(level + rng.normal(0, 10, 7), 0, 100)
            cnoi = float(WEIGHTS @ dims)
            fog = 15 + rng.normal(0, 2)  # readability unrelated to volatility here
            acc = f"{cik}-{q.year % 100}-{k:06d}"
            score_rows.append(
                dict(
                    cik=cik,
                    accession=acc,
                    filing_date=q.end_time.normalize() + pd.Timedelta(days=40),
                    cnoi=cnoi,
                    **dict(zip(DIMS, dims, strict=True)),
                    fog=fog,
                    fk_grade=fog - 3 + rng.normal(0, 0.5),
                    flesch=40 - fog + rng.normal(0, 1),
                    smog=fog - 1,
                    words=500 + k,
                    sentences=25 + k % 3,
                    status="ok",
                )
            )
            panel_rows.append(
                dict(
                    cik=cik,
                    quarter=str(q),
                    quarter_end=q.end_time.normalize(),
                    cnoi=cnoi,
                    cnoi_accession=acc,
                )
            )
    scores = pd.DataFrame(score_rows)
    panel = pd.DataFrame(panel_rows)
    # Next-quarter volatility rises with this quarter's CNOI.
    panel["volatility"] = np.nan
    for _cik, grp in panel.groupby("cik"):
        idx = grp.index
        vol = (
            0.01
            + 0.0002 * np.r_[grp["cnoi"].iloc[0], grp["cnoi"].to_numpy()[:-1]]
            + rng.normal(0, 0.001, len(idx))
        )
        panel.loc[idx, "volatility"] = vol
    return scores, panel


def value(table, section, model, term, stat):
    hit = table[
        (table.section == section)
        & (table.model == model)
        & (table.term == term)
        & (table.statistic == stat)
    ]
    return float(hit["value"].iloc[0])


def test_next_quarter_alignment_skips_gaps():
    panel = pd.DataFrame(
        {
            "cik": ["1"] * 4,
            "quarter": ["2021Q1", "2021Q2", "2021Q4", "2022Q1"],
            "quarter_end": pd.to_datetime(["2021-03-31", "2021-06-30", "2021-12-31", "2022-03-31"]),
            "volatility": [0.1, 0.2, 0.4, 0.5],
            "cnoi": [10.0, 20.0, 40.0, 50.0],
            "cnoi_accession": ["a", "b", "c", "d"],
        }
    )
    scores = pd.DataFrame(
        {
            "cik": ["1"] * 4,
            "accession": list("abcd"),
            "fog": [11.0, 12.0, 14.0, 15.0],
            "status": "ok",
            "filing_date": pd.to_datetime(["2021-05-01"] * 4),
        }
    )
    s = next_quarter_sample(scores, panel)
    # 2021Q2 -> 2021Q4 is not the next quarter; 2022Q1 has no successor.
    assert s["quarter"].tolist() == ["2021Q1", "2021Q4"]
    assert s["vol_next"].tolist() == [0.2, 0.5]
    assert s["fog"].tolist() == [11.0, 14.0]


def test_horse_race_recovers_cnoi_and_incremental_f_matches_nested_f():
    scores, panel = make_inputs()
    res = opacity_validation(scores, panel)
    t = res.table
    assert value(t, "horse_race", "cnoi+fog", "cnoi", "t_hc3") > 5
    assert abs(value(t, "horse_race", "cnoi+fog", "fog", "t_hc3")) < 3
    sample = next_quarter_sample(scores, panel)
    full = sm.OLS(sample["vol_next"], sm.add_constant(sample[["cnoi", "fog"]])).fit()
    fog_only = sm.OLS(sample["vol_next"], sm.add_constant(sample[["fog"]])).fit()
    f, p, _ = full.compare_f_test(fog_only)
    assert value(t, "incremental_f", "cnoi|fog", "cnoi", "F") == pytest.approx(f)
    assert value(t, "incremental_f", "cnoi|fog", "cnoi", "p") == pytest.approx(p)
    assert res.summary["incremental_p_cnoi_given_fog"] < 0.001
    assert res.summary["incremental_p_fog_given_cnoi"] > 0.001
    # HC3 standard errors, not the classical ones.
    hc3 = sm.OLS(sample["vol_next"], sm.add_constant(sample[["cnoi"]])).fit(cov_type="HC3")
    assert value(t, "horse_race", "cnoi", "cnoi", "se_hc3") == pytest.approx(hc3.bse["cnoi"])


def test_correlations_and_variance_shares():
    scores, panel = make_inputs(n_banks=10, n_quarters=4)
    t = opacity_validation(scores, panel).table
    assert value(t, "correlation", "cnoi", "fog", "pearson") == pytest.approx(
        np.corrcoef(scores["cnoi"], scores["fog"])[0, 1]
    )
    assert value(t, "correlation", "d", "smog", "pearson") == pytest.approx(
        np.corrcoef(scores["d"], scores["smog"])[0, 1]
    )
    shares = t[t.section == "variance_share"].set_index("term")["value"]
    assert list(shares.index) == DIMS
    assert shares.sum() == pytest.approx(1.0)
    # Heavier weight and equal spread => larger share.
    assert shares["d"] > shares["j"]


def test_failed_scores_are_ignored():
    scores, panel = make_inputs(n_banks=10, n_quarters=4)
    scores.loc[0, ["cnoi", "fog"]] = np.nan
    scores.loc[0, "status"] = "failed"
    res = opacity_validation(scores, panel)
    assert res.summary["n_notes"] == len(scores) - 1


def test_without_accession_link_uses_latest_filed_score():
    scores, panel = make_inputs(n_banks=6, n_quarters=6)
    linked = next_quarter_sample(scores, panel)
    unlinked = next_quarter_sample(scores, panel.drop(columns=["cnoi_accession"]))
    # Scores are filed 40 days after quarter end, so at a quarter end the latest filed one
    # is the previous quarter's: its Fog, and the panel's own CNOI column.
    assert len(unlinked) == len(linked) - 6
    merged = unlinked.merge(linked, on=["cik", "quarter"], suffixes=("_u", "_l"))
    assert (merged["cnoi_u"] == merged["cnoi_l"]).all()
    assert not np.allclose(merged["fog_u"], merged["fog_l"])


def test_without_accession_link_a_score_counts_from_its_known_date():
    # A note filed on the last session of a quarter is known two sessions later: in the
    # next quarter, never at the quarter end it was filed on.
    scores, panel = make_inputs(n_banks=6, n_quarters=6)
    panel = panel.drop(columns=["cnoi_accession", "cnoi"])
    # The second-to-last quarter end (the last quarter has no next-quarter volatility).
    last = sorted(pd.to_datetime(panel["quarter_end"]).unique())[-2]
    bank = scores["cik"].iloc[0]
    late = (
        scores[scores["cik"] == bank]
        .iloc[[-1]]
        .assign(accession="late", filing_date=last, fog=99.0, cnoi=77.0)
    )
    sample = next_quarter_sample(pd.concat([scores, late], ignore_index=True), panel)
    assert not (sample["fog"] == 99.0).any()
    early = late.assign(filing_date=last - pd.Timedelta(days=10))
    sample = next_quarter_sample(pd.concat([scores, early], ignore_index=True), panel)
    assert (sample["fog"] == 99.0).sum() == 1
