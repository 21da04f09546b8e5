"""The caching policy: how fresh each read must be, from DESIGN's freshness table.

Customer data and orders are live (no cache: a GDPR erasure or a new order must show at
once), but they still get single flight and the batching window. Product master,
prices, stock and places may be served from cache while younger than their TTL, are
refetched ahead when read in its last ``refresh_ahead`` share, and may stand in for a
failing source up to ``max_stale_s``.

The store is this process's memory, or Redis when ``MOSAIC_REDIS_URL`` is set, so that
every replica serves what any of them fetched.
"""

from __future__ import annotations

import time
from types import NoneType, UnionType
from typing import Any, get_args

from redis.asyncio import Redis

from adapters.cache import CacheStore, Clock, Freshness, MemoryStore, SharedFetch
from adapters.redis_store import RedisStore
from gateway.settings import Settings
from resolvers.loading.fetchers import Fetch, Fetchers, Read
from resolvers.loading.loaders import VALUES
from resolvers.loading.sources import Sources

LIVE = Freshness(ttl_s=0.0)

#: fetcher name -> freshness; what is not listed is live.
FRESHNESS: dict[str, Freshness] = {
    "item": Freshness(ttl_s=600, max_stale_s=86_400),  # product master: 10 min
    "items_in_category": Freshness(ttl_s=600, max_stale_s=86_400),
    "categories": Freshness(ttl_s=600, max_stale_s=86_400),
    "price": Freshness(ttl_s=60, max_stale_s=3_600),  # channel prices: 60 s
    "promotions": Freshness(ttl_s=60, max_stale_s=3_600),
    "store_stock": Freshness(ttl_s=5, max_stale_s=60),  # stock: 5 s
    "warehouse_stock": Freshness(ttl_s=5, max_stale_s=60),
    "inbound": Freshness(ttl_s=5, max_stale_s=300),
    # places: reference data, fresh for settings.reference_ttl_s (DESIGN: 1 h)
    "stores": Freshness(ttl_s=0, max_stale_s=86_400),
    "warehouses": Freshness(ttl_s=0, max_stale_s=86_400),
}
#: the reads whose TTL is ``settings.reference_ttl_s`` (MOSAIC_REFERENCE_TTL_S)
REFERENCE_DATA = frozenset({"stores", "warehouses"})


def _stored(value: Any) -> Any:
    """What a store keeps of a loader's value: of an ``X | None``, the ``X`` (a key the
    source does not know is kept as absent, not as None)."""
    if isinstance(value, UnionType):
        (kept,) = (t for t in get_args(value) if t is not NoneType)
        return kept
    return value


#: fetcher name -> what one key's value is, as its loader declares it, so a shared
#: store gives back the very records it was given (and validates them on the way)
VALUE_TYPES: dict[str, Any] = {name: _stored(value) for name, value in VALUES.items()}


def cache_store(redis: Redis | None, clock: Clock = time.time) -> CacheStore:
    """Redis when the gateway has one (shared by replicas), else this process's LRU."""
    return RedisStore(redis, VALUE_TYPES) if redis is not None else MemoryStore(clock=clock)


def freshness_for(name: str, settings: Settings) -> Freshness:
    policy = FRESHNESS.get(name, LIVE)
    usual = settings.caching.reference_ttl_s if name in REFERENCE_DATA else policy.ttl_s
    ttl = settings.caching.ttl_s.get(name, usual)
    return Freshness(ttl, policy.max_stale_s, refresh_ahead_s=ttl * settings.caching.refresh_ahead)


def shared_fetchers(
    sources: Sources,
    settings: Settings,
    store: CacheStore | None = None,
    clock: Clock = time.time,
) -> tuple[Fetchers, dict[str, SharedFetch[object, object]]]:
    """The fetchers with the cross-request layer in front of each (or none when the
    cache is switched off), and the layers by name for invalidation and metrics."""
    if not settings.caching.enabled:
        return Fetchers.of(sources), {}
    store = store or MemoryStore(clock=clock)
    layers: dict[str, SharedFetch[object, object]] = {}

    def wrap(name: str, source: str, fetch: Fetch) -> Read:
        layer: SharedFetch[object, object] = SharedFetch(
            name,
            source,
            fetch,
            freshness_for(name, settings),
            store,
            window_s=settings.caching.batch_window_ms / 1000,
            clock=clock,
        )
        layers[name] = layer
        return layer

    return Fetchers.of(sources, wrap), layers
