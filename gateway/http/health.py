"""Liveness and readiness, as Kubernetes probes them.

``/healthz``: the process is alive. ``/readyz``: it can serve; 200 even when a legacy
system is down (partial answers are still answers), with each source's state in the
body, so an orchestrator does not pull every replica when the ERP is down, and the
executor in use (``MOSAIC_EXECUTOR``).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.process.runtime import Runtime
from gateway.security.auth import describe

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


async def readiness(runtime: Runtime) -> dict[str, object]:
    """Each source's reachability and guard state. A source can be reachable with its
    breaker open (it was failing moments ago) or unreachable with it closed (nobody
    has asked it anything since it went away): both facts matter to an operator."""
    urls = runtime.settings.source_urls()
    reachable = await asyncio.gather(*(_reachable(u) for u in urls.values()))
    guards = runtime.guards
    # production does not tell anyone who asks where the internal systems live
    shown = runtime.settings.env != "production"
    return {
        "status": "ready",
        **describe(runtime.settings),  # open or authenticated (gateway/security/auth.py)
        "executor": runtime.settings.executor,  # fast or standard (MOSAIC_EXECUTOR)
        "sources": {
            name: {**({"url": url} if shown else {}), "reachable": up, **guards[name].state()}
            for (name, url), up in zip(urls.items(), reachable, strict=True)
        },
    }


async def readyz(request: Request) -> Response:
    return JSONResponse(await readiness(request.app.state.runtime))
