"""A local HTTP server on 127.0.0.1 that answers like the live endpoints, from recorded bodies.

Routes map a path (without the query) to a list of answers served in turn, the last one
repeating; every request is logged with its query so tests can count fetches.
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd

FIXTURES = Path(__file__).parent / "fixtures"
RATE_THRESHOLD_403 = (
    403,
    {"Content-Type": "text/html"},
    b"<html><body><h1>Your Request Originates from an Undeclared Automated Tool</h1>"
    b"<p>Request Rate Threshold Exceeded</p></body></html>",
)
TOO_MANY_429 = (429, {"Retry-After": "0", "Content-Type": "text/plain"}, b"Too Many Requests")


@dataclass
class Recorded:
    routes: dict[str, list[tuple[int, dict, bytes]]] = field(default_factory=dict)
    hits: list[tuple[str, dict]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, path: str, *answers) -> None:
        self.routes[path] = [self._answer(a) for a in answers]

    @staticmethod
    def _answer(a) -> tuple[int, dict, bytes]:
        if isinstance(a, tuple):
            return a
        if isinstance(a, bytes):
            return (200, {"Content-Type": "application/octet-stream"}, a)
        if isinstance(a, str):
            return (200, {"Content-Type": "text/html"}, a.encode())
        return (200, {"Content-Type": "application/json"}, json.dumps(a).encode())

    def count(self, path: str) -> int:
        return sum(1 for p, _ in self.hits if p == path)

    def next_answer(self, path: str, query: dict):
        with self.lock:
            self.hits.append((path, query))
            answers = self.routes.get(path)
            if not answers:
                return None
            return answers.pop(0) if len(answers) > 1 else answers[0]


def serve(recorded: Recorded):
    """Start a threaded server for `recorded`; returns (server, base_url)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            parts = urlsplit(self.path)
            answer = recorded.next_answer(parts.path, parse_qs(parts.query))
            if answer is None:
                status, headers, body = 404, {"Content-Type": "text/plain"}, b"not found"
                if "/v8/finance/chart/" in parts.path:
                    headers = {"Content-Type": "application/json"}
                    body = json.dumps(
                        {
                            "chart": {
                                "result": None,
                                "error": {
                                    "code": "Not Found",
                                    "description": "No data found, symbol may be delisted",
                                },
                            }
                        }
                    ).encode()
            else:
                status, headers, body = answer
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


# ---------------------------------------------------------------- real formats


def chart_json(
    ticker: str,
    dates,
    close,
    adj_close=None,
    volume=None,
    dividends: dict | None = None,
    splits: dict | None = None,
) -> dict:
    """A v8 finance/chart answer: timestamps at 09:30 New York, events keyed by timestamp."""
    stamps = [
        int(pd.Timestamp(d).tz_localize("America/New_York").replace(hour=9, minute=30).timestamp())
        for d in pd.to_datetime(list(dates))
    ]
    by_date = dict(zip(pd.to_datetime(list(dates)), stamps, strict=True))

    def stamp(day):
        return by_date[pd.Timestamp(day)]

    def nums(values):
        return [None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in values]

    events = {}
    if dividends:
        events["dividends"] = {
            str(stamp(d)): {"amount": a, "date": stamp(d)} for d, a in dividends.items()
        }
    if splits:
        events["splits"] = {
            str(stamp(d)): {
                "date": stamp(d),
                "numerator": float(n),
                "denominator": float(m),
                "splitRatio": f"{n}:{m}",
            }
            for d, (n, m) in splits.items()
        }
    close = nums(list(close))
    return {
        "chart": {
            "result": [
                {
                    "meta": {
                        "currency": "USD",
                        "symbol": ticker,
                        "exchangeName": "NYQ",
                        "instrumentType": "EQUITY",
                        "gmtoffset": -18000,
                        "timezone": "EST",
                        "exchangeTimezoneName": "America/New_York",
                        "dataGranularity": "1d",
                    },
                    "timestamp": stamps,
                    "events": events,
                    "indicators": {
                        "quote": [
                            {
                                "open": close,
                                "high": close,
                                "low": close,
                                "close": close,
                                "volume": nums(list(volume))
                                if volume is not None
                                else [1000] * len(stamps),
                            }
                        ],
                        "adjclose": [
                            {"adjclose": nums(list(adj_close if adj_close is not None else close))}
                        ],
                    },
                }
            ],
            "error": None,
        }
    }


def ken_french_zip(name: str, text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{name}.CSV", text.replace("\n", "\r\n"))
    return buf.getvalue()


def daily_zip(dataset: str) -> bytes:
    return (FIXTURES / "kenfrench_full" / f"{dataset}_CSV.zip").read_bytes()


def _daily_frame(dataset: str) -> tuple[pd.DataFrame, list[str]]:
    with zipfile.ZipFile(io.BytesIO(daily_zip(dataset))) as zf:
        text = zf.read(zf.namelist()[0]).decode("latin-1")
    lines = text.replace("\r\n", "\n").split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(",") and line.strip(", "))
    header = [c.strip() for c in lines[at].split(",")[1:]]
    rows = [line.split(",") for line in lines[at + 1 :] if line[:8].isdigit()]
    frame = pd.DataFrame(
        [[float(x) for x in r[1:]] for r in rows],
        index=pd.to_datetime([r[0] for r in rows], format="%Y%m%d"),
        columns=header,
    )
    return frame, lines[:at]


def monthly_text(daily_dataset: str) -> str:
    """A monthly file in the published layout (monthly section, then 'Annual Factors'),
    compounded from the real daily file."""
    daily, preamble = _daily_frame(daily_dataset)
    monthly = ((1 + daily / 100).groupby(daily.index.to_period("M")).prod() - 1) * 100
    annual = ((1 + daily / 100).groupby(daily.index.year).prod() - 1) * 100
    header = "," + ",".join(f"{c:>8}" for c in daily.columns)
    out = [*preamble, header]
    out += [
        f"{p.strftime('%Y%m')}," + ",".join(f"{v:8.2f}" for v in r) for p, r in monthly.iterrows()
    ]
    out += ["", " Annual Factors: January-December ", header]
    out += [f"{y}," + ",".join(f"{v:8.2f}" for v in r) for y, r in annual.iterrows()]
    out += ["", "Copyright 2026 Eugene F. Fama and Kenneth R. French", ""]
    return "\n".join(out)


def add_ken_french(recorded: Recorded, prefix: str = "/kf") -> None:
    for dataset in ("F-F_Research_Data_5_Factors_2x3_daily", "F-F_Momentum_Factor_daily"):
        recorded.add(f"{prefix}/{dataset}_CSV.zip", daily_zip(dataset))
        monthly = dataset.removesuffix("_daily")
        recorded.add(f"{prefix}/{monthly}_CSV.zip", ken_french_zip(monthly, monthly_text(dataset)))


def company_tickers(rows: list[tuple[int, str, str]]) -> dict:
    return {
        str(i): {"cik_str": cik, "ticker": ticker, "title": title}
        for i, (cik, ticker, title) in enumerate(rows)
    }


def submissions_block(filings: pd.DataFrame) -> dict:
    return {
        "accessionNumber": filings["accession"].tolist(),
        "filingDate": [d.strftime("%Y-%m-%d") for d in pd.to_datetime(filings["filing_date"])],
        "reportDate": [
            d.strftime("%Y-%m-%d") if pd.notna(d) else ""
            for d in pd.to_datetime(filings["report_date"])
        ],
        "form": filings["form"].tolist(),
        "primaryDocument": filings["primary_document"].tolist(),
        "isXBRL": [1] * len(filings),
    }


def submissions_json(cik: int, name: str, sic: str, recent: pd.DataFrame, pages: list[dict]):
    return {
        "cik": str(cik),
        "entityType": "operating",
        "sic": sic,
        "sicDescription": "State Commercial Banks",
        "name": name,
        "tickers": [],
        "exchanges": [],
        "category": "Large accelerated filer",
        "filings": {"recent": submissions_block(recent), "files": pages},
    }


def concept_json(cik: int, name: str, values: list[dict]) -> dict:
    return {
        "cik": cik,
        "taxonomy": "dei",
        "tag": "EntityCommonStockSharesOutstanding",
        "label": "Entity Common Stock, Shares Outstanding",
        "entityName": name,
        "units": {"shares": values},
    }


def filing_index_html(accession: str, documents: list[tuple[str, str, str]]) -> str:
    """An EDGAR `-index.htm` page: rows of (description, document, type)."""
    folder = accession.replace("-", "")
    rows = "".join(
        f'<tr><td scope="row">{i}</td><td scope="row">{desc}</td>'
        f'<td scope="row"><a href="/Archives/edgar/data/1/{folder}/{doc}">{doc}</a></td>'
        f'<td scope="row">{kind}</td><td scope="row">1000</td></tr>'
        for i, (desc, doc, kind) in enumerate(documents, 1)
    )
    return (
        '<html><body><table class="tableFile" summary="Document Format Files">'
        '<tr><th scope="col">Seq</th><th scope="col">Description</th><th scope="col">Document</th>'
        f'<th scope="col">Type</th><th scope="col">Size</th></tr>{rows}</table></body></html>'
    )


def cover_page(small_business: bool | None, category: str | None) -> str:
    parts = ['<div style="display:none"><ix:header><ix:hidden>']
    if category:
        parts.append(
            f'<ix:nonNumeric name="dei:EntityFilerCategory" contextRef="c0">{category}</ix:nonNumeric>'
        )
    if small_business is not None:
        parts.append(
            '<ix:nonNumeric name="dei:EntitySmallBusiness" contextRef="c0">'
            f"{str(small_business).lower()}</ix:nonNumeric>"
        )
    parts.append("</ix:hidden></ix:header></div>")
    return "".join(parts)
