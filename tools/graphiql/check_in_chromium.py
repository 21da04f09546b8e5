"""Smoke check after re-vendoring GraphiQL: the page renders in headless Chromium and runs
its first tab's operation against the gateway's fetcher, with the ready variables.

    python tools/graphiql/check_in_chromium.py [--screenshot /tmp/graphiql.png]

Serves the real page and assets (gateway.http.graphiql) from a tiny app whose POST
/graphql echoes a variable back, drives Chromium over the DevTools protocol (aiohttp
websocket, no extra packages), clicks GraphiQL's run button and waits for the echo in
the result pane. Needs Debian's chromium (`apt-get install -y chromium`) or
CHROMIUM=/path/to/browser.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gateway.http.graphiql import ReadyOperation, render_graphiql_page, static_routes
from legacy.common.runner import ServerThread

WORD = "hello-from-mosaic"
HEADERS = {"X-Channel": "STORE"}
OPERATIONS = [
    ReadyOperation("Echo", "query Echo($word: String!) {\n  echo(word: $word)\n}", {"word": WORD}),
    ReadyOperation("Other", "query Other($n: Int!) {\n  other(n: $n)\n}", {"n": 2}),
]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,800",
    "--remote-debugging-port=0",
]
RUN_BUTTON = "document.querySelector('.graphiql-execute-button')"
RESULT = "(document.querySelector('.result-window')?.innerText ?? '')"
VARIABLES = "(document.querySelector('.graphiql-editor-tool')?.innerText ?? '')"
# GraphiQL saves its tabs to localStorage this long after a change (a reload sooner can
# find them half-saved and add a tab: GraphiQL's own behaviour, nothing the page sets).
SAVE_DELAY_S = 1.0
TAB_TITLES = "[...document.querySelectorAll('.graphiql-tab-button')].map(t => t.innerText.trim())"


def echo_app(seen: list[dict[str, Any]]) -> Starlette:
    """GET /graphql: the page; POST /graphql: `{"data": {"echo": <$word>}}`, recorded."""
    page = render_graphiql_page(OPERATIONS, headers=HEADERS)

    async def graphql(request: Request) -> Response:
        if request.method == "GET":
            return HTMLResponse(page)
        body = await request.json()
        seen.append({"body": body, "channel": request.headers.get("x-channel")})
        word = (body.get("variables") or {}).get("word")
        return JSONResponse({"data": {"echo": word}})

    return Starlette(routes=[Route("/graphql", graphql, methods=["GET", "POST"]), *static_routes()])


@contextmanager
def chromium(binary: str) -> Iterator[str]:
    """A headless Chromium on a fresh profile; yields its DevTools HTTP address."""
    with tempfile.TemporaryDirectory() as profile:
        port_file = Path(profile, "DevToolsActivePort")
        process = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 15
            while not (port_file.exists() and port_file.read_text().strip()):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{binary} did not open its DevTools port")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port_file.read_text().split()[0]}"
        finally:
            process.terminate()
            process.wait(timeout=10)


class Tab:
    """The few DevTools calls the check needs, over one page target's websocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.exceptions: list[str] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        await self.ws.send_json({"id": call_id, "method": method, "params": params})
        while True:
            message = await self.ws.receive_json()
            if message.get("method") == "Runtime.exceptionThrown":
                self.exceptions.append(json.dumps(message["params"]["exceptionDetails"]))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result

    async def evaluate(self, expression: str) -> Any:
        reply = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return reply["result"].get("value")

    async def wait_for(self, expression: str, timeout_s: float = 15.0) -> Any:
        for _ in range(int(timeout_s / 0.1)):
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.1)
        raise TimeoutError(f"never true: {expression}")

    async def open(self, url: str) -> list[str]:
        await self.call("Page.navigate", url=url)
        await self.wait_for(f"!!{RUN_BUTTON}")
        titles: list[str] = await self.wait_for(f"{TAB_TITLES}.length && {TAB_TITLES}")
        return titles

    async def switch_to(self, title: str) -> None:
        await self.evaluate(
            "[...document.querySelectorAll('.graphiql-tab-button')]"
            f".find(t => t.innerText.trim() === {json.dumps(title)}).click()"
        )


async def drive(devtools: str, page_url: str) -> tuple[list[str], bytes]:
    """Runs the first tab, visits the second, reloads; returns what failed and a PNG."""
    failures: list[str] = []

    def expect(ok: bool, what: str) -> None:
        if not ok:
            failures.append(what)

    async with aiohttp.ClientSession() as session:
        async with session.get(f"{devtools}/json/list") as response:
            target = next(t for t in await response.json() if t["type"] == "page")
        async with session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            tab = Tab(ws)
            await tab.call("Runtime.enable")
            titles = await tab.open(page_url)
            expect(titles == ["Echo", "Other"], f"one tab per operation, got {titles}")
            expect(WORD in await tab.evaluate(VARIABLES), "first tab opens with its variables")
            await tab.evaluate(f"{RUN_BUTTON}.click()")
            await tab.wait_for(f"{RESULT}.includes({json.dumps(WORD)})")
            shot = await tab.call("Page.captureScreenshot", format="png")
            await tab.switch_to("Other")
            await tab.wait_for(f"{VARIABLES}.includes('\"n\": 2')")
            await tab.switch_to("Echo")
            await tab.wait_for(f"{VARIABLES}.includes({json.dumps(WORD)})")
            await asyncio.sleep(SAVE_DELAY_S)
            titles = await tab.open(page_url)
            expect(titles == ["Echo", "Other"], f"a reload keeps the same tabs, got {titles}")
            expect(WORD in await tab.evaluate(VARIABLES), "a reload keeps the variables")
            expect(not tab.exceptions, f"the page threw: {tab.exceptions}")
    return failures, base64.b64decode(shot["data"])


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--screenshot", type=Path, help="write a PNG of the run result here")
    args = parser.parse_args()
    binary = os.environ.get("CHROMIUM") or shutil.which("chromium") or "chromium"
    seen: list[dict[str, Any]] = []
    server = ServerThread(echo_app(seen)).start()
    try:
        with chromium(binary) as devtools:
            failures, png = asyncio.run(drive(devtools, f"{server.url}/graphql"))
    finally:
        server.stop()
    if args.screenshot:
        args.screenshot.write_bytes(png)
    runs = [s for s in seen if s["body"].get("operationName") == "Echo"]
    sent = runs[-1] if runs else {"body": {}, "channel": None}
    if sent["body"].get("variables") != {"word": WORD} or sent["channel"] != "STORE":
        failures.append(f"the server got the ready operation with its headers: {seen}")
    for failure in failures:
        print(f"FAIL: {failure}")
    if not failures:
        print("OK: GraphiQL rendered its tabs, ran Echo with its variables and headers")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
