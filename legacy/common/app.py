"""Wraps one simulated system's routes into a runnable ASGI app with knobs and admin."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from legacy.common.knobs import CallLog, Knobs, SimulatedSystemMiddleware


def simulated_system(
    name: str,
    routes: Sequence[BaseRoute],
    knobs: Knobs,
    middleware: Sequence[Middleware] = (),
) -> Starlette:
    """A Starlette app serving ``routes`` behind the knobs, plus ``/__admin/*``.

    The app keeps its knobs and call log on ``app.state`` so in-process tests can
    reach them too, but tests go through the admin endpoints like any other client.
    ``middleware`` runs inside the knobs, next to the system itself: it sees the
    exchanges the system really has, never a fault the knobs put in its place (the
    tests' contract checks go there).
    """
    log = CallLog()

    async def get_calls(request: Request) -> Response:
        return JSONResponse({"system": name, "calls": log.as_dicts()})

    async def clear_calls(request: Request) -> Response:
        log.calls.clear()
        return Response(status_code=204)

    async def get_knobs(request: Request) -> Response:
        return JSONResponse(knobs.as_dict())

    async def put_knobs(request: Request) -> Response:
        try:
            knobs.update(await request.json())
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(knobs.as_dict())

    admin: list[BaseRoute] = [
        Route("/__admin/calls", get_calls, methods=["GET"]),
        Route("/__admin/calls", clear_calls, methods=["DELETE"]),
        Route("/__admin/knobs", get_knobs, methods=["GET"]),
        Route("/__admin/knobs", put_knobs, methods=["PUT", "PATCH"]),
    ]
    app = Starlette(
        routes=[*admin, *routes],
        middleware=[Middleware(SimulatedSystemMiddleware, knobs=knobs, log=log), *middleware],
    )
    app.state.knobs = knobs
    app.state.calls = log
    return app
