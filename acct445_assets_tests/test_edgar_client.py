import json
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from acct445_assets.sources.live.edgar import (
    EdgarClient,
    EdgarConfigError,
    EdgarError,
    EdgarNotFound,
    FileTokenBucket,
)

UA = "ACCT445 Test Suite test@example.edu"
SUBMISSIONS = {
    "cik": "1",
    "name": "FIRST TEST BANCORP",
    "filings": {
        "recent": {
            "accessionNumber": ["0000000001-24-000002", "0000000001-24-000001"],
            "form": ["10-Q", "8-K"],
            "filingDate": ["2024-05-08", "2024-04-20"],
            "reportDate": ["2024-03-31", ""],
            "primaryDocument": ["ftb-20240331.htm", "ftb8k.htm"],
        },
        "files": [{"name": "CIK0000000001-submissions-001.json", "filingCount": 1}],
    },
}
OLDER = {
    "accessionNumber": ["0000000001-20-000005"],
    "form": ["10-K"],
    "filingDate": ["2020-03-02"],
    "reportDate": ["2019-12-31"],
    "primaryDocument": ["ftb-10k2019.htm"],
}
CONCEPT = {
    "taxonomy": "dei",
    "tag": "EntityCommonStockSharesOutstanding",
    "units": {
        "shares": [
            {
                "end": "2024-04-30",
                "val": 41000000,
                "accn": "0000000001-24-000002",
                "form": "10-Q",
                "filed": "2024-05-08",
            },
            {
                "end": "2020-02-15",
                "val": 39500000,
                "accn": "0000000001-20-000005",
                "form": "10-K",
                "filed": "2020-03-02",
            },
        ]
    },
}


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.hits = defaultdict(int)
        self.times = []
        self.agents = []


@pytest.fixture
def server():
    rec = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def send(self, status, body, ctype="application/json", headers=None):
            data = body if isinstance(body, bytes) else body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            with rec.lock:
                rec.hits[self.path] += 1
                n = rec.hits[self.path]
                rec.times.append(time.monotonic())
                rec.agents.append(self.headers.get("User-Agent"))
            p = self.path
            if p == "/files/company_tickers.json":
                self.send(
                    200,
                    json.dumps(
                        {"0": {"cik_str": 1, "ticker": "ftb", "title": "FIRST TEST BANCORP"}}
                    ),
                )
            elif p == "/submissions/CIK0000000001.json":
                self.send(200, json.dumps(SUBMISSIONS))
            elif p == "/submissions/CIK0000000001-submissions-001.json":
                self.send(200, json.dumps(OLDER))
            elif (
                p
                == "/api/xbrl/companyconcept/CIK0000000001/dei/EntityCommonStockSharesOutstanding.json"
            ):
                self.send(200, json.dumps(CONCEPT))
            elif p == "/rate-limited":
                if n == 1:
                    self.send(429, "slow down", "text/plain", {"Retry-After": "1"})
                else:
                    self.send(200, '{"ok": true}')
            elif p == "/flaky":
                self.send(500 if n <= 2 else 200, '{"ok": true}' if n > 2 else "oops")
            elif p == "/down":
                self.send(503, "maintenance", "text/plain")
            elif p == "/slow":
                if n == 1:
                    time.sleep(1.5)
                self.send(200, '{"ok": "eventually"}')
            elif p == "/truncated":
                self.send(200, '{"ok": tr' if n == 1 else '{"ok": true}')
            elif p == "/garbage":
                self.send(200, "<html>not json</html>", "text/html")
            elif p.startswith("/Archives/edgar/data/1/000000000124000002/"):
                self.send(200, "<html><body><p>10-Q document</p></body></html>", "text/html")
            elif p == "/ok":
                self.send(200, "{}")
            else:
                self.send(404, "not found", "text/plain")

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield base, rec
    httpd.shutdown()
    httpd.server_close()


def client(base, tmp_path, **kw):
    defaults = dict(
        user_agent=UA,
        www_url=base,
        data_url=base,
        cache_dir=tmp_path / "cache",
        backoff_seconds=0.01,
        retries=3,
        timeout_seconds=0.5,
        max_requests_per_second=9.0,
    )
    defaults.update(kw)
    return EdgarClient(**defaults)


def test_missing_user_agent_fails_before_any_request(server, tmp_path, monkeypatch):
    base, rec = server
    monkeypatch.delenv("SEC_USER_AGENT", raising=False)
    c = client(base, tmp_path, user_agent="")
    with pytest.raises(EdgarConfigError, match="SEC_USER_AGENT is not set"):
        c.company_tickers()
    with pytest.raises(EdgarConfigError, match="no contact e-mail"):
        client(base, tmp_path, user_agent="anonymous bot").submissions(1)
    assert sum(rec.hits.values()) == 0
    monkeypatch.setenv("SEC_USER_AGENT", UA)
    assert client(base, tmp_path, user_agent="").company_tickers()["ticker"].tolist() == ["FTB"]
    assert rec.agents == [UA]


def test_429_is_retried(server, tmp_path):
    base, rec = server
    assert client(base, tmp_path).get(f"{base}/rate-limited") == b'{"ok": true}'
    assert rec.hits["/rate-limited"] == 2


def test_5xx_backoff_then_success_or_clear_failure(server, tmp_path):
    base, rec = server
    assert client(base, tmp_path).get(f"{base}/flaky") == b'{"ok": true}'
    assert rec.hits["/flaky"] == 3
    with pytest.raises(EdgarError, match=r"HTTP 503"):
        client(base, tmp_path).get(f"{base}/down")
    assert rec.hits["/down"] == 4


def test_slow_response_times_out_and_is_retried(server, tmp_path):
    base, rec = server
    assert (
        client(base, tmp_path, timeout_seconds=0.3).get(f"{base}/slow") == b'{"ok": "eventually"}'
    )
    assert rec.hits["/slow"] == 2


def test_malformed_json_is_reported_and_not_cached(server, tmp_path):
    base, rec = server
    c = client(base, tmp_path)
    with pytest.raises(EdgarError, match="malformed JSON"):
        c.cached_json("x.json", f"{base}/garbage", None)
    assert not (tmp_path / "cache" / "x.json").exists()
    with pytest.raises(EdgarNotFound):
        c.get(f"{base}/no-such-thing")


def test_submissions_include_older_pages(server, tmp_path):
    base, rec = server
    subs = client(base, tmp_path).submissions("0000000001")
    assert subs["accession"].tolist() == [
        "0000000001-20-000005",
        "0000000001-24-000001",
        "0000000001-24-000002",
    ]
    assert subs["form"].tolist() == ["10-K", "8-K", "10-Q"]
    assert (
        str(subs.loc[2, "report_date"].date()) == "2024-03-31"
        and subs["cik"].eq("0000000001").all()
    )
    assert rec.hits["/submissions/CIK0000000001-submissions-001.json"] == 1


def test_document_cache_avoids_redownload(server, tmp_path):
    base, rec = server
    path = "/Archives/edgar/data/1/000000000124000002/ftb-20240331.htm"
    first = client(base, tmp_path).document(1, "0000000001-24-000002", "ftb-20240331.htm")
    again = client(base, tmp_path).document(
        "0000000001", "0000000001-24-000002", "ftb-20240331.htm"
    )
    assert first == again and b"10-Q document" in first
    assert rec.hits[path] == 1


def test_shares_outstanding_from_companyconcept_are_cached(server, tmp_path):
    base, rec = server
    shares = client(base, tmp_path).shares_outstanding(1)
    client(base, tmp_path).shares_outstanding(1)
    assert shares["shares_outstanding"].tolist() == [39500000, 41000000]
    assert shares["filed"].dt.strftime("%Y-%m-%d").tolist() == ["2020-03-02", "2024-05-08"]
    assert (
        rec.hits[
            "/api/xbrl/companyconcept/CIK0000000001/dei/EntityCommonStockSharesOutstanding.json"
        ]
        == 1
    )


def test_rate_limit_holds_across_threads_and_clients_on_the_wire(server, tmp_path):
    base, rec = server
    with pytest.raises(EdgarConfigError, match="below SEC"):
        client(base, tmp_path, max_requests_per_second=50)
    clients = [client(base, tmp_path) for _ in range(3)]  # one bucket file: the cache dir's
    threads = [
        threading.Thread(target=lambda c=c: [c.get(f"{base}/ok") for _ in range(6)])
        for c in clients
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    times = sorted(rec.times)
    assert len(times) == 36
    most_in_window = max(sum(1 for u in times if t0 <= u < t0 + 0.9) for t0 in times)
    assert most_in_window <= 10


def test_token_bucket_spacing_is_exact_under_concurrency(tmp_path):
    slept = []
    bucket = FileTokenBucket(tmp_path / "rl", 5.0, clock=lambda: 100.0, sleep=slept.append)
    starts = []
    lock = threading.Lock()

    def worker():
        for _ in range(5):
            s = bucket.acquire()
            with lock:
                starts.append(s)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(starts) == pytest.approx([100.0 + 0.2 * k for k in range(20)])
