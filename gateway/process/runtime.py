"""The process's long-lived parts: one pooled HTTP session per source, and the adapters.

Made at start-up and closed at shutdown. Nothing here needs a source to be up: sessions
connect lazily and the ERP adapter loads its WSDLs on first use, so the gateway starts
while a legacy system is down and picks it up when it returns. Redis, when configured,
holds what replicas share (cache, persisted queries, rate limits); it too connects lazily.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiohttp
from redis.asyncio import Redis

from adapters.cache import Clock, SharedFetch
from adapters.config import CrmConfig, ErpConfig, PosConfig, SourceConfig
from adapters.crm import CrmAdapter
from adapters.erp.adapter import ErpAdapter
from adapters.feeds import PosFeed, WmsFeed
from adapters.pos import PosAdapter
from adapters.transport.resilience import SourceGuard
from adapters.wms import WmsAdapter
from gateway.caching.policy import cache_store, shared_fetchers
from gateway.caching.response_cache import ResponseCache
from gateway.process.redis_sagas import RedisSagaLog
from gateway.security.persisted import (
    MemoryDocuments,
    PersistedQueries,
    RedisDocuments,
    trusted_documents,
)
from gateway.security.ratelimit import RateLimiter, rate_limiter
from gateway.settings import Settings
from resolvers.commerce.sagas import AfterStep, SagaLog, SqliteSagaLog
from resolvers.commerce.service import Commerce
from resolvers.loading.fetchers import Fetchers
from resolvers.loading.sources import Sources

#: the sources, in the order every listing of them follows
SOURCE_NAMES = ("crm", "erp", "pos", "wms")


def _session() -> aiohttp.ClientSession:
    # keep-alive pool per source; the limit bounds concurrent connections to it
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64, ttl_dns_cache=300))


def open_sources(settings: Settings) -> tuple[Sources, list[aiohttp.ClientSession]]:
    """An adapter per source on a pooled session of its own (the caller closes them)."""
    crm, erp, pos, wms = sessions = [_session() for _ in SOURCE_NAMES]
    sources = Sources(
        crm=CrmAdapter(crm, settings.adapter_config(CrmConfig, settings.crm)),
        erp=ErpAdapter(erp, settings.adapter_config(ErpConfig, settings.erp)),
        pos=PosAdapter(pos, settings.adapter_config(PosConfig, settings.pos)),
        wms=WmsAdapter(wms, settings.adapter_config(SourceConfig, settings.wms)),
    )
    return sources, sessions


@dataclass(slots=True)
class Runtime:
    settings: Settings
    sessions: list[aiohttp.ClientSession]
    sources: Sources
    fetchers: Fetchers
    layers: dict[str, SharedFetch[object, object]]
    redis: Redis | None
    persisted: PersistedQueries
    limiter: RateLimiter | None
    commerce: Commerce  # writes (sagas) and live stock; started in the lifespan
    responses: ResponseCache | None  # None: no cross-request cache, or switched off

    @property
    def guards(self) -> dict[str, SourceGuard]:
        """Each source's guard: breaker, error rate, concurrency (for /readyz, /metrics)."""
        s = self.sources
        return {
            "crm": s.crm.client.guard,
            "erp": s.erp.guard,
            "pos": s.pos.client.guard,
            "wms": s.wms.client.guard,
        }

    @classmethod
    def start(
        cls, settings: Settings, clock: Clock = time.time, after_step: AfterStep | None = None
    ) -> Runtime:
        """``clock``: the caches' (tests move it instead of waiting out a TTL);
        ``after_step``: called after each saga step (tests kill the process there)."""
        sources, sessions = open_sources(settings)
        wms = sessions[SOURCE_NAMES.index("wms")]
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        fetchers, layers = shared_fetchers(sources, settings, cache_store(redis, clock), clock)
        return cls(
            settings=settings,
            sessions=sessions,
            sources=sources,
            fetchers=fetchers,
            layers=layers,
            redis=redis,
            persisted=_persisted(settings, redis),
            limiter=rate_limiter(
                redis, settings.limits.rate_limit_per_s, settings.limits.rate_limit_burst
            ),
            responses=ResponseCache(
                int(settings.caching.response_cache_mb * 1_000_000), layers, clock
            )
            if layers and settings.caching.response_cache_mb > 0
            else None,
            commerce=Commerce.create(
                sources,
                _saga_log(settings, redis),
                layers,
                [
                    PosFeed(sources.pos, settings.pos.poll_interval_s),
                    WmsFeed(wms, settings.adapter_config(SourceConfig, settings.wms)),
                ],
                lease_s=settings.sagas.lease_s,
                timeout_s=settings.sagas.timeout_s,
                sweep_s=settings.sagas.sweep_s or settings.sagas.lease_s,
                max_backoff_s=settings.sagas.max_backoff_s,
                after_step=after_step,
            ),
        )

    async def close(self) -> None:
        await self.commerce.stop()
        for session in self.sessions:
            await session.close()
        if self.redis is not None:
            await self.redis.aclose()


def _saga_log(settings: Settings, redis: Redis | None) -> SagaLog:
    """Redis when configured (replicas share the sagas and the keys), else SQLite."""
    if redis is not None:
        return RedisSagaLog(redis)
    return SqliteSagaLog(settings.data_dir / "sagas.sqlite")


def _persisted(settings: Settings, redis: Redis | None) -> PersistedQueries:
    trusted = (
        trusted_documents(settings.trusted_documents_dir)
        if settings.trusted_documents_dir
        else None
    )
    if not settings.persisted_queries:
        return PersistedQueries(None, trusted)
    return PersistedQueries(RedisDocuments(redis) if redis else MemoryDocuments(), trusted)
