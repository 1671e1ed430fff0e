"""`python -m acct445_assets.cli demo`: materialize every asset through the Dagster CLI.

Three CLI calls, because a single-run backfill of the partitioned `bank_prices` must be
its own selection: the unpartitioned inputs first, then the price partitions in one run,
then everything downstream.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pandas as pd

from .calendar import trading_days
from .params import section
from .settings import Settings, load_settings
from .sources.files import FilePrices

MODULE = "acct445_assets.definitions"
INGEST = "key:raw/bank_universe or key:raw/ff_factors_daily or key:raw/ff_factors_monthly or key:raw/benchmark_prices"
PRICES = "key:raw/bank_prices"
DOWNSTREAM = "not group:market"


def price_partition_range(settings: Settings) -> str:
    market = section("market")
    start = str(market.get("prices_start", "2018-01-01"))
    if settings.source == "sample":
        sample = section("sample")
        start, end = max(start, str(sample["start"])), str(sample["end"])
    elif settings.source == "files":
        dates = FilePrices(settings.data_dir).all_prices()["date"]
        start, end = max(start, str(dates.min().date())), str(dates.max().date())
    else:
        end = str(pd.Timestamp.now(tz="America/New_York").date())
    sessions = trading_days(start, end)
    return f"{sessions[0].date()}...{sessions[-1].date()}"


def _materialize(select: str, *extra: str) -> None:
    cmd = ["dagster", "asset", "materialize", "-m", MODULE, "--select", select, *extra]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def demo(stages: list[str], partition_range: str | None = None) -> None:
    settings = load_settings()
    if "ingest" in stages:
        _materialize(INGEST)
    if "prices" in stages:
        _materialize(
            PRICES, "--partition-range", partition_range or price_partition_range(settings)
        )
    if "downstream" in stages:
        _materialize(DOWNSTREAM)
    print(f"\nsource:    {settings.source}")
    print(f"warehouse: {settings.warehouse}")
    print(f"results:   {settings.results_dir}")
    print(f"dagster:   {os.environ.get('DAGSTER_HOME', '(ephemeral)')}  (make dev opens the UI)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="acct445_assets.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("demo", help="materialize every asset on the configured source")
    run.add_argument("--stages", default="ingest,prices,downstream")
    run.add_argument(
        "--partition-range",
        help="bank_prices sessions FIRST...LAST (default: the source's whole span; live: to today)",
    )
    sub.add_parser("partition-range", help="print the bank_prices partition range for the source")
    sub.add_parser("doctor", help="check the live set-up (User-Agent, cache, endpoints)")
    args = parser.parse_args(argv)
    if args.command == "doctor":
        from .ops.doctor import main as doctor

        return doctor()
    if args.command == "partition-range":
        print(price_partition_range(load_settings()))
    else:
        demo(args.stages.split(","), args.partition_range)
    return 0


if __name__ == "__main__":
    sys.exit(main())
