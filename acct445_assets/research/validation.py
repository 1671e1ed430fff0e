"""Opacity validation (METHODS.md section 8).

1. Correlations of CNOI and each dimension with the note's readability metrics.
2. Horse race: next-quarter volatility on CNOI, on Fog, and on both (OLS, HC3), with
   incremental-R^2 F-tests for adding each measure to the other.
3. Variance share of each weighted dimension in CNOI: cov(w_k X_k, CNOI) / var(CNOI),
   which sums to one because CNOI is the weighted sum.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..calendar import add_trading_days
from ..cnoi.rubric import WEIGHTS
from .stats import f_sf

READABILITY = ["fog", "fk_grade", "flesch", "smog", "words", "sentences"]
SCORES = ["cnoi", "d", "g", "r", "j", "t", "s", "x"]


@dataclass
class ValidationResult:
    table: pd.DataFrame  # section, model, term, statistic, value, n
    summary: dict = field(default_factory=dict)

    def markdown(self) -> str:
        """Horse-race table: one row per model and regressor, HC3 t-statistics, model R^2."""
        t = self.table[self.table["section"] == "horse_race"]
        if t.empty:
            return "_no horse race (too few observations)_"
        lines = ["| model | term | coef | t (HC3) | R2 |", "|---|---|---|---|---|"]
        for model in t["model"].unique():
            m = t[t["model"] == model]
            r2 = m.loc[m["statistic"] == "r2", "value"].iloc[0]
            for term in [x for x in m["term"].unique() if x not in ("const", "_model")]:
                coef = m.loc[(m["term"] == term) & (m["statistic"] == "coef"), "value"].iloc[0]
                tval = m.loc[(m["term"] == term) & (m["statistic"] == "t_hc3"), "value"].iloc[0]
                lines.append(f"| {model} | {term} | {coef:.6g} | {tval:.3f} | {r2:.4f} |")
        return "\n".join(lines)


def correlations(scores: pd.DataFrame) -> pd.DataFrame:
    # Imported here: scipy.stats and statsmodels cost every process that loads the code
    # location 2 s, and only the validation asset uses them.
    from scipy import stats

    rows = []
    ok = scores[scores.get("status", "ok") == "ok"] if "status" in scores else scores
    for s in SCORES:
        for m in READABILITY:
            pair = ok[[s, m]].apply(pd.to_numeric, errors="coerce").dropna()
            n = len(pair)
            if n < 3 or pair[s].std() == 0 or pair[m].std() == 0:
                rows.append(("correlation", s, m, "pearson", np.nan, n))
                continue
            r, p = stats.pearsonr(pair[s], pair[m])
            rho = stats.spearmanr(pair[s], pair[m]).statistic
            rows += [
                ("correlation", s, m, "pearson", float(r), n),
                ("correlation", s, m, "pearson_p", float(p), n),
                ("correlation", s, m, "spearman", float(rho), n),
            ]
    return pd.DataFrame(rows, columns=["section", "model", "term", "statistic", "value", "n"])


def next_quarter_sample(
    scores: pd.DataFrame, panel: pd.DataFrame, lag_days: int = 2
) -> pd.DataFrame:
    """Bank-quarters with the CNOI in force, its note's Fog, and next quarter's volatility.

    Without the panel's accession link a score is matched by the date it is known,
    filing_date + ``lag_days`` trading days (METHODS section 0), not by its filing date."""
    p = panel.copy()
    p["cik"] = p["cik"].astype(str).str.zfill(10)
    # Parse each distinct quarter label once (200,000 bank-quarters, 40 labels at scale).
    codes, labels = pd.factorize(p["quarter"].astype(str))
    quarters = pd.PeriodIndex(labels, freq="Q")
    p["_q"] = (quarters.year * 4 + quarters.quarter).to_numpy()[codes]
    p = p.sort_values(["cik", "_q"])
    nxt = p.groupby("cik")[["_q", "volatility"]].shift(-1)
    consecutive = (nxt["_q"] - p["_q"]) == 1
    p["vol_next"] = nxt["volatility"].where(consecutive)
    s = scores.copy()
    if "status" in s:
        s = s[s["status"] == "ok"]
    s["cik"] = s["cik"].astype(str).str.zfill(10)
    if "cnoi_accession" in p.columns and p["cnoi_accession"].notna().any():
        fog = s.drop_duplicates("accession").set_index("accession")["fog"]
        p["fog"] = p["cnoi_accession"].map(fog)
    else:
        # Without the accession link: the latest score known by the quarter end.
        s["known_date"] = add_trading_days(s["filing_date"], lag_days)
        s = s.sort_values("known_date")
        p["quarter_end"] = pd.to_datetime(p["quarter_end"])
        p = pd.merge_asof(
            p.sort_values("quarter_end"),
            s[["cik", "known_date", "fog", "cnoi"]].rename(columns={"cnoi": "cnoi_filed"}),
            left_on="quarter_end",
            right_on="known_date",
            by="cik",
        )
        if "cnoi" not in p.columns or p["cnoi"].isna().all():
            p["cnoi"] = p["cnoi_filed"]
    out = p[["cik", "quarter", "cnoi", "fog", "vol_next"]].apply(
        lambda c: pd.to_numeric(c, errors="coerce") if c.name in ("cnoi", "fog", "vol_next") else c
    )
    return out.dropna().reset_index(drop=True)


def _ols_hc3(y: pd.Series, x: pd.DataFrame):
    import statsmodels.api as sm  # see correlations

    return sm.OLS(y.to_numpy(float), sm.add_constant(x.to_numpy(float), has_constant="add")).fit(
        cov_type="HC3"
    )


def incremental_f(
    r2_full: float, r2_restricted: float, n: int, k_full: int, q: int
) -> tuple[float, float]:
    """F for q added regressors; k_full counts slopes in the full model (constant excluded)."""
    dof = n - k_full - 1
    if dof <= 0 or r2_full >= 1:
        return np.nan, np.nan
    f = ((r2_full - r2_restricted) / q) / ((1 - r2_full) / dof)
    return float(f), float(f_sf(f, q, dof))


def horse_race(sample: pd.DataFrame) -> pd.DataFrame:
    rows = []
    n = len(sample)
    if n < 10:
        return pd.DataFrame(rows, columns=["section", "model", "term", "statistic", "value", "n"])
    y = sample["vol_next"]
    fits = {}
    for name, cols in (("cnoi", ["cnoi"]), ("fog", ["fog"]), ("cnoi+fog", ["cnoi", "fog"])):
        res = _ols_hc3(y, sample[cols])
        fits[name] = res
        for i, term in enumerate(["const", *cols]):
            rows += [
                ("horse_race", name, term, "coef", float(res.params[i]), n),
                ("horse_race", name, term, "se_hc3", float(res.bse[i]), n),
                ("horse_race", name, term, "t_hc3", float(res.tvalues[i]), n),
                ("horse_race", name, term, "p_hc3", float(res.pvalues[i]), n),
            ]
        rows.append(("horse_race", name, "_model", "r2", float(res.rsquared), n))
    for added, base in (("fog", "cnoi"), ("cnoi", "fog")):
        f, p = incremental_f(fits["cnoi+fog"].rsquared, fits[base].rsquared, n, 2, 1)
        delta = fits["cnoi+fog"].rsquared - fits[base].rsquared
        rows += [
            ("incremental_f", f"{added}|{base}", added, "delta_r2", float(delta), n),
            ("incremental_f", f"{added}|{base}", added, "F", f, n),
            ("incremental_f", f"{added}|{base}", added, "p", p, n),
        ]
    return pd.DataFrame(rows, columns=["section", "model", "term", "statistic", "value", "n"])


def variance_shares(scores: pd.DataFrame) -> pd.DataFrame:
    ok = scores[scores["status"] == "ok"] if "status" in scores else scores
    frame = ok[SCORES].apply(pd.to_numeric, errors="coerce").dropna()
    rows = []
    n = len(frame)
    total = frame["cnoi"].var()
    for dim, w in WEIGHTS.items():
        col = dim.lower()
        share = (
            float(np.cov(w * frame[col], frame["cnoi"])[0, 1] / total)
            if n > 1 and total > 0
            else np.nan
        )
        rows.append(("variance_share", "cnoi", col, "share", share, n))
    return pd.DataFrame(rows, columns=["section", "model", "term", "statistic", "value", "n"])


def opacity_validation(
    cnoi_scores: pd.DataFrame, bank_quarter_panel: pd.DataFrame
) -> ValidationResult:
    readable = [
        m
        for m in READABILITY
        if m in cnoi_scores.columns and pd.to_numeric(cnoi_scores[m], errors="coerce").notna().any()
    ]
    if not readable:
        # Scores imported from a CSV carry no note text: readability cannot be measured, and
        # a table of n = 0 correlations would read like a finding.
        reason = (
            "no note text: the CNOI scores carry no readability metrics (e.g. imported from"
            " cnoi_scores.csv), so correlations with readability and the Fog horse race"
            " cannot be computed"
        )
        status = pd.DataFrame(
            [("status", "readability", "all", "not_estimable", np.nan, 0)],
            columns=["section", "model", "term", "statistic", "value", "n"],
        ).assign(reason=reason)
        table = pd.concat([status, variance_shares(cnoi_scores)], ignore_index=True)
        summary = {"n_notes_with_text": 0, "n_horse_race": 0}
        return ValidationResult(table=table, summary=summary)
    sample = next_quarter_sample(cnoi_scores, bank_quarter_panel)
    table = pd.concat(
        [correlations(cnoi_scores), horse_race(sample), variance_shares(cnoi_scores)],
        ignore_index=True,
    )

    def pick(section, model, term, stat):
        hit = table[
            (table.section == section)
            & (table.model == model)
            & (table.term == term)
            & (table.statistic == stat)
        ]
        return None if hit.empty else float(hit["value"].iloc[0])

    summary = {
        "n_notes": int(
            len(cnoi_scores[cnoi_scores["status"] == "ok"])
            if "status" in cnoi_scores
            else len(cnoi_scores)
        ),
        "n_horse_race": int(len(sample)),
        "corr_cnoi_fog": pick("correlation", "cnoi", "fog", "pearson"),
        "corr_cnoi_fk_grade": pick("correlation", "cnoi", "fk_grade", "pearson"),
        "horse_race_t_cnoi_both": pick("horse_race", "cnoi+fog", "cnoi", "t_hc3"),
        "horse_race_t_fog_both": pick("horse_race", "cnoi+fog", "fog", "t_hc3"),
        "incremental_f_cnoi_given_fog": pick("incremental_f", "cnoi|fog", "cnoi", "F"),
        "incremental_p_cnoi_given_fog": pick("incremental_f", "cnoi|fog", "cnoi", "p"),
        "incremental_f_fog_given_cnoi": pick("incremental_f", "fog|cnoi", "fog", "F"),
        "incremental_p_fog_given_cnoi": pick("incremental_f", "fog|cnoi", "fog", "p"),
    }
    return ValidationResult(table=table, summary=summary)
