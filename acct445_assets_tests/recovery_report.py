"""The table of docs/recovery.md: each planted effect against the estimate of a
materialized warehouse (``make demo``: CNOI scored from the generated documents).

    uv run --frozen python -m acct445_assets_tests.recovery_report [WAREHOUSE [TRUTH_JSON]]

Defaults are the demo's warehouse and truth record (``acct445_assets.settings``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import pandas as pd

from acct445_assets.cnoi.latent import cnoi_latent_fit
from acct445_assets_tests.research_inputs import RESEARCH_TABLES


def warehouse_inputs(warehouse: Path, truth_path: Path) -> tuple[dict, dict]:
    """(data, tables) for ``recovery_rows`` from a materialized warehouse and its truth."""
    truth = json.loads(Path(truth_path).read_text())
    path = pd.DataFrame(
        truth["latent_opacity_path"],
        index=pd.PeriodIndex(truth["latent_opacity_quarters"], freq="Q"),
    )
    with duckdb.connect(str(warehouse), read_only=True) as con:

        def read(name: str) -> pd.DataFrame:
            return con.execute(f"select * from {name}").df()

        tables = {name: read(f"research.{name}") for name in RESEARCH_TABLES}
        scores = read("disclosure.cnoi_scores")
        data = {
            "truth": truth,
            "returns": read("warehouse.stg_bank_returns").assign(
                date=lambda x: pd.to_datetime(x["date"])
            ),
            "benchmarks": read("raw.benchmark_prices").assign(
                date=lambda x: pd.to_datetime(x["date"])
            ),
            "cnoi": read("warehouse.stg_cnoi").assign(
                known_date=lambda x: pd.to_datetime(x["known_date"])
            ),
        }
    data["truth"]["svb_bank_factor_ar_by_day"] = {
        int(k): v for k, v in truth["svb_bank_factor_ar_by_day"].items()
    }
    data["cnoi_fit"] = cnoi_latent_fit(scores[scores["status"] == "ok"], path)
    return data, tables


def main(argv: list[str]) -> int:
    from acct445_assets.settings import load_settings
    from acct445_assets_tests.test_research_recovery import recovery_markdown, recovery_rows

    settings = load_settings()
    warehouse = Path(argv[0]) if argv else settings.warehouse
    truth = Path(argv[1]) if len(argv) > 1 else settings.sample_dir / "truth.json"
    data, tables = warehouse_inputs(warehouse, truth)
    fit = data["cnoi_fit"]
    print(recovery_markdown(recovery_rows(data, tables)))
    print()
    print(
        "CNOI against latent opacity, by filing: within-bank correlation "
        f"{fit['within_bank_corr']:.3f}, within-bank slope of CNOI on latent "
        f"{fit['within_bank_cnoi_on_latent_slope']:.3f} and of latent on CNOI "
        f"{fit['within_bank_latent_on_cnoi_slope']:.3f}, pooled slope of latent on CNOI "
        f"{fit['latent_on_cnoi_slope_by_filing']:.3f} (intercept "
        f"{fit['latent_on_cnoi_intercept_by_filing']:.2f}), {fit['filings_matched']} filings."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
