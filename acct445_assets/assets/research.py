"""Group `research`: the study's results (METHODS sections 3-7), schema `research`.

Thin wrappers: read warehouse tables, call ``acct445_assets.research``, attach the
parameters used, a headline markdown table and a plot. Where the data cannot support an
estimate the asset returns a row whose ``status`` says why, and the same message is in
its metadata, instead of failing the run.
"""

import base64
import io

import numpy as np
import pandas as pd
from dagster import AssetExecutionContext, AssetIn, Config, MetadataValue, Output, asset

from ..params import section
from ..publication.content import (
    alphas_content,
    did_content,
    event_study_content,
    panel_content,
    portfolio_returns_content,
)
from ..publication.records import publish
from ..research.alphas import portfolio_alphas
from ..research.did import did_analysis
from ..research.event_study import event_study, returns_from_prices
from ..research.factor_models import FACTOR_MODELS, check_decimal_factors
from ..research.panel import panel_regression
from ..research.portfolios import (
    SPREAD,
    build_rebalance_universe,
    holding_returns,
    weight_portfolios,
)
from ..resources.io_manager import CATEGORICAL

GROUP = "research"
DUCKDB_POOL = "duckdb_writer"
PORTFOLIOS = section("portfolios")
SIGNAL = section("signal")
ALPHAS = section("alphas")
EVENTS = section("event_study")
DID = section("did")
PANEL = section("panel")


def _warehouse(
    name: str, columns: list[str] | None = None, categorical: list[str] | None = None
) -> AssetIn:
    """A warehouse table as input; ``columns`` loads only those (the returns panel has
    12M rows at scale, and every string column loaded costs seconds), ``categorical`` as
    integer-coded Categoricals (the bank codes the estimators' matrices are built from)."""
    metadata = {"columns": columns} if columns else {}
    if categorical:
        metadata[CATEGORICAL] = categorical
    return AssetIn(key=["warehouse", name], metadata=metadata or None)


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _figure(width=7.0, height=4.0):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def _md(frame: pd.DataFrame, floatfmt=".4f") -> MetadataValue:
    if frame is None or frame.empty:
        return MetadataValue.md("_no rows_")
    return MetadataValue.md(frame.to_markdown(index=False, floatfmt=floatfmt))


def _not_estimable(context: AssetExecutionContext, message: str, params: dict) -> Output:
    context.log.warning(message)
    return Output(
        pd.DataFrame({"status": [message]}),
        metadata={
            "status": message,
            "parameters": MetadataValue.json(params),
            "dagster/row_count": 1,
        },
    )


def _label(portfolio) -> str:
    return portfolio if portfolio == SPREAD else f"{int(portfolio):02d}"


def _dates(frame: pd.DataFrame, *cols: str) -> pd.DataFrame:
    frame = frame.copy(deep=False)
    for col in cols:
        if col in frame and not pd.api.types.is_datetime64_any_dtype(frame[col]):
            frame[col] = pd.to_datetime(frame[col])
    return frame


def _strings(frame: pd.DataFrame, *cols: str) -> pd.DataFrame:
    """Categorical columns back to the object strings (None for NULL) a plain load gives."""
    frame = frame.copy(deep=False)
    for col in cols:
        if col in frame and isinstance(frame[col].dtype, pd.CategoricalDtype):
            values = frame[col].astype(object)
            frame[col] = values.where(values.notna(), None)
    return frame


class PortfolioConfig(Config):
    n_groups: int = int(PORTFOLIOS.get("n_groups", 10))
    rebalance: str = str(PORTFOLIOS.get("rebalance", "quarterly"))
    weighting: str = str(PORTFOLIOS.get("weighting", "equal"))
    max_signal_age: int = int(SIGNAL.get("max_signal_age", 200))
    min_per_group: int = 3


class ReturnsConfig(Config):
    cost_bps: float = float(PORTFOLIOS.get("cost_bps", 10.0))
    nw_lags: int | None = PORTFOLIOS.get("nw_lags")
    rebalance: str = str(PORTFOLIOS.get("rebalance", "quarterly"))
    min_obs_margin: int = int(PORTFOLIOS.get("min_obs_margin", 20))


class AlphaConfig(Config):
    models: list[str] = list(ALPHAS.get("models", list(FACTOR_MODELS)))
    nw_lags: int | None = PORTFOLIOS.get("nw_lags")
    rebalance: str = str(PORTFOLIOS.get("rebalance", "quarterly"))
    min_obs_margin: int = int(PORTFOLIOS.get("min_obs_margin", 20))


class EventStudyConfig(Config):
    events: list[str] = [str(e) for e in EVENTS.get("events", ["2023-03-10"])]
    window: list[int] = list(EVENTS.get("window", [-1, 5]))
    estimation_window: list[int] = list(EVENTS.get("estimation_window", [-250, -11]))
    min_estimation_returns: int = int(EVENTS.get("min_estimation_returns", 100))
    model: str = str(EVENTS.get("model", "market"))
    benchmark: str = str(EVENTS.get("benchmark", "SPY"))
    n_permutations: int = int(EVENTS.get("n_permutations", 2000))
    cnoi_center: float = 50.0
    seed: int = 0
    min_obs_margin: int = int(EVENTS.get("min_obs_margin", 10))


class DidConfig(Config):
    panel_start: str = str(DID.get("panel_start", "2018Q1"))
    panel_end: str = str(DID.get("panel_end", "2025Q4"))
    leads_lags: int = int(DID.get("leads_lags", 8))
    bootstrap_reps: int = int(DID.get("bootstrap_reps", 999))
    outcomes: list[str] = list(DID.get("outcomes", ["volatility", "ret"]))
    seed: int = 0


class PanelConfig(Config):
    nw_lags: int = int(PANEL.get("nw_lags", 4))
    min_banks: int = 10


def _universe_frequency(universe: pd.DataFrame) -> str:
    dates = pd.DatetimeIndex(sorted(pd.to_datetime(universe["rebalance_date"]).unique()))
    if len(dates) < 2:
        return "unknown"
    return (
        "monthly"
        if np.median(np.diff(dates.values).astype("timedelta64[D]").astype(int)) < 45
        else "quarterly"
    )


@asset(
    key=["research", "decile_portfolios"],
    group_name=GROUP,
    pool=DUCKDB_POOL,
    kinds={"python"},
    ins={
        "rebalance_universe": _warehouse("rebalance_universe"),
        "stg_cnoi": _warehouse("stg_cnoi"),
        # Codes, not 2 x 12M Python strings at 5,000 banks (2.6 GB, the graph's peak once
        # dbt's was cut); only a universe of the wrong frequency is rebuilt from them.
        "stg_bank_returns": _warehouse(
            "stg_bank_returns",
            ["date", "cik", "ticker", "adj_close", "market_value"],
            categorical=["cik", "ticker"],
        ),
    },
)
def decile_portfolios(
    context: AssetExecutionContext,
    config: PortfolioConfig,
    rebalance_universe: pd.DataFrame,
    stg_cnoi: pd.DataFrame,
    stg_bank_returns: pd.DataFrame,
) -> Output[pd.DataFrame]:
    """CNOI quantile groups and weights at each rebalance date (METHODS 3): per-date
    breakpoints, group 1 = lowest CNOI (most transparent), ties to the lower group."""
    params = config.model_dump()
    universe = _dates(rebalance_universe, "rebalance_date", "cnoi_known_date")
    source = "warehouse.rebalance_universe"
    if universe.empty or _universe_frequency(universe) != config.rebalance:
        universe = build_rebalance_universe(
            _dates(stg_cnoi, "known_date", "filing_date"),
            _strings(_dates(stg_bank_returns, "date"), "cik", "ticker"),
            config.rebalance,
            config.max_signal_age,
        )
        source = f"rebuilt from stg_cnoi and stg_bank_returns ({config.rebalance})"
    params["universe_source"] = source
    if universe.empty:
        return _not_estimable(context, "no bank has a known CNOI on any rebalance date", params)
    try:
        assignments, breakpoints, notes = weight_portfolios(
            universe, config.n_groups, config.weighting, config.min_per_group
        )
    except ValueError as err:
        return _not_estimable(context, str(err), params)
    keep = [
        "rebalance_date",
        "cik",
        "ticker",
        "cnoi",
        "cnoi_known_date",
        "market_value",
        "group",
        "n_groups",
        "weight",
    ]
    out = assignments[[c for c in keep if c in assignments]].assign(status="ok")
    published = publish(
        "decile_portfolios",
        tables={"breakpoints": breakpoints},
        captions={"breakpoints": "CNOI breakpoints and banks per group at each rebalance date"},
        files_only={"breakpoints"},
        parameters=params,
        notes=notes,
    )
    per_date = breakpoints.pivot(index="rebalance_date", columns="group", values="cnoi_max")
    recent = breakpoints[breakpoints["rebalance_date"] == breakpoints["rebalance_date"].max()]
    return Output(
        out,
        metadata={
            "dagster/row_count": len(out),
            "parameters": MetadataValue.json(params),
            "n_rebalance_dates": int(out["rebalance_date"].nunique()),
            "banks_per_date_median": float(out.groupby("rebalance_date")["cik"].size().median()),
            "dates_with_fewer_groups": len(notes),
            "notes": MetadataValue.md("\n".join(f"- {n}" for n in notes) or "none"),
            "latest_breakpoints": _md(
                recent.assign(rebalance_date=recent["rebalance_date"].dt.date), ".2f"
            ),
            "results": MetadataValue.json(published),
            "first_date": str(per_date.index.min().date()),
            "last_date": str(per_date.index.max().date()),
        },
    )


@asset(
    key=["research", "decile_returns"],
    group_name=GROUP,
    pool=DUCKDB_POOL,
    kinds={"python"},
    ins={
        "decile_portfolios": AssetIn(key=["research", "decile_portfolios"]),
        "stg_bank_returns": _warehouse(
            "stg_bank_returns", ["date", "cik", "ret"], categorical=["cik"]
        ),
        "stg_factors_daily": _warehouse("stg_factors_daily", ["date", "rf"]),
    },
)
def decile_returns(
    context: AssetExecutionContext,
    config: ReturnsConfig,
    decile_portfolios: pd.DataFrame,
    stg_bank_returns: pd.DataFrame,
    stg_factors_daily: pd.DataFrame,
) -> Output[pd.DataFrame]:
    """Daily and holding-period returns of each CNOI group and of the spread (lowest minus
    highest non-empty CNOI group, zero-cost, no rf), with turnover and returns net of
    costs; group Sharpe ratios on excess returns (rf from the daily factors)."""
    params = config.model_dump()
    if "group" not in decile_portfolios or decile_portfolios.empty:
        status = (
            decile_portfolios["status"].iloc[0]
            if "status" in decile_portfolios and len(decile_portfolios)
            else "no portfolios"
        )
        return _not_estimable(context, f"no portfolios to hold: {status}", params)
    assignments = _dates(decile_portfolios, "rebalance_date")
    factors = _dates(stg_factors_daily, "date")
    rf = factors.set_index("date")["rf"] if len(factors) else None
    try:
        result = holding_returns(
            assignments,
            _dates(stg_bank_returns, "date"),
            config.cost_bps,
            config.nw_lags,
            config.rebalance,
            rf=rf,
            min_obs_margin=config.min_obs_margin,
        )
    except ValueError as err:
        return _not_estimable(context, str(err), params)
    daily = result.daily_returns.assign(
        frequency="daily", turnover=np.nan, n_banks=np.nan, short_group=np.nan
    )
    period = result.period_returns.rename(columns={"period_end": "date"}).assign(
        frequency=config.rebalance
    )
    cols = [
        "frequency",
        "date",
        "period_start",
        "portfolio",
        "ret",
        "ret_net",
        "turnover",
        "n_banks",
        "short_group",
    ]
    out = pd.concat([period[cols], daily[cols]], ignore_index=True)
    out["portfolio"] = out["portfolio"].map(_label)
    out["status"] = "ok"
    summary = result.summary.assign(portfolio=result.summary["portfolio"].map(_label))
    headline = summary[summary["frequency"] == config.rebalance][
        [
            "portfolio",
            "mean",
            "nw_t",
            "sharpe",
            "sharpe_basis",
            "mean_turnover",
            "mean_net",
            "nw_t_net",
            "n",
            "status",
        ]
    ]

    fig, ax = _figure()
    wide = result.daily_returns.pivot(index="date", columns="portfolio", values="ret")
    growth = np.log1p(wide.fillna(0.0)).cumsum()
    groups = [c for c in growth.columns if c != SPREAD]
    colours = __import__("matplotlib").colormaps["viridis"](np.linspace(0, 1, len(groups)))
    for colour, col in zip(colours, groups, strict=True):
        ax.plot(growth.index, growth[col], color=colour, lw=0.9, label=f"G{int(col)}")
    ax.plot(growth.index, growth[SPREAD], color="black", lw=1.8, label="spread (low-high)")
    ax.set_ylabel("cumulative log return")
    ax.set_title("CNOI groups: cumulative daily returns (G1 = most transparent)")
    ax.legend(ncol=4, fontsize=7)
    published = publish(
        "decile_returns",
        figures={"cumulative_decile_returns": fig},
        parameters=params,
        **portfolio_returns_content(summary, config.rebalance),
    )
    plot = _png(fig)
    spread = summary[(summary["portfolio"] == SPREAD) & (summary["frequency"] == config.rebalance)]
    meta = {
        "dagster/row_count": len(out),
        "parameters": MetadataValue.json(params),
        "summary": _md(headline),
        "summary_daily": _md(
            summary[summary["frequency"] == "daily"][["portfolio", "mean", "nw_t", "sharpe", "n"]],
            ".5f",
        ),
        "cumulative_returns": MetadataValue.md(f"![cumulative decile returns]({plot})"),
        "results": MetadataValue.json(published),
    }
    if len(spread):
        meta["spread_mean"] = float(spread["mean"].iloc[0])
        meta["spread_nw_t"] = float(spread["nw_t"].iloc[0])
        meta["spread_sharpe"] = float(spread["sharpe"].iloc[0])
    return Output(out, metadata=meta)


@asset(
    key=["research", "factor_alphas"],
    group_name=GROUP,
    pool=DUCKDB_POOL,
    kinds={"python"},
    ins={
        "decile_returns": AssetIn(key=["research", "decile_returns"]),
        "stg_factors_daily": _warehouse("stg_factors_daily"),
        "stg_factors_monthly": _warehouse("stg_factors_monthly"),
    },
)
def factor_alphas(
    context: AssetExecutionContext,
    config: AlphaConfig,
    decile_returns: pd.DataFrame,
    stg_factors_daily: pd.DataFrame,
    stg_factors_monthly: pd.DataFrame,
) -> Output[pd.DataFrame]:
    """CAPM, FF3, Carhart, FF5 and FF5+MOM alphas of each group's excess return and of the
    spread, daily on daily factors and per holding period on Ken French's monthly factors
    (compounded over a quarter); fits with too few observations are not estimable."""
    params = config.model_dump()
    if "portfolio" not in decile_returns or decile_returns.empty:
        return _not_estimable(context, "no portfolio returns to explain", params)
    unknown = [m for m in config.models if m not in FACTOR_MODELS]
    if unknown:
        raise ValueError(
            f"factor_alphas config: unknown models {unknown}; known {list(FACTOR_MODELS)}"
        )
    returns = _dates(decile_returns, "date", "period_start")
    daily = returns[returns["frequency"] == "daily"]
    period = returns[returns["frequency"] != "daily"].rename(columns={"date": "period_end"})
    factors = check_decimal_factors(
        _dates(stg_factors_daily, "date"), "warehouse.stg_factors_daily"
    )
    if factors.empty:
        return _not_estimable(context, "stg_factors_daily is empty", params)
    monthly = _dates(stg_factors_monthly, "date")
    params["holding_period_factors"] = (
        "Ken French monthly" if len(monthly) else "daily, compounded (no monthly factors)"
    )
    alphas = portfolio_alphas(
        daily,
        period,
        factors,
        config.models,
        config.nw_lags,
        config.rebalance,
        factors_monthly=monthly if len(monthly) else None,
        min_obs_margin=config.min_obs_margin,
    )
    if alphas.empty:
        return _not_estimable(context, "no overlap between portfolio returns and factors", params)
    spread = alphas[alphas["portfolio"] == SPREAD]
    headline = spread[
        ["frequency", "model_label", "alpha", "alpha_annual", "alpha_t", "r2", "n", "status"]
    ]
    ff5m = alphas[
        (alphas["model"] == config.models[-1]) & (alphas["frequency"] == config.rebalance)
    ]
    published = publish(
        "factor_alphas", parameters=params, **alphas_content(alphas, config.rebalance)
    )
    return Output(
        alphas,
        metadata={
            "dagster/row_count": len(alphas),
            "parameters": MetadataValue.json(params),
            "spread_alphas": _md(headline, ".5f"),
            "results": MetadataValue.json(published),
            f"group_alphas_{config.models[-1]}": _md(
                ff5m[["portfolio", "alpha", "alpha_annual", "alpha_t", "beta_mkt_rf", "r2"]], ".4f"
            ),
        },
    )


@asset(
    key=["research", "event_study_cars"],
    group_name=GROUP,
    pool=DUCKDB_POOL,
    kinds={"python"},
    ins={
        "stg_bank_returns": _warehouse(
            "stg_bank_returns", ["date", "cik", "ret"], categorical=["cik"]
        ),
        "stg_cnoi": _warehouse("stg_cnoi"),
        "stg_factors_daily": _warehouse("stg_factors_daily"),
        "benchmark_prices": AssetIn(key=["raw", "benchmark_prices"]),
    },
)
def event_study_cars(
    context: AssetExecutionContext,
    config: EventStudyConfig,
    stg_bank_returns: pd.DataFrame,
    stg_cnoi: pd.DataFrame,
    stg_factors_daily: pd.DataFrame,
    benchmark_prices: pd.DataFrame,
) -> Output[pd.DataFrame]:
    """Per-bank abnormal returns and CARs around each event (default SVB, 2023-03-10), CAAR
    tests, and CAR by CNOI quartile using only scores known before day -1."""
    params = config.model_dump()
    market = factors = None
    try:
        if config.model == "ff3":
            factors = check_decimal_factors(
                _dates(stg_factors_daily, "date"), "warehouse.stg_factors_daily"
            )
        else:
            market = returns_from_prices(_dates(benchmark_prices, "date"), config.benchmark)
        result = event_study(
            _dates(stg_bank_returns, "date"),
            config.events,
            market=market,
            factors=factors,
            cnoi=_dates(stg_cnoi, "known_date"),
            model=config.model,
            window=tuple(config.window),
            estimation_window=tuple(config.estimation_window),
            min_estimation_returns=config.min_estimation_returns,
            n_permutations=config.n_permutations,
            cnoi_center=config.cnoi_center,
            seed=config.seed,
            min_obs_margin=config.min_obs_margin,
        )
    except ValueError as err:  # missing benchmark or factors: say so, do not fail the run
        return _not_estimable(context, f"event study not estimable: {err}", params)
    if result.banks.empty:
        return _not_estimable(
            context, "no event could be studied: " + "; ".join(result.notes), params
        )
    cars = result.banks.copy()
    cars["known_date"] = pd.to_datetime(cars.get("known_date"))

    fig, ax = _figure()
    included = cars.dropna(subset=["quartile"]) if "quartile" in cars else pd.DataFrame()
    if len(included):
        ar = result.abnormal_returns.merge(
            included[["event", "cik", "quartile"]], on=["event", "cik"]
        )
        caar = (
            ar.groupby(["event", "quartile", "rel_day"])["ar"]
            .mean()
            .groupby(level=[0, 1])
            .cumsum()
            .reset_index()
        )
        for (event, quartile), block in caar.groupby(["event", "quartile"]):
            ax.plot(block["rel_day"], block["ar"], marker="o", label=f"{event} Q{int(quartile)}")
    caar_all = (
        result.abnormal_returns.groupby(["event", "rel_day"])["ar"].mean().groupby(level=0).cumsum()
    )
    for event, block in caar_all.groupby(level=0):
        ax.plot(
            block.index.get_level_values(1),
            block.to_numpy(),
            color="black",
            lw=2,
            label=f"{event} all",
        )
    ax.axvline(0, color="grey", lw=0.6)
    ax.set_xlabel("event day")
    ax.set_ylabel("CAAR")
    ax.set_title("CAAR by CNOI quartile (Q4 = most opaque)")
    ax.legend(fontsize=7)
    published = publish(
        "event_study_cars",
        figures={"caar_by_cnoi_quartile": fig},
        parameters=params,
        **event_study_content(result),
    )
    plot = _png(fig)
    meta = {
        "dagster/row_count": len(cars),
        "parameters": MetadataValue.json(params),
        "tests": _md(result.tests[["event", "test", "statistic", "p_value", "n"]], ".4f"),
        "quartiles": _md(result.quartiles, ".4f"),
        "q4_minus_q1": _md(result.quartile_difference, ".4f"),
        "car_on_cnoi_hc3": _md(result.cnoi_regression, ".5f"),
        "bank_counts": _md(result.counts, ".0f"),
        "notes": MetadataValue.md("\n".join(f"- {n}" for n in result.notes) or "none"),
        "caar_by_quartile": MetadataValue.md(f"![CAAR by CNOI quartile]({plot})"),
        "results": MetadataValue.json(published),
    }
    by_test = result.tests.groupby("test")["statistic"].first()
    if "caar" in by_test:
        meta["caar"] = float(by_test["caar"])
    if "caar_survivors_only" in by_test:
        meta["caar_survivors_only_sensitivity"] = float(by_test["caar_survivors_only"])
        meta["n_stopped_in_window"] = int(by_test["n_stopped_in_window"])
    return Output(cars.assign(status=cars["status"]), metadata=meta)


@asset(
    key=["research", "did_estimates"],
    group_name=GROUP,
    pool=DUCKDB_POOL,
    kinds={"python"},
    ins={"bank_quarter_panel": _warehouse("bank_quarter_panel")},
)
def did_estimates(
    context: AssetExecutionContext, config: DidConfig, bank_quarter_panel: pd.DataFrame
) -> Output[pd.DataFrame]:
    """CECL adoption DiD (METHODS 6): TWFE with two-way clustered SEs and a wild cluster
    bootstrap p, event-study leads/lags with a pre-trend test, Callaway-Sant'Anna ATT."""
    params = config.model_dump()
    result = did_analysis(
        bank_quarter_panel,
        config.outcomes,
        panel_start=config.panel_start,
        panel_end=config.panel_end,
        leads_lags=config.leads_lags,
        bootstrap_reps=config.bootstrap_reps,
        seed=config.seed,
    )
    params.update(result.params)
    estimates = result.estimates.assign(kind="estimate")
    curve = (
        result.event_time.assign(kind="event_time") if len(result.event_time) else pd.DataFrame()
    )
    cells = (
        result.att_gt.rename(columns={"att": "coef"}).assign(
            kind="att_gt", estimator="callaway_santanna"
        )
        if len(result.att_gt)
        else pd.DataFrame()
    )
    pre = result.pretrends.rename(columns={"wald": "coef"}).assign(
        kind="pretrend_wald", estimator="twfe_event"
    )
    out = pd.concat([estimates, curve, cells, pre], ignore_index=True)
    out["status"] = out["status"].fillna("ok") if "status" in out else "ok"
    for col in ("cohort", "quarter"):
        if col in out:
            out[col] = out[col].astype("string")

    fig, ax = _figure()
    if len(result.event_time):
        for (outcome, estimator), block in result.event_time.groupby(["outcome", "estimator"]):
            if outcome != config.outcomes[0]:
                continue
            block = block.sort_values("rel_quarter")
            line = ax.plot(block["rel_quarter"], block["coef"], marker="o", label=estimator)[0]
            ax.fill_between(
                block["rel_quarter"],
                block["ci_low"],
                block["ci_high"],
                color=line.get_color(),
                alpha=0.2,
            )
        ax.axhline(0, color="grey", lw=0.6)
        ax.axvline(-0.5, color="grey", lw=0.6, ls="--")
        ax.legend(fontsize=7)
    else:
        ax.text(
            0.5, 0.5, "\n".join(result.notes) or "no estimates", ha="center", va="center", wrap=True
        )
    ax.set_xlabel("quarters relative to CECL adoption")
    ax.set_ylabel(config.outcomes[0])
    ax.set_title(f"CECL adoption: event-time effects on {config.outcomes[0]} (95% CI)")
    published = publish(
        "did_estimates", figures={"did_event_time": fig}, parameters=params, **did_content(result)
    )
    plot = _png(fig)
    show = [
        c
        for c in (
            "outcome",
            "estimator",
            "coef",
            "se",
            "ci_low",
            "ci_high",
            "p",
            "wild_p",
            "wild_p_below_bound",
            "n_treated_clusters",
            "n_control_clusters",
            "n_quarter_clusters",
            "status",
        )
        if c in estimates
    ]
    meta = {
        "dagster/row_count": len(out),
        "parameters": MetadataValue.json(params),
        "estimates": _md(estimates[show], ".5f"),
        "pretrend_tests": _md(result.pretrends, ".4f"),
        "clusters": MetadataValue.json(result.counts),
        "notes": MetadataValue.md("\n".join(f"- {n}" for n in result.notes) or "none"),
        "event_time_curve": MetadataValue.md(f"![DiD event-time curve]({plot})"),
        "results": MetadataValue.json(published),
    }
    ok = (
        estimates[(estimates["status"] == "ok") & (estimates["estimator"] == "twfe")]
        if "status" in estimates
        else estimates.iloc[0:0]
    )
    if len(ok):
        meta["twfe_coef_" + str(ok["outcome"].iloc[0])] = float(ok["coef"].iloc[0])
    if result.notes and not len(ok):
        meta["status"] = "; ".join(result.notes)
    return Output(out, metadata=meta)


@asset(
    key=["research", "panel_regression"],
    group_name=GROUP,
    pool=DUCKDB_POOL,
    kinds={"python"},
    ins={"bank_quarter_panel": _warehouse("bank_quarter_panel")},
)
def panel_regression_asset(
    context: AssetExecutionContext, config: PanelConfig, bank_quarter_panel: pd.DataFrame
) -> Output[pd.DataFrame]:
    """Next-quarter return on CNOI and controls: bank + quarter FE with Driscoll-Kraay SEs,
    and Fama-MacBeth with Newey-West SEs (METHODS 7)."""
    params = config.model_dump()
    result = panel_regression(
        bank_quarter_panel, nw_lags=config.nw_lags, min_banks=config.min_banks
    )
    params.update(result.params)
    table = result.coefficients
    meta = {
        "dagster/row_count": len(table),
        "parameters": MetadataValue.json(params),
        "coefficients": _md(table, ".5f"),
        "notes": MetadataValue.md("\n".join(f"- {n}" for n in result.notes) or "none"),
    }
    figures = {}
    if (table["status"] != "ok").all():
        meta["status"] = result.notes[0]
        context.log.warning(result.notes[0])
    else:
        fm = table[(table["estimator"] == "fama_macbeth") & (table["term"] == "cnoi")]
        meta["fama_macbeth_cnoi"] = float(fm["coef"].iloc[0])
        meta["fama_macbeth_cnoi_t"] = float(fm["t"].iloc[0])
        if len(result.fm_series):
            fig, ax = _figure(7, 3)
            series = result.fm_series["cnoi"]
            ax.bar(range(len(series)), series.to_numpy(), color="steelblue")
            ax.axhline(series.mean(), color="black", lw=1)
            ax.set_xticks(range(0, len(series), 4), series.index[::4], fontsize=7)
            ax.set_title("Fama-MacBeth: quarterly CNOI slopes (line = mean)")
            figures["fama_macbeth_slopes"] = fig
            meta["fama_macbeth_slopes"] = MetadataValue.md(f"![FM slopes]({_png(fig)})")
    published = publish(
        "panel_regression", figures=figures, parameters=params, **panel_content(result)
    )
    meta["results"] = MetadataValue.json(published)
    return Output(table, metadata=meta)
