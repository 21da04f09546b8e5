"""Each source's guard, against a real simulated system: the breaker opens, stops
calling, half-opens and recovers; concurrency is bounded with a bounded queue; a hang
ends at the deadline. How a 429 is waited out: tests/test_resilience_rate_limits.py."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from adapters.config import SourceConfig
from adapters.errors import (
    CircuitOpen,
    UpstreamFault,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.transport.resilience import Clock, GuardConfig, SourceGuard, deadline
from adapters.transport.rest import JsonClient
from tests.conftest import WMS_TOKEN
from tests.simulators import calls, reset_knobs, set_knobs
from tests.timing import ManualClock, poll_until_async

QUERY = ("/api/v1/stock/query", {"skus": ["10000"]})


def client(
    session: aiohttp.ClientSession,
    url: str,
    timeout_s: float = 2.0,
    clock: Clock = time.monotonic,
    **guard: float,
) -> JsonClient:
    config = SourceConfig(url=url, timeout_s=timeout_s, token=WMS_TOKEN, guard=GuardConfig(**guard))
    return JsonClient("wms", session, config, clock=clock)


async def test_the_breaker_opens_after_its_threshold_and_stops_calling(
    wms: str, session: aiohttp.ClientSession
) -> None:
    wms_client = client(session, wms, retries=0, failure_threshold=3, open_s=60)
    set_knobs(wms, fault="error500")
    for _ in range(3):
        with pytest.raises(UpstreamFault):
            await wms_client.post(*QUERY)
    with pytest.raises(CircuitOpen) as refused:
        await wms_client.post(*QUERY)
    assert refused.value.extensions["code"] == "CIRCUIT_OPEN"
    assert refused.value.extensions["source"] == "wms"
    assert wms_client.guard.refused == {"CIRCUIT_OPEN": 1}
    assert len(calls(wms)) == 3
    assert wms_client.guard.state()["breaker"] == "open"


async def test_the_breaker_half_opens_and_closes_when_the_source_returns(
    wms: str, session: aiohttp.ClientSession
) -> None:
    clock = ManualClock()
    wms_client = client(session, wms, clock=clock, retries=0, failure_threshold=2, open_s=5)
    set_knobs(wms, fault="error500")
    for _ in range(2):
        with pytest.raises(UpstreamFault):
            await wms_client.post(*QUERY)
    reset_knobs(wms)
    with pytest.raises(CircuitOpen):
        await wms_client.post(*QUERY)
    clock.advance(5)
    assert await wms_client.post(*QUERY)
    assert wms_client.guard.state()["breaker"] == "closed"
    assert len(calls(wms)) == 3


async def test_a_failed_probe_opens_the_breaker_again(
    wms: str, session: aiohttp.ClientSession
) -> None:
    clock = ManualClock()
    wms_client = client(session, wms, clock=clock, retries=0, failure_threshold=1, open_s=5)
    set_knobs(wms, fault="error500")
    with pytest.raises(UpstreamFault):
        await wms_client.post(*QUERY)
    clock.advance(5)
    with pytest.raises(UpstreamFault):
        await wms_client.post(*QUERY)
    with pytest.raises(CircuitOpen):
        await wms_client.post(*QUERY)
    assert len(calls(wms)) == 2


async def test_calls_waiting_for_a_slot_are_not_sent_once_the_breaker_opens(
    wms: str, session: aiohttp.ClientSession
) -> None:
    """A burst against a failing source: the first failure opens the breaker, and the
    calls still queued then end with CIRCUIT_OPEN instead of reaching the source. (The
    slot passes on as the source answers, before that answer is judged, so the call
    handed it is sent all the same.)"""
    wms_client = client(session, wms, max_concurrency=1, retries=0, failure_threshold=1)
    set_knobs(wms, fault="error500", latency_ms=100)
    results = await asyncio.gather(
        *(wms_client.post(*QUERY) for _ in range(6)), return_exceptions=True
    )
    assert [type(r) for r in results] == [UpstreamFault] * 2 + [CircuitOpen] * 4
    assert len(calls(wms)) == 2


async def test_a_read_is_not_retried_once_the_breaker_has_opened(
    wms: str, session: aiohttp.ClientSession
) -> None:
    """A read whose first attempt failed gives up with its own error, unretried, when
    another call's failure has opened the breaker in the meantime."""
    wms_client = client(
        session, wms, retries=3, retry_budget=1.0, backoff_s=0.2, failure_threshold=1
    )
    set_knobs(wms, fault="error500", latency_ms=100)
    write, read = await asyncio.gather(
        wms_client.post(*QUERY, idempotent=False), wms_client.post(*QUERY), return_exceptions=True
    )
    assert isinstance(write, UpstreamFault)
    assert isinstance(read, UpstreamFault)
    assert len(calls(wms)) == 2
    assert wms_client.guard.state()["breaker"] == "open"


async def test_only_the_probe_makes_way_for_another_probe() -> None:
    """A call let in before the breaker opened, ending without a verdict on the source
    (a 4xx here) while the half-open breaker's probe is under way, lets no second probe
    through."""
    clock = ManualClock()
    guard = SourceGuard("erp", 1.0, GuardConfig(retries=0, failure_threshold=1), clock=clock)
    earlier, probing = asyncio.Event(), asyncio.Event()

    async def refused_later(_: float) -> None:
        await earlier.wait()
        raise UpstreamFault("erp", "no such item", status=404)

    async def failing(_: float) -> None:
        raise UpstreamFault("erp", "internal error")

    async def hanging(_: float) -> None:
        await probing.wait()

    old = asyncio.ensure_future(guard.call(refused_later, idempotent=True))
    with pytest.raises(UpstreamFault):
        await guard.call(failing, idempotent=True)
    clock.advance(guard.config.open_s)
    probe = asyncio.ensure_future(guard.call(hanging, idempotent=True))
    await poll_until_async(lambda: guard.breaker.probing, what="the probe is under way")
    earlier.set()
    with pytest.raises(UpstreamFault):
        await old
    with pytest.raises(CircuitOpen):
        await guard.call(hanging, idempotent=True)
    probing.set()
    await probe
    assert guard.state()["breaker"] == "closed"


async def test_reads_are_retried_and_succeed_when_the_fault_clears(
    wms: str, session: aiohttp.ClientSession
) -> None:
    wms_client = client(session, wms, retries=3, backoff_s=0.2, retry_budget=1.0)
    set_knobs(wms, fault="error500")
    call = asyncio.ensure_future(wms_client.post(*QUERY))
    await poll_until_async(lambda: calls(wms), what="the first attempt failed")
    reset_knobs(wms)
    assert await call
    assert len(calls(wms)) >= 2


async def test_writes_are_never_retried(wms: str, session: aiohttp.ClientSession) -> None:
    wms_client = client(session, wms, retries=3, retry_budget=1.0)
    set_knobs(wms, fault="error500")
    with pytest.raises(UpstreamFault):
        await wms_client.post(*QUERY, idempotent=False)
    assert len(calls(wms)) == 1


async def test_a_hanging_source_ends_at_the_request_deadline(
    wms: str, session: aiohttp.ClientSession
) -> None:
    wms_client = client(session, wms, timeout_s=30, retries=2)
    set_knobs(wms, fault="hang")
    started = time.monotonic()
    with deadline(0.5), pytest.raises(UpstreamTimeout):
        await wms_client.post(*QUERY)
    assert time.monotonic() - started < 1.5


async def test_concurrency_is_bounded_and_the_queue_refuses_the_excess(
    wms: str, session: aiohttp.ClientSession
) -> None:
    wms_client = client(session, wms, max_concurrency=2, max_queue=2, retries=0)
    set_knobs(wms, latency_ms=200)
    results = await asyncio.gather(
        *(wms_client.post(*QUERY) for _ in range(6)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, UpstreamUnavailable)]
    assert len(refused) == 2
    assert wms_client.guard.peak_in_flight == 2
    log = calls(wms)
    assert len(log) == 4
    spans = [(c["started"], c["started"] + c["delay_ms"] / 1000) for c in log]
    overlapping = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert overlapping <= 2


async def test_calls_the_gateway_refuses_itself_say_nothing_against_the_source(
    wms: str, session: aiohttp.ClientSession
) -> None:
    """A full queue, a deadline passed while waiting for a slot or before the call: the
    gateway's own load, not the source failing. Such calls are not sent, not retried,
    and however many there are, the breaker stays closed and the error rate at 0.
    (Clients who gave up at 100 ms on Customer360 filled the ERP's queue, and the
    refusals opened its breaker: every other client's ERP fields failed.)"""
    wms_client = client(session, wms, max_concurrency=1, max_queue=1, failure_threshold=2)
    set_knobs(wms, latency_ms=300)
    holder = asyncio.ensure_future(wms_client.post(*QUERY))
    await poll_until_async(lambda: wms_client.guard.in_flight == 1, what="the slot taken")
    with deadline(0.05):
        refused = await asyncio.gather(
            *(wms_client.post(*QUERY) for _ in range(4)), return_exceptions=True
        )
    with deadline(0), pytest.raises(UpstreamTimeout):
        await wms_client.post(*QUERY)
    assert await holder
    kinds = sorted(type(r).__name__ for r in refused)
    assert kinds == ["UpstreamTimeout", *["UpstreamUnavailable"] * 3]
    state = wms_client.guard.state()
    assert (state["breaker"], state["recent_error_rate"]) == ("closed", 0.0)
    assert wms_client.guard.refused == {"SOURCE_TIMEOUT": 2, "SOURCE_UNAVAILABLE": 3}
    assert len(calls(wms)) == 1


async def test_a_caller_that_gives_up_keeps_its_slot_until_the_source_has_answered(
    wms: str, session: aiohttp.ClientSession
) -> None:
    """The source works on an abandoned call all the same, so the next call waits for
    it: the source never serves more calls at once than the limit."""
    wms_client = client(session, wms, max_concurrency=1, retries=0)
    set_knobs(wms, latency_ms=400)
    with deadline(0.1), pytest.raises(UpstreamTimeout):
        await wms_client.post(*QUERY)
    assert await wms_client.post(*QUERY)
    first, second = sorted(calls(wms), key=lambda c: c["started"])
    assert second["started"] >= first["started"] + first["delay_ms"] / 1000
