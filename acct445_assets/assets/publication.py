"""Group `publication`: the self-contained research report, ``results/report.html``.

The research and disclosure assets write their tables and figures with
``acct445_assets.publication.records.publish``; this asset collects those records, computes data
coverage from its inputs and the raw assets' materialization metadata, and renders the
report. Its output is a small index of what the report holds.
"""

from datetime import UTC, datetime

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetKey, MetadataValue, Output, asset

from ..params import load_params, params_path
from ..publication.records import SECTIONS
from ..publication.report import ReportContent, load_records, write_report
from ..resources.io_manager import MAY_BE_EMPTY
from ..settings import load_settings

GROUP = "publication"
REPORT_NAME = "report.html"
RESEARCH_INPUTS = {
    "decile_portfolios": ["research", "decile_portfolios"],
    "decile_returns": ["research", "decile_returns"],
    "factor_alphas": ["research", "factor_alphas"],
    "event_study_cars": ["research", "event_study_cars"],
    "did_estimates": ["research", "did_estimates"],
    "panel_regression": ["research", "panel_regression"],
    "cnoi_scores": ["disclosure", "cnoi_scores"],
    "opacity_validation": ["disclosure", "opacity_validation"],
}
VINTAGE_ASSETS = [
    ["raw", "ff_factors_daily"],
    ["raw", "ff_factors_monthly"],
    ["raw", "benchmark_prices"],
    ["raw", "bank_universe"],
    ["raw", "bank_prices"],
    ["disclosure", "bank_filings"],
]


def _date_span(values) -> str:
    dates = pd.to_datetime(pd.Series(values), errors="coerce").dropna()
    return f"{dates.min().date()} .. {dates.max().date()}" if len(dates) else "none"


def _ok(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["status"] == "ok"] if "status" in frame else frame


def coverage_rows(source: str, inputs: dict[str, pd.DataFrame]) -> list[dict]:
    """What data the results rest on, each row naming the input it was counted from."""
    rows = [{"item": "data source", "value": source, "source": "ACCT445_SOURCE"}]

    def add(item, value, input_name):
        rows.append({"item": item, "value": value, "source": ".".join(RESEARCH_INPUTS[input_name])})

    scores = inputs.get("cnoi_scores", pd.DataFrame())
    if len(scores):
        ok = _ok(scores)
        add("filings processed", len(scores), "cnoi_scores")
        add("filings scored (status ok)", len(ok), "cnoi_scores")
        add("banks with a CNOI score", ok["cik"].nunique() if "cik" in ok else 0, "cnoi_scores")
        if "filing_date" in ok:
            add("filing dates", _date_span(ok["filing_date"]), "cnoi_scores")
        if "rubric_version" in ok and len(ok):
            add(
                "CNOI rubric",
                ", ".join(sorted(ok["rubric_version"].astype(str).unique())),
                "cnoi_scores",
            )
    portfolios = _ok(inputs.get("decile_portfolios", pd.DataFrame()))
    if {"rebalance_date", "cik"} <= set(portfolios) and len(portfolios):
        add("rebalance dates", portfolios["rebalance_date"].nunique(), "decile_portfolios")
        add("rebalance date range", _date_span(portfolios["rebalance_date"]), "decile_portfolios")
        add("banks ever in a portfolio", portfolios["cik"].nunique(), "decile_portfolios")
    returns = _ok(inputs.get("decile_returns", pd.DataFrame()))
    if {"frequency", "date"} <= set(returns) and len(returns):
        daily = returns[returns["frequency"] == "daily"]
        add("daily portfolio return dates", _date_span(daily["date"]), "decile_returns")
        add("trading days", daily["date"].nunique(), "decile_returns")
    cars = inputs.get("event_study_cars", pd.DataFrame())
    if {"event", "status"} <= set(cars) and len(cars):
        for (event, status), n in cars.groupby(["event", "status"]).size().items():
            add(f"event {event}: banks {status}", int(n), "event_study_cars")
    did = inputs.get("did_estimates", pd.DataFrame())
    if {"kind", "outcome"} <= set(did) and len(did):
        estimates = _ok(did[did["kind"] == "estimate"])
        for col in ("n_treated_clusters", "n_control_clusters", "n_obs"):
            if col in estimates and estimates[col].notna().any():
                add(
                    f"DiD {col.replace('n_', '').replace('_', ' ')}",
                    int(estimates[col].max()),
                    "did_estimates",
                )
    panel = _ok(inputs.get("panel_regression", pd.DataFrame()))
    if "n_obs" in panel and panel["n_obs"].notna().any():
        add("panel regression bank-quarters", int(panel["n_obs"].max()), "panel_regression")
    return rows


def _vintages(context: AssetExecutionContext) -> list[dict]:
    rows = []
    for path in VINTAGE_ASSETS:
        event = context.instance.get_latest_materialization_event(AssetKey(path))
        if event is None or event.asset_materialization is None:
            continue
        meta = {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}
        nested = {}
        for value in meta.values():
            if isinstance(value, dict):
                nested.update(value)

        def pick(key, meta=meta, nested=nested):
            value = meta.get(key)
            value = value if value is not None and not isinstance(value, dict) else nested.get(key)
            return "" if value is None else str(value)

        rows.append(
            {
                "asset": "/".join(path),
                "source": pick("source"),
                "vintage": pick("vintage") or (f"seed {pick('seed')}" if pick("seed") else ""),
                "date_range": meta.get("date_range", ""),
                "materialized": datetime.fromtimestamp(event.timestamp, UTC).strftime(
                    "%Y-%m-%d %H:%M UTC"
                ),
            }
        )
    return rows


@asset(
    key=["publication", "research_report"],
    group_name=GROUP,
    kinds={"python"},
    # The table only indexes published figures and tables; when every research asset is
    # not estimable there are none, and report.html (the deliverable) still says why.
    metadata={MAY_BE_EMPTY: True},
    ins={name: AssetIn(key=key) for name, key in RESEARCH_INPUTS.items()},
)
def research_report(
    context: AssetExecutionContext,
    decile_portfolios: pd.DataFrame,
    decile_returns: pd.DataFrame,
    factor_alphas: pd.DataFrame,
    event_study_cars: pd.DataFrame,
    did_estimates: pd.DataFrame,
    panel_regression: pd.DataFrame,
    cnoi_scores: pd.DataFrame,
    opacity_validation: pd.DataFrame,
) -> Output[pd.DataFrame]:
    """Self-contained HTML report (results/report.html): data coverage and vintages, every
    headline estimate with its test statistic, every figure and table the research assets
    published, and the parameters they used."""
    inputs = {name: value for name, value in locals().items() if name in RESEARCH_INPUTS}
    settings = load_settings()
    records, missing = load_records(SECTIONS, settings.results_dir)
    for asset_name in missing:
        context.log.warning(f"{asset_name} has not published results under {settings.results_dir}")
    content = ReportContent(
        records=records,
        results_dir=settings.results_dir,
        coverage=coverage_rows(settings.source, inputs),
        vintages=_vintages(context),
        parameters=load_params(),
        run={
            "run_id": context.run_id,
            "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "source": settings.source,
            "params_file": params_path().name,
        },
    )
    path = write_report(content, settings.results_dir / REPORT_NAME, missing)
    index = pd.DataFrame(
        [
            {"asset": name, "kind": kind, "path": entry.get("png") or entry.get("csv")}
            for name, record in records.items()
            for kind in ("figures", "tables")
            for entry in record.get(kind, [])
        ],
        columns=["asset", "kind", "path"],
    )
    return Output(
        index,
        metadata={
            "dagster/row_count": len(index),
            "report": MetadataValue.path(str(path)),
            "report_bytes": path.stat().st_size,
            "figures": int((index["kind"] == "figures").sum()),
            "tables": int((index["kind"] == "tables").sum()),
            "headline_estimates": sum(len(r.get("headline", [])) for r in records.values()),
            "missing_sections": MetadataValue.json(missing),
        },
    )
