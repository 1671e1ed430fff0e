"""CNOI throughput: note extraction and cnoi-1 scoring over large generated filings.

Documents are generated bank by bank inside each worker (generation is not timed) and
dropped after use, so thousands of 1-5 MB documents never sit in memory together.
Throughput per core is document megabytes over the worker's CPU seconds spent in
extraction and scoring (``time.process_time``), which a busy shared machine distorts
far less than wall time; wall seconds are reported too.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from acct445_assets.cnoi.pipeline import extract_notes, score_notes
from acct445_assets.cnoi.readability import readability
from acct445_assets.sources.sample.filings import filing_schedule, generate_filings
from acct445_assets.sources.sample.universe import SampleConfig, generate_universe

from .baselines import extract_notes_baseline

SEED = 445
MIN_BYTES, MAX_BYTES = 1_000_000, 5_000_000
COMPARED = ["located_by", "heading", "note_text", "n_tables"]
SCORED = ["cnoi", "d", "g", "r", "j", "t", "s", "x", "fk_grade", "words"]


def plan(n_filings: int, n_baseline: int, seed: int = SEED) -> dict:
    """Banks (with a padded document size each) whose filings add up to ``n_filings``,
    and the baseline's subset: the first filings of banks spread over the size range."""
    universe = generate_universe(
        SampleConfig(seed=seed, n_banks=max(40, n_filings // 15), start="2018-01-01")
    )
    banks = universe.banks
    schedule = filing_schedule(banks, seed=seed)
    counts = schedule.groupby("cik").size()
    rng = np.random.default_rng([seed, 5])
    chosen, total = [], 0
    for cik in banks["cik"]:
        if total >= n_filings:
            break
        if counts.get(cik, 0) == 0:
            continue
        chosen.append({"cik": cik, "target_bytes": int(rng.integers(MIN_BYTES, MAX_BYTES))})
        total += int(counts[cik])
    if total < n_filings:
        raise ValueError(f"the generated universe files only {total} filings; asked {n_filings}")
    per_bank = 6
    n_base_banks = max(1, -(-n_baseline // per_bank))
    by_size = sorted(chosen, key=lambda b: b["target_bytes"])
    picks = np.linspace(0, len(by_size) - 1, min(n_base_banks, len(by_size))).round().astype(int)
    baseline = [{**by_size[i], "first_filings": per_bank} for i in sorted(set(picks))]
    return {"banks": chosen, "baseline": baseline, "n_filings": total, "seed": seed}


def _bank_filings(universe_banks: pd.DataFrame, bank: dict, seed: int, limit=None):
    row = universe_banks.loc[universe_banks["cik"] == bank["cik"]]
    filings = generate_filings(row, seed=seed, target_bytes=bank["target_bytes"])
    return filings.iloc[:limit] if limit else filings


def run_worker(plan_: dict, banks: list[dict], implementation: str) -> dict:
    """Extract and score every filing of ``banks``; returns timings and the outputs."""
    seed = plan_["seed"]
    universe = generate_universe(
        SampleConfig(seed=seed, n_banks=max(40, plan_["n_filings"] // 15), start="2018-01-01")
    )
    # The pronunciation dictionary loads once per process; keep it out of the per-MB figure.
    readability("Warm up the syllable dictionary once.")
    cpu = wall = 0.0
    n_bytes = n_docs = 0
    sizes, notes_out, scores_out = [], [], []
    for bank in banks:
        filings = _bank_filings(universe.banks, bank, seed, bank.get("first_filings"))
        documents = filings["document"]
        c0, w0 = time.process_time(), time.perf_counter()
        if implementation == "fast":
            notes = extract_notes(filings)
        else:
            notes = extract_notes_baseline(filings)
        scores = score_notes(notes)
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
        doc_bytes = [len(d.encode("utf-8")) for d in documents]
        n_bytes += sum(doc_bytes)
        n_docs += len(filings)
        sizes.extend(doc_bytes)
        notes_out.append(notes[["accession", *COMPARED, "status"]])
        scores_out.append(scores[["accession", "status", *SCORED]])
        del filings, documents
    return {
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "bytes": n_bytes,
        "documents": n_docs,
        "doc_mb_min": min(sizes) / 1e6 if sizes else None,
        "doc_mb_max": max(sizes) / 1e6 if sizes else None,
        "notes": pd.concat(notes_out, ignore_index=True) if notes_out else pd.DataFrame(),
        "scores": pd.concat(scores_out, ignore_index=True) if scores_out else pd.DataFrame(),
    }


def compare_outputs(fast_notes, fast_scores, slow_notes, slow_scores) -> dict:
    """Baseline filings must have the same located note and the same scores."""
    notes = slow_notes.merge(fast_notes, on="accession", suffixes=("_slow", "_fast"))
    if len(notes) != len(slow_notes):
        raise AssertionError("baseline filings missing from the fast run")
    out = {}
    for col in [*COMPARED, "status"]:
        a, b = notes[f"{col}_fast"], notes[f"{col}_slow"]
        same = (a == b) | (a.isna() & b.isna())
        out[f"{col}_mismatches"] = int((~same).sum())
    scores = slow_scores.merge(fast_scores, on="accession", suffixes=("_slow", "_fast"))
    for col in SCORED:
        a = scores[f"{col}_fast"].to_numpy(dtype=float)
        b = scores[f"{col}_slow"].to_numpy(dtype=float)
        diff = np.where(np.isnan(a) & np.isnan(b), 0.0, np.abs(a - b))
        out[f"{col}_max_abs_diff"] = float(np.nanmax(np.where(np.isnan(diff), np.inf, diff)))
    return out
