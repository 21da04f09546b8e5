"""Following the POS's and the WMS's stock as it changes.

The WMS offers a long-polled feed (``legacy.wms.server``: ``GET /api/v1/events``): a
follower keeps one request open, which returns as soon as something changes (or after
``wait_s`` with nothing), with the position to ask from next. Long polls are not the
guard's business: they are held open on purpose for far longer than a read's timeout,
and a feed that is down must not open the breaker for reads, so they go over the
source's session with a timeout of their own.

Square has no such feed (its events come as webhooks to a public endpoint, which a
gateway behind a firewall may not have): the POS's stock is polled with
BatchRetrieveInventoryCounts' ``updated_after``, every ``poll_interval_s``, as ordinary
guarded reads of the POS adapter (contracts/pos/README.md).

Both map to one record, :class:`StockEvent`: the item's level at a location after the
change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import aiohttp
import orjson

from adapters.config import SourceConfig
from adapters.errors import BadUpstreamResponse, UpstreamFault
from adapters.pos import STOCK_STATES, PosAdapter
from adapters.transport.exchange import exchange, mapping
from adapters.transport.rest import auth_headers

Json = dict[str, Any]
#: seconds a poll may take beyond the time the system was asked to hold it open
MARGIN_S = 5.0
#: how far back each poll of Square's counts looks beyond the position
LOOKBACK = timedelta(seconds=5)
MIN_TIME = datetime.min.replace(tzinfo=UTC)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class StockEvent:
    source: Literal["pos", "wms"]
    kind: Literal["STORE", "WAREHOUSE"]
    sku: str
    location_id: str  # the owning system's id
    on_hand: int
    reserved: int
    at: datetime


class Feed(Protocol):
    @property
    def source(self) -> str: ...

    async def poll(self, position: str | None, wait_s: float) -> tuple[list[StockEvent], str]:
        """Events after ``position`` (None: from now), waiting up to ``wait_s`` for one;
        and the position to ask from next."""
        ...


class _Follower:
    source: Literal["pos", "wms"]

    def __init__(self, session: aiohttp.ClientSession, config: SourceConfig) -> None:
        self.session = session
        self.base_url = config.url.rstrip("/")
        self.headers = auth_headers(config)

    async def _json(self, method: str, path: str, wait_s: float, **request: Any) -> Any:
        reply = await exchange(
            self.source,
            self.session,
            method,
            self.base_url + path,
            wait_s + MARGIN_S,
            headers=self.headers,
            **request,
        )
        if reply.status >= 400 or reply.is_html:
            raise UpstreamFault(
                self.source, f"HTTP {reply.status}: {reply.excerpt()}", status=reply.status
            )
        try:
            return orjson.loads(reply.payload)
        except orjson.JSONDecodeError as exc:
            raise BadUpstreamResponse(self.source, f"invalid JSON: {reply.excerpt()}") from exc


class PosFeed:
    """Store stock changes, polled from Square: the counts whose ``calculated_at`` is
    after the position, then both states of each changed item and store (a change may
    touch one state only), folded into levels as ``adapters.pos`` folds them.

    The position is the newest ``calculated_at`` seen; each poll looks
    :data:`LOOKBACK_S` further back, for counts Square calculated late or with a clock
    behind ours, and drops what it has already told (per item and store, the newest
    ``calculated_at`` told).
    """

    source = "pos"

    def __init__(
        self,
        pos: PosAdapter,
        interval_s: float,
        *,
        now: Callable[[], datetime] = _utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.pos = pos
        self.interval_s = interval_s
        self._now = now
        self._sleep = sleep
        self._told: dict[tuple[str, str], datetime] = {}

    async def poll(self, position: str | None, wait_s: float) -> tuple[list[StockEvent], str]:
        since = datetime.fromisoformat(position) if position else self._now()
        waited = 0.0
        while True:
            changed = await self._changed(since - LOOKBACK)
            if position is None:  # the first poll learns where the feed stands
                self._told.update(changed)
                return [], max([since, *changed.values()]).isoformat()
            if changed:
                events = await self._levels(changed)
                newest = max([since, *changed.values()])
                self._forget(newest - LOOKBACK)
                return events, newest.isoformat()
            if wait_s - waited < 1e-6:  # the time asked for is used up (to a float's error)
                return [], since.isoformat()
            pause = min(self.interval_s, wait_s - waited)
            await self._sleep(pause)
            waited += pause

    async def _changed(self, after: datetime) -> dict[tuple[str, str], datetime]:
        """Each item and store with a count calculated after ``after`` that is not told
        yet, and when."""
        counts = await self.pos.counts(
            {"updated_after": after.isoformat(), "states": list(STOCK_STATES)}
        )
        with mapping(self.source, "inventory count"):
            changed: dict[tuple[str, str], datetime] = {}
            for count in counts:
                pair = (count.catalog_object_id, count.location_id)
                if count.calculated_at is None:
                    raise KeyError("calculated_at")
                at = _moment(count.calculated_at)
                if at > self._told.get(pair, MIN_TIME) and at > changed.get(pair, MIN_TIME):
                    changed[pair] = at
        return changed

    async def _levels(self, changed: dict[tuple[str, str], datetime]) -> list[StockEvent]:
        skus = list(dict.fromkeys(sku for sku, _ in changed))
        locations = list(dict.fromkeys(location for _, location in changed))
        levels = {(r.sku, r.location_id): r for r in await self.pos.stock(skus, locations)}
        self._told.update(changed)
        return [
            StockEvent(
                source="pos",
                kind="STORE",
                sku=sku,
                location_id=location,
                on_hand=levels[(sku, location)].on_hand if (sku, location) in levels else 0,
                reserved=levels[(sku, location)].reserved if (sku, location) in levels else 0,
                at=at,
            )
            for (sku, location), at in changed.items()
        ]

    def _forget(self, before: datetime) -> None:
        """What was told before the lookback cannot come back: keep the table small."""
        self._told = {pair: at for pair, at in self._told.items() if at >= before}


class WmsFeed(_Follower):
    source = "wms"

    async def poll(self, position: str | None, wait_s: float) -> tuple[list[StockEvent], str]:
        params = {"wait_s": str(wait_s)}
        if position:
            params["after"] = position
        payload = await self._json("GET", "/api/v1/events", wait_s, params=params)
        with mapping(self.source, "event"):
            return [_wms_event(raw) for raw in payload["events"]], str(int(payload["last"]))


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _wms_event(raw: Json) -> StockEvent:
    return StockEvent(
        source="wms",
        kind="WAREHOUSE",
        sku=raw["sku"],
        location_id=raw["site"],
        on_hand=int(raw["on_hand"]),
        reserved=int(raw["reserved"]),
        at=_moment(raw["at"]),
    )
