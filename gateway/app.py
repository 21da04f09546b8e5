"""The gateway's ASGI app: GraphQL over HTTP at /graphql (GraphiQL for browsers),
/healthz, /readyz and /metrics; / leads to /graphql."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import strawberry
from cross_web import HTTPException
from graphql import parse, validate
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
)
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from adapters.cache import Clock
from adapters.errors import PersistedQueryError, Unauthenticated
from adapters.transport.resilience import deadline
from gateway.caching import front_door
from gateway.caching.extensions import ResponseCaching, StaleNotes
from gateway.caching.response_cache import ResponseCache
from gateway.http import body, client_gone, defer, graphql_http
from gateway.http.first_steps import first_steps_routes
from gateway.http.graphiql import ReadyOperation, render_graphiql_page, static_routes
from gateway.http.health import healthz, readyz
from gateway.observability.requests import (
    CLIENT_GONE,
    Observability,
    RequestFacts,
    RequestObserver,
    current_request,
)
from gateway.operations import load_examples, reference_operations
from gateway.process.runtime import Runtime
from gateway.process.tuning import tune_garbage_collection
from gateway.security import audit, auth, limits
from gateway.security.ratelimit import RateLimited
from gateway.settings import Settings, SettingsProblem, load, unknown_variables
from resolvers.commerce.sagas import AfterStep
from resolvers.graphql.context import MosaicContext
from resolvers.graphql.schema import build_schema
from resolvers.graphql.types.common import Channel
from resolvers.graphql.types.customer import Customer
from resolvers.loading.loaders import Loaders

logger = logging.getLogger("mosaic.gateway")
CHANNELS = {c.value for c in Channel}
#: a connection_ack without payload
PLAIN_ACK: UnsetType = UNSET


class MosaicGraphQL(GraphQL[MosaicContext, None]):
    """Strawberry's ASGI view with our context and our self-hosted GraphiQL page."""

    def __init__(
        self, app: Starlette, page: str, authenticator: auth.Authenticator, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._app = app
        self._page = page
        self._authenticator = authenticator

    def decode_json(self, data: str | bytes) -> object:
        """Strict UTF-8 and a nesting limit: a malformed body is a 400 with a code."""
        return graphql_http.decode_json(data, self._app.state.settings.limits.max_json_depth)

    def parse_json(self, data: str | bytes) -> object:
        """A request, its variables and its extensions are JSON objects (a batch is a
        list of them); strawberry reads their keys without checking, so any other value
        must be refused here as the client's error."""
        return graphql_http.json_object(super().parse_json(data))

    def encode_json(self, data: object) -> str:
        """orjson: several times faster than the standard library on large answers
        (a StockCheck is some 100 kB), and the scalars already arrive as strings. A
        str, not bytes: WebSocket messages must go out as text frames."""
        return orjson.dumps(data).decode()

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> MosaicContext:
        runtime: Runtime = self._app.state.runtime
        principal = auth.principal_from(request)  # gateway/security/auth.py's AuthGate found them
        channel = (principal.channel or request.headers.get("x-channel", "WEB")).strip().upper()
        return MosaicContext(
            loaders=Loaders(runtime.fetchers, batching=runtime.settings.caching.batching),
            customers=Customer,
            channel=channel if channel in CHANNELS else "WEB",
            principal=principal,
            sources=runtime.sources,
            commerce=runtime.commerce,
            sensitive_categories=frozenset(runtime.settings.sensitive_categories),
            shared=isinstance(request, WebSocket),  # one context for all its operations
        )

    async def on_ws_connect(self, context: MosaicContext) -> UnsetType | dict[str, object] | None:
        """A browser cannot set a WebSocket's headers, so a graphql-transport-ws client
        may send its credential in connection_init instead: ``{"Authorization": "Bearer
        <token>"}`` or ``{"X-API-Key": "<key>"}``, checked as the headers would be. One
        that does not hold closes the socket (4403) before any operation runs."""
        credentials = {
            name.lower(): value
            for name, value in (context.connection_params or {}).items()
            if name.lower() in ("authorization", "x-api-key") and isinstance(value, str)
        }
        if not credentials:
            return PLAIN_ACK  # the handshake's headers decided (AuthGate)
        try:
            principal = await self._authenticator.principal(Headers(headers=credentials))
        except Unauthenticated as error:
            raise ConnectionRejectionError({"message": error.message}) from error
        context.principal = principal
        if principal.channel and principal.channel.upper() in CHANNELS:
            context.channel = principal.channel.upper()
        return PLAIN_ACK

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(self._page)

    async def execute_operation(
        self,
        request: Request,
        request_adapter: Any,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: MosaicContext,
        root_value: None,
        sub_response: Response,
    ) -> Any:
        """``@defer``: the deferred parts stream as ``multipart/mixed`` to a client that
        accepts it; any other client gets the whole answer at once
        (gateway/http/defer.py)."""
        result = await super().execute_operation(
            request=request,
            request_adapter=request_adapter,
            request_data=request_data,
            context=context,
            root_value=root_value,
            sub_response=sub_response,
        )
        if not isinstance(result, defer.Incremental):
            return result
        result = defer.completed_deferred(result, self.schema, context)
        if defer.accepts_incremental(request.headers.get("accept", "")):
            return result
        return await defer.collapsed(result)

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        """Strawberry checks every parameter's type but ``operationName``'s; an empty
        one is no name at all (GraphQL over HTTP, GET)."""
        data = await super().parse_http_body(request)
        for item in data if isinstance(data, list) else [data]:
            if not isinstance(item.operation_name, str | None):
                raise HTTPException(400, "`operationName` must be a string or null")
            item.operation_name = item.operation_name or None
            await self._app.state.runtime.persisted.resolve(item)  # gateway/security/persisted.py
        return data

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """A request refused before execution has no ``data``; its status code depends
        on the media type the client accepts (gateway/http/graphql_http.py)."""
        response = await super().process_result(request, result)
        if graphql_http.refused_before_execution(result):
            response.pop("data", None)
        request.state.graphql_status = graphql_http.status_for(request.state.media, result)
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The response in the media type the client accepts (406 when none we serve);
        refusals before GraphQL runs (malformed JSON, wrong content type, a mutation
        over GET) come back as GraphQL errors with a code, not as plain text."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        media = graphql_http.negotiate(request.headers.get("accept"))
        if media is None and not self.should_render_graphql_ide(
            self.request_adapter_class(request)
        ):
            await graphql_http.not_acceptable()(scope, receive, send)
            return
        media = request.state.media = media or graphql_http.JSON
        kept_answers = self._kept_answers()
        if kept_answers is None:
            response = await self._run(request, media)
        else:  # answered at the response cache's door if it can be
            key, kept = await front_door.kept(kept_answers, request, media)
            if kept is not None:
                await kept(scope, receive, send)
                return
            with front_door.passage() as passage:
                response = await self._run(request, media)
            if response is not None:
                front_door.remember(kept_answers, key, passage, response)
        if response is not None:
            await response(scope, receive, send)

    def _kept_answers(self) -> ResponseCache | None:
        """The response cache, whose door (gateway/caching/front_door.py) is shut in
        debug mode: a response lists its upstream calls there, which a hit would not."""
        runtime: Runtime | None = getattr(self._app.state, "runtime", None)
        if runtime is None or self._app.state.settings.debug:
            return None
        return runtime.responses

    async def _run(self, request: Request, media: str) -> Response | None:
        """GraphQL's answer to the request, in ``media``; None when its client went
        away first and it was stopped (gateway/http/client_gone.py)."""
        record = current_request.get()
        try:
            with deadline(self._app.state.settings.resilience.request_timeout_s):
                await request.body()  # all read: what comes now is only the client going
                answer = await client_gone.unless_gone(
                    self.run(request), request.receive, lambda: record is None or record.writes
                )
            if answer is None:
                if record is not None:
                    record.outcome = CLIENT_GONE
                return None
            response: Response = answer
        except HTTPException as exc:
            response = graphql_http.refusal(exc, request.method, media)
        except PersistedQueryError as exc:
            response = graphql_http.coded(exc.status, exc.message, media=media, code=exc.code)
        if response.media_type == graphql_http.JSON:  # a GraphQL response, not the IDE
            response.headers["content-type"] = graphql_http.content_type(media)
            response.status_code = getattr(request.state, "graphql_status", 200)
        return response


def _graphiql_page(settings: Settings, schema: strawberry.Schema) -> str:
    """GraphiQL with every reference operation this schema can run, ready to send."""
    examples = load_examples(settings.examples_file)
    operations = [
        ReadyOperation(name=name, query=text, variables=examples.get(name, {}))
        for name, text in reference_operations().items()
        if not validate(schema._schema, parse(text))
    ]
    return render_graphiql_page(operations, tokens=settings.auth.graphiql_tokens)


async def _http_error(request: Request, error: Exception) -> Response:
    """An unknown path or a method a route does not take, as JSON with a code."""
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 405:
        allowed = (error.headers or {}).get("Allow", "")
        message = f"{request.url.path} does not take {request.method}; it takes {allowed}"
    elif error.status_code == 404:
        message = f"nothing is served at {request.url.path}; GraphQL is at /graphql"
    else:
        message = error.detail
    return graphql_http.coded(error.status_code, message, headers=error.headers)


async def _internal_error(request: Request, error: Exception) -> Response:
    """A bug in Mosaic: a coded JSON answer; Starlette then raises the error again, so
    the server logs it with its traceback."""
    return graphql_http.coded(500, "unexpected error; the gateway's log has the details")


def _settings_or_exit() -> Settings:
    """The settings uvicorn's factory call reads: a bad one is one line and exit 2, as
    for every `mosaic` command, not a traceback from inside uvicorn."""
    try:
        return load()
    except SettingsProblem as problem:
        for line in problem.lines:
            print(f"mosaic: {line}", file=sys.stderr)
        raise SystemExit(2) from None


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock = time.time,
    after_step: AfterStep | None = None,
) -> Starlette:
    """The gateway; ``clock`` is its caches' (tests move it instead of waiting), and
    ``after_step`` is called after each saga step (the crash tests exit there)."""
    settings = settings or _settings_or_exit()
    auth.check_mode(settings)  # production never runs open

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.runtime = Runtime.start(settings, clock, after_step)
        await app.state.runtime.commerce.start()  # recovers sagas a crash left half done
        observability.start(app.state.runtime)
        tune_garbage_collection(settings.gc_young_threshold)
        for warning in unknown_variables(os.environ):
            logger.warning(warning)
        mode = auth.describe(settings)
        if mode["mode"] == "open":
            logger.warning(
                "Mosaic is running OPEN: no authentication is configured, so every caller "
                "can read every customer. Fine for development; never in production."
            )
        else:
            logger.info("Mosaic requires authentication: %s", mode)
        try:
            yield
        finally:
            await app.state.runtime.close()
            app.state.documents.close()
            observability.close()

    app = Starlette(
        lifespan=lifespan,
        exception_handlers={StarletteHTTPException: _http_error, Exception: _internal_error},
    )
    app.state.settings = settings
    # /graphql/ is an unknown path (a coded 404), not a redirect a POST cannot follow
    app.router.redirect_slashes = False
    observability = Observability(settings, lambda: getattr(app.state, "runtime", None))
    app.add_middleware(RequestObserver, observability=observability)
    known = app.state.documents = limits.documents()  # parsed and validated off the loop
    schema = build_schema(
        extensions=[
            # a document seen before is not parsed again (bounded, like validation's)
            limits.parse_extension(settings, known),
            StaleNotes,
            graphql_http.OperationChoice,
            RequestFacts,
            *limits.extensions(settings, known),
            audit.audit_extension(audit.AuditSink(settings.auth.audit_log)),
            # last: the limits and the operation's checks run before it, hit or not
            lambda: ResponseCaching(lambda: getattr(app.state, "runtime", None)),
        ],
        production=settings.env == "production",
        executor=settings.executor,
        # production's coercion errors say no "Did you mean ...?", whichever executor runs
        adapt_execution=limits.quiet if settings.env == "production" else None,
    )
    authenticator = auth.Authenticator.from_settings(settings)
    graphql = MosaicGraphQL(
        app,
        _graphiql_page(settings, schema),
        authenticator,
        schema=schema,
        # GraphiQL needs introspection, which production turns off
        graphql_ide=None if settings.env == "production" else "graphiql",
        # subscriptions (stockChanged): graphql-transport-ws (and the older graphql-ws)
        # over a WebSocket at /graphql, and Server-Sent Events (Accept: text/event-stream)
        subscription_protocols=(
            GRAPHQL_TRANSPORT_WS_PROTOCOL,
            GRAPHQL_WS_PROTOCOL,
            GRAPHQL_SSE_PROTOCOL,
        ),
    )
    # who is asking (gateway/security/auth.py): 401 for a bad credential, before
    # anything is parsed
    gate = auth.AuthGate(graphql, authenticator)
    graphql_route = Route(
        "/graphql",
        RateLimited(
            # 413 before parsing, 408 for a body that does not arrive
            body.BodyLimit(gate, settings.limits.max_body_bytes, settings.limits.body_timeout_s),
            lambda: app.state.runtime.limiter,
        ),
        methods=["GET", "POST"],
    )
    graphql_route.methods = {"GET", "POST"}  # Starlette adds HEAD to GET; GraphQL has none
    for route in [
        graphql_route,
        # subscriptions over a WebSocket; the caller from its handshake's headers
        WebSocketRoute("/graphql", gate),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", observability.metrics.endpoint),
        *first_steps_routes(settings),
        *static_routes(),
    ]:
        app.router.routes.append(route)
    return app
