"""The POS adapter: Square's Connect v2 vocabulary in, Mosaic's records out.

Square speaks minor units (``{"amount": 1299, "currency": "EUR"}``), decimal-string
quantities, RFC 3339 timestamps, opaque cursors and inventory *states*; this module
turns all of that into records in one place per record type. Every read takes many
keys and makes one call per chunk, chunked to the smaller of ``config.max_batch`` and
the operation's own limit in Square's spec (loyalty search 30 keys, order search 10
customers, order batch-retrieve 100 ids), and follows cursors to the last page.

Our POS departs from Square where the retailer's POS does (see ``legacy.pos.server``):
loyalty accounts carry a card number and tier, can be searched by card and e-mail, and
``include_customer`` embeds the customer's name and contact in the same answer, so a
loyalty lookup is one call where Square would need a second (BulkRetrieveCustomers).
Payments and refunds of many orders are one call too (our batch-retrieve-by-order;
Square lists them by time and location only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any, NamedTuple
from urllib.parse import quote

import aiohttp

from adapters.batching import grouped, in_chunks, unique
from adapters.config import SourceConfig
from adapters.errors import BadUpstreamResponse, UpstreamFault
from adapters.normalise import email_key
from adapters.records import (
    Address,
    LocationRecord,
    LoyaltyAccount,
    Money,
    OrderLineRecord,
    OrderRecord,
    PaymentRecord,
    PaymentStatus,
    StockRecord,
)
from adapters.rest import JsonClient

Json = dict[str, Any]

LOYALTY_KEYS_PER_CALL = 30  # SearchLoyaltyAccounts: at most 30 mappings / customer ids
LOYALTY_PAGE = 200
CUSTOMERS_PER_ORDER_SEARCH = 10  # SearchOrders: customer_filter holds at most 10 ids
ORDER_PAGE = 1000
ORDERS_PER_RETRIEVE = 100  # BatchRetrieveOrders: at most 100 order ids
PAYMENT_ORDERS_PER_CALL = 100  # our payments batch-retrieve-by-order, like BatchRetrieveOrders
#: Square's payment and refund statuses in Mosaic's words (APPROVED: authorised only)
PAYMENT_STATUSES: dict[str, PaymentStatus] = {
    "APPROVED": "PENDING",
    "PENDING": "PENDING",
    "COMPLETED": "COMPLETED",
    "CANCELED": "CANCELED",
    "FAILED": "FAILED",
    "REJECTED": "FAILED",
}
COUNT_PAGE = 10_000  # our POS's page (Square's is 1000): a chunk's counts in one call
MAX_PAGES = 100  # a cursor that never ends is the source's bug, not a reason to loop
#: Square's inventory states that make up Mosaic's stock: reserved goods leave IN_STOCK
IN_STOCK, RESERVED = "IN_STOCK", "RESERVED_FOR_SALE"
#: ISO 4217 minor-unit digits where they are not 2
MINOR_DIGITS = {"BHD": 3, "JOD": 3, "KWD": 3, "OMR": 3, "TND": 3, "JPY": 0, "KRW": 0, "ISK": 0}


@dataclass(frozen=True, slots=True)
class _LoyaltyLookup:
    """One way to search loyalty accounts: the query field, how an asked key goes on
    the wire, and which asked key a found account answers."""

    field: str
    wire: Callable[[str], Any]
    key_of: Callable[[Json], str | None]


def _same(key: str) -> str:
    return key


_BY_CARD = _LoyaltyLookup("card_numbers", _same, lambda a: a["card_number"])
_BY_CUSTOMER = _LoyaltyLookup("customer_ids", _same, lambda a: a["customer_id"])
_BY_EMAIL = _LoyaltyLookup(
    "emails",
    _same,
    lambda a: email_key(a["customer"].get("email_address") or ""),
)
_BY_PHONE = _LoyaltyLookup(
    "mappings",
    lambda phone: {"phone_number": phone},
    lambda a: (a.get("mapping") or {}).get("phone_number"),
)


class StockMove(NamedTuple):
    """``quantity`` of an item moved from one inventory state to another at a store."""

    sku: str
    location_id: str
    quantity: int
    from_state: str
    to_state: str


class PosAdapter:
    def __init__(self, session: aiohttp.ClientSession, config: SourceConfig) -> None:
        self.client = JsonClient("pos", session, config)
        self.max_batch = config.max_batch
        self.count_page = COUNT_PAGE  # inventory counts asked per page

    # stores

    async def locations(self) -> list[LocationRecord]:
        """Every store, open or closed (``active`` says which)."""
        payload = await self.client.get("/v2/locations")
        return self.client.parse(
            "locations", lambda: [_location(raw) for raw in _items(payload, "locations")]
        )

    # loyalty

    async def loyalty_by_cards(self, cards: Sequence[str]) -> dict[str, LoyaltyAccount]:
        return await self._loyalty(_BY_CARD, cards)

    async def loyalty_by_customers(self, customer_ids: Sequence[str]) -> dict[str, LoyaltyAccount]:
        return await self._loyalty(_BY_CUSTOMER, customer_ids)

    async def loyalty_by_emails(self, emails: Sequence[str]) -> dict[str, LoyaltyAccount]:
        """Keyed by the normalised (trimmed, lower-case) address."""
        return await self._loyalty(_BY_EMAIL, [email_key(e) for e in emails if e.strip()])

    async def loyalty_by_phones(self, phones: Sequence[str]) -> dict[str, LoyaltyAccount]:
        """By the E.164 number the account is mapped to (Square matches it exactly)."""
        return await self._loyalty(_BY_PHONE, phones)

    async def _loyalty(
        self, lookup: _LoyaltyLookup, keys: Sequence[str]
    ) -> dict[str, LoyaltyAccount]:
        """One search per chunk, with ``include_customer`` so each account arrives with its
        customer's name and contact (Square would need BulkRetrieveCustomers as well)."""
        asked = set(keys)

        async def fetch(chunk: Sequence[str]) -> list[tuple[str, LoyaltyAccount]]:
            body = {
                "query": {lookup.field: [lookup.wire(key) for key in chunk]},
                "include_customer": True,
                "limit": LOYALTY_PAGE,
            }
            raws = await self._all_pages("/v2/loyalty/accounts/search", body, "loyalty_accounts")
            return self.client.parse(
                "loyalty account",
                lambda: [(lookup.key_of(raw) or "", _loyalty_account(raw)) for raw in raws],
            )

        found = await in_chunks(keys, self._chunk(LOYALTY_KEYS_PER_CALL), fetch)
        return {key: account for key, account in found if key in asked}

    async def delete_customer(self, customer_id: str) -> bool:
        """Delete a customer's profile and loyalty account (GDPR erasure); False if the
        POS did not know them (gone already), so an erasure may repeat it."""
        try:
            await self.client.delete(f"/v2/customers/{quote(customer_id, safe='')}")
        except UpstreamFault as exc:
            if exc.extensions.get("status") != 404:
                raise
            return False
        return True

    # orders

    async def orders_by_customer(self, customer_ids: Sequence[str]) -> dict[str, list[OrderRecord]]:
        """Each customer's store receipts, newest first; every asked id is present."""

        async def fetch(chunk: Sequence[str]) -> list[OrderRecord]:
            body = {
                "query": {
                    "filter": {"customer_filter": {"customer_ids": list(chunk)}},
                    "sort": {"sort_field": "CREATED_AT", "sort_order": "DESC"},
                },
                "limit": ORDER_PAGE,
            }
            raws = await self._all_pages("/v2/orders/search", body, "orders")
            return self.client.parse("order", lambda: [_order(raw) for raw in raws])

        found = await in_chunks(customer_ids, self._chunk(CUSTOMERS_PER_ORDER_SEARCH), fetch)
        return grouped(customer_ids, found, lambda o: o.customer_ref)

    async def orders(self, ids: Sequence[str]) -> dict[str, OrderRecord]:
        async def fetch(chunk: Sequence[str]) -> list[OrderRecord]:
            payload = await self.client.post(
                "/v2/orders/batch-retrieve", {"order_ids": list(chunk)}
            )
            return self.client.parse(
                "orders", lambda: [_order(raw) for raw in _items(payload, "orders")]
            )

        asked = set(ids)
        found = await in_chunks(ids, self._chunk(ORDERS_PER_RETRIEVE), fetch)
        return {order.id: order for order in found if order.id in asked}

    # payments

    async def payments_by_order(self, order_ids: Sequence[str]) -> dict[str, list[PaymentRecord]]:
        """Each asked order's payments and refunds at the till, oldest first; an asked id
        may be an online order's (the POS records its store returns). Every asked id is
        present."""

        async def fetch(chunk: Sequence[str]) -> list[PaymentRecord]:
            payload = await self.client.post(
                "/v2/payments/batch-retrieve-by-order", {"order_ids": list(chunk)}
            )
            return self.client.parse(
                "payment",
                lambda: [
                    *(_payment(raw) for raw in _items(payload, "payments")),
                    *(_refund(raw) for raw in _items(payload, "refunds")),
                ],
            )

        found = await in_chunks(order_ids, self._chunk(PAYMENT_ORDERS_PER_CALL), fetch)
        return grouped(order_ids, sorted(found, key=lambda r: (r.at, r.id)), lambda r: r.order_id)

    # stock

    async def stock(
        self, skus: Sequence[str], location_ids: Sequence[str] | None = None
    ) -> list[StockRecord]:
        """Store stock of ``skus`` (at ``location_ids``, default every store): one record
        per item and store that tracks it."""

        async def fetch(chunk: Sequence[str]) -> list[StockRecord]:
            body: Json = {
                "catalog_object_ids": list(chunk),
                "states": [IN_STOCK, RESERVED],
                "limit": self.count_page,
            }
            if location_ids is not None:
                body["location_ids"] = unique(location_ids)
            raws = await self._all_pages("/v2/inventory/counts/batch-retrieve", body, "counts")
            return self.client.parse("inventory count", lambda: _stock(raws))

        if location_ids is not None and not location_ids:
            return []
        return await in_chunks(skus, self.max_batch, fetch)

    # writes

    async def adjust(self, idempotency_key: str, moves: Sequence[StockMove]) -> list[StockRecord]:
        """Move goods between inventory states at stores, all moves or none; the POS
        refuses (409) a move that would take a count below zero. Sent again with the
        same key, it answers the first result without moving anything twice, so it is
        retried like a read."""
        body = {
            "idempotency_key": idempotency_key,
            "changes": [
                {
                    "type": "ADJUSTMENT",
                    "adjustment": {
                        "catalog_object_id": move.sku,
                        "location_id": move.location_id,
                        "quantity": str(move.quantity),
                        "from_state": move.from_state,
                        "to_state": move.to_state,
                    },
                }
                for move in moves
            ],
        }
        payload = await self.client.post("/v2/inventory/changes/batch-create", body)
        return self.client.parse("inventory counts", lambda: _stock(_items(payload, "counts")))

    # plumbing

    def _chunk(self, operation_limit: int) -> int:
        return min(self.max_batch, operation_limit)

    async def _all_pages(self, path: str, body: Json, field: str) -> list[Json]:
        """Every item of a paginated Square read, following the cursor to the end."""
        items: list[Json] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            payload = await self.client.post(
                path, body if cursor is None else {**body, "cursor": cursor}
            )
            page, cursor = self.client.parse(f"{field} page", partial(_page, payload, field))
            items.extend(page)
            if not cursor:
                return items
        raise BadUpstreamResponse("pos", f"{path} still had a cursor after {MAX_PAGES} pages")


# --- Square's shapes to records: one function per record type ---------------------


def _items(payload: Any, field: str) -> list[Json]:
    """A list field of an answer; Square leaves out lists that would be empty."""
    items = payload.get(field, [])
    if not isinstance(items, list):
        raise TypeError(f"{field} is {type(items).__name__}, not a list")
    return items


def _page(payload: Any, field: str) -> tuple[list[Json], str | None]:
    cursor = payload.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise TypeError("cursor is not a string")
    return _items(payload, field), cursor


def _money(wire: Json) -> Money:
    """Minor units (an integer, as Square sends) to an exact decimal in major units."""
    amount, currency = wire["amount"], wire["currency"]
    if not isinstance(amount, int) or isinstance(amount, bool) or not isinstance(currency, str):
        raise TypeError(f"money {wire!r} is not an integer amount and a currency")
    digits = MINOR_DIGITS.get(currency, 2)
    return Money(Decimal(amount).scaleb(-digits).quantize(Decimal(10) ** -digits), currency)


def _count(quantity: str) -> int:
    """A Square decimal-string quantity of whole pieces."""
    if not isinstance(quantity, str):
        raise TypeError(f"quantity {quantity!r} is not a string")
    value = Decimal(quantity)
    if value != value.to_integral_value():
        raise ValueError(f"quantity {quantity!r} is not whole")
    return int(value)


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no offset")
    return moment


def _location(raw: Json) -> LocationRecord:
    address = raw.get("address") or {}
    coordinates = raw["coordinates"]
    return LocationRecord(
        id=raw["id"],
        kind="STORE",
        name=raw["name"],
        address=Address(
            street=address.get("address_line_1"),
            city=address.get("locality"),
            postal_code=address.get("postal_code"),
            country=address.get("country"),
        ),
        lat=float(coordinates["latitude"]),
        lon=float(coordinates["longitude"]),
        opening_hours=raw.get("opening_hours"),
        active=raw["status"] == "ACTIVE",
    )


def _loyalty_account(raw: Json) -> LoyaltyAccount:
    customer = raw.get("customer") or {}
    return LoyaltyAccount(
        account_id=raw["id"],
        customer_id=raw["customer_id"],
        card_number=raw["card_number"],
        tier=raw.get("tier"),
        points=raw.get("balance"),
        given_name=customer.get("given_name"),
        family_name=customer.get("family_name"),
        email=customer.get("email_address"),
        phone=customer.get("phone_number"),
    )


def _order_line(raw: Json) -> OrderLineRecord:
    price = raw.get("base_price_money")
    return OrderLineRecord(
        sku=raw["catalog_object_id"],
        quantity=_count(raw["quantity"]),
        unit_price=_money(price) if price else None,
    )


def _order(raw: Json) -> OrderRecord:
    total = raw.get("total_money")
    return OrderRecord(
        id=raw["id"],
        source="pos",
        channel="STORE",
        customer_ref=raw.get("customer_id"),
        placed_at=_moment(raw["created_at"]),
        status=raw["state"],
        location_id=raw.get("location_id"),
        total=_money(total) if total else None,
        lines=tuple(_order_line(line) for line in raw.get("line_items", [])),
    )


def _method(kind: str, details: Json) -> str | None:
    """The till's word for how money moved: a debit card is PIN, as Dutch shoppers say."""
    if kind == "CASH":
        return "CASH"
    if kind == "CARD":
        return "PIN" if details["card"].get("card_type") == "DEBIT" else "CARD"
    return None  # paid out elsewhere (EXTERNAL)


def _payment(raw: Json) -> PaymentRecord:
    return PaymentRecord(
        id=raw["id"],
        source="pos",
        kind="PAYMENT",
        order_id=raw["order_id"],
        order_source="pos",
        method=_method(raw["source_type"], raw.get("card_details") or {}),
        amount=_money(raw["amount_money"]),
        status=PAYMENT_STATUSES[raw["status"]],
        channel="STORE",
        at=_moment(raw["created_at"]),
        location_id=raw.get("location_id"),
    )


def _refund(raw: Json) -> PaymentRecord:
    """A refund; one the ERP paid out (``EXTERNAL`` from the ``ERP``) is the POS's record
    of an online order's store return, naming the ERP's refund."""
    details = raw.get("destination_details") or {}
    external = details.get("external_details") or {}
    by_erp = raw["destination_type"] == "EXTERNAL" and external.get("source") == "ERP"
    amount = _money(raw["amount_money"])
    return PaymentRecord(
        id=raw["id"],
        source="pos",
        kind="REFUND",
        order_id=raw["order_id"],
        order_source="erp" if by_erp else "pos",
        method=_method(raw["destination_type"], details.get("card_details") or {}),
        amount=Money(-amount.amount, amount.currency),
        status=PAYMENT_STATUSES[raw["status"]],
        channel="STORE",
        at=_moment(raw["created_at"]),
        location_id=raw.get("location_id"),
        refund_of=raw.get("payment_id"),
        mirror=("erp", external["source_id"]) if by_erp else None,
    )


def _stock(counts: list[Json]) -> list[StockRecord]:
    """Square's per-state counts folded into one record per item and store:
    on hand is what is free to sell plus what is reserved."""
    levels: dict[tuple[str, str], dict[str, int]] = {}
    for count in counts:
        if count["state"] in (IN_STOCK, RESERVED):
            pair = (count["catalog_object_id"], count["location_id"])
            states = levels.setdefault(pair, {IN_STOCK: 0, RESERVED: 0})
            states[count["state"]] += _count(count["quantity"])
    return [
        StockRecord(
            sku=sku,
            location_id=location,
            on_hand=states[IN_STOCK] + states[RESERVED],
            reserved=states[RESERVED],
        )
        for (sku, location), states in levels.items()
    ]
