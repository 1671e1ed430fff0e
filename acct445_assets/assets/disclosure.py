"""Group `disclosure`: filings, CECL notes, CNOI scores, CECL adoption dates, opacity validation."""

import numpy as np
import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetIn,
    MetadataValue,
    Output,
    asset,
    asset_check,
)
from dagster_duckdb import DuckDBResource

from ..cnoi.adoption import adoption_table
from ..cnoi.latent import cnoi_latent_fit
from ..cnoi.pipeline import NOTE_COLUMNS, SCORE_COLUMNS, extract_notes, score_notes
from ..cnoi.rubric import RUBRIC_VERSION
from ..params import section
from ..publication.content import close_figures, cnoi_content, validation_content
from ..publication.records import publish
from ..research.validation import READABILITY
from ..research.validation import opacity_validation as run_validation
from ..resources.filings import FilingSource
from ..sources.files.cnoi_csv import import_problems
from .market import as_date, date_range

GROUP = "disclosure"
CNOI_TOLERANCE = float(section("disclosure").get("cnoi_tolerance", 1.0))
DUCKDB_POOL = "duckdb_writer"
DIMS = ["d", "g", "r", "j", "t", "s", "x"]
VALIDATION_COLUMNS = [
    "cik",
    "accession",
    "filing_date",
    "status",
    "cnoi",
    *DIMS,
    *READABILITY,
]


def _dates(frame: pd.DataFrame, cols) -> pd.DataFrame:
    """DATE columns, and typed text/bool columns so all-NULL columns still get a DuckDB type."""
    out = frame.copy()
    for col in cols:
        if col in out.columns:
            out[col] = as_date(out[col])
    for col in out.columns:
        if out[col].dtype == object:
            values = out[col].dropna()
            if len(values) and values.map(lambda v: isinstance(v, bool | np.bool_)).all():
                out[col] = out[col].astype("boolean")
            elif len(values) and values.map(lambda v: isinstance(v, int | float | np.number)).all():
                out[col] = pd.to_numeric(out[col], errors="coerce")
            else:
                out[col] = out[col].astype("string")
    return out


def _reasons_md(frame: pd.DataFrame) -> str:
    bad = frame[frame["status"] != "ok"]
    if bad.empty:
        return "_none_"
    counts = bad["reason"].fillna("unknown").str.slice(0, 120).value_counts().head(10)
    return "\n".join(
        ["| reason | filings |", "|---|---|", *[f"| {r} | {n} |" for r, n in counts.items()]]
    )


def _distribution_md(scores: pd.DataFrame) -> str:
    ok = scores[scores["status"] == "ok"]
    if ok.empty:
        return "_no scores_"
    q = ok[["cnoi", *DIMS]].astype(float).describe(percentiles=[0.1, 0.25, 0.5, 0.75, 0.9]).T
    q = q[["count", "mean", "std", "min", "10%", "25%", "50%", "75%", "90%", "max"]].round(2)
    lines = ["| score | " + " | ".join(q.columns) + " |", "|---" * (len(q.columns) + 1) + "|"]
    lines += [f"| {idx} | " + " | ".join(f"{v:g}" for v in row) + " |" for idx, row in q.iterrows()]
    return "\n".join(lines)


@asset(
    key=["disclosure", "bank_filings"],
    group_name=GROUP,
    ins={"bank_universe": AssetIn(key=["raw", "bank_universe"])},
    pool=DUCKDB_POOL,
    kinds={"python"},
)
def bank_filings(filing_source: FilingSource, bank_universe: pd.DataFrame) -> Output[pd.DataFrame]:
    """10-K and 10-Q filings of the universe banks (documents stay with the source / its cache)."""
    listing = filing_source.list_filings(bank_universe)
    frame = _dates(listing.frame, ["filing_date", "report_date"])
    forms = listing.frame["form"].value_counts().to_dict() if len(frame) else {}
    return Output(
        frame,
        metadata={
            "dagster/row_count": len(frame),
            "filings": len(frame),
            "banks_with_filings": int(frame["cik"].nunique()) if len(frame) else 0,
            "banks_in_universe": int(bank_universe["cik"].nunique()),
            "forms": MetadataValue.json({str(k): int(v) for k, v in forms.items()}),
            "filing_dates": date_range(listing.frame["filing_date"]) if len(frame) else "empty",
            "listing_failures": len(listing.failures),
            "listing_failure_detail": MetadataValue.json(listing.failures[:50]),
            "source": MetadataValue.json({k: str(v) for k, v in listing.metadata.items()}),
        },
    )


@asset(
    key=["disclosure", "cecl_notes"],
    group_name=GROUP,
    ins={"bank_filings": AssetIn(key=["disclosure", "bank_filings"])},
    pool=DUCKDB_POOL,
    kinds={"python"},
)
def cecl_notes(
    context: AssetExecutionContext, filing_source: FilingSource, bank_filings: pd.DataFrame
) -> Output[pd.DataFrame]:
    """The CECL note of each filing: heading chosen and its score, located_by, text and tables."""
    filings = bank_filings.copy()
    for col in ("filing_date", "report_date"):
        filings[col] = pd.to_datetime(filings[col])
    if filing_source.precomputed_scores() is not None:
        notes = pd.DataFrame(
            {
                c: filings[c]
                for c in ("cik", "ticker", "accession", "form", "filing_date", "report_date")
            }
        )
        for col in NOTE_COLUMNS:
            if col not in notes.columns:
                notes[col] = None
        notes["located_by"] = "none"
        notes["status"] = "skipped"
        notes["reason"] = "cnoi_scores.csv supplied: scores imported, notes not extracted"
        notes = notes[NOTE_COLUMNS]
    else:
        workers = filing_source.worker_count()
        reader = filing_source.document_reader() if workers > 1 else filing_source.read_document
        notes = extract_notes(filings, reader, workers=workers)
    n_ok = int((notes["status"] == "ok").sum())
    context.log.info(f"{n_ok}/{len(notes)} CECL notes extracted")
    out = _dates(notes, ["filing_date", "report_date", "adoption_date_stated"])
    located = notes["located_by"].value_counts().to_dict()
    return Output(
        out,
        metadata={
            "dagster/row_count": len(out),
            "notes_extracted": n_ok,
            "located_by_heading": int(located.get("heading", 0)),
            "located_by_fallback": int(located.get("fallback", 0)),
            "failures": int((notes["status"] == "failed").sum()),
            "failure_reasons": MetadataValue.md(_reasons_md(notes)),
            "median_note_words": float(
                # Counted, not split: split() built a list of words per note for one median.
                notes.loc[notes["status"] == "ok", "note_text"].str.count(r"\S+").median()
            )
            if n_ok
            else 0.0,
            "megabytes_parsed": float(
                pd.to_numeric(notes["document_bytes"], errors="coerce").sum() / 1e6
            ),
        },
    )


@asset(
    key=["disclosure", "cnoi_scores"],
    group_name=GROUP,
    ins={
        "cecl_notes": AssetIn(key=["disclosure", "cecl_notes"]),
        "bank_universe": AssetIn(key=["raw", "bank_universe"]),
    },
    pool=DUCKDB_POOL,
    kinds={"python"},
)
def cnoi_scores(
    filing_source: FilingSource, cecl_notes: pd.DataFrame, bank_universe: pd.DataFrame
) -> Output[pd.DataFrame]:
    """Rubric cnoi-1: seven dimensions, the index, penalty tokens and readability per filing."""
    imported = filing_source.precomputed_scores()
    if imported is not None:
        scores = imported.copy()
        tickers = bank_universe.assign(
            cik=bank_universe["cik"].astype(str).str.zfill(10)
        ).drop_duplicates("cik")
        scores["ticker"] = scores["ticker"].fillna(
            scores["cik"].map(tickers.set_index("cik")["ticker"])
        )
        for col in SCORE_COLUMNS:
            if col not in scores.columns:
                scores[col] = np.nan if col not in ("penalty_reasons", "reason", "status") else None
        origin = "cnoi_scores.csv"
    else:
        notes = cecl_notes.copy()
        for col in ("filing_date", "report_date"):
            notes[col] = pd.to_datetime(notes[col])
        scores = score_notes(notes, workers=filing_source.worker_count())
        origin = "scored from filings"
    ok = scores["status"] == "ok"
    meta = {
        "dagster/row_count": len(scores),
        "origin": origin,
        "rubric_version": RUBRIC_VERSION,
        "filings_scored": int(ok.sum()),
        "located_by_fallback": int((scores["located_by"] == "fallback").sum()),
        "failures": int((~ok).sum()),
        "failure_reasons": MetadataValue.md(_reasons_md(scores)),
        "score_distribution": MetadataValue.md(_distribution_md(scores)),
        "mean_cnoi": float(scores.loc[ok, "cnoi"].mean()) if ok.any() else float("nan"),
        "banks_scored": int(scores.loc[ok, "cik"].nunique()),
    }
    latent = filing_source.latent_opacity()
    if latent is not None and ok.sum() > 3:
        per_bank = scores[ok].groupby("cik")["cnoi"].mean()
        lat = latent.reindex(per_bank.index)
        keep = lat.notna()
        if keep.sum() > 3:
            meta["spearman_bank_cnoi_vs_latent_opacity"] = float(
                per_bank[keep].corr(lat[keep], method="spearman")
            )
            slope, intercept = np.polyfit(lat[keep], per_bank[keep], 1)
            meta["cnoi_on_latent_slope"] = float(slope)
            meta["cnoi_on_latent_intercept"] = float(intercept)
    path = filing_source.latent_opacity_path()
    if path is not None and ok.any():
        meta.update(cnoi_latent_fit(scores[ok], path))
    if ok.any():
        content = cnoi_content(scores)
        meta["results"] = MetadataValue.json(
            publish(
                "cnoi_scores",
                parameters={"origin": origin, "rubric_version": RUBRIC_VERSION},
                **content,
            )
        )
        close_figures(content)
    return Output(_dates(scores, ["filing_date", "report_date"]), metadata=meta)


@asset_check(
    asset=["disclosure", "cnoi_scores"],
    description="imported scores: 0..100, CNOI = weighted dimensions, known filing dates,"
    " unique accessions",
    blocking=True,
)
def cnoi_scores_import_valid(duckdb: DuckDBResource) -> AssetCheckResult:
    """METHODS 1 on scores read from cnoi_scores.csv; rubric scores satisfy it by construction."""
    with duckdb.get_connection() as conn:
        imported = conn.execute(
            "select * from disclosure.cnoi_scores where located_by = 'imported'"
        ).df()
    if imported.empty:
        return AssetCheckResult(
            passed=True, metadata={"imported_rows": 0, "note": "scored from filings"}
        )
    problems = import_problems(imported, CNOI_TOLERANCE)
    first = next((rows[0] for rows in problems.values() if rows), "none")
    return AssetCheckResult(
        passed=not any(problems.values()),
        metadata={
            "imported_rows": len(imported),
            "tolerance": CNOI_TOLERANCE,
            **{name: len(rows) for name, rows in problems.items()},
            "examples": MetadataValue.json({k: v[:20] for k, v in problems.items() if v}),
            "first": first,
        },
    )


@asset(
    key=["disclosure", "cecl_adoption"],
    group_name=GROUP,
    ins={
        "bank_universe": AssetIn(key=["raw", "bank_universe"]),
        "cecl_notes": AssetIn(key=["disclosure", "cecl_notes"]),
    },
    pool=DUCKDB_POOL,
    kinds={"python"},
)
def cecl_adoption(
    filing_source: FilingSource, bank_universe: pd.DataFrame, cecl_notes: pd.DataFrame
) -> Output[pd.DataFrame]:
    """Adoption date per bank: stated in its filings, else the METHODS 6 rule; user overrides win."""
    stated = cecl_notes[["cik", "adoption_date_stated"]].dropna()
    parsed = stated.rename(columns={"adoption_date_stated": "adoption_date"})
    table = adoption_table(bank_universe, parsed, filing_source.adoption_overrides())
    sources = table["source"].value_counts().to_dict()
    by_quarter = table["adoption_quarter"].value_counts().sort_index()
    md = "\n".join(
        ["| quarter | banks |", "|---|---|", *[f"| {q} | {n} |" for q, n in by_quarter.items()]]
    )
    return Output(
        _dates(table, ["adoption_date"]),
        metadata={
            "dagster/row_count": len(table),
            "from_filings": int(sources.get("filing", 0)),
            "from_rule": int(sources.get("rule", 0)),
            "unknown_filer_status": int(sources.get("unknown", 0)),
            "from_override": int(sources.get("override", 0)),
            "adoption_quarters": MetadataValue.md(md),
        },
    )


@asset(
    key=["disclosure", "opacity_validation"],
    group_name=GROUP,
    ins={
        # Only what the validation reads: the scores table also holds every filing's
        # penalty and reason text (120,000 rows at scale).
        "cnoi_scores": AssetIn(
            key=["disclosure", "cnoi_scores"],
            metadata={"columns": VALIDATION_COLUMNS},
        ),
        "bank_quarter_panel": AssetIn(key=["warehouse", "bank_quarter_panel"]),
    },
    pool=DUCKDB_POOL,
    kinds={"python"},
)
def opacity_validation(
    cnoi_scores: pd.DataFrame, bank_quarter_panel: pd.DataFrame
) -> Output[pd.DataFrame]:
    """METHODS 8: CNOI vs readability, next-quarter volatility horse race (HC3), variance shares."""
    scores = cnoi_scores.copy()
    scores["filing_date"] = pd.to_datetime(scores["filing_date"])
    result = run_validation(scores, bank_quarter_panel)
    shares = result.table[result.table["section"] == "variance_share"]
    share_md = "\n".join(
        [
            "| dim | share |",
            "|---|---|",
            *[f"| {t} | {v:.3f} |" for t, v in zip(shares["term"], shares["value"], strict=True)],
        ]
    )
    meta = {
        "dagster/row_count": len(result.table),
        "horse_race": MetadataValue.md(result.markdown()),
        "variance_shares": MetadataValue.md(share_md),
    }
    for k, v in result.summary.items():
        meta[k] = (
            float(v)
            if v is not None and not (isinstance(v, float) and np.isnan(v))
            else float("nan")
        )
    meta["results"] = MetadataValue.json(
        publish("opacity_validation", **validation_content(result.table))
    )
    return Output(result.table, metadata=meta)
