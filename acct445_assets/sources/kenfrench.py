"""Parser for Ken French data-library CSV files (as downloaded, zipped or not).

Handles every layout seen in real vintages: 2-3 preamble lines, a header such as
`,Mom   ` with trailing spaces, annual sections after the monthly one, copyright
footers, CRLF endings and missing values coded -99.99 or -999. Values stay in
percent, as published.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

COLUMN_NAMES = {
    "mkt-rf": "mkt_rf",
    "mkt_rf": "mkt_rf",
    "smb": "smb",
    "hml": "hml",
    "rmw": "rmw",
    "cma": "cma",
    "rf": "rf",
    "mom": "mom",
    "umd": "mom",
}
MISSING_CODES = (-99.99, -999.0)
_VINTAGE = re.compile(r"using the (\d{6}) CRSP database", re.IGNORECASE)
_DATE = re.compile(r"^\s*(\d{6}|\d{8})\s*$")


class FactorFileError(ValueError):
    pass


@dataclass
class FactorFile:
    frame: pd.DataFrame  # index `date`, normalised columns, percent
    frequency: str  # "daily" | "monthly"
    vintage: str | None
    sha256: str
    name: str
    preamble: list[str] = field(default_factory=list)


def read_raw(path: Path) -> tuple[bytes, str]:
    """Bytes of the CSV inside `path` (a zip as downloaded, or the CSV itself) and its sha256."""
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if zipfile.is_zipfile(io.BytesIO(raw)):
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            members = [m for m in zf.namelist() if m.lower().endswith((".csv", ".txt"))]
            if not members:
                raise FactorFileError(f"{path}: zip file holds no CSV")
            raw = zf.read(members[0])
    return raw, digest


def parse_text(text: str, name: str, sha256: str = "") -> FactorFile:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    header_at = None
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.split(",")]
        if (
            len(cells) >= 2
            and cells[0] == ""
            and all(cells[1:])
            and any(c.lower() in COLUMN_NAMES for c in cells[1:])
        ):
            header_at = i
            break
    if header_at is None:
        raise FactorFileError(
            f"{name}: no header line (',Mkt-RF,...' or ',Mom') found; not a Ken French file?"
        )
    raw_cols = [c.strip() for c in lines[header_at].split(",")[1:]]
    unknown = [c for c in raw_cols if c.lower() not in COLUMN_NAMES]
    if unknown:
        raise FactorFileError(f"{name}: row {header_at + 1}: unknown factor column(s) {unknown}")
    columns = [COLUMN_NAMES[c.lower()] for c in raw_cols]

    dates: list[str] = []
    values: list[list[float]] = []
    width = None
    for i in range(header_at + 1, len(lines)):
        line = lines[i]
        if not line.strip():
            if dates:
                break  # end of the first (daily or monthly) section
            continue
        cells = line.split(",")
        if not _DATE.match(cells[0]):
            if dates:
                break  # footer or the next section's title
            raise FactorFileError(
                f"{name}: row {i + 1}, column date: unparseable date {cells[0].strip()!r}"
            )
        if width is None:
            width = len(cells[0].strip())
        elif len(cells[0].strip()) != width:
            break  # annual section starts with 4-digit years in some vintages
        if len(cells) != len(columns) + 1:
            raise FactorFileError(
                f"{name}: row {i + 1}: expected {len(columns) + 1} fields, found {len(cells)} (truncated file?)"
            )
        row = []
        for col, cell in zip(columns, cells[1:], strict=True):
            try:
                row.append(float(cell))
            except ValueError:
                raise FactorFileError(
                    f"{name}: row {i + 1}, column {col}: not a number: {cell.strip()!r}"
                ) from None
        dates.append(cells[0].strip())
        values.append(row)
    if not dates:
        raise FactorFileError(
            f"{name}: header at row {header_at + 1} but no data rows (truncated file?)"
        )

    frequency = "daily" if width == 8 else "monthly"
    fmt = "%Y%m%d" if frequency == "daily" else "%Y%m"
    parsed = pd.to_datetime(pd.Series(dates), format=fmt, errors="coerce")
    bad = parsed.isna().to_numpy().nonzero()[0]
    if len(bad):
        row = header_at + 2 + int(bad[0])
        raise FactorFileError(f"{name}: row {row}, column date: invalid date {dates[bad[0]]!r}")
    if frequency == "monthly":
        parsed = parsed + pd.offsets.MonthEnd(0)
    frame = pd.DataFrame(values, columns=columns, index=pd.DatetimeIndex(parsed, name="date"))
    frame = frame.mask(np.isin(frame.to_numpy(), MISSING_CODES))
    if frame.index.has_duplicates:
        dup = frame.index[frame.index.duplicated()][0]
        raise FactorFileError(f"{name}: column date: duplicate date {dup.date()}")
    if not frame.index.is_monotonic_increasing:
        raise FactorFileError(f"{name}: column date: dates are not in increasing order")
    vintage = next((m.group(1) for m in map(_VINTAGE.search, lines[:header_at]) if m), None)
    return FactorFile(
        frame,
        frequency,
        vintage,
        sha256,
        name,
        [line for line in lines[:header_at] if line.strip()],
    )


def parse_file(path: Path) -> FactorFile:
    raw, digest = read_raw(path)
    return parse_text(raw.decode("latin-1"), str(path), digest)


def merge_files(files: list[FactorFile], frequency: str) -> pd.DataFrame:
    """Join the factor files of one frequency on the dates they all cover (e.g. 5 factors +
    momentum). An inner join: a date one file lacks would otherwise hold NULL factors that
    no file published (momentum starts in 1926, the five factors in 1963)."""
    chosen = [f for f in files if f.frequency == frequency]
    if not chosen:
        return pd.DataFrame()
    merged = chosen[0].frame
    for f in chosen[1:]:
        dup = merged.columns.intersection(f.frame.columns)
        merged = merged.join(f.frame.drop(columns=dup), how="inner")
    return merged.sort_index()


def file_range(f: FactorFile) -> dict:
    """A file's own first and last date, its columns and vintage, for the asset metadata."""
    return {
        "file": Path(f.name).name,
        "frequency": f.frequency,
        "first": str(f.frame.index.min().date()),
        "last": str(f.frame.index.max().date()),
        "columns": list(f.frame.columns),
        "vintage": f.vintage or "unknown",
    }


def monthly_from_daily(daily_percent: pd.DataFrame) -> pd.DataFrame:
    """Compound daily percent factors into calendar months (index = month-end date).

    A month with a missing day stays missing in that column (never compounded as zero);
    columns absent from the daily files stay absent.
    """
    d = daily_percent / 100.0
    month = d.index.to_period("M")

    def compound(col: pd.Series) -> pd.Series:
        grouped = (1 + col).groupby(month)
        out = grouped.prod() - 1
        return out.where(col.isna().groupby(month).sum() == 0)

    out = pd.DataFrame({c: compound(d[c]) for c in d.columns if c not in ("mkt_rf", "rf")})
    if "rf" in d.columns:
        out["rf"] = compound(d["rf"])
        if "mkt_rf" in d.columns:
            out["mkt_rf"] = compound(d["mkt_rf"] + d["rf"]) - out["rf"]
    out = out * 100.0
    out.index = out.index.to_timestamp(how="end").normalize()
    out.index.name = "date"
    return out[[c for c in d.columns if c in out.columns]].round(4)
