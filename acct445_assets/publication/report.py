"""The research report: one self-contained HTML file (figures embedded as base64 PNG)
assembled from the publication records under ``results/``. Dagster-free.

Every number comes from a record, a table file it lists, or the coverage rows the caller
computes from asset inputs; the template holds only words.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from .records import SECTIONS, PublicationError, _atomic_write, read_record

# Report order of the publishing assets and the heading of each section.
REPORT_SECTIONS = {
    "cnoi": ("CECL Note Opacity Index", ["cnoi_scores"]),
    "validation": ("Opacity validation", ["opacity_validation"]),
    "portfolios": (
        "CNOI portfolios and factor alphas",
        ["decile_portfolios", "decile_returns", "factor_alphas"],
    ),
    "event_study": ("Event study", ["event_study_cars"]),
    "did": ("CECL adoption difference-in-differences", ["did_estimates"]),
    "panel": ("Panel regression", ["panel_regression"]),
}
MAX_TABLE_ROWS = 60


@dataclass
class ReportContent:
    records: dict[str, dict]  # asset -> publication record
    results_dir: Path
    coverage: list[dict] = field(default_factory=list)  # item, value, source
    vintages: list[dict] = field(default_factory=list)  # asset, source, vintage, ...
    parameters: Mapping[str, Any] = field(default_factory=dict)  # params.yaml content
    run: Mapping[str, Any] = field(default_factory=dict)  # run_id, generated, source, params_file
    title: str = "CECL Note Opacity and Bank Stock Returns: research report"


def load_records(
    assets: Iterable[str] | None = None, results_dir: Path | None = None
) -> tuple[dict[str, dict], list[str]]:
    """Records of ``assets`` (default: every publishing asset) and the assets without one."""
    records, missing = {}, []
    for asset in assets or SECTIONS:
        record = read_record(asset, results_dir)
        if record is None:
            missing.append(asset)
        else:
            records[asset] = record
    return records, missing


def format_number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
            return f"{value:.3e}"
        return f"{value:.4f}"
    return str(value)


def _table_html(frame: pd.DataFrame) -> str:
    shown = frame.copy()
    for col in shown.columns:
        if pd.api.types.is_numeric_dtype(shown[col]) and not pd.api.types.is_bool_dtype(shown[col]):
            shown[col] = [format_number(v.item() if hasattr(v, "item") else v) for v in shown[col]]
    return shown.to_html(index=False, border=0, na_rep="", escape=True)


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise PublicationError(f"{path}: listed in a publication record but missing")
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def _figure_data(path: Path) -> str:
    if not path.exists():
        raise PublicationError(f"{path}: listed in a publication record but missing")
    payload = path.read_bytes()
    if not payload.startswith(b"\x89PNG"):
        raise PublicationError(f"{path}: not a PNG file")
    return base64.b64encode(payload).decode()


def _section(key: str, records: dict[str, dict], results_dir: Path) -> dict | None:
    title, assets = REPORT_SECTIONS[key]
    present = [records[a] for a in assets if a in records]
    if not present:
        return None
    figures, tables, files, notes = [], [], [], []
    for record in present:
        for fig in record.get("figures", []):
            figures.append(
                {
                    "name": fig["name"],
                    "caption": fig["caption"],
                    "path": fig["png"],
                    "data": _figure_data(results_dir / fig["png"]),
                }
            )
        for table in record.get("tables", []):
            frame = _read_csv(results_dir / table["csv"])
            if not table.get("display", True):
                files.append(
                    {"caption": table["caption"], "path": table["csv"], "rows": len(frame)}
                )
                continue
            tables.append(
                {
                    "name": table["name"],
                    "caption": table["caption"],
                    "path": table["csv"],
                    "tex": table.get("tex"),
                    "rows": len(frame),
                    "shown": min(len(frame), MAX_TABLE_ROWS),
                    "truncated": len(frame) > MAX_TABLE_ROWS,
                    "html": _table_html(frame.head(MAX_TABLE_ROWS)),
                }
            )
        notes += [f"{record['asset']}: {n}" for n in record.get("notes", [])]
    return {
        "anchor": key,
        "title": title,
        "figures": figures,
        "tables": tables,
        "files": files,
        "notes": notes,
    }


# Headline order: the return results first, the validation of the index last.
HEADLINE_ORDER = [
    "decile_returns",
    "factor_alphas",
    "event_study_cars",
    "did_estimates",
    "panel_regression",
    "cnoi_scores",
    "opacity_validation",
]


def _headline(records: dict[str, dict]) -> list[dict]:
    rows = []
    for asset in HEADLINE_ORDER + [a for a in records if a not in HEADLINE_ORDER]:
        if asset in records:
            for entry in records.get(asset, {}).get("headline", []):
                rows.append(
                    {
                        "asset": asset,
                        "label": entry["label"],
                        "estimate": format_number(entry["estimate"]),
                        "statistic": format_number(entry["statistic"]),
                        "statistic_name": entry.get("statistic_name") or "",
                        "p_value": format_number(entry.get("p_value")),
                        "n": format_number(entry.get("n")),
                    }
                )
    return rows


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, Mapping):
        out = []
        for k, v in value.items():
            out += _flatten(f"{prefix}.{k}" if prefix else str(k), v)
        return out
    if isinstance(value, list):
        return [(prefix, ", ".join(format_number(v) for v in value))]
    return [(prefix, format_number(value))]


def render_report(content: ReportContent, missing: Iterable[str] = ()) -> str:
    env = Environment(
        loader=PackageLoader("acct445_assets.publication", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
    )
    sections = [
        s
        for key in REPORT_SECTIONS
        if (s := _section(key, content.records, content.results_dir)) is not None
    ]
    asset_parameters = [
        {"asset": asset, "entries": _flatten("", record.get("parameters", {}))}
        for asset, record in content.records.items()
        if record.get("parameters")
    ]
    run = {"run_id": "", "generated": "", "source": "", "params_file": "params.yaml"}
    run.update({k: str(v) for k, v in content.run.items()})
    return env.get_template("report.html.j2").render(
        title=content.title,
        run=run,
        missing=list(missing),
        coverage=[{**row, "value": format_number(row.get("value"))} for row in content.coverage],
        vintages=content.vintages,
        headline=_headline(content.records),
        sections=sections,
        asset_parameters=asset_parameters,
        params_yaml=yaml.safe_dump(dict(content.parameters), sort_keys=False),
    )


def write_report(content: ReportContent, path: Path, missing: Iterable[str] = ()) -> Path:
    return _atomic_write(path, render_report(content, missing).encode())
