"""The cross-request layer, through the real gateway with its cache on, counted at the
simulated systems: freshness-bounded caching, single flight, the batching window, and
invalidation."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import aiohttp

from adapters.cache import Freshness, MemoryStore, SharedFetch
from adapters.config import ErpConfig
from adapters.erp.adapter import ErpAdapter
from legacy.world import World
from tests.gateway_client import graphql
from tests.simulators import call_count, clear_calls, reset_knobs, set_knobs
from tests.timing import ManualClock, poll_until_async

NAMES = "query($skus: [ID!]!) { products(skus: $skus) { sku name price { amount } } }"


def erp_calls(url: str, operation: str) -> int:
    return sum(n for op, n in call_count(url).items() if op.startswith(operation))


def skus(world: World, start: int, count: int) -> list[str]:
    return [item.no for item in world.items[start : start + count]]


async def concurrently(url: str, variables: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """All requests sent at once over one client session, as a busy page would."""
    async with aiohttp.ClientSession() as session:

        async def one(v: dict[str, Any]) -> dict[str, Any]:
            body = {"query": NAMES, "variables": v}
            async with session.post(url + "/graphql", json=body) as response:
                result: dict[str, Any] = await response.json()
                return result

        return list(await asyncio.gather(*(one(v) for v in variables)))


def test_a_second_read_within_freshness_makes_no_upstream_call(
    cached_gateway_url: str, systems: dict[str, str], world: World
) -> None:
    wanted = {"skus": skus(world, 100, 5)}
    first = graphql(cached_gateway_url, NAMES, wanted)
    clear_calls(systems["erp"])
    second = graphql(cached_gateway_url, NAMES, wanted)
    assert second == first
    assert "errors" not in second
    assert erp_calls(systems["erp"], "ItemCard") == 0
    assert erp_calls(systems["erp"], "SalesPrices") == 0


async def test_identical_concurrent_requests_share_one_upstream_call(
    cached_gateway_url: str, systems: dict[str, str], world: World
) -> None:
    clear_calls(systems["erp"])
    wanted = {"skus": skus(world, 110, 3)}
    results = await concurrently(cached_gateway_url, [wanted] * 20)
    assert all(r == results[0] and "errors" not in r for r in results)
    assert erp_calls(systems["erp"], "ItemCard") == 1


async def test_concurrent_requests_for_different_keys_share_a_batch(
    cached_gateway_url: str, systems: dict[str, str], world: World
) -> None:
    """Ten clients each ask for one different product at the same moment; the window
    puts their keys into far fewer upstream calls than one per client."""
    clear_calls(systems["erp"])
    results = await concurrently(
        cached_gateway_url, [{"skus": [sku]} for sku in skus(world, 120, 10)]
    )
    assert all(r["data"]["products"][0]["name"] for r in results)
    assert erp_calls(systems["erp"], "ItemCard") <= 3


async def test_invalidating_a_key_sends_the_next_read_to_the_source(
    erp_server: Any, world: World
) -> None:
    async with aiohttp.ClientSession() as session:
        erp = ErpAdapter(session, ErpConfig(url=erp_server.url))
        items = SharedFetch("item", "erp", erp.items, Freshness(ttl_s=600), MemoryStore())
        sku = world.items[130].no
        clear_calls(erp_server.url)
        await items([sku])
        await items([sku])
        assert erp_calls(erp_server.url, "ItemCard") == 1
        await items.invalidate([sku])
        found = await items([sku])
        assert found[sku].sku == sku
        assert erp_calls(erp_server.url, "ItemCard") == 2


async def test_a_read_near_the_end_of_freshness_is_refetched_behind_it(
    erp_server: Any, world: World
) -> None:
    """Fresh for 1 s, refreshed ahead in its last 0.4 s: a read at 0.7 s gets the cached
    value and starts one refetch, so a read at 1.2 s (past the first entry's TTL) needs
    no call: the key never expired for its readers."""
    async with aiohttp.ClientSession() as session:
        erp = ErpAdapter(session, ErpConfig(url=erp_server.url))
        clock = ManualClock()
        freshness = Freshness(ttl_s=1.0, refresh_ahead_s=0.4)
        store = MemoryStore(clock=clock)
        items = SharedFetch("item", "erp", erp.items, freshness, store, clock=clock)
        sku = world.items[131].no
        clear_calls(erp_server.url)
        first = await items([sku])
        clock.advance(0.7)
        assert await items([sku]) == first
        refetched_at = clock()

        async def refetched() -> bool:  # the refetch runs behind the read
            entry = (await store.get_many("item", [sku])).get(sku)
            return entry is not None and entry.stored_at == refetched_at

        await poll_until_async(refetched)
        assert erp_calls(erp_server.url, "ItemCard") == 2
        clock.advance(0.5)
        assert await items([sku]) == first
        assert erp_calls(erp_server.url, "ItemCard") == 2


async def test_a_failed_refresh_is_not_tried_again_for_the_same_entry(
    erp_server: Any, world: World
) -> None:
    """While the ERP fails, every read in the refresh window still gets the cached
    value, and the source is asked once for that entry, not once per read."""
    async with aiohttp.ClientSession() as session:
        erp = ErpAdapter(session, ErpConfig(url=erp_server.url))
        fetched: list[Sequence[str]] = []
        answered: list[Sequence[str]] = []

        async def counted(keys: Sequence[str]) -> Any:
            fetched.append(keys)
            try:
                return await erp.items(keys)
            finally:
                answered.append(keys)

        clock = ManualClock()
        freshness = Freshness(ttl_s=1.0, refresh_ahead_s=0.6)
        store = MemoryStore(clock=clock)
        items = SharedFetch("item", "erp", counted, freshness, store, clock=clock)
        sku = world.items[132].no
        first = await items([sku])
        set_knobs(erp_server.url, fault="error500")
        try:
            clock.advance(0.5)
            for _ in range(3):
                assert await items([sku]) == first
                # the refresh the first read started has failed before the next read
                await poll_until_async(lambda: len(answered) == 2)
                clock.advance(0.1)
            await asyncio.sleep(0.05)  # a refresh a later read started would have asked
        finally:
            reset_knobs(erp_server.url)
        assert fetched == [[sku], [sku]]
