"""Publication outputs under ``results/``: tables (CSV, LaTeX for headline tables), figures
(PNG) and one JSON record per asset listing what it wrote and the parameters it used.

Dagster-free. Every write is atomic (temporary file + rename in the same directory), so a
reader such as the report or DVC never sees half a file. Each asset writes into its own
section directory, one DVC output per stage, e.g. ``results/event_study/``:

    paths = publish(
        "event_study_cars",
        tables={"tests": tests_frame},
        latex={"tests"},
        figures={"caar_by_quartile": fig},
        parameters=config.model_dump(),
    )
    metadata["results"] = MetadataValue.json(paths)
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from ..settings import load_settings

# Section directory of each asset's outputs; one DVC stage owns each directory.
SECTIONS = {
    "cnoi_scores": "cnoi",
    "opacity_validation": "validation",
    "decile_portfolios": "portfolios",
    "decile_returns": "portfolios",
    "factor_alphas": "portfolios",
    "event_study_cars": "event_study",
    "did_estimates": "did",
    "panel_regression": "panel",
}
RECORD_SUFFIX = ".record.json"


class PublicationError(ValueError):
    pass


def results_dir() -> Path:
    return load_settings().results_dir


def _target(name: str, suffix: str, directory: Path | None) -> Path:
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise PublicationError(f"publication name {name!r} must be a relative path inside results/")
    return (directory or results_dir()) / Path(*relative.parts).with_suffix(suffix)


def _atomic_write(path: Path, payload: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as fh:
            fh.write(payload)
        # mkstemp creates 0600; results are for readers, so honour the umask like open() does.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _latex(frame: pd.DataFrame) -> str:
    shown = frame.copy()
    for col in shown.columns:
        if pd.api.types.is_float_dtype(shown[col]):
            shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else f"{v:.4f}")
    return shown.to_latex(index=False, escape=True)


def write_table(
    name: str, frame: pd.DataFrame, latex: bool = False, *, directory: Path | None = None
) -> list[Path]:
    """``<results>/<name>.csv`` (and ``.tex`` when ``latex``); returns the paths written."""
    if not isinstance(frame, pd.DataFrame):
        raise PublicationError(f"table {name!r}: expected a DataFrame, got {type(frame).__name__}")
    csv_path = _target(name, ".csv", directory)
    written = [_atomic_write(csv_path, frame.to_csv(index=False).encode())]
    if latex:
        written.append(_atomic_write(csv_path.with_suffix(".tex"), _latex(frame).encode()))
    return written


def figure_png(fig, dpi: int = 110) -> bytes:
    """PNG bytes of a matplotlib figure rendered with Agg. The caller still owns (and
    closes) the figure, so an asset can also embed it in its metadata."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    # No date in the PNG header, so an unchanged figure is an unchanged file for DVC.
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def write_figure(name: str, fig, *, directory: Path | None = None, dpi: int = 110) -> Path:
    """``<results>/<name>.png`` from a matplotlib figure."""
    return _atomic_write(_target(name, ".png", directory), figure_png(fig, dpi))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, pd.Timestamp):
        return str(value.date()) if value == value.normalize() else value.isoformat()
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def publish(
    asset: str,
    *,
    tables: Mapping[str, pd.DataFrame] | None = None,
    figures: Mapping[str, Any] | None = None,
    latex: Iterable[str] = (),
    parameters: Mapping[str, Any] | None = None,
    captions: Mapping[str, str] | None = None,
    headline: Iterable[Mapping[str, Any]] = (),
    notes: Iterable[str] = (),
    files_only: Iterable[str] = (),
    directory: Path | None = None,
) -> list[str]:
    """Write an asset's tables and figures into its section and a record of them.

    The record (``<section>/<asset>.record.json``) is what the research report reads: the
    files in the order given, their captions, the parameters used, any notes, and the
    headline estimates: dicts with ``label``, ``estimate`` and ``statistic`` (its test
    statistic) plus optional ``statistic_name``, ``p_value`` and ``n``, taken from the
    asset's computed frames (see ``headline_row``). Tables named in ``files_only`` (long
    detail tables) are listed in the report by file rather than printed. Returns the
    written paths (strings, for Dagster metadata).
    """
    if asset not in SECTIONS:
        raise PublicationError(f"unknown asset {asset!r}; known: {', '.join(SECTIONS)}")
    section = SECTIONS[asset]
    base = directory or results_dir()
    latex, files_only = set(latex), set(files_only)
    unknown = latex - set(tables or {})
    if unknown:
        raise PublicationError(f"{asset}: latex requested for tables not given: {sorted(unknown)}")
    captions = dict(captions or {})
    written: list[Path] = []
    table_entries, figure_entries = [], []
    for name, frame in (tables or {}).items():
        paths = write_table(f"{section}/{name}", frame, name in latex, directory=base)
        written += paths
        table_entries.append(
            {
                "name": name,
                "csv": paths[0].relative_to(base).as_posix(),
                "tex": paths[1].relative_to(base).as_posix() if len(paths) > 1 else None,
                "caption": captions.get(name, name.replace("_", " ")),
                "rows": len(frame),
                "display": name not in files_only,
            }
        )
    for name, fig in (figures or {}).items():
        path = write_figure(f"{section}/{name}", fig, directory=base)
        written.append(path)
        figure_entries.append(
            {
                "name": name,
                "png": path.relative_to(base).as_posix(),
                "caption": captions.get(name, name.replace("_", " ")),
            }
        )
    record = {
        "asset": asset,
        "section": section,
        "tables": table_entries,
        "figures": figure_entries,
        "parameters": _jsonable(dict(parameters or {})),
        "headline": [_headline_entry(asset, h) for h in headline],
        "notes": [str(n) for n in notes],
    }
    record_path = base / section / f"{asset}{RECORD_SUFFIX}"
    payload = json.dumps(record, indent=2, sort_keys=False).encode()
    written.append(_atomic_write(record_path, payload))
    return [str(p) for p in written]


HEADLINE_KEYS = ("label", "estimate", "statistic", "statistic_name", "p_value", "n")


def _headline_entry(asset: str, entry: Mapping[str, Any]) -> dict:
    missing = [k for k in ("label", "estimate", "statistic") if k not in entry]
    if missing:
        raise PublicationError(f"{asset}: headline entry {dict(entry)} lacks {missing}")
    extra = set(entry) - set(HEADLINE_KEYS)
    if extra:
        raise PublicationError(f"{asset}: headline entry has unknown keys {sorted(extra)}")
    out = {"statistic_name": "t", "p_value": None, "n": None, **entry}
    return _jsonable({k: out[k] for k in HEADLINE_KEYS})


def headline_row(
    frame: pd.DataFrame,
    label: str,
    estimate: str,
    statistic: str,
    *,
    where: Mapping[str, Any] | None = None,
    statistic_name: str = "t",
    p_value: str | None = None,
    n: str | None = None,
) -> list[dict]:
    """The headline entry for the first row of ``frame`` matching ``where`` (column ==
    value), or no entry when no row matches (an estimate the data could not support)."""
    rows = frame
    for col, value in (where or {}).items():
        if col not in rows:
            return []
        rows = rows[rows[col] == value]
    if rows.empty or estimate not in rows or statistic not in rows:
        return []
    row = rows.iloc[0]
    return [
        {
            "label": label,
            "estimate": row[estimate],
            "statistic": row[statistic],
            "statistic_name": statistic_name,
            "p_value": row[p_value] if p_value and p_value in rows else None,
            "n": row[n] if n and n in rows else None,
        }
    ]


def read_record(asset: str, directory: Path | None = None) -> dict | None:
    """The record ``publish`` wrote for ``asset``, or None when it has not published."""
    if asset not in SECTIONS:
        raise PublicationError(f"unknown asset {asset!r}; known: {', '.join(SECTIONS)}")
    path = (directory or results_dir()) / SECTIONS[asset] / f"{asset}{RECORD_SUFFIX}"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise PublicationError(f"{path}: not a valid publication record ({err})") from err
