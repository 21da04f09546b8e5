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
from resolvers.loading.fetchers import Fetchers, Read
from resolvers.loading.reads import READS, Fact, Fetch
from resolvers.loading.sources import Sources

LIVE = Freshness(ttl_s=0.0)

#: kind of fact -> freshness (DESIGN's freshness table); each read declares its kind
#: (resolvers/loading/reads.py)
FRESHNESS: dict[Fact, Freshness] = {
    Fact.LIVE: LIVE,
    Fact.PRODUCT: Freshness(ttl_s=600, max_stale_s=86_400),  # 10 min
    Fact.PRICE: Freshness(ttl_s=60, max_stale_s=3_600),  # 60 s
    Fact.STOCK: Freshness(ttl_s=5, max_stale_s=60),  # 5 s
    Fact.INBOUND: Freshness(ttl_s=5, max_stale_s=300),
    # reference data: fresh for settings.caching.reference_ttl_s (DESIGN: 1 h)
    Fact.PLACES: Freshness(ttl_s=0, max_stale_s=86_400),
}


def _stored(value: Any) -> Any:
    """What a store keeps of a loader's value: of an ``X | None``, the ``X`` (a key the
    source does not know is kept as absent, not as None)."""
    if isinstance(value, UnionType):
        (kept,) = (t for t in get_args(value) if t is not NoneType)
        return kept
    return value


#: read name -> what one key's value is, as the read declares it, so a shared store
#: gives back the very records it was given (and validates them on the way)
VALUE_TYPES: dict[str, Any] = {name: _stored(read.value) for name, read in READS.items()}


def cache_store(redis: Redis | None, clock: Clock = time.time) -> CacheStore:
    """Redis when the gateway has one (shared by replicas), else this process's LRU."""
    return RedisStore(redis, VALUE_TYPES) if redis is not None else MemoryStore(clock=clock)


def freshness_for(name: str, settings: Settings) -> Freshness:
    """How fresh the read ``name`` must be: its kind's, but for the TTL the settings
    give reference data and any per-read override (``MOSAIC_CACHE_TTL_S``)."""
    fact = READS[name].fact
    policy = FRESHNESS[fact]
    usual = settings.caching.reference_ttl_s if fact is Fact.PLACES else policy.ttl_s
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
