"""A cached value may stand in for a failing source, within its stale limit, and the
response says so, with the value's age."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import pytest

from adapters.cache import Freshness, MemoryStore, ReadLog, Served, SharedFetch
from adapters.config import ErpConfig
from adapters.erp.adapter import ErpAdapter
from adapters.transport.resilience import GuardConfig
from legacy.world import World
from tests.gateway_client import graphql
from tests.simulators import reset_knobs, set_knobs
from tests.timing import ManualClock

NAMES = "query($skus: [ID!]!) { products(skus: $skus) { sku name price { amount } } }"


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    """The caches' time in this module's gateway, moved by the tests."""
    return ManualClock()


@pytest.fixture(scope="module")
def short_lived_gateway(systems: dict[str, str], clock: ManualClock) -> Iterator[str]:
    """A gateway whose product and price cache entries expire after 0.2 s."""
    from tests.conftest import _gateway

    ttl = {"item": 0.2, "price": 0.2}
    yield from _gateway(systems, clock, cache=True, cache_ttl_s=ttl, retries=0)


def test_an_expired_value_stands_in_for_a_failing_source_marked_stale(
    short_lived_gateway: str, systems: dict[str, str], world: World, clock: ManualClock
) -> None:
    wanted = {"skus": [item.no for item in world.items[140:143]]}
    fresh = graphql(short_lived_gateway, NAMES, wanted)
    assert "errors" not in fresh
    clock.advance(0.3)
    set_knobs(systems["erp"], fault="error500")
    try:
        fallback = graphql(short_lived_gateway, NAMES, wanted)
    finally:
        reset_knobs(systems["erp"])
    assert fallback["data"] == fresh["data"]
    assert "errors" not in fallback
    stale = fallback["extensions"]["stale"]
    assert {entry["cache"] for entry in stale} == {"item", "price"}
    assert all(entry["source"] == "erp" and entry["code"] == "SOURCE_ERROR" for entry in stale)
    assert all(entry["age_s"] >= 0.2 for entry in stale)


def test_a_fresh_answer_carries_no_stale_marker(short_lived_gateway: str, world: World) -> None:
    result = graphql(short_lived_gateway, NAMES, {"skus": [world.items[150].no]})
    assert "stale" not in (result.get("extensions") or {})


def test_an_answer_standing_on_stale_values_is_never_given_again_whole(
    short_lived_gateway: str, systems: dict[str, str], world: World, clock: ManualClock
) -> None:
    """Five clients ask while the ERP fails slowly: the first renews the expired kept
    answer with stale values, the others wait for it; none may be handed that answer
    whole, which would come without the stale marker (and outlive its freshness)."""
    wanted = {"skus": [item.no for item in world.items[150:152]]}
    assert "errors" not in graphql(short_lived_gateway, NAMES, wanted)  # kept
    clock.advance(0.3)
    set_knobs(systems["erp"], fault="error500", latency_ms=200)
    try:
        with ThreadPoolExecutor(5) as pool:
            answers = list(
                pool.map(lambda _: graphql(short_lived_gateway, NAMES, wanted), range(5))
            )
    finally:
        reset_knobs(systems["erp"])
    assert all(answer["extensions"]["stale"] for answer in answers)


async def test_a_stand_in_is_told_to_the_request_that_read_it_and_to_no_other(
    erp_server: Any, world: World
) -> None:
    """The shared layer learns whose read it answers from the account the read hands it
    (a request's loaders hand theirs), not from ambient state: two requests reading an
    expired key at once while the ERP fails share the one failed call, and each one's
    account lists the stand-in; a third, reading a fresh key at the same moment, has
    none, and only the account that asked for a read log gets one."""
    async with aiohttp.ClientSession() as session:
        erp = ErpAdapter(session, ErpConfig(url=erp_server.url, guard=GuardConfig(retries=0)))
        clock = ManualClock()
        freshness = Freshness(ttl_s=1.0, max_stale_s=60.0)
        items = SharedFetch(
            "item", "erp", erp.items, freshness, MemoryStore(clock=clock), clock=clock
        )
        expired, fresh = world.items[160].no, world.items[161].no
        await items([expired])
        clock.advance(2.0)
        await items([fresh])
        first, second, third = Served(), Served(), Served(log=ReadLog())
        set_knobs(erp_server.url, fault="error500")
        try:
            answers = await asyncio.gather(
                items([expired], first), items([expired], second), items([fresh], third)
            )
        finally:
            reset_knobs(erp_server.url)
    assert answers[0] == answers[1]
    assert expired in answers[0]
    assert fresh in answers[2]
    told = [(n.cache, n.source, n.code, n.age_s) for n in first.stale]
    assert told == [("item", "erp", "SOURCE_ERROR", 2.0)]
    assert second.stale == first.stale
    assert third.stale == []
    assert first.log is None
    assert second.log is None
    assert third.log is not None
    assert third.log.complete
    assert set(third.log.stored["item"]) == {fresh}
