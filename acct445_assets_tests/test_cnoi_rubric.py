import pytest

from acct445_assets.cnoi.extract import CeclNote
from acct445_assets.cnoi.rubric import (
    RUBRIC_VERSION,
    WEIGHTS,
    NoteUnscorable,
    note_shingles,
    score_note,
)

SEGMENTS = "Loans are commercial and industrial, commercial real estate and consumer loans."
RISK = "Loans are pooled when they share similar risk characteristics."
METHOD = "The Company uses a discounted cash flow methodology."
INPUTS = "The forecast uses a reasonable and supportable period."
COLLATERAL = "Collateral-dependent loans are measured at collateral value."
ROLL = [
    ["(In thousands)", "Commercial", "Total"],
    ["Beginning balance", "4,000", "9,000"],
    ["Charge-offs", "(100)", "(300)"],
    ["Recoveries", "10", "30"],
    ["Provision", "90", "270"],
    ["Ending balance", "4,000", "9,000"],
]
AGING = [["Loans", "30-59 Days Past Due", "90 Days or More Past Due"], ["Commercial", "12", "4"]]
CQI = [["Rating", "Pass", "Special Mention", "Substandard"], ["Commercial", "900", "20", "11"]]


def make_note(drop=(), *, located_by="heading", distance=0.0, acl=9000.0, extra=(), tables=None):
    paras = {
        "segments": SEGMENTS,
        "risk": RISK,
        "method": METHOD,
        "inputs": INPUTS,
        "collateral": COLLATERAL,
    }
    segs = [("p", v) for k, v in paras.items() if k not in drop]
    segs += [("p", e) for e in extra]
    if tables is None:
        tables = {"roll": ROLL, "aging": AGING, "cqi": CQI}
        tables = [t for k, t in tables.items() if k not in drop]
    segs += [("t", t) for t in tables]
    return CeclNote(
        located_by, "NOTE 5 - ALLOWANCE FOR CREDIT LOSSES", 95.0, segs, distance, True, acl
    )


def tokens(result):
    return {p.token: p.points for p in result.penalties}


def test_complete_note_has_only_unavoidable_penalties():
    note = make_note()
    r = score_note(note, note_shingles(note.text))
    assert r.rubric_version == RUBRIC_VERSION == "cnoi-1"
    assert r.dimensions["D"] == r.dimensions["G"] == r.dimensions["R"] == 0
    assert r.dimensions["T"] == r.dimensions["S"] == r.dimensions["X"] == 0
    assert set(tokens(r)) <= {"J:fk_grade_above_8"}
    assert r.cnoi == pytest.approx(0.1 * r.dimensions["J"])


@pytest.mark.parametrize(
    "drop, expected",
    [
        (
            # The balance-sheet allowance only appears in the roll-forward, so it no longer reconciles.
            "roll",
            {
                "G:missing_roll_forward": 12,
                "R:missing_roll_forward": 15,
                "X:missing_roll_forward": 15,
                "X:totals_not_reconciled": 8,
            },
        ),
        ("aging", {"G:missing_aging": 8, "R:missing_aging": 10}),
        (
            "cqi",
            {
                "G:missing_credit_quality_indicators": 10,
                "R:missing_credit_quality_indicators": 10,
                "X:missing_credit_quality_indicators": 10,
            },
        ),
        ("method", {"R:missing_methodology": 15}),
        ("collateral", {"R:missing_collateral_dependent": 10}),
        ("inputs", {"R:missing_inputs_forecast": 10}),
        ("risk", {"R:missing_risk_characteristics": 10}),
        ("segments", {"G:segments_0_lt_3": 20}),
    ],
)
def test_each_missing_item_penalty(drop, expected):
    full = make_note()
    base = tokens(score_note(full, note_shingles(full.text)))
    note = make_note(drop=(drop,))
    r = score_note(note, note_shingles(note.text))
    got = {k: v for k, v in tokens(r).items() if k not in base and not k.startswith("T:")}
    assert got == expected


def test_discoverability_fallback_cross_references_and_distance():
    refs = [
        "See Note 1 for policies.",
        "Refer to Note 7.",
        "See Note 9.",
        "See Note 2.",
        "See Note 3.",
        "See Note 4.",
    ]
    note = make_note(located_by="fallback", distance=0.5, extra=refs[:2])
    r = score_note(note, note_shingles(note.text))
    t = tokens(r)
    assert t["D:fallback_location"] == 40
    assert t["D:cross_references_2"] == 8
    assert t["D:distance_from_statements"] == pytest.approx(15)
    assert r.dimensions["D"] == pytest.approx(63)
    capped = make_note(extra=refs)
    assert tokens(score_note(capped, note_shingles(capped.text)))["D:cross_references_6"] == 20


def test_readability_penalty_is_five_points_per_grade_above_8():
    note = make_note()
    r = score_note(note, note_shingles(note.text))
    assert r.dimensions["J"] == pytest.approx(min(100, max(0, 5 * (r.readability.fk_grade - 8))))
    long = make_note(
        extra=[
            "Notwithstanding the considerable uncertainty surrounding macroeconomic conditions, "
            "management's quantitative and qualitative determination incorporates probability-weighted "
            "scenarios, contemporaneous collateral valuations, and idiosyncratic borrower characteristics "
            "that collectively necessitate substantial professional judgment regarding expectations."
        ]
    )
    assert score_note(long, None).dimensions["J"] > r.dimensions["J"]


def test_table_density_penalties():
    words = " ".join(["Loans are reviewed."] * 400)
    prose_only = make_note(tables=[], extra=[words])
    t = tokens(score_note(prose_only, None))
    assert t["T:table_share_below_20pct"] == 15 and t["T:under_1_table_per_1000_words"] == 10
    assert "T:tables_only_images" not in t
    images = make_note(tables=[], extra=[words])
    images.segments.append(("img", "roll-forward"))
    assert tokens(score_note(images, None))["T:tables_only_images"] == 30
    numberless = make_note(
        tables=[
            [["Segment", "Risk"], ["Commercial", "Economy"]],
            [["Segment", "Method"], ["Consumer", "Loss rate"]],
            ROLL,
        ]
    )
    assert tokens(score_note(numberless, None))["T:tables_without_numbers"] == 15
    # METHODS T: any numberless table is penalised, not only a majority of them.
    one_of_three = make_note(tables=[[["Segment", "Risk"], ["Commercial", "Economy"]], ROLL, AGING])
    assert tokens(score_note(one_of_three, None))["T:tables_without_numbers"] == 15
    assert "T:tables_without_numbers" not in tokens(score_note(make_note(), None))


def test_stability_no_prior_churn_and_halving_on_one_off_event():
    note = make_note()
    assert tokens(score_note(note, None))["S:no_prior_note"] == 10
    same = score_note(note, note)
    assert same.similarity == 1.0 and same.dimensions["S"] == 0
    # Number updates are not churn.
    updated = make_note(
        tables=[[[c.replace("9,000", "9,400") for c in r] for r in ROLL], AGING, CQI]
    )
    assert score_note(updated, note).dimensions["S"] == 0
    rewritten = make_note(
        drop=("method", "inputs"), extra=["Management revised every estimate this quarter."]
    )
    r = score_note(rewritten, note)
    assert 0 < r.similarity < 1
    assert r.dimensions["S"] == pytest.approx(80 * (1 - r.similarity))
    halved = score_note(rewritten, note, one_off_event=True)
    assert halved.dimensions["S"] == pytest.approx(r.dimensions["S"] / 2)
    assert "S:churn_vs_prior_halved_one_off" in tokens(halved)


def test_one_off_detected_from_adoption_in_period_or_merger():
    adoption = make_note(extra=["On January 1, 2023, the Company adopted ASU 2016-13."])
    assert score_note(adoption, make_note(), report_date="2023-03-31").one_off_event
    assert not score_note(adoption, make_note(), report_date="2024-06-30").one_off_event
    merger = make_note(extra=["On May 1, 2024 the Company completed its merger with Valley Bank."])
    assert score_note(merger, make_note()).one_off_event


def test_reconciliation_to_balance_sheet():
    assert "X:totals_not_reconciled" not in tokens(score_note(make_note(acl=9000.0), None))
    assert tokens(score_note(make_note(acl=9500.0), None))["X:totals_not_reconciled"] == 8
    # No balance-sheet total: not checkable, recorded without points.
    unknown = score_note(make_note(acl=None), None)
    assert tokens(unknown)["X:reconciliation_not_checkable"] == 0
    assert "X:totals_not_reconciled" not in tokens(unknown)
    assert unknown.dimensions["X"] == score_note(make_note(acl=9000.0), None).dimensions["X"]


def test_dimensions_clipped_and_index_is_weighted_sum():
    worst = make_note(
        drop=("roll", "aging", "cqi", "method", "collateral", "inputs", "risk", "segments"),
        located_by="fallback",
        distance=1.0,
        acl=1.0,
        extra=["See Note 1. " * 8],
    )
    r = score_note(worst, None)
    assert all(0 <= v <= 100 for v in r.dimensions.values())
    assert r.cnoi == pytest.approx(sum(WEIGHTS[d] * v for d, v in r.dimensions.items()))
    assert r.penalty_reasons == "|".join(p.token for p in r.penalties)
    assert all(tok.split(":")[0] in WEIGHTS for tok in r.penalty_reasons.split("|"))


def test_unlocated_or_empty_note_is_not_scored_as_zero():
    with pytest.raises(NoteUnscorable, match="not located"):
        score_note(CeclNote("none"), None)
    with pytest.raises(NoteUnscorable, match="empty"):
        score_note(CeclNote("heading", "NOTE 5", 90.0, [("p", "   ")]), None)
