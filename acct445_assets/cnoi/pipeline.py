"""Filing-level pipeline: documents -> located notes -> cnoi-1 scores, failures recorded per filing."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from .adoption import find_adoption_date, names_standard
from .extract import CeclNote, document_blocks, locate_note
from .rubric import RUBRIC_VERSION, NoteUnscorable, note_shingles, score_note

# Below this many filings a process pool costs more (start-up, imports) than it saves.
PARALLEL_MIN_FILINGS = 200

NOTE_COLUMNS = [
    "cik",
    "ticker",
    "accession",
    "form",
    "filing_date",
    "report_date",
    "heading",
    "heading_score",
    "located_by",
    "note_text",
    "n_tables",
    "n_images",
    "distance_share",
    "statements_found",
    "balance_sheet_acl",
    "segments_json",
    "adoption_date_stated",
    "document_bytes",
    "status",
    "reason",
]
SCORE_VALUES = ["cnoi", "d", "g", "r", "j", "t", "s", "x"]
SCORE_COLUMNS = [
    "cik",
    "ticker",
    "accession",
    "form",
    "filing_date",
    "report_date",
    *SCORE_VALUES,
    "penalty_reasons",
    "rubric_version",
    "located_by",
    "heading_selected_title",
    "heading_selected_score",
    "fk_grade",
    "fog",
    "flesch",
    "smog",
    "words",
    "sentences",
    "similarity_prior",
    "one_off_event",
    "penalties_json",
    "status",
    "reason",
]


def _adoption_in_blocks(blocks) -> pd.Timestamp | None:
    text = "\n".join(
        b.text
        for b in blocks
        if b.kind == "text"
        and (
            "326" in b.text
            or "2016-13" in b.text
            or "CECL" in b.text
            or "xpected credit loss" in b.text
        )
        and names_standard(b.text)
    )
    return find_adoption_date(text) if text else None


def extract_filing(document: str | bytes | None) -> dict:
    """Note record of one document; a failure becomes `status="failed"` with a reason."""
    if document is None or (isinstance(document, float) and np.isnan(document)):
        return {"status": "failed", "reason": "document missing", "located_by": "none"}
    if len(document) == 0:
        return {"status": "failed", "reason": "document empty", "located_by": "none"}
    try:
        blocks = document_blocks(document)
    except Exception as exc:  # lxml raises several types on broken markup
        return {
            "status": "failed",
            "reason": f"document not parseable: {type(exc).__name__}: {exc}"[:300],
            "located_by": "none",
        }
    if not blocks:
        return {"status": "failed", "reason": "document has no text", "located_by": "none"}
    try:
        note = locate_note(blocks)
        rec = note.to_record()
        rec["adoption_date_stated"] = _adoption_in_blocks(blocks)
    except Exception as exc:  # one odd document must not sink the panel; the reason says why
        return {
            "status": "failed",
            "reason": f"note extraction error: {type(exc).__name__}: {exc}"[:300],
            "located_by": "none",
        }
    rec["document_bytes"] = len(document)
    if note.located_by == "none":
        rec.update(
            status="failed",
            reason="CECL note not located (no qualifying heading, no keyword snippet)",
        )
    elif not note.text.strip():
        rec.update(status="failed", reason="CECL note located but empty")
    else:
        rec.update(status="ok", reason=None)
    return rec


def bank_batches(frame: pd.DataFrame, n_batches: int) -> list[np.ndarray]:
    """Row positions of ``frame`` in about ``n_batches`` batches of similar size, each bank's
    rows in one batch and in their original order (readers and scoring go bank by bank)."""
    codes, _ = pd.factorize(frame["cik"].astype(str))
    order = np.argsort(codes, kind="stable")
    starts = np.flatnonzero(np.r_[True, codes[order][1:] != codes[order][:-1]])
    bounds = np.r_[starts, len(order)]
    target = len(order) / max(1, n_batches)
    batches, begin = [], 0
    for end in bounds[1:]:
        if end - begin >= target or end == len(order):
            batches.append(order[begin:end])
            begin = end
    return [b for b in batches if len(b)]


def _map_batches(function, frame: pd.DataFrame, workers: int, *args) -> list:
    """``function(batch, *args)`` over bank batches in ``workers`` processes; results in
    batch order with each batch's positions. Spawned, not forked: the caller may be a
    Dagster run with threads."""
    # Several batches per worker so one slow bank does not leave a core idle at the end.
    batches = bank_batches(frame, workers * 8)
    parts = [frame.iloc[b] for b in batches]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        results = list(pool.map(function, parts, *[[a] * len(parts) for a in args]))
    return list(zip(batches, results, strict=True))


def _extract_rows(filings: pd.DataFrame, read_document) -> list[dict]:
    rows = []
    for filing in filings.to_dict("records"):
        base = {
            k: filing.get(k)
            for k in ("cik", "ticker", "accession", "form", "filing_date", "report_date")
        }
        try:
            doc = filing.get("document") if read_document is None else read_document(filing)
        except Exception as exc:  # a source that cannot deliver one document must not sink the rest
            rec = {
                "status": "failed",
                "reason": f"document not available: {type(exc).__name__}: {exc}"[:300],
                "located_by": "none",
            }
        else:
            rec = extract_filing(doc)
        rows.append({**base, **rec})
    return rows


def extract_notes(
    filings: pd.DataFrame,
    read_document: Callable[[Mapping], str | bytes | None] | None = None,
    workers: int = 1,
) -> pd.DataFrame:
    """One note row per filing. Documents come from a `document` column or `read_document(row)`.

    With ``workers`` > 1 the filings are split by bank over that many processes
    (``read_document`` must then be picklable); the result is the same row for row.
    Workers are spawned, so a script calling this needs the ``if __name__ == "__main__":``
    guard (Dagster's entry points have it).
    """
    if workers > 1 and len(filings) >= PARALLEL_MIN_FILINGS:
        rows: list = [None] * len(filings)
        for positions, part in _map_batches(_extract_rows, filings, workers, read_document):
            for pos, row in zip(positions, part, strict=True):
                rows[pos] = row
    else:
        rows = _extract_rows(filings, read_document)
    out = pd.DataFrame(rows)
    for col in NOTE_COLUMNS:
        if col not in out.columns:
            out[col] = None
    out = out[NOTE_COLUMNS]
    for col in ("filing_date", "report_date", "adoption_date_stated"):
        out[col] = pd.to_datetime(out[col])
    out["n_tables"] = out["n_tables"].astype("Int64")
    out["n_images"] = out["n_images"].astype("Int64")
    return out


def score_notes(notes: pd.DataFrame, workers: int = 1) -> pd.DataFrame:
    """Score each located note against the same bank's previous located note (by filing date).

    With ``workers`` > 1 banks are scored in that many processes; same result.
    """
    if workers > 1 and len(notes) >= PARALLEL_MIN_FILINGS:
        parts = [part for _, part in _map_batches(score_notes, notes, workers)]
        return (
            pd.concat(parts, ignore_index=True)
            .sort_values(["cik", "filing_date", "accession"], kind="mergesort")
            .reset_index(drop=True)
        )
    rows = []
    ordered = notes.sort_values(["cik", "filing_date", "accession"], kind="mergesort")
    prior: dict[str, frozenset[int]] = {}
    for rec in ordered.to_dict("records"):
        base = {
            k: rec.get(k)
            for k in ("cik", "ticker", "accession", "form", "filing_date", "report_date")
        }
        base.update(
            located_by=rec.get("located_by"),
            heading_selected_title=rec.get("heading"),
            heading_selected_score=rec.get("heading_score"),
            rubric_version=RUBRIC_VERSION,
        )
        if rec.get("status") != "ok":
            rows.append(
                {
                    **base,
                    "status": "failed",
                    "reason": rec.get("reason") or "note extraction failed",
                }
            )
            continue
        try:
            note = CeclNote.from_record(rec)
            result = score_note(note, prior.get(rec["cik"]), report_date=rec.get("report_date"))
        except NoteUnscorable as exc:
            rows.append({**base, "status": "failed", "reason": str(exc)})
            continue
        except Exception as exc:  # keep the rest of the panel; the reason says what broke
            rows.append(
                {
                    **base,
                    "status": "failed",
                    "reason": f"scoring error: {type(exc).__name__}: {exc}"[:300],
                }
            )
            continue
        prior[rec["cik"]] = note_shingles(note.text)
        rows.append({**base, **result.as_record(), "status": "ok", "reason": None})
    out = pd.DataFrame(rows)
    for col in SCORE_COLUMNS:
        if col not in out.columns:
            out[col] = None
    out = out[SCORE_COLUMNS]
    for col in ("filing_date", "report_date"):
        out[col] = pd.to_datetime(out[col])
    for col in (
        *SCORE_VALUES,
        "fk_grade",
        "fog",
        "flesch",
        "smog",
        "similarity_prior",
        "heading_selected_score",
    ):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    for col in ("words", "sentences"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64")
    return out.reset_index(drop=True)


def score_filings(filings: pd.DataFrame, read_document=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Convenience: (notes, scores) for filings with documents."""
    notes = extract_notes(filings, read_document)
    return notes, score_notes(notes)
