"""The request body of /graphql, before anything parses it: at most ``max_bytes``
(413), and fully arrived within ``timeout_s`` of the request's headers (408).

A client that trickles its body, or announces a Content-Length it never sends, would
otherwise hold its connection and a task for as long as it likes. The deadline is the
gateway's own, whatever server or proxy is in front of it; deadlines for headers that
are still arriving belong to the server (``gateway/http/server.py``) or the proxy, since
an ASGI app never sees a request before its headers are complete.
"""

from __future__ import annotations

import asyncio

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.http.graphql_http import coded

#: how much of a refused body is read and dropped before the connection is cut
DRAIN_BYTES = 16 * 1024 * 1024
#: a refusal that leaves the rest of the body unread cannot keep the connection
CLOSE = {"Connection": "close"}


class BodyLimit:
    """ASGI middleware: a body larger than ``max_bytes`` is refused with 413 and never
    reaches the parser (known by its Content-Length at once, a chunked body as soon as
    it passes the limit). The rest of it is read and dropped, up to DRAIN_BYTES, so that
    an ordinary client still sending gets to read the 413; a larger one is cut off. A
    body, drained or not, that has not arrived within ``timeout_s`` is answered 408."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            async with asyncio.timeout(self.timeout_s):
                messages = await self._read(scope, receive)
        except TimeoutError:
            reason = f"the request body did not arrive within {self.timeout_s:g} s"
            await coded(408, reason, headers=CLOSE)(scope, receive, send)
            return
        if messages is None:
            reason = f"the request body is larger than {self.max_bytes} bytes"
            await coded(413, reason, headers=CLOSE)(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _read(self, scope: Scope, receive: Receive) -> list[Message] | None:
        """The whole body's messages, or None when it is too large (then drained)."""
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _drain(receive, read=0, more=True)
            return None
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            size += len(message.get("body", b""))
            more = bool(message.get("more_body", False))
            if size > self.max_bytes:
                await _drain(receive, read=size, more=more)
                return None
            if not more:
                return messages


async def _drain(receive: Receive, *, read: int, more: bool) -> None:
    while more and read <= DRAIN_BYTES:
        chunk = await receive()
        read += len(chunk.get("body", b""))
        more = chunk["type"] == "http.request" and bool(chunk.get("more_body", False))
