"""The process's long-lived parts: one pooled HTTP session per source, and the adapters.

Made at start-up and closed at shutdown. Nothing here needs a source to be up: sessions
connect lazily and the ERP adapter loads its WSDLs on first use, so the gateway starts
while a legacy system is down and picks it up when it returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from adapters.cache import SharedFetch
from adapters.crm import CrmAdapter
from adapters.erp import ErpAdapter
from adapters.pos import PosAdapter
from adapters.resilience import SourceGuard
from adapters.wms import WmsAdapter
from gateway.caching import shared_fetchers
from gateway.settings import Settings
from resolvers.fetchers import Fetchers
from resolvers.sources import Sources


def _session() -> aiohttp.ClientSession:
    # keep-alive pool per source; the limit bounds concurrent connections to it
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64, ttl_dns_cache=300))


@dataclass(slots=True)
class Runtime:
    settings: Settings
    sessions: list[aiohttp.ClientSession]
    sources: Sources
    fetchers: Fetchers
    layers: dict[str, SharedFetch[object, object]]

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
    def start(cls, settings: Settings) -> Runtime:
        crm, erp, pos, wms = (_session() for _ in range(4))
        sources = Sources(
            crm=CrmAdapter(crm, settings.crm()),
            erp=ErpAdapter(erp, settings.erp()),
            pos=PosAdapter(pos, settings.pos()),
            wms=WmsAdapter(wms, settings.wms()),
        )
        fetchers, layers = shared_fetchers(sources, settings)
        return cls(
            settings=settings,
            sessions=[crm, erp, pos, wms],
            sources=sources,
            fetchers=fetchers,
            layers=layers,
        )

    async def close(self) -> None:
        for session in self.sessions:
            await session.close()
