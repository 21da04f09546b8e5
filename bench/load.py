"""The closed-loop load generator: C workers, each sending its next request as soon as
its last one is answered, until the time or the request budget runs out.

Closed loop because that is how a fleet of frontends behaves (a page waits for its
data) and because it measures throughput at a fixed concurrency without the queueing
collapse an open loop beyond capacity would add. Requests already sent when the time
runs out are waited for, so every upstream call in the window belongs to a counted
request.

The generator's own heap (the world the requests were built from, earlier cells'
samples) is frozen out of the garbage collector while it drives load: collecting it
took ~265 ms every ~0.6 s here, a stall every request in flight was charged for, so the
tail measured the generator rather than the gateway.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from statistics import median

import aiohttp
import orjson

REQUEST_TIMEOUT_S = 60.0
#: a path no simulated system serves: it answers 404 after its latency, like any call
PROBE_PATH = "/transport-probe"
#: the smallest request a GraphQL server can be asked
SMALLEST = b'{"query": "{ __typename }"}'


@dataclass(frozen=True, slots=True)
class Request:
    """One ready-to-send GraphQL request; ``name`` is the reference operation's."""

    name: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    sent: float  # wall clock (time.time()), comparable with the systems' call logs
    answered: float  # wall clock
    latency_ms: float  # from a monotonic clock
    error: str | None  # None when the answer was 200 without "errors"


@dataclass(frozen=True, slots=True)
class LoadResult:
    samples: list[Sample]
    elapsed_s: float


def graphql_request(name: str, document: str, variables: dict[str, object]) -> Request:
    body = orjson.dumps({"query": document, "operationName": name, "variables": variables})
    return Request(name=name, body=body)


async def closed_loop(
    url: str,
    requests: Sequence[Request],
    concurrency: int,
    duration_s: float,
    max_requests: int,
    patience_s: float = REQUEST_TIMEOUT_S,
) -> LoadResult:
    """Drive ``url`` (the gateway's /graphql) with ``requests`` in round robin; a client
    gives up on an answer after ``patience_s`` (closing its connection) and asks again."""
    turn = itertools.count()
    samples: list[Sample] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=patience_s)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    with _heap_frozen():
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, headers=headers
        ) as session:
            started = time.monotonic()
            stop_at = started + duration_s

            async def worker() -> None:
                while time.monotonic() < stop_at:
                    index = next(turn)
                    if index >= max_requests:
                        return
                    samples.append(await _send(session, url, requests[index % len(requests)]))

            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.monotonic() - started
    return LoadResult(samples=samples, elapsed_s=elapsed)


@contextmanager
def _heap_frozen() -> Iterator[None]:
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def _send(session: aiohttp.ClientSession, url: str, request: Request) -> Sample:
    sent = time.time()
    clock = time.perf_counter()
    error: str | None
    try:
        async with session.post(url, data=request.body) as response:
            raw = await response.read()
            error = _error_of(response.status, raw)
    except (aiohttp.ClientError, TimeoutError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    latency_ms = (time.perf_counter() - clock) * 1000
    return Sample(request.name, sent, time.time(), latency_ms, error)


def _error_of(status: int, raw: bytes) -> str | None:
    """What was wrong with an answer, or None; any ``errors`` entry counts."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return f"HTTP {status}: not JSON: {raw[:200]!r}"
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors:
        first = errors[0] if isinstance(errors, list) else errors
        return f"HTTP {status}: {str(first)[:300]}"
    if status != 200:
        return f"HTTP {status}"
    return None


async def round_trip_excess_ms(system_url: str, samples: int = 30) -> float:
    """What one idle round trip to a simulated system costs beyond the delay the system
    reports (its ``x-simulated-delay-ms``): loopback, both processes waking, HTTP on
    both sides. Median of ``samples`` calls sent one after another, so both sides idle
    through each latency as they do behind a gateway at concurrency 1. A gateway that
    did no work at all would still pay this once per round."""
    excess: list[float] = []
    async with aiohttp.ClientSession() as session:
        for _ in range(samples):
            clock = time.perf_counter()
            async with session.get(system_url + PROBE_PATH) as response:
                await response.read()
                reported = float(response.headers["x-simulated-delay-ms"])
            excess.append((time.perf_counter() - clock) * 1000 - reported)
    return median(excess)


def idle_slowdown(pause_s: float = 0.025, samples: int = 40) -> float:
    """How many times longer the same piece of Python takes right after the process sat
    idle for ``pause_s`` (about one source's latency) than when run back to back
    (medians). The gateway's every step after a wait for a source runs in that state at
    concurrency 1; on a busy server the ratio is about 1, on a VM whose idle cores serve
    other guests the caches are cold and it is not. Measured in this process: a fact of
    the machine, like the idle round trip, not of any gateway."""

    def work() -> float:
        clock = time.perf_counter()
        rows = [(str(n), n % 7, [n, n + 1]) for n in range(300)]
        text = ",".join(f"{sku}:{qty}" for sku, qty, tags in rows if tags[0] % 2 == 0)
        sorted(text.split(","), key=len)
        return time.perf_counter() - clock

    for _ in range(5):  # the code and its data warm, as a running gateway's are
        work()
    back_to_back = median(work() for _ in range(samples))
    after_idle: list[float] = []
    for _ in range(samples):
        time.sleep(pause_s)
        after_idle.append(work())
    return median(after_idle) / back_to_back


async def smallest_request_ms(graphql_url: str, samples: int = 30) -> float:
    """The latency of ``{ __typename }`` at concurrency 1 (median): what any request to
    the gateway costs before it has anything to resolve."""
    headers = {"Content-Type": "application/json"}
    took: list[float] = []
    async with aiohttp.ClientSession(headers=headers) as session:
        for _ in range(samples):
            clock = time.perf_counter()
            async with session.post(graphql_url, data=SMALLEST) as response:
                await response.read()
            took.append((time.perf_counter() - clock) * 1000)
            await asyncio.sleep(0.02)  # idle between, as between the requests it stands for
    return median(took)
