"""What a person meets in their first minutes with a running gateway: ``GET /`` leads to
GraphiQL, and a development gateway with an examples file (the demo's, compose's)
serves it at ``/examples``, so the README's first curl finds a loyalty card that exists
in whatever world is running, without building that world again.

``/examples`` shows nothing GraphiQL's page does not already carry (its ready tabs hold
the same variables), and like GraphiQL it is never served in production.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.operations import load_examples
from gateway.settings import Settings

EXAMPLES_PATH = "/examples"


def first_steps_routes(settings: Settings) -> list[BaseRoute]:
    routes: list[BaseRoute] = [Route("/", _to_graphql, methods=["GET"])]
    if settings.env != "production" and settings.examples_file is not None:
        examples = load_examples(settings.examples_file)

        async def served_examples(request: Request) -> Response:
            return JSONResponse(examples)

        routes.append(Route(EXAMPLES_PATH, served_examples, methods=["GET"]))
    return routes


async def _to_graphql(request: Request) -> Response:
    return RedirectResponse("/graphql", status_code=302)
