"""OpenTelemetry traces: a server span per request and a client span per upstream call,
off unless ``MOSAIC_OTEL_EXPORTER`` says ``console`` or ``otlp``.

The packages are an optional extra (``pip install 'mosaic-gateway[otel]'``) and are
imported only when tracing is on. The request span continues the caller's trace (W3C
``traceparent``, e.g. from a federation router), so Mosaic's spans sit inside the
router's trace. Upstream spans are recorded after the call, from what the source's
guard observed (start time, latency, error code), so the adapters know nothing of
tracing; each is a child of the request span that caused it (a call shared by
concurrent requests through the cache layer belongs to the first of them).

``otlp`` sends over OTLP/HTTP to ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the exporter's own
standard variables apply); ``console`` prints each span as JSON when it ends.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from adapters.transport.resilience import UpstreamCall

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

Exporter = Literal["none", "console", "otlp"]
#: Sets a finished request's attributes on its span.
Finish = Callable[[Mapping[str, Any]], None]
SERVICE_NAME = "mosaic-gateway"


def _ignore(attributes: Mapping[str, Any]) -> None:
    """Tracing is off."""


class Tracing:
    def __init__(self, exporter: Exporter) -> None:
        self.enabled = exporter != "none"
        self._provider: TracerProvider | None = _provider(exporter) if self.enabled else None

    @contextmanager
    def request(self, method: str, path: str, headers: Mapping[str, str]) -> Iterator[Finish]:
        """The request's server span, current while the request is answered."""
        if self._provider is None:
            yield _ignore
            return
        from opentelemetry import propagate
        from opentelemetry.trace import SpanKind

        tracer = self._provider.get_tracer("mosaic.gateway")
        with tracer.start_as_current_span(
            f"{method} {path}",
            context=propagate.extract(dict(headers)),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path},
        ) as span:
            yield lambda attributes: span.set_attributes(dict(attributes))

    def upstream(self, call: UpstreamCall) -> None:
        """An UpstreamObserver: the call as a client span, timed as it happened."""
        if self._provider is None:
            return
        from opentelemetry.trace import SpanKind, Status, StatusCode

        tracer = self._provider.get_tracer("mosaic.adapters")
        started = int(call.started_at * 1e9)
        span = tracer.start_span(
            f"{call.source} {call.operation}",
            kind=SpanKind.CLIENT,
            start_time=started,
            attributes={
                "mosaic.source": call.source,
                "mosaic.operation": call.operation,
                "mosaic.keys": call.keys,
            },
        )
        if call.error:
            span.set_attribute("error.type", call.error)
            span.set_status(Status(StatusCode.ERROR, call.error))
        span.end(end_time=started + int(call.latency_s * 1e9))

    def close(self) -> None:
        """Flush what is still buffered (at shutdown)."""
        if self._provider is not None:
            self._provider.shutdown()


def _provider(exporter: Exporter) -> TracerProvider:
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider

        processor = _processor(exporter)
    except ImportError as exc:
        raise RuntimeError(
            f"MOSAIC_OTEL_EXPORTER={exporter} needs the OpenTelemetry packages: "
            "pip install 'mosaic-gateway[otel]'"
        ) from exc
    name = os.environ.get("OTEL_SERVICE_NAME", SERVICE_NAME)
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(processor)
    return provider


def _processor(exporter: Exporter) -> SpanProcessor:
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )

    if exporter == "console":  # a developer watching: each span as it ends, on stdout
        return SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stdout))
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return BatchSpanProcessor(OTLPSpanExporter())
