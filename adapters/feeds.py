"""Following the POS's and the WMS's change feeds: stock levels as they change.

Both systems offer a long-polled feed (``legacy.pos.server``: Square's SearchEvents with
our ``wait_s``; ``legacy.wms.server``: ``GET /api/v1/events``). A follower keeps one
request open per system; it returns as soon as something changes (or after
``wait_s`` with nothing), with the position to ask from next. Both map to one record,
:class:`StockEvent`: the item's level at a location after the change.

Long polls are not the guard's business: they are held open on purpose for far longer
than a read's timeout, and a feed that is down must not open the breaker for reads, so
they go over the source's session with a timeout of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import aiohttp
import orjson

from adapters.config import SourceConfig
from adapters.errors import BadUpstreamResponse, UpstreamFault
from adapters.rest import auth_headers
from adapters.transport import exchange, mapping

Json = dict[str, Any]
#: seconds a poll may take beyond the time the system was asked to hold it open
MARGIN_S = 5.0


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


class PosFeed(_Follower):
    """``inventory.count.updated`` events, Square's per-state counts folded into levels
    (on hand is IN_STOCK plus RESERVED_FOR_SALE, as in ``adapters.pos``)."""

    source = "pos"

    async def poll(self, position: str | None, wait_s: float) -> tuple[list[StockEvent], str]:
        body: Json = {
            "query": {"filter": {"event_types": ["inventory.count.updated"]}},
            "limit": 100,
            "wait_s": wait_s,
        }
        if position:
            body["cursor"] = position
        payload = await self._json("POST", "/v2/events", wait_s, json=body)
        with mapping(self.source, "event"):
            return [_pos_event(raw) for raw in payload.get("events", [])], str(payload["cursor"])


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


def _pos_event(raw: Json) -> StockEvent:
    counts = raw["data"]["object"]["inventory_counts"]
    levels = {count["state"]: int(count["quantity"]) for count in counts}
    first = counts[0]
    return StockEvent(
        source="pos",
        kind="STORE",
        sku=first["catalog_object_id"],
        location_id=first["location_id"],
        on_hand=levels.get("IN_STOCK", 0) + levels.get("RESERVED_FOR_SALE", 0),
        reserved=levels.get("RESERVED_FOR_SALE", 0),
        at=_moment(raw["created_at"]),
    )


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
