"""CRSP daily stock files as researchers export them, in both layouts, to the price contract.

- legacy `dsf`: permno, date, ret, retx, prc, shrout; delistings (dlret, dlstcd, and a
  dlstdt when in a separate file) either in the same file or in `crsp_delist.csv`.
- `dsf_v2` (CIZ, the only layout after 2024): permno, dlycaldt, dlyret, dlyretx, dlyprc,
  shrout, dlyfacprc; the delisting return is already in dlyret.

A negative price is CRSP's bid/ask midpoint (no trade that day): the close is |prc|.
shrout is in thousands. Market value at d is |prc| x shrout x 1000 (METHODS 0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .prices import PriceFileError, _row, parse_dates, read_table

LEGACY = ("permno", "date", "ret", "prc", "shrout")
V2 = ("permno", "dlycaldt", "dlyret", "dlyprc", "shrout")
DSF_NAMES = ("crsp_dsf.csv", "crsp_dsf.parquet", "crsp_dsf_v2.csv", "crsp_dsf_v2.parquet")


def _numeric(frame: pd.DataFrame, col: str, name: str, csv: bool, codes_ok: bool = False):
    raw = frame[col]
    values = pd.to_numeric(raw, errors="coerce")
    if not codes_ok:
        bad = np.flatnonzero((values.isna() & raw.notna()).to_numpy())
        if len(bad):
            raise PriceFileError(
                f"{name}: row {_row(frame, bad[0], csv)}, column {col}: not a number:"
                f" {raw.iloc[bad[0]]!r}"
            )
    return values.astype(float)


def read_link(path: Path) -> pd.DataFrame:
    frame, csv = read_table(path)
    missing = [c for c in ("permno", "cik") if c not in frame.columns]
    if missing:
        raise PriceFileError(f"{path}: missing required column(s) {missing}")
    permno = frame["permno"].astype(str).str.strip().str.replace(r"\.0+$", "", regex=True)
    cik = frame["cik"].astype(str).str.strip()
    bad = np.flatnonzero((~cik.str.fullmatch(r"\d{1,10}")).to_numpy())
    if len(bad):
        raise PriceFileError(
            f"{path}: row {_row(frame, bad[0], csv)}, column cik: not a CIK: {cik.iloc[bad[0]]!r}"
        )
    ticker = (
        frame["ticker"].astype(str).str.strip().str.upper()
        if "ticker" in frame.columns
        else "P" + permno
    )
    out = pd.DataFrame({"permno": permno, "cik": cik.str.zfill(10), "ticker": ticker})
    dup = out["permno"].duplicated()
    if dup.any():
        pos = int(np.flatnonzero(dup.to_numpy())[0])
        raise PriceFileError(
            f"{path}: row {_row(frame, pos, csv)}, column permno: permno {permno.iloc[pos]} linked twice"
        )
    return out


def read_dsf(path: Path, link: pd.DataFrame, delist_path: Path | None, default_dlret: float):
    """Price-contract rows (with `cik`) and metadata from a CRSP daily stock file."""
    frame, csv = read_table(path)
    name = str(path)
    if all(c in frame.columns for c in V2):
        layout = "dsf_v2"
    elif all(c in frame.columns for c in LEGACY):
        layout = "dsf"
    else:
        raise PriceFileError(
            f"{name}: not a CRSP daily stock file; need {list(LEGACY)} (dsf) or {list(V2)}"
            f" (dsf_v2), found {list(frame.columns)}"
        )
    if frame.empty:
        raise PriceFileError(f"{name}: no rows")
    date_col = "dlycaldt" if layout == "dsf_v2" else "date"
    permno = frame["permno"].astype(str).str.strip().str.replace(r"\.0+$", "", regex=True)
    dates = parse_dates(frame[date_col], name, date_col, csv)
    prc = _numeric(frame, "dlyprc" if layout == "dsf_v2" else "prc", name, csv)
    # CRSP codes a missing return with letters (B, C, ...): those are missing, not errors.
    ret = _numeric(frame, "dlyret" if layout == "dsf_v2" else "ret", name, csv, codes_ok=True)
    shrout = _numeric(frame, "shrout", name, csv) * 1000.0
    close = prc.abs().where(prc != 0)
    out = pd.DataFrame(
        {
            "permno": permno,
            "date": dates,
            "close": close,
            "ret": ret,
            "shares_outstanding": shrout,
            "bid_ask_midpoint": prc < 0,
        }
    )
    out["split_ratio"] = 1.0
    if layout == "dsf_v2" and "dlyfacprc" in frame.columns:
        fac = _numeric(frame, "dlyfacprc", name, csv, codes_ok=True)
        out["split_ratio"] = fac.where(fac > 0, 1.0).fillna(1.0)
    out["dividend"] = 0.0
    out["delisting_return"] = np.nan
    out["delisted"] = False
    # Rows with neither a price nor a return (a delisting record's own line) carry no
    # price; their delisting return goes on the bank's last priced day.
    out = out[out["close"].notna()].sort_values(["permno", "date"], kind="stable")
    last = ~out["permno"].duplicated(keep="last")
    defaults_applied = 0
    if layout == "dsf_v2":
        # dlyret already holds the delisting return; the last row of a permno that stops
        # before the file ends, or flagged by dlydelflg, is its delisting day.
        flagged = pd.Series(False, index=out.index)
        if "dlydelflg" in frame.columns:
            flags = frame["dlydelflg"].astype(str).str.upper().eq("Y")
            flagged = flags.loc[out.index]
        out["delisted"] = last & ((out["date"] < out["date"].max()) | flagged)
    else:
        delist = _legacy_delistings(frame, out, delist_path, csv)
        if not delist.empty:
            ends = out.loc[last, ["permno", "date"]]
            merged = delist.merge(ends.rename(columns={"date": "date_last"}), on="permno")
            for row in merged.itertuples():
                idx = out.index[(out["permno"] == row.permno) & (out["date"] == row.date_last)]
                out.loc[idx, "delisted"] = True
                value = row.dlret
                if np.isnan(value):
                    value, defaults_applied = default_dlret, defaults_applied + 1
                out.loc[idx, "delisting_return"] = value
    # The adjusted close is a forward total-return index from the first close, so that
    # adj_close ratios reproduce CRSP's ret; it depends on no later data.
    gross = (1 + out["ret"].fillna(0.0)).groupby(out["permno"]).cumprod()
    first_close = out.groupby("permno")["close"].transform("first")
    out["adj_close"] = first_close * gross
    linked = out.merge(link, on="permno", how="left")
    unlinked = sorted(linked.loc[linked["cik"].isna(), "permno"].unique())
    linked = linked[linked["cik"].notna()]
    linked["volume"] = np.nan
    meta = {
        "crsp_file": name,
        "crsp_layout": layout,
        "permnos": int(out["permno"].nunique()),
        "unlinked_permnos": unlinked[:50],
        "bid_ask_midpoint_rows": int(out["bid_ask_midpoint"].sum()),
        "delistings": int(out["delisted"].sum()),
        "delisting_returns_defaulted": defaults_applied,
    }
    return linked.drop(columns=["permno", "bid_ask_midpoint"]), meta


def _legacy_delistings(frame, out, delist_path, csv) -> pd.DataFrame:
    rows = []
    if "dlret" in frame.columns or "dlstcd" in frame.columns:
        code = pd.to_numeric(frame.get("dlstcd"), errors="coerce") if "dlstcd" in frame else None
        dlret = pd.to_numeric(frame.get("dlret"), errors="coerce") if "dlret" in frame else None
        has = pd.Series(False, index=frame.index)
        if code is not None:
            has |= code.notna() & (code >= 200)
        if dlret is not None:
            has |= dlret.notna()
        permno = frame["permno"].astype(str).str.strip().str.replace(r"\.0+$", "", regex=True)
        for i in np.flatnonzero(has.to_numpy()):
            rows.append(
                {"permno": permno.iloc[i], "dlret": dlret.iloc[i] if dlret is not None else np.nan}
            )
    if delist_path is not None and delist_path.exists():
        extra, dcsv = read_table(delist_path)
        if "permno" not in extra.columns or "dlret" not in extra.columns:
            raise PriceFileError(f"{delist_path}: missing required column(s) permno, dlret")
        code = pd.to_numeric(extra.get("dlstcd"), errors="coerce") if "dlstcd" in extra else None
        keep = code >= 200 if code is not None else pd.Series(True, index=extra.index)
        extra = extra[keep.fillna(True)]
        for _, r in extra.iterrows():
            rows.append(
                {
                    "permno": str(r["permno"]).strip().removesuffix(".0"),
                    "dlret": pd.to_numeric(r["dlret"], errors="coerce"),
                }
            )
    return pd.DataFrame(rows, columns=["permno", "dlret"]).drop_duplicates("permno", keep="last")
