"""ACCT445_SOURCE=files end to end: user files in the documented layout drive every asset.

The files are written in the formats users bring: Ken French CSVs exactly as the library
publishes them (preamble, `,Mom   ` header, footer), a prices CSV, cik_tickers.csv and a
precomputed CNOI CSV in the seed project's layout. No adoption table is supplied, so the
DiD must fall back to the rule and say what it could and could not estimate.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from dagster import DagsterEventType, EventRecordsFilter

from acct445_assets.sources.kenfrench import monthly_from_daily, parse_file
from acct445_assets.sources.sample.universe import SampleConfig, generate_universe
from acct445_assets_tests.research_inputs import RESEARCH_TABLES


def write_ken_french(path, frame, columns, title):
    lines = [
        f"This file was created by {title} using the 202410 CRSP database.",
        "The 1-month TBill return is from Ibbotson.",
        "",
    ]
    header = {
        "mkt_rf": "Mkt-RF",
        "smb": "SMB",
        "hml": "HML",
        "rmw": "RMW",
        "cma": "CMA",
        "rf": "RF",
        "mom": "Mom   ",
    }
    lines.append("," + ",".join(header[c] for c in columns))
    for date, row in frame[columns].iterrows():
        lines.append(
            date.strftime("%Y%m%d")
            + ","
            + ",".join(f"{v:8.2f}" if c != "rf" else f"{v:8.3f}" for c, v in row.items())
        )
    lines += ["", "Copyright 2024 Eugene F. Fama and Kenneth R. French", ""]
    path.write_text("\r\n".join(lines))


def write_user_files(root):
    u = generate_universe(SampleConfig(seed=11, n_banks=24, start="2021-06-01", end="2024-06-28"))
    (root / "factors").mkdir(parents=True)
    write_ken_french(
        root / "factors" / "F-F_Research_Data_5_Factors_2x3_daily.CSV",
        u.factors_daily,
        ["mkt_rf", "smb", "hml", "rmw", "cma", "rf"],
        "CMPT_ME_BEME_OP_INV_RETS_DAILY",
    )
    write_ken_french(
        root / "factors" / "F-F_Momentum_Factor_daily.CSV",
        u.factors_daily,
        ["mom"],
        "CMPT_ME_PRIOR_RETS_DAILY",
    )
    prices = pd.concat([u.prices.drop(columns="cik"), u.benchmarks], ignore_index=True)
    prices["date"] = prices["date"].dt.strftime("%Y-%m-%d")
    prices.to_csv(root / "prices.csv", index=False)
    u.banks[["cik", "ticker"]].assign(cik=lambda f: f["cik"].str.lstrip("0")).to_csv(
        root / "cik_tickers.csv", index=False
    )
    rng = np.random.default_rng(3)
    rows = []
    for bank in u.banks.itertuples():
        for i, report in enumerate(pd.date_range("2021-06-30", "2024-03-31", freq="QE")):
            filed = report + pd.Timedelta(days=40)
            if filed > bank.last_date:
                break
            dims = np.clip(bank.latent_opacity + rng.normal(0, 5, 7), 0, 100)
            cnoi = float(np.dot([0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1], dims))
            rows.append(
                {
                    "cik": bank.cik,
                    "accession": f"{bank.cik}-{report:%y}-{i:06d}",
                    "form": "10-K" if report.month == 12 else "10-Q",
                    "filing_date": filed.strftime("%Y-%m-%d"),
                    "CNOI": round(cnoi, 3),
                    **dict(zip("DGRJTSX", np.round(dims, 3), strict=True)),
                    "issuer": bank.name,
                }
            )
    pd.DataFrame(rows).to_csv(root / "cnoi_scores.csv", index=False)
    return u


@pytest.mark.integration
def test_files_source_materializes_every_research_asset(tmp_path):
    data = tmp_path / "userdata"
    write_user_files(data)
    env = {
        **os.environ,
        "ACCT445_SOURCE": "files",
        "ACCT445_DATA_DIR": str(data),
        "ACCT445_HOME": str(tmp_path / "home"),
        "ACCT445_RESULTS_DIR": str(tmp_path / "results"),
        "DAGSTER_HOME": str(tmp_path / "dh"),
    }
    (tmp_path / "dh").mkdir()
    out = subprocess.run(
        [sys.executable, "-m", "acct445_assets.cli", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert out.returncode == 0, (out.stdout[-3000:], out.stderr[-5000:])
    assert "price partitions 2021-06-01...2024-06-28" in out.stdout
    with duckdb.connect(str(tmp_path / "home" / "acct445.duckdb"), read_only=True) as con:
        counts = {
            name: con.execute(f"select count(*) from research.{name}").fetchone()[0]
            for name in RESEARCH_TABLES
        }
        scores = con.execute("select count(*) from disclosure.cnoi_scores").fetchone()[0]
        universe = con.execute("select count(*) from warehouse.rebalance_universe").fetchone()[0]
        adoption = con.execute(
            "select source, count(*) from disclosure.cecl_adoption group by 1"
        ).fetchall()
    assert all(n > 0 for n in counts.values()), counts
    assert scores > 200 and universe > 100
    assert adoption, "adoption dates fall back to the METHODS rule when no table is given"
    assert (tmp_path / "results" / "report.html").exists()


KF_FULL = Path(__file__).parent / "fixtures" / "kenfrench_full"


def write_monthly_published(path, daily, columns, title):
    """A monthly Ken French file in the published layout: monthly section, then annual."""
    monthly = monthly_from_daily(daily[columns].dropna())
    annual = monthly.groupby(monthly.index.year).apply(lambda m: ((1 + m / 100).prod() - 1) * 100)
    header = ",".join(
        {
            "mkt_rf": "Mkt-RF",
            "smb": "SMB",
            "hml": "HML",
            "rmw": "RMW",
            "cma": "CMA",
            "rf": "RF",
            "mom": "Mom   ",
        }[c]
        for c in columns
    )
    lines = [f"This file was created by {title} using the 202601 CRSP database.", "", "," + header]
    lines += [
        f"{d:%Y%m}," + ",".join(f"{v:8.2f}" for v in row) for d, row in monthly[columns].iterrows()
    ]
    lines += ["", " Annual Factors: January-December ", "," + header]
    lines += [f"{y}," + ",".join(f"{v:8.2f}" for v in row) for y, row in annual[columns].iterrows()]
    lines += ["", "Copyright 2026 Eugene F. Fama and Kenneth R. French", ""]
    path.write_text("\r\n".join(lines))


def write_real_format_files(root):
    """Full-history Ken French files as published, a Yahoo-style price export (UTC-offset
    timestamps, `Adj Close`, `Dividends`, `Stock Splits`), no shares, and the seed CNOI CSV."""
    u = write_user_files(root)
    for p in (root / "factors").glob("*"):
        p.unlink()
    for p in KF_FULL.glob("*.zip"):
        shutil.copy(p, root / "factors" / p.name)
    five = parse_file(KF_FULL / "F-F_Research_Data_5_Factors_2x3_daily_CSV.zip").frame
    mom = parse_file(KF_FULL / "F-F_Momentum_Factor_daily_CSV.zip").frame
    write_monthly_published(
        root / "factors" / "F-F_Research_Data_5_Factors_2x3.CSV",
        five,
        ["mkt_rf", "smb", "hml", "rmw", "cma", "rf"],
        "CMPT_ME_BEME_OP_INV_RETS",
    )
    write_monthly_published(
        root / "factors" / "F-F_Momentum_Factor.CSV", mom, ["mom"], "CMPT_ME_PRIOR_RETS"
    )
    prices = pd.concat([u.prices.drop(columns="cik"), u.benchmarks], ignore_index=True)
    stamp = pd.to_datetime(prices["date"]).dt.tz_localize("America/New_York")
    export = pd.DataFrame(
        {
            "Date": stamp.map(lambda t: t.isoformat(sep=" ")),
            "Ticker": prices["ticker"],
            "Open": prices["adj_close"],
            "Close": prices["adj_close"],
            "Adj Close": prices["adj_close"],
            "Volume": prices.get("volume"),
            "Dividends": 0.0,
            "Stock Splits": 0.0,
            "delisted": prices.get("delisted", False),
        }
    )
    (root / "prices.csv").unlink()
    export.to_csv(root / "prices.csv", index=False)
    return u


@pytest.mark.integration
def test_real_format_files_run_the_whole_graph_with_no_failed_check(tmp_path):
    data = tmp_path / "userdata"
    write_real_format_files(data)
    env = {
        **os.environ,
        "ACCT445_SOURCE": "files",
        "ACCT445_DATA_DIR": str(data),
        "ACCT445_HOME": str(tmp_path / "home"),
        "ACCT445_RESULTS_DIR": str(tmp_path / "results"),
        "DAGSTER_HOME": str(tmp_path / "dh"),
    }
    (tmp_path / "dh").mkdir()
    out = subprocess.run(
        [sys.executable, "-m", "acct445_assets.cli", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert out.returncode == 0, (out.stdout[-3000:], out.stderr[-5000:])
    with duckdb.connect(str(tmp_path / "home" / "acct445.duckdb"), read_only=True) as con:
        daily = con.execute(
            "select min(date), max(date), count(*) from raw.ff_factors_daily"
        ).fetchone()
        monthly_nulls = con.execute(
            "select count(*) filter (where mkt_rf is null or mom is null), count(*) from raw.ff_factors_monthly"
        ).fetchone()
        panel = con.execute(
            "select term, coef, controls, controls_dropped from research.panel_regression where status = 'ok'"
        ).df()
    assert str(daily[0]) == "2018-01-02"  # trimmed from 1926/1963 to the study period
    assert monthly_nulls[0] == 0 and monthly_nulls[1] > 90
    assert not panel.empty and panel.loc[panel["term"] == "cnoi", "coef"].notna().all()
    assert (panel["controls_dropped"] == "log_mv").all()
    instance_dir = tmp_path / "dh"
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(instance_dir)) as instance:
        failed = instance.event_log_storage.get_event_records(
            EventRecordsFilter(event_type=DagsterEventType.ASSET_CHECK_EVALUATION), limit=1000
        )
        evaluations = [r.event_log_entry.dagster_event.event_specific_data for r in failed]
    assert evaluations, "checks ran"
    bad = [f"{e.asset_key.to_user_string()}:{e.check_name}" for e in evaluations if not e.passed]
    assert not bad, bad
