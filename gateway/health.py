"""Liveness and readiness, as Kubernetes probes them.

``/healthz``: the process is alive. ``/readyz``: it can serve; 200 even when a legacy
system is down (partial answers are still answers), with each source's state in the
body, so an orchestrator does not pull every replica when the ERP is down.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.settings import Settings

PROBE_TIMEOUT_S = 1.0


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "alive"})


async def _reachable(url: str) -> bool:
    """A TCP connect: protocol-agnostic and cheap, it asks nothing of the system."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname, port), PROBE_TIMEOUT_S
        )
    except (OSError, TimeoutError):
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def readiness(settings: Settings) -> dict[str, object]:
    urls = settings.source_urls()
    states = await asyncio.gather(*(_reachable(u) for u in urls.values()))
    body: dict[str, object] = {
        "status": "ready",
        "mode": "open",
        "warning": "no authentication configured: every caller may read everything",
        "sources": {
            name: {"url": url, "state": "reachable" if up else "unreachable"}
            for (name, url), up in zip(urls.items(), states, strict=True)
        },
    }
    return body


async def readyz(request: Request) -> Response:
    return JSONResponse(await readiness(request.app.state.settings))
