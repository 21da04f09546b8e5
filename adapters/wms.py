"""The WMS adapter: the retailer's own batch-first REST/JSON API
(``contracts/wms/openapi.yaml``; simulated by ``legacy.wms.server``).

The WMS answers stock and inbound shipments for a list of SKUs in one call, at most 500
per call; larger batches are split into chunks of the smaller of that and
``config.max_batch``, fetched in parallel.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from adapters.checks import Finding
from adapters.config import SourceConfig
from adapters.errors import UpstreamFault
from adapters.records import Address, InTransitRecord, LocationRecord, StockRecord
from adapters.transport.batching import in_chunks
from adapters.transport.rest import STOPPERS, JsonClient, probe

Json = dict[str, Any]

SKUS_PER_CALL = 500
WAREHOUSES = "/api/v1/warehouses"
STOCK = "/api/v1/stock/query"
INBOUND = "/api/v1/inbound/query"
RESERVATIONS = "/api/v1/reservations"
EVENTS = "/api/v1/events"
#: what ``check`` asks for: a SKU, site and reservation no WMS has
NOTHING = "mosaic-sources-check"


class WmsAdapter:
    def __init__(self, session: aiohttp.ClientSession, config: SourceConfig) -> None:
        self.client = JsonClient("wms", session, config)
        self.chunk = min(config.max_batch, SKUS_PER_CALL)

    async def check(self) -> list[Finding]:
        """Whether the WMS offers every endpoint Mosaic uses, to its token. Nothing is
        held: a reservation is probed for a SKU at a site that does not exist."""
        first = await probe("wms", f"GET {WAREHOUSES}", self.client.get, WAREHOUSES)
        if first.finding.what in STOPPERS:
            return [first.finding]
        skus = {"skus": [NOTHING]}
        held = {"sku": NOTHING, "site": NOTHING, "quantity": 1, "reference": NOTHING}
        client = self.client
        return [
            first.finding,
            (await probe("wms", f"POST {STOCK}", client.post, STOCK, skus)).finding,
            (await probe("wms", f"POST {INBOUND}", client.post, INBOUND, skus)).finding,
            (
                await probe(
                    "wms", f"POST {RESERVATIONS}", client.post, RESERVATIONS, held, absent_ok=True
                )
            ).finding,
            (
                await probe(
                    "wms",
                    f"DELETE {RESERVATIONS}/{{id}}",
                    client.delete,
                    f"{RESERVATIONS}/{NOTHING}",
                    absent_ok=True,
                )
            ).finding,
            (await probe("wms", f"GET {EVENTS}", client.get, EVENTS, {"limit": "1"})).finding,
        ]

    async def warehouses(self) -> list[LocationRecord]:
        payload = await self.client.get(WAREHOUSES)
        return self.client.parse("warehouses", lambda: [_warehouse(raw) for raw in payload])

    async def stock(self, skus: Sequence[str]) -> list[StockRecord]:
        """Stock of ``skus`` at every warehouse that holds them, one record per pair."""

        async def fetch(chunk: Sequence[str]) -> list[StockRecord]:
            payload = await self.client.post(STOCK, {"skus": list(chunk)})
            return self.client.parse("stock", lambda: [_stock(raw) for raw in payload["stock"]])

        return await in_chunks(skus, self.chunk, fetch)

    async def inbound(self, skus: Sequence[str]) -> list[InTransitRecord]:
        """Shipments of ``skus`` on their way to a warehouse or a store."""

        async def fetch(chunk: Sequence[str]) -> list[InTransitRecord]:
            payload = await self.client.post(INBOUND, {"skus": list(chunk)})
            return self.client.parse(
                "shipments", lambda: [_in_transit(raw) for raw in payload["shipments"]]
            )

        return await in_chunks(skus, self.chunk, fetch)

    async def reserve(self, sku: str, site: str, quantity: int, reference: str) -> str:
        """Hold stock at a warehouse; the reservation's id. The WMS answers a repeated
        ``reference`` with the reservation it made the first time, so this is retried
        like a read; too little stock is a 409 (INSUFFICIENT_STOCK)."""
        body = {"sku": sku, "site": site, "quantity": quantity, "reference": reference}
        payload = await self.client.post(RESERVATIONS, body)
        return self.client.parse("reservation", lambda: str(payload["id"]))

    async def release(self, reservation_id: str) -> None:
        """Give held stock back; a reservation the WMS no longer has is released already."""
        try:
            await self.client.delete(f"{RESERVATIONS}/{quote(reservation_id, safe='')}")
        except UpstreamFault as exc:
            if exc.extensions.get("status") != 404:
                raise


# --- the WMS's shapes to records: one function per record type --------------------


def _whole(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{value!r} is not a whole number")
    return value


def _warehouse(raw: Json) -> LocationRecord:
    address = raw["address"]
    return LocationRecord(
        id=raw["id"],
        kind="WAREHOUSE",
        name=raw["name"],
        address=Address(
            street=address.get("street"),
            city=address.get("city"),
            postal_code=address.get("postal_code"),
            country=address.get("country"),
        ),
        lat=float(raw["lat"]),
        lon=float(raw["lon"]),
    )


def _stock(raw: Json) -> StockRecord:
    return StockRecord(
        sku=raw["sku"],
        location_id=raw["site"],
        on_hand=_whole(raw["on_hand"]),
        reserved=_whole(raw["reserved"]),
    )


def _in_transit(raw: Json) -> InTransitRecord:
    expected = raw.get("expected_at")
    return InTransitRecord(
        sku=raw["sku"],
        location_id=raw["destination"],
        quantity=_whole(raw["quantity"]),
        expected_at=datetime.fromisoformat(expected) if expected else None,
    )
