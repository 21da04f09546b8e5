"""The gateway's ASGI app: GraphQL over HTTP at /graphql (GraphiQL for browsers),
/healthz and /readyz."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import strawberry
from cross_web import HTTPException
from graphql import parse, validate
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from adapters.resilience import deadline
from gateway.extensions import StaleNotes
from gateway.graphiql import ReadyOperation, render_graphiql_page, static_routes
from gateway.health import healthz, readyz
from gateway.operations import load_examples, reference_operations
from gateway.runtime import Runtime
from gateway.settings import Settings
from resolvers.context import MosaicContext
from resolvers.loaders import Loaders
from resolvers.schema import build_schema
from resolvers.types.common import Channel

logger = logging.getLogger("mosaic.gateway")
CHANNELS = {c.value for c in Channel}
HTTP_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


class MosaicGraphQL(GraphQL[MosaicContext, None]):
    """Strawberry's ASGI view with our context and our self-hosted GraphiQL page."""

    def __init__(self, app: Starlette, page: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._app = app
        self._page = page

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> MosaicContext:
        runtime: Runtime = self._app.state.runtime
        channel = request.headers.get("x-channel", "WEB").strip().upper()
        return MosaicContext(
            loaders=Loaders(runtime.fetchers, batching=runtime.settings.batching),
            channel=channel if channel in CHANNELS else "WEB",
        )

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(self._page)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refusals before GraphQL runs (malformed JSON, wrong content type, a mutation
        over GET) come back as GraphQL errors with a code, not as plain text."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            with deadline(self._app.state.settings.request_timeout_s):
                response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as exc:
            response = JSONResponse(
                {
                    "errors": [
                        {
                            "message": exc.reason,
                            "extensions": {"code": HTTP_CODES.get(exc.status_code, "BAD_REQUEST")},
                        }
                    ]
                },
                status_code=exc.status_code,
            )
        await response(scope, receive, send)


def _graphiql_page(settings: Settings, schema: strawberry.Schema) -> str:
    """GraphiQL with every reference operation this schema can run, ready to send."""
    examples = load_examples(settings.examples_file)
    operations = [
        ReadyOperation(name=name, query=text, variables=examples.get(name, {}))
        for name, text in reference_operations().items()
        if not validate(schema._schema, parse(text))
    ]
    return render_graphiql_page(operations)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.runtime = Runtime.start(settings)
        logger.warning(
            "Mosaic is running OPEN: no authentication is configured, so every caller "
            "can read every customer. Fine for development; never in production."
        )
        try:
            yield
        finally:
            await app.state.runtime.close()

    app = Starlette(lifespan=lifespan)
    app.state.settings = settings
    schema = build_schema(extensions=[StaleNotes])
    graphql = MosaicGraphQL(app, _graphiql_page(settings, schema), schema=schema)
    for route in [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        *static_routes(),
    ]:
        app.router.routes.append(route)
    return app
