"""Prometheus metrics: what the gateway was asked, what it asked the legacy systems, and
the state of the protections in between, exposed at ``/metrics``.

Each app has its own registry (two gateways in one process, as in the tests, do not
share series). Request and upstream series are counted as things happen; cache and
breaker series are read from the runtime when Prometheus scrapes. Every label comes
from a bounded set: source and upstream operation names are fixed by the adapters, and
client-chosen operation names are capped (``MAX_OPERATIONS``), so a client cannot
explode the number of series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from adapters.transport.resilience import UpstreamCall
from gateway.caching.response_cache import ResponseCache
from gateway.process.runtime import Runtime

#: Distinct operation names labelled as such; later ones count as "other".
MAX_OPERATIONS = 200
OTHER = "other"
BREAKER_STATES = ("closed", "open", "half_open")
#: Seconds: a cached answer takes a few ms, a cold Customer360 some tens to hundreds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)
#: Keys per upstream call: 1 is a lookup, max_batch (100..500) a full chunk.
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


class Metrics:
    def __init__(self, runtime: Callable[[], Runtime | None]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "mosaic_requests",
            "GraphQL requests, by operation name and outcome (ok, partial, error, rejected)",
            ["operation", "outcome"],
            registry=r,
        )
        self.partial_answers = Counter(
            "mosaic_partial_answers",
            "Answers that arrived without a source's part, by the source that failed",
            ["source"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "mosaic_request_duration_seconds",
            "Time to answer a GraphQL request, by operation name",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_calls = Counter(
            "mosaic_upstream_calls",
            "Calls sent to a legacy system (each retry is a call), by source and operation",
            ["source", "operation"],
            registry=r,
        )
        self.upstream_seconds = Histogram(
            "mosaic_upstream_duration_seconds",
            "Time a legacy system took to answer one call, by source and operation",
            ["source", "operation"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_errors = Counter(
            "mosaic_upstream_errors",
            "Failed calls to a legacy system, by source and error code",
            ["source", "code"],
            registry=r,
        )
        self.batch_keys = Histogram(
            "mosaic_upstream_batch_keys",
            "Keys asked in one upstream batch call, by source and operation",
            ["source", "operation"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        r.register(RuntimeCollector(runtime))
        self._operations: set[str] = set()

    def upstream(self, call: UpstreamCall) -> None:
        """An UpstreamObserver: every call every source guard sends."""
        self.upstream_calls.labels(call.source, call.operation).inc()
        self.upstream_seconds.labels(call.source, call.operation).observe(call.latency_s)
        if call.keys:
            self.batch_keys.labels(call.source, call.operation).observe(call.keys)
        if call.error:
            self.upstream_errors.labels(call.source, call.error).inc()

    def request(self, operation: str, outcome: str, seconds: float) -> None:
        label = self._operation_label(operation)
        self.requests.labels(label, outcome).inc()
        self.request_seconds.labels(label).observe(seconds)

    def partial(self, sources: list[str]) -> None:
        """A partial answer: counted once for each source it went without."""
        for source in sources:
            self.partial_answers.labels(source).inc()

    def _operation_label(self, operation: str) -> str:
        if operation not in self._operations:
            if len(self._operations) >= MAX_OPERATIONS:
                return OTHER
            self._operations.add(operation)
        return operation

    async def endpoint(self, request: Request) -> Response:
        """``/metrics`` in the exposition format the scraper asks for (OpenMetrics or
        Prometheus text)."""
        encode, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encode(self.registry), headers={"Content-Type": content_type})


class RuntimeCollector(Collector):
    """Cache and breaker state, read from the runtime at scrape time."""

    def __init__(self, runtime: Callable[[], Runtime | None]) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[Metric]:
        runtime = self._runtime()
        if runtime is None:  # not started yet
            return
        hits = CounterMetricFamily(
            "mosaic_cache_hits", "Keys answered from the cross-request cache", labels=["cache"]
        )
        misses = CounterMetricFamily(
            "mosaic_cache_misses", "Keys the cache had to fetch from the source", labels=["cache"]
        )
        for name, layer in runtime.layers.items():
            hits.add_metric([name], layer.hits)
            misses.add_metric([name], layer.misses)
        breaker = GaugeMetricFamily(
            "mosaic_breaker_state",
            "Circuit breaker state per source: 1 for the state it is in",
            labels=["source", "state"],
        )
        in_flight = GaugeMetricFamily(
            "mosaic_upstream_in_flight", "Calls in flight to a source", labels=["source"]
        )
        queued = GaugeMetricFamily(
            "mosaic_upstream_queued", "Calls waiting for a slot to a source", labels=["source"]
        )
        error_rate = GaugeMetricFamily(
            "mosaic_upstream_recent_error_rate",
            "Share of a source's recent calls that failed",
            labels=["source"],
        )
        rate_limited = GaugeMetricFamily(
            "mosaic_upstream_rate_limited",
            "1 while a source's last word was a 429: its calls are held until its wait is over",
            labels=["source"],
        )
        refused = CounterMetricFamily(
            "mosaic_upstream_refused",
            "Calls the gateway did not send, by the code the caller got: the breaker open, "
            "the queue full, the request's deadline passed, a rate limit outlasting it",
            labels=["source", "code"],
        )
        for source, guard in runtime.guards.items():
            for code, count in guard.refused.items():
                refused.add_metric([source, code], count)
            state = guard.state()
            for name in BREAKER_STATES:
                breaker.add_metric([source, name], 1.0 if state["breaker"] == name else 0.0)
            in_flight.add_metric([source], float(guard.in_flight))
            queued.add_metric([source], _number(state["queued"]))
            error_rate.add_metric([source], _number(state["recent_error_rate"]))
            rate_limited.add_metric([source], 1.0 if state["rate_limited"] else 0.0)
        yield from (hits, misses, breaker, in_flight, queued, error_rate, rate_limited, refused)
        if runtime.responses is not None:
            yield from _response_cache(runtime.responses)


def _response_cache(cache: ResponseCache) -> Iterator[Metric]:
    answers = CounterMetricFamily(
        "mosaic_response_cache_lookups",
        "Queries looked up in the response cache: hit (answered without running) or miss",
        labels=["result"],
    )
    answers.add_metric(["hit"], cache.hits)
    answers.add_metric(["miss"], cache.misses)
    door = CounterMetricFamily(
        "mosaic_response_cache_door_hits",
        "Of the hits, those answered by their request's bytes before GraphQL ran",
    )
    door.add_metric([], cache.door_hits)
    kept = GaugeMetricFamily("mosaic_response_cache_bytes", "JSON the response cache holds")
    kept.add_metric([], float(cache.bytes))
    yield from (answers, door, kept)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0
