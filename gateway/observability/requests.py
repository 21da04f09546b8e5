"""What each request did, for operators and developers: a request id, one JSON log line
per request, Prometheus metrics (gateway/observability/metrics.py), OpenTelemetry spans
(gateway/observability/tracing.py) and, in debug mode, the upstream calls listed in the
response.

Everything hangs on one record per request, in a context variable the middleware sets
before the app runs: the source guards' observer appends each upstream call to it (the
DataLoaders' tasks inherit the request's context), the GraphQL extension notes the
operation and its outcome, and the middleware logs and counts the whole when the
response is sent. A call that the cross-request cache layer makes for several
concurrent requests is listed under the one that triggered it.

A context variable, where the GraphQL results of a request travel on its context (the
read account, ``adapters.cache.Served``): the record spans the whole HTTP exchange, not
only GraphQL (refusals, probes, every log line's request id), and the guards that add
the upstream calls to it sit inside the adapters, below any request context.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from adapters.transport.resilience import UpstreamCall, UpstreamObserver
from gateway.observability.metrics import Metrics
from gateway.observability.tracing import Tracing
from gateway.process.runtime import Runtime
from gateway.settings import Settings

GRAPHQL_PATH = "/graphql"
#: Probes and scrapes come every few seconds and say nothing about traffic: not logged.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
ANONYMOUS = "anonymous"
#: the outcome of a request whose client left before its answer, which was then not
#: made (gateway/http/client_gone.py); logged with nginx's status for it, "client
#: closed request": no status was sent, and the gateway is not at fault
CLIENT_GONE, CLIENT_CLOSED_REQUEST = "client_gone", 499
REQUEST_ID_HEADER = "X-Request-Id"
#: A caller's request id is kept when it is this tame (it goes into logs verbatim).
_SAFE_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")

access_log = logging.getLogger("mosaic.access")


@dataclass(slots=True)
class RequestRecord:
    id: str
    debug: bool
    upstream: list[UpstreamCall] = field(default_factory=list)
    operation: str | None = None  # set once GraphQL ran the request
    outcome: str | None = None  # ok, partial, error, client_gone (refused: None)
    writes: bool = False  # a mutation runs: carried through if its client goes
    failing_sources: list[str] = field(default_factory=list)  # named by the answer's errors
    started: float = field(default_factory=time.time)  # when the gateway got the request
    answered_from_cache: bool = False  # the whole answer came from the response cache


current_request: contextvars.ContextVar[RequestRecord | None] = contextvars.ContextVar(
    "mosaic_request", default=None
)


def note_upstream(call: UpstreamCall) -> None:
    """An UpstreamObserver: the call joins the record of the request that made it."""
    record = current_request.get()
    if record is not None:
        record.upstream.append(call)


class RequestFacts(SchemaExtension):
    """Notes the operation, whether it writes, and its outcome on the request's record;
    in debug mode adds ``extensions.upstream``: every upstream call made for this
    response (shown in GraphiQL's result pane with the data)."""

    def on_execute(self) -> Iterator[None]:
        """Named as it starts, so that a query stopped when its client goes is logged
        by its name; and whether it writes, which is never stopped. (A subscription is
        a stream whose outcome is noted nowhere: it keeps no name either.)"""
        record = current_request.get()
        if record is not None:
            context = self.execution_context
            kind = context.operation_type
            record.writes = record.writes or kind is not OperationType.QUERY
            if kind is not OperationType.SUBSCRIPTION:
                record.operation = context.operation_name or ANONYMOUS
        yield

    def on_operation(self) -> Iterator[None]:
        yield
        record = current_request.get()
        if record is not None:
            record.operation = self.execution_context.operation_name or ANONYMOUS
            record.outcome, record.failing_sources = _outcome(self.execution_context)

    def get_results(self) -> dict[str, Any]:
        record = current_request.get()
        if record is None or not record.debug:
            return {}
        return {"upstream": [_listed(call, record.started) for call in record.upstream]}


def _outcome(context: ExecutionContext) -> tuple[str, list[str]]:
    """ok, partial or error, and the sources the answer's errors name. The errors of
    sources that failed while their field still answered (``MosaicContext.report``)
    join the result only after this extension has seen it, so they are counted here
    too: a merged order history without the POS's receipts is partial, not ok."""
    # with @defer, the result streams: judge it by the part sent first
    result: Any = getattr(context.result, "initial_result", context.result)
    reported = getattr(context.context, "partial_errors", None) or []
    errors = [*(getattr(result, "errors", None) or []), *reported]
    failing = sorted({str(e.extensions["source"]) for e in errors if _source_of(e)})
    if context.pre_execution_errors or result is None or result.data is None:
        return "error", failing
    return ("partial" if errors else "ok"), failing


def _source_of(error: Any) -> bool:
    extensions = getattr(error, "extensions", None)
    return isinstance(extensions, dict) and bool(extensions.get("source"))


def _listed(call: UpstreamCall, request_started: float) -> dict[str, Any]:
    """One call; ``startedMs`` counts from the request's arrival, so the rounds show."""
    listed: dict[str, Any] = {
        "source": call.source,
        "operation": call.operation,
        "keys": call.keys,
        "startedMs": round((call.started_at - request_started) * 1000, 1),
        "latencyMs": round(call.latency_s * 1000, 1),
    }
    if call.error:
        listed["error"] = call.error
    return listed


class Observability:
    """The app's metrics, tracing and debug switch, wired to the runtime at start-up."""

    def __init__(self, settings: Settings, runtime: Callable[[], Runtime | None]) -> None:
        self.debug = settings.debug
        self.metrics = Metrics(runtime)
        self.tracing = Tracing(settings.otel_exporter)

    def start(self, runtime: Runtime) -> None:
        configure_logging()
        observers: list[UpstreamObserver] = [note_upstream, self.metrics.upstream]
        if self.tracing.enabled:
            observers.append(self.tracing.upstream)
        for guard in runtime.guards.values():
            guard.observers.extend(observers)

    def close(self) -> None:
        self.tracing.close()

    def finished(self, scope: Scope, record: RequestRecord, status: int, seconds: float) -> None:
        path: str = scope["path"]
        refused = path == GRAPHQL_PATH and status >= 400 and record.operation is None
        operation = record.operation or "-"
        outcome = record.outcome or "rejected"
        if record.operation is not None or refused:
            self.metrics.request(operation, outcome, seconds)
        if outcome == "partial":
            self.metrics.partial(record.failing_sources)
        if path in QUIET_PATHS:
            return
        access_log.info(
            "request",
            extra={
                "fields": {
                    "request_id": record.id,
                    "method": scope["method"],
                    "path": path,
                    "status": status,
                    "operation": record.operation,
                    "outcome": record.outcome if record.operation else None,
                    "failing_sources": record.failing_sources,
                    "duration_ms": round(seconds * 1000, 1),
                    "upstream_calls": len(record.upstream),
                    "response_cache": record.answered_from_cache,
                }
            },
        )


class RequestObserver:
    """ASGI middleware: the request's id (the caller's ``X-Request-Id`` or a new one,
    returned in the same header), its record, its span, its log line and metrics.
    Plain ASGI, so the record's context variable reaches the app's tasks."""

    def __init__(self, app: ASGIApp, observability: Observability) -> None:
        self.app = app
        self.observability = observability

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        record = RequestRecord(request_id(headers.get(REQUEST_ID_HEADER)), self.observability.debug)
        status = 500  # what the client gets if the app fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, record.id)
            await send(message)

        token = current_request.set(record)
        started = time.perf_counter()
        tracing = self.observability.tracing
        try:
            with tracing.request(scope["method"], scope["path"], headers) as finish:
                try:
                    await self.app(scope, receive, send_with_id)
                finally:
                    if record.outcome == CLIENT_GONE:
                        status = CLIENT_CLOSED_REQUEST
                    finish(_span_attributes(record, status))
        finally:
            current_request.reset(token)
            self.observability.finished(scope, record, status, time.perf_counter() - started)


def request_id(given: str | None) -> str:
    """The caller's id when it is tame, else 128 random bits in hex (as a UUID's hex,
    without building a UUID: a cached answer costs little more than making its id)."""
    return given if given is not None and _SAFE_ID.fullmatch(given) else os.urandom(16).hex()


def _span_attributes(record: RequestRecord, status: int) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "http.response.status_code": status,
        "mosaic.request_id": record.id,
        "mosaic.upstream_calls": len(record.upstream),
    }
    if record.operation:
        attributes["graphql.operation.name"] = record.operation
    return attributes


# --- JSON logs ------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the current request's
    id, and the record's ``fields`` (``extra={"fields": {...}}``)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request = current_request.get()
        if request is not None:
            entry["request_id"] = request.id
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class _Stderr(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(level: int = logging.INFO) -> None:
    """Mosaic's loggers (``mosaic.*``) write JSON lines to stderr. Idempotent: several
    apps in one process share the one handler."""
    logger = logging.getLogger("mosaic")
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = _Stderr()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.setLevel(level)
