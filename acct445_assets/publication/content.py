"""What each research and disclosure asset publishes: its tables (the headline ones also as
LaTeX), the headline estimates with their test statistics, and the figures the research
code does not already draw. Each function returns keyword arguments for
``acct445_assets.publication.records.publish``. No Dagster import.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..cnoi.rubric import WEIGHTS

SPREAD = "spread"
EVENT_TESTS = {
    "cross_sectional_t": "t",
    "patell_z": "Patell Z",
    "bmp_t": "BMP t",
    "kolari_pynnonen_t": "Kolari-Pynnonen t",
    "corrado_rank": "Corrado rank",
    "generalized_sign_z": "generalised sign Z",
}


def _value(v):
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else v


def _entry(label, estimate, statistic, name="t", p=None, n=None) -> dict:
    return {
        "label": label,
        "estimate": _value(estimate),
        "statistic": _value(statistic),
        "statistic_name": name,
        "p_value": _value(p),
        "n": _value(n),
    }


def _ok(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows that are estimates: a not-estimable row never reaches the headline table."""
    return frame[frame["status"] == "ok"] if "status" in frame else frame


def portfolio_returns_content(summary: pd.DataFrame, rebalance: str) -> dict:
    """Decile statistics; headline: spread (lowest minus highest CNOI group) mean with NW t,
    gross and net of costs, at the holding-period frequency."""
    headline = []
    spread = _ok(summary[(summary["portfolio"] == SPREAD) & (summary["frequency"] == rebalance)])
    for row in spread.itertuples():
        headline.append(
            _entry(
                f"spread mean return per {rebalance} period", row.mean, row.nw_t, "NW t", n=row.n
            )
        )
        if hasattr(row, "mean_net") and hasattr(row, "nw_t_net"):
            headline.append(
                _entry(
                    "spread mean return net of costs", row.mean_net, row.nw_t_net, "NW t", n=row.n
                )
            )
    return {
        "tables": {"decile_stats": summary},
        "latex": {"decile_stats"},
        "captions": {
            "decile_stats": "CNOI groups (1 = most transparent) and spread: mean return, "
            "Newey-West t, annualised Sharpe (groups: of the excess return over rf; spread: "
            "of its raw zero-cost return; see sharpe_basis), turnover, net of costs; status "
            "names a t not estimable on too few periods",
            "cumulative_decile_returns": "Cumulative daily log returns of the CNOI groups "
            "and the spread",
        },
        "headline": headline,
    }


def alphas_content(alphas: pd.DataFrame, rebalance: str) -> dict:
    """All alphas; the spread's as a LaTeX table and one headline per model and frequency."""
    spread = alphas[alphas["portfolio"] == SPREAD]
    label_col = "model_label" if "model_label" in spread else "model"
    estimated = _ok(spread)
    headline = [
        _entry(
            f"spread alpha, {row[label_col]}, {row['frequency']}",
            row["alpha"],
            row["alpha_t"],
            "NW t",
            n=row.get("n"),
        )
        for _, row in estimated.iterrows()
        if row["frequency"] == rebalance
    ]
    keep = [
        c
        for c in (
            "frequency",
            "factors",
            label_col,
            "alpha",
            "alpha_annual",
            "alpha_t",
            "alpha_p",
            "r2",
            "n",
            "status",
        )
        if c in spread
    ]
    return {
        "tables": {"spread_alphas": spread[keep], "factor_alphas": alphas},
        "latex": {"spread_alphas"},
        "files_only": {"factor_alphas"},
        "captions": {
            "spread_alphas": "Spread (transparent minus opaque) factor-model alphas, Newey-West t "
            "(p from t(N - k)); rows with too few observations are marked not estimable",
            "factor_alphas": "Alphas and betas of every CNOI group",
        },
        "headline": headline,
    }


def event_study_content(result) -> dict:
    """CAAR (every bank trading on day -1, no survivorship) with each test statistic, Q4 - Q1
    CAR difference, CAR on CNOI (HC3). The survivors-only CAAR is a sensitivity row of the
    ``caar_survivorship`` table beside the headline, never a headline itself."""
    tests = result.tests
    headline, survivorship = [], []
    for event, block in tests.groupby("event", sort=False) if "event" in tests else ():
        by_test = block.set_index("test")
        caar = block.loc[block["test"] == "caar", "statistic"]
        caar_value = float(caar.iloc[0]) if len(caar) else None
        n_stopped = (
            int(by_test.loc["n_stopped_in_window", "statistic"])
            if "n_stopped_in_window" in by_test.index
            else None
        )
        for suffix, sample in (
            ("", "all banks trading on day -1 (headline)"),
            ("_survivors_only", "survivors only (sensitivity)"),
        ):
            if f"caar{suffix}" in by_test.index:
                t_row = by_test.loc[f"cross_sectional_t{suffix}"]
                survivorship.append(
                    {
                        "event": event,
                        "sample": sample,
                        "caar": by_test.loc[f"caar{suffix}", "statistic"],
                        "t": t_row["statistic"],
                        "p_value": t_row["p_value"],
                        "n": by_test.loc[f"caar{suffix}", "n"],
                        "n_stopped_in_window": n_stopped if not suffix else 0,
                    }
                )
        for test, name in EVENT_TESTS.items():
            row = block[block["test"] == test]
            if len(row):
                row = row.iloc[0]
                headline.append(
                    _entry(
                        f"{event} CAAR (all banks trading on day -1"
                        + (f"; {n_stopped} stop trading in the window" if n_stopped else "")
                        + ")",
                        caar_value,
                        row["statistic"],
                        name,
                        row["p_value"],
                        row["n"],
                    )
                )
    for row in result.quartile_difference.to_dict("records"):
        if "welch_t" not in row:
            continue
        diff = row.get("diff_q4_q1", row.get("diff"))
        n = (row.get("n_q1") or 0) + (row.get("n_q4") or 0)
        headline.append(
            _entry(
                f"{row['event']} CAR Q4 - Q1 (Welch)",
                diff,
                row["welch_t"],
                "Welch t",
                row["welch_p"],
                n,
            )
        )
        headline.append(
            _entry(
                f"{row['event']} CAR Q4 - Q1 (permutation)",
                diff,
                row["welch_t"],
                "Welch t",
                row["perm_p"],
                n,
            )
        )
    regression = result.cnoi_regression
    slopes = regression[regression["term"] == "cnoi_slope"] if "term" in regression else regression
    for row in _ok(slopes).to_dict("records"):
        headline.append(
            _entry(
                f"{row['event']} CAR on CNOI slope",
                row["coef"],
                row["t"],
                "t (HC3)",
                row["p"],
                row["n"],
            )
        )
    return {
        "tables": {
            "caar_survivorship": pd.DataFrame(survivorship),
            "tests": tests,
            "quartiles": result.quartiles,
            "quartile_difference": result.quartile_difference,
            "car_on_cnoi": regression,
            "bank_counts": result.counts,
        },
        "latex": {"caar_survivorship", "tests", "quartile_difference", "car_on_cnoi"},
        "captions": {
            "caar_survivorship": "CAAR with every bank that traded on day -1 (headline; a bank "
            "that stops trading has ARs through its last price incl. the delisting return, "
            "zero after) and survivors only (sensitivity), cross-sectional t",
            "tests": "CAAR and its tests (cross-sectional t, Patell, BMP, Kolari-Pynnonen, "
            "Corrado, generalised sign)",
            "quartiles": "CAAR by CNOI quartile (Q4 = most opaque)",
            "quartile_difference": "CAR difference Q4 - Q1: Welch t and permutation p",
            "car_on_cnoi": "Cross-sectional regression of CAR on CNOI (HC3)",
            "bank_counts": "Banks included and excluded, by reason",
            "caar_by_cnoi_quartile": "CAAR over event days by CNOI quartile",
        },
        "headline": headline,
        "notes": list(result.notes),
    }


def did_content(result) -> dict:
    """TWFE (two-way clustered, wild bootstrap p) and Callaway-Sant'Anna ATTs, pre-trend Wald."""
    estimates = result.estimates
    headline = []
    for row in _ok(estimates).to_dict("records"):
        n = row.get("n_obs")
        label = f"{row['outcome']}: {row['estimator']}"
        if _value(row.get("coef")) is None:
            continue
        t = row.get("t", row["coef"] / row["se"] if row.get("se") else None)
        headline.append(_entry(label, row["coef"], t, "t", row.get("p"), n))
        if _value(row.get("wild_p")) is not None:
            bound = " (p below 1/(B+1))" if row.get("wild_p_below_bound") in (True,) else ""
            headline.append(
                _entry(
                    label + " (wild cluster bootstrap)" + bound,
                    row["coef"],
                    t,
                    "t",
                    row["wild_p"],
                    n,
                )
            )
    for row in result.pretrends.to_dict("records"):
        if _value(row.get("wald")) is None:
            continue
        headline.append(
            _entry(
                f"{row['outcome']}: pre-trend leads (joint)",
                row["wald"],
                row["wald"],
                "Wald",
                row["p"],
            )
        )
    tables = {
        "estimates": estimates,
        "event_time": result.event_time,
        "pretrends": result.pretrends,
    }
    if len(result.att_gt):
        tables["att_gt"] = result.att_gt
    return {
        "tables": tables,
        "latex": {"estimates", "pretrends"},
        "files_only": {"event_time", "att_gt"},
        "captions": {
            "estimates": "CECL adoption effects: TWFE (two-way clustered SE, wild cluster "
            "bootstrap p) and Callaway-Sant'Anna overall ATT",
            "event_time": "Event-time coefficients (leads and lags) with 95% bands",
            "pretrends": "Joint Wald test of the leads (pre-trends)",
            "att_gt": "Callaway-Sant'Anna ATT(g, t)",
            "did_event_time": "DiD event-time curve with 95% bands",
        },
        "headline": headline,
        "notes": list(result.notes),
    }


def panel_content(result) -> dict:
    table = result.coefficients
    headline = [
        _entry(
            f"next-quarter return on CNOI: {row['estimator']}",
            row["coef"],
            row["t"],
            "t",
            row.get("p"),
            row.get("n_obs"),
        )
        for row in _ok(table[table["term"] == "cnoi"]).to_dict("records")
    ]
    return {
        "tables": {"coefficients": table},
        "latex": {"coefficients"},
        "captions": {
            "coefficients": "Next-quarter return on CNOI and controls: bank and quarter FE "
            "(Driscoll-Kraay) and Fama-MacBeth (Newey-West)",
            "fama_macbeth_slopes": "Fama-MacBeth quarterly CNOI slopes",
        },
        "headline": headline,
        "notes": list(result.notes),
    }


DIMENSIONS = [d.lower() for d in WEIGHTS]


def _scored(scores: pd.DataFrame) -> pd.DataFrame:
    ok = _ok(scores)
    return ok[["cnoi", *DIMENSIONS]].apply(pd.to_numeric, errors="coerce").dropna()


def dimension_shares(scores: pd.DataFrame) -> pd.DataFrame:
    """Each dimension's weighted contribution to mean CNOI (level share, sums to 1)."""
    frame = _scored(scores)
    mean = frame.mean()
    contribution = pd.Series({d: WEIGHTS[d.upper()] * mean[d] for d in DIMENSIONS})
    total = contribution.sum()
    return pd.DataFrame(
        {
            "dimension": [d.upper() for d in DIMENSIONS],
            "weight": [WEIGHTS[d.upper()] for d in DIMENSIONS],
            "mean_score": [mean[d] for d in DIMENSIONS],
            "contribution": contribution.to_numpy(),
            "share": (contribution / total).to_numpy() if total > 0 else np.nan,
        }
    )


def cnoi_content(scores: pd.DataFrame) -> dict:
    """CNOI distribution (histogram, summary) and dimension shares (bar chart, table)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = _scored(scores)
    summary = (
        frame.describe(percentiles=[0.1, 0.25, 0.5, 0.75, 0.9]).T.rename_axis("score").reset_index()
    )
    shares = dimension_shares(scores)

    dist, ax = plt.subplots(figsize=(7, 3.6))
    ax.hist(frame["cnoi"], bins=30, color="steelblue", edgecolor="white")
    ax.axvline(frame["cnoi"].median(), color="black", lw=1, label="median")
    ax.set_xlabel("CNOI (0 = transparent, 100 = opaque)")
    ax.set_ylabel("filings")
    ax.set_title(f"CNOI distribution ({len(frame)} scored filings)")
    ax.legend(fontsize=8)

    bars, ax = plt.subplots(figsize=(7, 3.2))
    ax.bar(shares["dimension"], shares["share"], color="darkorange")
    for x, (share, mean) in enumerate(zip(shares["share"], shares["mean_score"], strict=True)):
        ax.text(x, share, f"{share:.0%}\n(mean {mean:.0f})", ha="center", va="bottom", fontsize=7)
    ax.set_ylabel("share of mean CNOI")
    ax.set_ylim(0, max(0.05, float(np.nanmax(shares["share"]))) * 1.35)
    ax.set_title("CNOI dimension shares (weight x mean dimension score / mean CNOI)")
    return {
        "tables": {"cnoi_summary": summary, "dimension_shares": shares},
        "figures": {"cnoi_distribution": dist, "dimension_shares": bars},
        "captions": {
            "cnoi_summary": "CNOI and dimension scores of scored filings",
            "dimension_shares": "Dimension contributions to mean CNOI",
            "cnoi_distribution": "Distribution of CNOI over scored filings",
        },
    }


def close_figures(content: dict) -> None:
    import matplotlib.pyplot as plt

    for fig in content.get("figures", {}).values():
        plt.close(fig)


def validation_content(table: pd.DataFrame) -> dict:
    """Horse race (HC3) and incremental F headlines; the full validation table."""

    def pick(section, model, term, statistic):
        hit = table[
            (table["section"] == section)
            & (table["model"] == model)
            & (table["term"] == term)
            & (table["statistic"] == statistic)
        ]
        return (float(hit["value"].iloc[0]), hit["n"].iloc[0]) if len(hit) else (None, None)

    headline = []
    for model, term in (("cnoi", "cnoi"), ("cnoi+fog", "cnoi"), ("cnoi+fog", "fog")):
        coef, n = pick("horse_race", model, term, "coef")
        if coef is not None:
            t, _ = pick("horse_race", model, term, "t_hc3")
            p, _ = pick("horse_race", model, term, "p_hc3")
            headline.append(
                _entry(f"next-quarter volatility on {term} ({model})", coef, t, "t (HC3)", p, n)
            )
    for key in ("cnoi|fog", "fog|cnoi"):
        added = key.split("|")[0]
        f, n = pick("incremental_f", key, added, "F")
        if f is not None:
            p, _ = pick("incremental_f", key, added, "p")
            headline.append(
                _entry(f"incremental R2 of {added} given {key.split('|')[1]}", f, f, "F", p, n)
            )
    correlations = (
        table[(table["section"] == "correlation") & (table["statistic"] == "pearson")]
        .pivot(index="model", columns="term", values="value")
        .rename_axis(index="score", columns=None)
        .reset_index()
    )
    race = table[table["section"] == "horse_race"]
    horse_race = pd.DataFrame(columns=["model", "term", "coef", "t_hc3", "p_hc3", "r2"])
    if len(race):
        horse_race = (
            race[race["term"] != "_model"]
            .pivot_table(index=["model", "term"], columns="statistic", values="value", sort=False)
            .reset_index()
        )
        r2 = race[race["term"] == "_model"].set_index("model")["value"]
        horse_race["r2"] = horse_race["model"].map(r2)
    tests = table[table["section"].isin(["incremental_f", "variance_share"])]
    return {
        "tables": {
            "correlations": correlations,
            "horse_race": horse_race,
            "incremental_f_and_variance_shares": tests,
            "validation": table,
        },
        "latex": {"horse_race", "correlations"},
        "files_only": {"validation"},
        "captions": {
            "correlations": "Pearson correlations of CNOI and its dimensions with readability",
            "horse_race": "Next-quarter volatility on CNOI, Fog and both (HC3)",
            "incremental_f_and_variance_shares": "Incremental R2 F-tests and variance "
            "share of each dimension in CNOI",
            "validation": "Opacity validation, every statistic (long form)",
        },
        "headline": headline,
    }
