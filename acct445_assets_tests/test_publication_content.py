"""What the research assets put in the report's headline table (issue 18, items 2 and 13)."""

import numpy as np
import pandas as pd

from acct445_assets.publication.content import (
    alphas_content,
    event_study_content,
    portfolio_returns_content,
)
from acct445_assets.research.event_study import event_study, returns_from_prices
from acct445_assets_tests.research_inputs import sample_inputs


def test_svb_headline_keeps_failed_banks_and_survivors_only_is_a_sensitivity_row():
    data = sample_inputs()
    market = returns_from_prices(data["benchmarks"], "SPY")
    res = event_study(
        data["returns"], ["2023-03-10"], market=market, cnoi=data["cnoi"], n_permutations=50
    )
    content = event_study_content(res)
    tests = res.tests.set_index("test")
    caar_rows = [h for h in content["headline"] if "CAAR" in h["label"] and "Q4" not in h["label"]]
    assert caar_rows and all("all banks trading on day -1" in h["label"] for h in caar_rows)
    assert all("2 stop trading" in h["label"] for h in caar_rows)
    assert all(h["estimate"] == tests.loc["caar", "statistic"] for h in caar_rows)
    assert not any("survivor" in h["label"] for h in content["headline"])
    table = content["tables"]["caar_survivorship"].set_index("sample")
    assert list(table.index) == [
        "all banks trading on day -1 (headline)",
        "survivors only (sensitivity)",
    ]
    assert table["caar"].iloc[1] == tests.loc["caar_survivors_only", "statistic"]
    assert table["n"].iloc[0] - table["n"].iloc[1] == 2


def test_not_estimable_alphas_and_t_never_reach_the_headline():
    alphas = pd.DataFrame(
        {
            "portfolio": ["spread"] * 3,
            "frequency": ["quarterly", "quarterly", "daily"],
            "model_label": ["CAPM", "FF5+MOM", "FF5+MOM"],
            "alpha": [0.01, np.nan, 0.0002],
            "alpha_annual": [0.04, np.nan, 0.05],
            "alpha_t": [2.1, np.nan, 1.5],
            "r2": [0.1, np.nan, 0.2],
            "n": [40, 11, 2000],
            "status": ["ok", "not estimable: N = 11 < k + 20 = 27 (7 parameters)", "ok"],
        }
    )
    headline = alphas_content(alphas, "quarterly")["headline"]
    assert [h["label"] for h in headline] == ["spread alpha, CAPM, quarterly"]
    table = alphas_content(alphas, "quarterly")["tables"]["spread_alphas"]
    assert table["status"].str.startswith("not estimable").sum() == 1  # shown, with its reason
    summary = pd.DataFrame(
        {
            "portfolio": ["spread", "spread"],
            "frequency": ["quarterly", "daily"],
            "mean": [0.02, 0.0001],
            "nw_t": [np.nan, 1.2],
            "mean_net": [0.019, 0.0001],
            "nw_t_net": [np.nan, 1.1],
            "n": [11, 2000],
            "status": ["NW t not estimable: N = 11 < 1 + 20 observations", "ok"],
        }
    )
    assert portfolio_returns_content(summary, "quarterly")["headline"] == []
    assert len(portfolio_returns_content(summary, "daily")["headline"]) == 2
