"""Headless Chromium logs in through the proxy as a viewer and sees the asset graph render.

Chromium is driven over the DevTools protocol (websocket-client); the login is answered the
way a person answers the browser's password dialog (Fetch.authRequired), not by injecting
headers, so the 401 challenge itself is exercised.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import websocket
from conftest import PROJECT_LOCATION, VIEWER

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)
SCREENSHOT_DIR = Path(os.environ.get("ACCT445_SCREENSHOT_DIR", tempfile.gettempdir()))

GRAPH_STATE = """(() => {
  const nodes = [...document.querySelectorAll('svg foreignObject')];
  const names = nodes.map(n => n.textContent).join(' | ');
  return JSON.stringify({nodes: nodes.length, names: names.slice(0, 2000),
                         title: document.title, text: document.body ? document.body.innerText.slice(0, 300) : ''});
})()"""


class DevTools:
    """A minimal DevTools client for one page, answering login challenges as it goes."""

    def __init__(self, ws_url: str, credentials: tuple[str, str] | None):
        self.socket = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.credentials = credentials
        self.next_id = 0
        self.challenges = 0

    def close(self):
        self.socket.close()

    def _handle_event(self, message: dict) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Fetch.requestPaused":
            self.send("Fetch.continueRequest", requestId=params["requestId"])
        elif method == "Fetch.authRequired":
            self.challenges += 1
            if self.credentials:
                response = {
                    "response": "ProvideCredentials",
                    "username": self.credentials[0],
                    "password": self.credentials[1],
                }
            else:
                response = {"response": "CancelAuth"}
            self.send(
                "Fetch.continueWithAuth",
                requestId=params["requestId"],
                authChallengeResponse=response,
            )

    def send(self, method: str, **params) -> int:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        return self.next_id

    def call(self, method: str, **params) -> dict:
        call_id = self.send(method, **params)
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self._handle_event(message)

    def pump(self, seconds: float) -> None:
        """Serve events (login challenges, paused requests) for a while."""
        deadline = time.monotonic() + seconds
        self.socket.settimeout(0.2)
        try:
            while time.monotonic() < deadline:
                try:
                    message = json.loads(self.socket.recv())
                except websocket.WebSocketTimeoutException:
                    continue
                if "method" in message:
                    self._handle_event(message)
        finally:
            self.socket.settimeout(60)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")


@pytest.fixture
def chromium():
    if CHROMIUM is None:
        pytest.fail("chromium is not installed (bash .ci/system-deps.sh installs it)")
    profile = Path(tempfile.mkdtemp(prefix="acct445-chromium-"))
    process = subprocess.Popen(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "--window-size=1400,900",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(profile / "chromium.log").open("wb"),
        start_new_session=True,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((profile / "chromium.log").read_text()[-3000:])
            time.sleep(0.2)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
            pages = [t for t in json.load(reply) if t["type"] == "page"]
        yield pages[0]["webSocketDebuggerUrl"]
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)


def _open(ws_url: str, credentials) -> DevTools:
    tools = DevTools(ws_url, credentials)
    tools.call("Fetch.enable", handleAuthRequests=True, patterns=[{"urlPattern": "*"}])
    tools.call("Page.enable")
    tools.call("Runtime.enable")
    return tools


def test_viewer_logs_in_and_the_asset_graph_renders(stack, chromium):
    # The global lineage collapses groups once there are many assets; the market group's
    # lineage shows the asset nodes themselves.
    url = stack.proxy + f"/locations/__repository__@{PROJECT_LOCATION}/asset-groups/market/lineage"

    refused = _open(chromium, credentials=None)
    try:
        refused.call("Page.navigate", url=url)
        refused.pump(3)
        assert refused.challenges >= 1
        assert "401" in refused.evaluate("document.title + ' ' + document.body.innerText")
    finally:
        refused.close()

    browser = _open(chromium, credentials=VIEWER)
    try:
        browser.call("Page.navigate", url=url)
        state = {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            browser.pump(1)
            state = json.loads(browser.evaluate(GRAPH_STATE))
            if state["nodes"] and "bank_prices" in state["names"]:
                break
        browser.pump(3)  # let the nodes' details settle for the screenshot
        shot = browser.call("Page.captureScreenshot", format="png")
        (SCREENSHOT_DIR / "acct445-asset-graph.png").write_bytes(base64.b64decode(shot["data"]))
        assert browser.challenges >= 1  # the page asked, the viewer answered
        assert state["nodes"] > 0, state
        assert "bank_prices" in state["names"], state
    finally:
        browser.close()
