"""The cache store in a real Redis: records fetched from the real simulated systems go
in and come back equal, as JSON (never pickle), and expire when they may no longer
stand in for their source."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest
from redis.asyncio import Redis

from adapters.cache import ABSENT, Entry
from adapters.config import ErpConfig, PosConfig
from adapters.erp.adapter import ErpAdapter
from adapters.pos import PosAdapter
from adapters.redis_store import RedisStore
from gateway.caching.policy import VALUE_TYPES
from gateway.process.runtime import Runtime
from gateway.settings import Settings
from legacy.world import World
from tests.conftest import gateway_settings
from tests.redis_server import _free_port


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_every_read_has_a_typed_loader_and_so_a_value_type(
    systems: dict[str, str],
) -> None:
    """A read without a value type would fail to cache in Redis: the running gateway's
    fetch table and the store's value types both come from the one declaration of each
    read (resolvers/loading/reads.py), and hold the same reads."""
    runtime = Runtime.start(gateway_settings(systems, cache=False))
    try:
        assert set(runtime.fetchers) == set(VALUE_TYPES)
    finally:
        await runtime.close()


async def test_records_from_the_systems_come_back_equal(
    redis: Redis, session: aiohttp.ClientSession, systems: dict[str, str], world: World
) -> None:
    """Products (money, tuples of channels), order histories (lists of orders with
    lines, dates), store stock (the records made by the thousand, msgspec structs, not
    dataclasses) and a miss, each through Redis and back."""
    settings = Settings(erp_url=systems["erp"], pos_url=systems["pos"])
    erp = ErpAdapter(session, settings.adapter_config(ErpConfig, settings.erp))
    pos = PosAdapter(session, settings.adapter_config(PosConfig, settings.pos))
    sku = world.items[0].no
    customer = next(o.customer_ref for o in world.erp_orders if o.customer_ref)
    values = {
        "item": {sku: (await erp.items([sku]))[sku], "nothing": ABSENT},
        "erp_orders_of": {customer: (await erp.orders_by_customer([customer]))[customer]},
        "stores": {"all": await pos.locations()},
        "store_stock": {sku: await pos.stock([sku])},
    }
    store = RedisStore(redis, VALUE_TYPES, prefix="test:roundtrip:")
    for namespace, by_key in values.items():
        entries = {key: Entry(value, time.time()) for key, value in by_key.items()}
        await store.set_many(namespace, entries, keep_s=60)
        assert await store.get_many(namespace, list(by_key)) == entries


async def test_values_are_stored_as_json(redis: Redis, world: World) -> None:
    store = RedisStore(redis, VALUE_TYPES, prefix="test:json:")
    now = time.time()
    await store.set_many("stores", {"all": Entry([], now)}, keep_s=60)
    assert orjson.loads(await redis.get("test:json:stores:all")) == {"t": now, "v": []}


async def test_an_entry_expires_in_redis_when_it_may_no_longer_stand_in(redis: Redis) -> None:
    store = RedisStore(redis, VALUE_TYPES, prefix="test:expiry:")
    await store.set_many("stores", {"all": Entry([], time.time() - 50)}, keep_s=60)
    assert 0 < await redis.pttl("test:expiry:stores:all") <= 10_000


async def test_invalidation_deletes_the_keys(redis: Redis) -> None:
    store = RedisStore(redis, VALUE_TYPES, prefix="test:delete:")
    await store.set_many("stores", {"all": Entry([], time.time())}, keep_s=60)
    await store.delete("stores", ["all"])
    assert await store.get_many("stores", ["all"]) == {}


async def test_redis_down_is_a_miss_not_a_failure() -> None:
    client = Redis.from_url(f"redis://127.0.0.1:{_free_port()}/0")  # nobody listens
    store = RedisStore(client, VALUE_TYPES)
    await store.set_many("stores", {"all": Entry([], time.time())}, keep_s=60)
    assert await store.get_many("stores", ["all"]) == {}
    await client.aclose()
