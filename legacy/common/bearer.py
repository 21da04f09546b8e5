"""The bearer-token check a simulated REST system makes when started with a token.

Each product refuses in its own words (HubSpot's error object, Square's ``errors[]``,
the WMS's ``error``), so the check only says what was wrong and the system answers.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Literal

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Refusal = Literal["missing", "invalid"]


def bearer_refusal(headers: Headers, token: str) -> Refusal | None:
    """None when ``Authorization: Bearer <token>`` carries the token; else why not."""
    scheme, _, credential = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return "missing"
    if not secrets.compare_digest(credential.strip().encode(), token.encode()):
        return "invalid"
    return None


class BearerGate:
    """ASGI middleware in front of a system's API: requests without the token get the
    system's own refusal (``refuse``), and never reach the API."""

    def __init__(self, app: ASGIApp, token: str, refuse: Callable[[Refusal], Response]) -> None:
        self.app = app
        self.token = token
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = bearer_refusal(Headers(scope=scope), self.token)
            if refusal is not None:
                await refuse_after_reading(self.refuse(refusal), scope, receive, send)
                return
        await self.app(scope, receive, send)


async def refuse_after_reading(
    refusal: Response, scope: Scope, receive: Receive, send: Send
) -> None:
    """Answer a refusal once the request has been read whole, as an HTTP server in front
    of an API does (so a test's contract check sees the request that was refused)."""
    more = True
    while more:
        message = await receive()
        more = message["type"] == "http.request" and message.get("more_body", False)
    await refusal(scope, receive, send)
