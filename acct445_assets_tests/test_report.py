"""The research report: rendered from publication records written for small frames, it
holds every figure (embedded) and every headline estimate; headless Chromium loads it."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from acct445_assets.assets.publication import coverage_rows
from acct445_assets.publication.records import PublicationError, headline_row, publish, read_record
from acct445_assets.publication.report import (
    ReportContent,
    format_number,
    load_records,
    render_report,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _figure(title: str, seed: int):
    fig, ax = plt.subplots(figsize=(4, 2.5))
    ax.plot(np.cumsum(np.random.default_rng(seed).standard_normal(30)))
    ax.set_title(title)
    return fig


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.sources.append(attrs.get("src", ""))
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            if value.startswith(("http:", "https:", "//", "file:")):
                self.external.append(value)


@pytest.fixture
def published(tmp_path: Path) -> dict:
    """Records of three assets written by ``publish`` from small frames."""
    stats = pd.DataFrame(
        {
            "portfolio": ["01", "02", "spread"],
            "frequency": "quarterly",
            "mean": [0.021, 0.013, 0.008],
            "nw_t": [2.4, 1.1, 2.05],
            "n": [24, 24, 24],
        }
    )
    tests = pd.DataFrame(
        {
            "event": "2023-03-10",
            "test": ["caar", "patell", "bmp"],
            "statistic": [-0.061, -5.2, -3.9],
            "p_value": [np.nan, 1.9e-7, 9.1e-5],
            "n": [58, 58, 58],
        }
    )
    did = pd.DataFrame(
        {
            "outcome": ["volatility"],
            "estimator": ["twfe"],
            "coef": [0.0031],
            "t": [2.9],
            "p": [0.004],
            "n_treated_clusters": [35],
            "n_control_clusters": [25],
        }
    )
    publish(
        "decile_returns",
        tables={"decile_stats": stats},
        latex={"decile_stats"},
        figures={"cumulative_decile_returns": _figure("cumulative", 1)},
        parameters={"cost_bps": 10.0, "rebalance": "quarterly"},
        headline=headline_row(
            stats, "spread mean return", "mean", "nw_t", where={"portfolio": "spread"}, n="n"
        ),
        directory=tmp_path,
    )
    publish(
        "event_study_cars",
        tables={"tests": tests},
        latex={"tests"},
        figures={"caar_by_cnoi_quartile": _figure("caar", 2)},
        parameters={"window": [-1, 5], "events": ["2023-03-10"]},
        captions={"tests": "CAAR tests"},
        headline=headline_row(
            tests,
            "Patell Z",
            "statistic",
            "statistic",
            where={"test": "patell"},
            statistic_name="Z",
            p_value="p_value",
        ),
        notes=["2 banks excluded: no CNOI before day -1"],
        directory=tmp_path,
    )
    publish(
        "did_estimates",
        tables={"estimates": did, "att_gt": pd.DataFrame({"cohort": ["2020Q1"] * 70, "att": 0.1})},
        files_only={"att_gt"},
        figures={"event_time_curve": _figure("did", 3), "cohorts": _figure("cohorts", 4)},
        parameters={"leads_lags": 8},
        headline=headline_row(did, "TWFE volatility", "coef", "t", p_value="p"),
        directory=tmp_path,
    )
    return {"dir": tmp_path, "stats": stats, "tests": tests, "did": did}


def _content(published: dict) -> tuple[ReportContent, list[str]]:
    records, missing = load_records(results_dir=published["dir"])
    coverage = coverage_rows(
        "sample",
        {
            "cnoi_scores": pd.DataFrame(
                {
                    "cik": ["1", "1", "2", "3"],
                    "filing_date": pd.to_datetime(
                        ["2020-02-10", "2020-05-10", "2020-02-11", "2021-03-01"]
                    ),
                    "status": ["ok", "ok", "ok", "failed"],
                }
            ),
            "did_estimates": published["did"].assign(kind="estimate", status="ok"),
        },
    )
    content = ReportContent(
        records=records,
        results_dir=published["dir"],
        coverage=coverage,
        vintages=[
            {
                "asset": "raw/ff_factors_daily",
                "source": "sample",
                "vintage": "202510 CRSP",
                "date_range": "2018-01-02 .. 2025-12-31",
                "materialized": "2026-01-01 00:00 UTC",
            }
        ],
        parameters={"event_study": {"window": [-1, 5]}, "portfolios": {"n_groups": 10}},
        run={"run_id": "abc123", "source": "sample"},
    )
    return content, missing


def test_report_embeds_every_published_figure_and_nothing_external(published):
    content, missing = _content(published)
    html = render_report(content, missing)
    parser = _Images()
    parser.feed(html)
    figures = sorted((published["dir"]).rglob("*.png"))
    assert len(figures) == 4
    embedded = {base64.b64decode(src.split(",", 1)[1]) for src in parser.sources}
    assert embedded == {path.read_bytes() for path in figures}
    assert all(src.startswith("data:image/png;base64,") for src in parser.sources)
    assert parser.external == []
    assert "<link" not in html


def test_report_holds_every_headline_estimate_with_its_statistic(published):
    content, missing = _content(published)
    html = render_report(content, missing)
    headline = re.search(r'<table id="headline-table">(.*?)</table>', html, re.S).group(1)
    rows = dict(re.findall(r'<tr data-headline="([^"]+)">(.*?)</tr>', headline, re.S))
    assert set(rows) == {"spread mean return", "Patell Z", "TWFE volatility"}
    spread = published["stats"].set_index("portfolio").loc["spread"]
    assert format_number(float(spread["mean"])) in rows["spread mean return"]
    assert format_number(float(spread["nw_t"])) in rows["spread mean return"]
    patell = published["tests"].set_index("test").loc["patell"]
    assert format_number(float(patell["statistic"])) in rows["Patell Z"]
    assert format_number(float(patell["p_value"])) in rows["Patell Z"]
    assert "<td>Z</td>" in rows["Patell Z"]
    assert format_number(0.004) in rows["TWFE volatility"]


def test_report_lists_tables_coverage_parameters_and_missing_sections(published):
    content, missing = _content(published)
    html = render_report(content, missing)
    # Every table's CSV path, and its LaTeX twin where written.
    for record in content.records.values():
        for table in record["tables"]:
            assert table["csv"] in html
            if table["tex"]:
                assert table["tex"] in html
                assert (published["dir"] / table["tex"]).read_text().startswith("\\begin{tabular}")
    assert "CAAR tests" in html
    # A detail table is named with its file and size, not printed.
    assert re.search(r"att gt <code>did/att_gt.csv</code> \(70 rows\)", html)
    assert "2020Q1" not in html
    assert "2 banks excluded: no CNOI before day -1" in html
    coverage = re.search(r'<table class="kv" id="coverage-table">(.*?)</table>', html, re.S).group(
        1
    )
    assert re.search(r"filings scored \(status ok\)</td><td>3</td>", coverage)
    assert re.search(r"banks with a CNOI score</td><td>2</td>", coverage)
    assert "2020-02-10 .. 2020-05-10" in coverage
    assert re.search(r"DiD treated clusters</td><td>35</td>", coverage)
    assert "202510 CRSP" in html
    assert "leads_lags" in html and "n_groups: 10" in html
    assert "panel_regression" in html.split('class="warning"')[1].split("</p>")[0]
    assert set(missing) == {
        "cnoi_scores",
        "opacity_validation",
        "decile_portfolios",
        "factor_alphas",
        "panel_regression",
    }


def test_record_lists_files_and_rejects_bad_names(published, tmp_path):
    record = read_record("event_study_cars", published["dir"])
    assert [t["name"] for t in record["tables"]] == ["tests"]
    assert record["parameters"] == {"window": [-1, 5], "events": ["2023-03-10"]}
    assert read_record("panel_regression", published["dir"]) is None
    with pytest.raises(PublicationError, match="unknown asset"):
        publish("not_an_asset", tables={}, directory=tmp_path)
    with pytest.raises(PublicationError, match="latex requested"):
        publish("did_estimates", tables={}, latex={"estimates"}, directory=tmp_path)
    with pytest.raises(PublicationError, match="lacks"):
        publish("did_estimates", headline=[{"label": "x", "estimate": 1.0}], directory=tmp_path)


def test_missing_file_named_in_error(published):
    (published["dir"] / "did" / "event_time_curve.png").unlink()
    content, missing = _content(published)
    with pytest.raises(PublicationError, match="event_time_curve.png"):
        render_report(content, missing)


def _chromium_dom(html_path: Path, profile: Path) -> str:
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            html_path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _loaded(dom: str) -> tuple[int, int]:
    body = re.search(r"<body[^>]*>", dom).group(0)
    total = re.search(r'data-figures-total="(\d+)"', body)
    loaded = re.search(r'data-figures-loaded="(\d+)"', body)
    assert total and loaded, body
    return int(loaded.group(1)), int(total.group(1))


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/system-deps.sh)")
def test_headless_chromium_loads_every_figure(published, tmp_path):
    content, missing = _content(published)
    report = tmp_path / "report.html"
    report.write_text(render_report(content, missing))
    loaded, total = _loaded(_chromium_dom(report, tmp_path / "profile"))
    assert (loaded, total) == (4, 4)

    # The same check on a figure that does not decode: the browser counts it as not loaded.
    broken = published["dir"] / "did" / "cohorts.png"
    broken.write_bytes(broken.read_bytes()[:40])
    report.write_text(render_report(_content(published)[0], missing))
    assert _loaded(_chromium_dom(report, tmp_path / "profile2")) == (3, 4)


def test_research_report_asset_writes_report_with_coverage_and_vintages(tmp_path, monkeypatch):
    """The asset itself, on stand-in upstream assets: inputs give the coverage, the raw
    assets' materialization metadata the vintages, publication records the content."""
    from dagster import DagsterInstance, Output, asset, materialize

    from acct445_assets.assets.publication import RESEARCH_INPUTS, research_report

    results = tmp_path / "results"
    monkeypatch.setenv("ACCT445_RESULTS_DIR", str(results))
    scores = pd.DataFrame(
        {
            "cik": ["0000000001", "0000000002"],
            "filing_date": pd.to_datetime(["2021-02-01", "2021-05-03"]),
            "status": ["ok", "ok"],
            "rubric_version": "cnoi-1",
        }
    )

    def stand_in(name, key):
        @asset(key=key)
        def _stub():
            if name == "cnoi_scores":
                publish(
                    "cnoi_scores",
                    tables={"cnoi_summary": scores},
                    figures={"cnoi_distribution": _figure("cnoi", 5)},
                )
                return scores
            return pd.DataFrame({"status": ["ok"]})

        return _stub

    @asset(key=["raw", "ff_factors_daily"])
    def factors():
        return Output(
            pd.DataFrame({"x": [1]}),
            metadata={"source": "files", "vintage": "202509 CRSP", "date_range": "a .. b"},
        )

    stubs = [stand_in(name, key) for name, key in RESEARCH_INPUTS.items()]
    instance = DagsterInstance.ephemeral()
    assert materialize([factors, *stubs], instance=instance, resources={}).success
    result = materialize(
        [research_report, *stubs], instance=instance, selection=[research_report.key]
    )
    assert result.success
    html = (results / "report.html").read_text()
    assert "202509 CRSP" in html and "files" in html
    assert re.search(r"filings scored \(status ok\)</td><td>2</td>", html)
    assert html.count('<img src="data:image/png;base64,') == 1
    meta = result.asset_materializations_for_node("publication__research_report")[0].metadata
    assert meta["figures"].value == 1
    assert "decile_returns" in meta["missing_sections"].value
