"""The simulated point of sale: a Square-style REST/JSON API over the POS's SQLite file.

Shapes, names, limits and errors follow Square's Connect v2 API (the OpenAPI description
in ``reference/square/api.json``): money as ``{amount, currency}`` in minor units,
quantities as decimal strings, RFC 3339 timestamps, opaque pagination cursors, errors as
``{"errors": [{category, code, detail, field}]}``.

Endpoints
    GET  /v2/locations                          {locations}
    GET  /v2/locations/{id}                     {location}
    POST /v2/orders/batch-retrieve              {location_id?, order_ids <= 100} -> {orders}
    POST /v2/orders/search                      {location_ids? <= 10, query {filter
                                                {customer_filter {customer_ids <= 10},
                                                state_filter {states}}, sort}, limit <= 1000,
                                                cursor} -> {orders, cursor?}
    POST /v2/orders                             {idempotency_key, order} -> {order}
    POST /v2/inventory/counts/batch-retrieve    {catalog_object_ids?, location_ids?, states?,
                                                limit <= 10000, cursor} -> {counts, cursor?}
    POST /v2/inventory/changes/batch-create     {idempotency_key, changes <= 100}
                                                -> {counts, changes}
    POST /v2/loyalty/accounts/search            {query {mappings | customer_ids | card_numbers
                                                | emails} (each <= 30), include_customer?,
                                                limit <= 200, cursor} -> {loyalty_accounts,
                                                cursor?}
    GET  /v2/loyalty/accounts/{id}              {loyalty_account}
    POST /v2/customers/bulk-retrieve            {customer_ids <= 100} -> {responses {id: ...}}
    GET  /v2/customers/{id}                     {customer}
    DELETE /v2/customers/{id}                   {} (the profile and its loyalty account)
    POST /v2/events                             {cursor?, limit <= 100, wait_s?, query {filter
                                                {event_types?, location_ids?, created_at
                                                {start_at}}}} -> {events, cursor}
    POST /v2/payments/batch-retrieve-by-order   {order_ids <= 100} -> {payments, refunds}
    GET  /v2/payments/{id}                      {payment}
    GET  /v2/refunds/{id}                       {refund}

Where and why this departs from Square
- Locations carry ``opening_hours``, the store's hours as one OpenStreetMap-style string
  (``Mo-Sa 09:00-18:00; Su 12:00-17:00``), beside Square's ``business_hours.periods``:
  the retailer's store systems already speak that string.
- ``SearchOrders`` without ``location_ids`` searches every location (Square requires
  them, at most 10): the retailer has 25 stores and one POS merchant, so asking for a
  customer's receipts would otherwise take three calls. Sort fields all sort by
  ``created_at``: store receipts are created, completed and closed in the same moment.
- Stock is tracked in two states per (item, store): ``IN_STOCK`` (free to sell) and
  ``RESERVED_FOR_SALE`` (held for a customer), as Square moves reserved goods out of
  ``IN_STOCK``. So ``on_hand = IN_STOCK + RESERVED_FOR_SALE`` and ``reserved =
  RESERVED_FOR_SALE``. Every tracked pair reports ``IN_STOCK`` (even ``"0"``); a
  ``RESERVED_FOR_SALE`` count appears only when something is reserved, as a state never
  entered has no count in Square. Counts are sorted by item and location (Square: newest
  ``calculated_at`` first) so that pages are stable.
- An inventory count page holds up to 10 000 counts (Square: 1000; default 1000 as in
  Square). A stock check of 100 items across 25 stores is up to 5000 counts; with
  Square's page it would take up to five calls one after another, growing with the
  answer, where the gateway promises one call per chunk of keys.
- Inventory changes are ``ADJUSTMENT``s only, all-or-nothing, and refused (409
  ``CONFLICT``) when they would take a count below zero; Square lets counts go negative,
  but the sagas built on this need a reservation that can fail. ``POST /v2/orders``
  records a completed store sale at once and takes its goods out of ``IN_STOCK`` (Square
  creates an open order that a payment completes).
- Our POS has loyalty cards and tiers: accounts carry ``card_number`` and ``tier``, and
  the search also takes ``query.card_numbers`` and ``query.emails`` (matched without
  regard to case). ``include_customer: true`` embeds each account's ``customer`` profile
  (name, e-mail, phone), which Square would need a second call for (BulkRetrieveCustomers).
  Phone mappings match the E.164 number exactly, as Square's do. There is no redemption
  history, so ``lifetime_points`` equals ``balance``.
- ``DeleteCustomer`` deletes the customer's loyalty account with the profile (Square
  keeps loyalty accounts apart): the retailer's POS erases a person in one call. Receipts
  keep their ``customer_id``, as in Square, pointing at a profile that no longer exists:
  the till's records are bookkeeping and are kept.
- ``POST /v2/payments/batch-retrieve-by-order`` is ours: Square lists payments and
  refunds by time and location only (ListPayments, ListPaymentRefunds), so the payments
  of a customer's 30 receipts would be a scan of the whole history. It answers every
  payment and refund whose ``order_id`` is asked, each once, oldest first. A refund's
  ``order_id`` is the order whose goods came back (Square: the return order it
  creates), so a refund of an online order returned in a store is found by the ERP's
  order number: it is ``unlinked`` (no Square payment) with ``destination_type``
  ``EXTERNAL`` and the ERP's refund number as ``destination_details.external_details
  .source_id``, as the ERP paid it out to the original online payment.
- ``POST /v2/events`` is Square's SearchEvents (events oldest first, ``cursor`` to go
  on), offered as a change feed where Square pushes the same ``inventory.count.updated``
  events as webhooks: the cursor always comes back, as the place to continue from; a
  request without one starts from now; ``wait_s`` (ours, at most 30) holds the request
  open until an event arrives (a long poll), so a follower hears of a change at once.
  Events are kept in memory (the last 10 000), one per item and store a committed
  write changed, with the counts after it.
- Payments are recorded as the seeded history has them; ``POST /v2/orders`` records a
  sale's goods but no payment (Square takes payments through CreatePayment).
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from legacy.common.app import simulated_system
from legacy.common.feed import ChangeFeed, wait_seconds, while_connected
from legacy.common.knobs import Knobs
from legacy.pos.store import CURRENCY, build, rfc3339
from legacy.world import World

Json = dict[str, Any]

MAX_ORDER_IDS = 100
MAX_SEARCH_LOCATIONS = 10
MAX_SEARCH_CUSTOMERS = 10
MAX_ORDERS_PAGE = 1000
MAX_COUNTS_PAGE = 10_000
DEFAULT_COUNTS_PAGE = 1000
MAX_COUNT_KEYS = 10_000  # not in Square's spec; keeps one query within SQLite's limits
MAX_LOYALTY_KEYS = 30
MAX_LOYALTY_PAGE = 200
MAX_CUSTOMER_IDS = 100
MAX_CHANGES = 100
MAX_PAYMENT_ORDERS = 100  # ours, like BatchRetrieveOrders
#: the till's payment methods as Square's source type and card type
TILL_SOURCES = {"PIN": ("CARD", "DEBIT"), "CARD": ("CARD", "CREDIT"), "CASH": ("CASH", None)}
PROGRAM_ID = "mosaic-rewards"
MERCHANT_ID = "MOSAIC"
ORDER_STATES = ("OPEN", "COMPLETED", "CANCELED", "DRAFT")
#: the inventory states the POS tracks, and the stock column holding each
TRACKED = {"IN_STOCK": "in_stock", "RESERVED_FOR_SALE": "reserved"}
#: states goods may come from or go to without being counted here
UNTRACKED = ("NONE", "SOLD", "WASTE", "RETURNED_BY_CUSTOMER", "RECEIVED_FROM_VENDOR")
#: the loyalty search's criteria (Square's two, then ours) and the column each matches
LOYALTY_KEYS = {
    "mappings": "a.phone",
    "customer_ids": "a.customer_id",
    "card_numbers": "a.card_number",
    "emails": "c.email_norm",
}
DAYS = {"Mo": "MON", "Tu": "TUE", "We": "WED", "Th": "THU", "Fr": "FRI", "Sa": "SAT", "Su": "SUN"}


class SquareError(Exception):
    """An error answered in Square's shape: ``{"errors": [...]}`` with an HTTP status."""

    def __init__(
        self,
        detail: str,
        *,
        code: str = "INVALID_VALUE",
        field: str | None = None,
        status: int = 400,
        category: str = "INVALID_REQUEST_ERROR",
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error: Json = {"category": category, "code": code, "detail": detail}
        if field:
            self.error["field"] = field

    def response(self) -> Response:
        return JSONResponse({"errors": [self.error]}, status_code=self.status)


def _not_found(what: str, key: str) -> SquareError:
    return SquareError(f"{what} {key} not found", code="NOT_FOUND", status=404)


# --- request validation -----------------------------------------------------------


def _strings(body: Json, field: str, limit: int, *, required: bool = False) -> list[str] | None:
    """A list of ids from the body, de-duplicated in order; None when absent."""
    value = body.get(field)
    if value is None:
        if required:
            raise SquareError(
                f"{field} is required", code="MISSING_REQUIRED_PARAMETER", field=field
            )
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SquareError(
            f"{field} must be an array of strings", code="EXPECTED_ARRAY", field=field
        )
    if len(value) > limit:
        raise SquareError(
            f"{field} may hold at most {limit} values", code="ARRAY_LENGTH_TOO_LONG", field=field
        )
    return list(dict.fromkeys(value))


def _enums(body: Json, field: str, allowed: Iterable[str]) -> list[str] | None:
    values = _strings(body, field, 100)
    known = set(allowed)
    if values is not None and not set(values) <= known:
        raise SquareError(f"{field} holds an unknown value", code="INVALID_ENUM_VALUE", field=field)
    return values


def _object(body: Json, field: str) -> Json:
    value = body.get(field) or {}
    if not isinstance(value, dict):
        raise SquareError(f"{field} must be an object", code="INVALID_VALUE", field=field)
    return value


def _limit(body: Json, default: int, maximum: int) -> int:
    value = body.get("limit", default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise SquareError("limit must be an integer", field="limit")
    if not 1 <= value <= maximum:
        code = "VALUE_TOO_HIGH" if value > maximum else "VALUE_TOO_LOW"
        raise SquareError(f"limit must be between 1 and {maximum}", code=code, field="limit")
    return value


def _offset(body: Json) -> int:
    """Where the page starts; the cursor is opaque to clients, an offset to us."""
    cursor = body.get("cursor")
    if not cursor:
        return 0
    try:
        kind, _, value = base64.urlsafe_b64decode(str(cursor).encode()).decode().partition(":")
        if kind != "offset":
            raise ValueError(kind)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise SquareError("invalid cursor", code="INVALID_CURSOR", field="cursor") from exc


def _page(items: Sequence[Json], offset: int, limit: int, key: str) -> Json:
    """One page of ``items`` (which hold the page and one more, to see if more follow)."""
    answer: Json = {key: list(items[:limit])}
    if len(items) > limit:
        answer["cursor"] = base64.urlsafe_b64encode(f"offset:{offset + limit}".encode()).decode()
    return answer


def _in(column: str, values: Sequence[str]) -> tuple[str, list[str]]:
    return f"{column} IN ({','.join('?' * len(values))})", list(values)


def _where(filters: Iterable[tuple[str, Sequence[str] | None]]) -> tuple[str, list[Any]]:
    """A condition matching every (column, values) filter; None values: no filter."""
    conditions, args = ["1 = 1"], []
    for column, values in filters:
        if values is not None:
            clause, more = _in(column, values)
            conditions.append(clause)
            args.extend(more)
    return " AND ".join(conditions), args


# --- rendering rows in Square's shapes --------------------------------------------


def _money(amount: int) -> Json:
    return {"amount": amount, "currency": CURRENCY}


def _business_hours(opening_hours: str) -> Json:
    """``Mo-Sa 09:00-18:00; Su 12:00-17:00`` as Square's periods, one per day."""
    order = list(DAYS)
    periods = []
    for rule in opening_hours.split(";"):
        days, _, hours = rule.strip().partition(" ")
        first, _, last = days.partition("-")
        start, _, end = hours.partition("-")
        for day in order[order.index(first) : order.index(last or first) + 1]:
            periods.append(
                {
                    "day_of_week": DAYS[day],
                    "start_local_time": f"{start}:00",
                    "end_local_time": f"{end}:00",
                }
            )
    return {"periods": periods}


def _location(row: sqlite3.Row) -> Json:
    return {
        "id": row["id"],
        "name": row["name"],
        "address": {
            "address_line_1": row["street"],
            "locality": row["city"],
            "postal_code": row["postal_code"],
            "country": row["country"],
        },
        "timezone": "Europe/Amsterdam",
        "status": "ACTIVE" if row["active"] else "INACTIVE",
        "country": row["country"],
        "currency": CURRENCY,
        "type": "PHYSICAL",
        "coordinates": {"latitude": row["lat"], "longitude": row["lon"]},
        "business_hours": _business_hours(row["opening_hours"]),
        "opening_hours": row["opening_hours"],
    }


def _line_item(row: sqlite3.Row) -> Json:
    quantity, unit = row["quantity"], row["unit_amount"]
    return {
        "uid": f"{row['order_id']}-{row['line_no']}",
        "catalog_object_id": row["sku"],
        "name": row["name"],
        "quantity": str(quantity),
        "item_type": "ITEM",
        "base_price_money": _money(unit),
        "variation_total_price_money": _money(unit * quantity),
        "total_money": _money(unit * quantity),
    }


def _order(row: sqlite3.Row, lines: list[Json]) -> Json:
    order: Json = {
        "id": row["id"],
        "location_id": row["location_id"],
        "source": {"name": "Mosaic POS"},
        "line_items": lines,
        "state": row["state"],
        "created_at": row["created_at"],
        "updated_at": row["created_at"],
        "version": 1,
        "total_money": _money(sum(line["total_money"]["amount"] for line in lines)),
    }
    if row["customer_id"]:
        order["customer_id"] = row["customer_id"]
    if row["state"] == "COMPLETED":
        order["closed_at"] = row["created_at"]
    return order


def _customer(row: sqlite3.Row) -> Json:
    customer: Json = {
        "id": row["customer_id"],
        "created_at": row["created_at"],
        "updated_at": row["created_at"],
        "given_name": row["given_name"],
        "family_name": row["family_name"],
    }
    if row["email"]:
        customer["email_address"] = row["email"]
    if row["customer_phone"]:
        customer["phone_number"] = row["customer_phone"]
    return customer


def _account(row: sqlite3.Row, include_customer: bool) -> Json:
    account: Json = {
        "id": row["id"],
        "program_id": PROGRAM_ID,
        "balance": row["balance"],
        "lifetime_points": row["lifetime_points"],
        "customer_id": row["customer_id"],
        "enrolled_at": row["enrolled_at"],
        "created_at": row["enrolled_at"],
        "updated_at": row["enrolled_at"],
        "card_number": row["card_number"],
        "tier": row["tier"],
    }
    if row["phone"]:
        account["mapping"] = {
            "id": f"{row['id']}-phone",
            "created_at": row["enrolled_at"],
            "phone_number": row["phone"],
        }
    if include_customer:
        account["customer"] = _customer(row)
    return account


def _card(card_type: str) -> Json:
    brand = "MASTERCARD" if card_type == "DEBIT" else "VISA"
    return {"card": {"card_brand": brand, "card_type": card_type}, "entry_method": "EMV"}


def _payment(row: sqlite3.Row, refunds: list[sqlite3.Row]) -> Json:
    source_type, card_type = TILL_SOURCES[row["method"]]
    amount = _money(row["amount"])
    payment: Json = {
        "id": row["id"],
        "created_at": row["created_at"],
        "updated_at": row["created_at"],
        "amount_money": amount,
        "total_money": amount,
        "refunded_money": _money(sum(r["amount"] for r in refunds)),
        "refund_ids": [r["id"] for r in refunds],
        "status": row["status"],
        "source_type": source_type,
        "location_id": row["location_id"],
        "order_id": row["order_id"],
        "receipt_number": row["id"][-4:],
    }
    if row["customer_id"]:
        payment["customer_id"] = row["customer_id"]
    if card_type:
        payment["card_details"] = {"status": "CAPTURED", **_card(card_type)}
    else:
        payment["cash_details"] = {"buyer_supplied_money": amount, "change_back_money": _money(0)}
    return payment


def _destination(method: str, external_id: str | None) -> tuple[str, Json]:
    """A refund's ``destination_type`` and ``destination_details``."""
    if method == "EXTERNAL":
        return method, {
            "external_details": {"type": "EXTERNAL", "source": "ERP", "source_id": external_id}
        }
    source_type, card_type = TILL_SOURCES[method]
    if card_type is None:
        return source_type, {"cash_details": {}}
    return source_type, {"card_details": _card(card_type)}


def _refund(row: sqlite3.Row) -> Json:
    destination_type, details = _destination(row["method"], row["external_id"])
    refund: Json = {
        "id": row["id"],
        "status": row["status"],
        "location_id": row["location_id"],
        "unlinked": row["payment_id"] is None,
        "destination_type": destination_type,
        "destination_details": details,
        "amount_money": _money(row["amount"]),
        "order_id": row["order_id"],
        "created_at": row["created_at"],
        "updated_at": row["created_at"],
    }
    if row["payment_id"]:
        refund["payment_id"] = row["payment_id"]
    if row["reason"]:
        refund["reason"] = row["reason"]
    return refund


def _counts(row: sqlite3.Row, states: Sequence[str] | None) -> list[Json]:
    """The counts of one (item, store) pair: IN_STOCK always, RESERVED_FOR_SALE if any."""
    counts = []
    for state, column in TRACKED.items():
        quantity = row[column]
        if (states is None or state in states) and (state == "IN_STOCK" or quantity):
            counts.append(
                {
                    "catalog_object_id": row["sku"],
                    "catalog_object_type": "ITEM_VARIATION",
                    "state": state,
                    "location_id": row["location_id"],
                    "quantity": str(quantity),
                    "calculated_at": row["calculated_at"],
                }
            )
    return counts


# --- the POS ----------------------------------------------------------------------

ACCOUNT_SELECT = """
SELECT a.*, c.given_name, c.family_name, c.email, c.phone AS customer_phone, c.created_at
FROM loyalty_accounts a JOIN customers c ON c.id = a.customer_id
"""


class Pos:
    def __init__(self, db: sqlite3.Connection, item_names: dict[str, str]) -> None:
        self.db = db
        self.item_names = item_names
        self.feed = ChangeFeed()
        self._touched: dict[tuple[str, str], None] = {}  # by the write in progress

    # locations

    def locations(self, params: Json) -> Json:
        rows = self.db.execute("SELECT * FROM locations ORDER BY id").fetchall()
        return {"locations": [_location(row) for row in rows]}

    def location(self, params: Json) -> Json:
        row = self.db.execute(
            "SELECT * FROM locations WHERE id = ?", (params["location_id"],)
        ).fetchone()
        if row is None:
            raise _not_found("location", params["location_id"])
        return {"location": _location(row)}

    # orders

    def _orders(self, where: str, args: Sequence[Any], tail: str = "") -> list[Json]:
        rows = self.db.execute(f"SELECT * FROM orders WHERE {where} {tail}", args).fetchall()
        if not rows:
            return []
        clause, ids = _in("order_id", [row["id"] for row in rows])
        lines: dict[str, list[Json]] = {}
        for line in self.db.execute(
            f"SELECT * FROM line_items WHERE {clause} ORDER BY order_id, line_no", ids
        ):
            lines.setdefault(line["order_id"], []).append(_line_item(line))
        return [_order(row, lines.get(row["id"], [])) for row in rows]

    def batch_retrieve_orders(self, body: Json) -> Json:
        ids = _strings(body, "order_ids", MAX_ORDER_IDS, required=True) or []
        if not ids:
            return {"orders": []}
        where, args = _in("id", ids)
        if body.get("location_id"):
            where, args = f"{where} AND location_id = ?", [*args, body["location_id"]]
        found = {order["id"]: order for order in self._orders(where, args)}
        return {"orders": [found[i] for i in ids if i in found]}

    def search_orders(self, body: Json) -> Json:
        query = _object(body, "query")
        filters = _object(query, "filter")
        sort = _object(query, "sort")
        where, args = _where(
            [
                ("location_id", _strings(body, "location_ids", MAX_SEARCH_LOCATIONS)),
                (
                    "customer_id",
                    _strings(
                        _object(filters, "customer_filter"), "customer_ids", MAX_SEARCH_CUSTOMERS
                    ),
                ),
                ("state", _enums(_object(filters, "state_filter"), "states", ORDER_STATES)),
            ]
        )
        direction = sort.get("sort_order", "DESC")
        if direction not in ("ASC", "DESC"):
            raise SquareError("sort_order must be ASC or DESC", code="INVALID_ENUM_VALUE")
        limit, offset = _limit(body, 500, MAX_ORDERS_PAGE), _offset(body)
        orders = self._orders(
            where,
            [*args, limit + 1, offset],
            f"ORDER BY created_at {direction}, id {direction} LIMIT ? OFFSET ?",
        )
        return _page(orders, offset, limit, "orders")

    def create_order(self, body: Json) -> Json:
        """A completed store sale; its goods leave IN_STOCK (all lines or none)."""
        order = _object(body, "order")
        key = body.get("idempotency_key")
        if not isinstance(key, str) or not key:
            raise SquareError("idempotency_key is required", code="MISSING_REQUIRED_PARAMETER")
        return self._once(key, "orders", lambda: self._record_sale(order))

    def _record_sale(self, order: Json) -> Json:
        location = order.get("location_id")
        lines = order.get("line_items")
        if not isinstance(location, str) or not isinstance(lines, list) or not lines:
            raise SquareError("order needs a location_id and line_items", field="order")
        order_id = f"RX{uuid.uuid4().hex[:10].upper()}"
        now = rfc3339(datetime.now(UTC))
        self.db.execute(
            "INSERT INTO orders VALUES (?, ?, ?, 'COMPLETED', ?, ?)",
            (order_id, location, order.get("customer_id"), CURRENCY, now),
        )
        for n, line in enumerate(lines, start=1):
            sku, quantity, amount = _sale_line(line)
            self._move(sku, location, quantity, "IN_STOCK", "SOLD", now)
            self.db.execute(
                "INSERT INTO line_items VALUES (?, ?, ?, ?, ?, ?)",
                (
                    order_id,
                    n,
                    sku,
                    line.get("name") or self.item_names.get(sku, sku),
                    quantity,
                    amount,
                ),
            )
        return {"order": self._orders("id = ?", [order_id])[0]}

    # inventory

    def batch_retrieve_counts(self, body: Json) -> Json:
        where, args = _where(
            [
                ("sku", _strings(body, "catalog_object_ids", MAX_COUNT_KEYS)),
                ("location_id", _strings(body, "location_ids", MAX_COUNT_KEYS)),
            ]
        )
        states = _enums(body, "states", [*TRACKED, *UNTRACKED, "CUSTOM", "IN_TRANSIT"])
        limit, offset = _limit(body, DEFAULT_COUNTS_PAGE, MAX_COUNTS_PAGE), _offset(body)
        rows = self.db.execute(
            f"SELECT * FROM stock WHERE {where} ORDER BY sku, location_id",
            args,
        )
        counts = [count for row in rows for count in _counts(row, states)]
        return _page(counts[offset : offset + limit + 1], offset, limit, "counts")

    def batch_change_inventory(self, body: Json) -> Json:
        key = body.get("idempotency_key")
        changes = body.get("changes")
        if not isinstance(key, str) or not key:
            raise SquareError("idempotency_key is required", code="MISSING_REQUIRED_PARAMETER")
        if not isinstance(changes, list) or not 1 <= len(changes) <= MAX_CHANGES:
            raise SquareError(f"changes must hold 1 to {MAX_CHANGES} changes", field="changes")
        return self._once(key, "inventory", lambda: self._adjust(changes))

    def _adjust(self, changes: list[Any]) -> Json:
        now = rfc3339(datetime.now(UTC))
        touched: dict[tuple[str, str], None] = {}
        for change in changes:
            adjustment = change.get("adjustment") if isinstance(change, dict) else None
            if not isinstance(adjustment, dict) or change.get("type") != "ADJUSTMENT":
                raise SquareError("only ADJUSTMENT changes are supported", field="changes")
            sku, location = adjustment.get("catalog_object_id"), adjustment.get("location_id")
            if not isinstance(sku, str) or not isinstance(location, str):
                raise SquareError("an adjustment needs catalog_object_id and location_id")
            quantity = _quantity(adjustment.get("quantity"))
            self._move(
                sku,
                location,
                quantity,
                adjustment.get("from_state"),
                adjustment.get("to_state"),
                now,
            )
            touched[(sku, location)] = None
        rows = [
            self.db.execute(
                "SELECT * FROM stock WHERE sku = ? AND location_id = ?", pair
            ).fetchone()
            for pair in touched
        ]
        return {
            "counts": [count for row in rows for count in _counts(row, None)],
            "changes": changes,
        }

    def _move(
        self, sku: str, location: str, quantity: int, source: Any, target: Any, now: str
    ) -> None:
        """Move ``quantity`` of an item between states at a store, never below zero."""
        known = (*TRACKED, *UNTRACKED)
        if source not in known or target not in known or source == target:
            raise SquareError(f"cannot move goods from {source} to {target}", field="changes")
        if not self.db.execute("SELECT 1 FROM locations WHERE id = ?", (location,)).fetchone():
            raise _not_found("location", location)
        self.db.execute("INSERT OR IGNORE INTO stock VALUES (?, ?, 0, 0, ?)", (sku, location, now))
        row = self.db.execute(
            "SELECT * FROM stock WHERE sku = ? AND location_id = ?", (sku, location)
        ).fetchone()
        levels = {state: row[column] for state, column in TRACKED.items()}
        if source in levels:
            if levels[source] < quantity:
                raise SquareError(
                    f"only {levels[source]} of {sku} {source} at {location}",
                    code="CONFLICT",
                    status=409,
                )
            levels[source] -= quantity
        if target in levels:
            levels[target] += quantity
        self.db.execute(
            "UPDATE stock SET in_stock = ?, reserved = ?, calculated_at = ?"
            " WHERE sku = ? AND location_id = ?",
            (levels["IN_STOCK"], levels["RESERVED_FOR_SALE"], now, sku, location),
        )
        self._touched[(sku, location)] = None

    def _once(self, key: str, endpoint: str, write: Callable[[], Json]) -> Json:
        """Run a write once per idempotency key, in one transaction; a repeat of the key
        gets the first answer again, and a failed write leaves nothing behind."""
        seen = self.db.execute(
            "SELECT endpoint, response FROM idempotency WHERE key = ?", (key,)
        ).fetchone()
        if seen is not None:
            if seen["endpoint"] != endpoint:
                raise SquareError("idempotency key reused", code="IDEMPOTENCY_KEY_REUSED")
            answer: Json = json.loads(seen["response"])
            return answer
        try:
            answer = write()
            self.db.execute(
                "INSERT INTO idempotency VALUES (?, ?, ?)", (key, endpoint, json.dumps(answer))
            )
        except BaseException:
            self.db.rollback()
            self._touched.clear()
            raise
        self.db.commit()
        self._publish_counts()
        return answer

    # events

    def _publish_counts(self) -> None:
        """An ``inventory.count.updated`` event per item and store the committed write
        changed, with its counts after the write."""
        touched, self._touched = list(self._touched), {}
        now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        events = []
        for sku, location in touched:
            row = self.db.execute(
                "SELECT * FROM stock WHERE sku = ? AND location_id = ?", (sku, location)
            ).fetchone()
            events.append(
                {
                    "merchant_id": MERCHANT_ID,
                    "location_id": location,
                    "type": "inventory.count.updated",
                    "event_id": str(uuid.uuid4()),
                    "created_at": now,
                    "data": {
                        "type": "inventory",
                        "id": f"{sku}:{location}",
                        "object": {"inventory_counts": _counts(row, None)},
                    },
                }
            )
        self.feed.publish(events)

    async def search_events(self, body: Json) -> Json:
        """SearchEvents, oldest first from ``cursor``, held open up to ``wait_s`` while
        there is nothing to answer (our long poll)."""
        query = _object(body, "query")
        filters = _object(query, "filter")
        types = _strings(filters, "event_types", 100)
        locations = _strings(filters, "location_ids", MAX_SEARCH_LOCATIONS)
        since = _instant(_object(filters, "created_at").get("start_at"))
        limit = _limit(body, 100, 100)
        position = _event_position(body.get("cursor"), self.feed.last)
        wait_s = wait_seconds(body.get("wait_s"))
        deadline = time.monotonic() + wait_s
        while True:
            found = await self.feed.wait_after(position, limit, deadline - time.monotonic())
            if found:
                position = found[-1][0]
            events = [
                event
                for _, event in found
                if (types is None or event["type"] in types)
                and (locations is None or event["location_id"] in locations)
                and (since is None or datetime.fromisoformat(event["created_at"]) >= since)
            ]
            if events or not found or time.monotonic() >= deadline:
                return {"events": events, "cursor": _event_cursor(position)}

    # payments

    def batch_retrieve_payments(self, body: Json) -> Json:
        ids = _strings(body, "order_ids", MAX_PAYMENT_ORDERS, required=True) or []
        if not ids:
            return {"payments": [], "refunds": []}
        clause, args = _in("order_id", ids)
        refunds = self.db.execute(
            f"SELECT * FROM refunds WHERE {clause} ORDER BY created_at, id", args
        )
        return {
            "payments": self._payments(clause, args),
            "refunds": [_refund(row) for row in refunds],
        }

    def _payments(self, where: str, args: Sequence[Any]) -> list[Json]:
        """Payments with their refunds' ids and refunded total, in two queries."""
        rows = self.db.execute(
            f"SELECT * FROM payments WHERE {where} ORDER BY created_at, id", args
        ).fetchall()
        if not rows:
            return []
        clause, ids = _in("payment_id", [row["id"] for row in rows])
        refunds: dict[str, list[sqlite3.Row]] = {}
        for refund in self.db.execute(
            f"SELECT * FROM refunds WHERE {clause} ORDER BY created_at, id", ids
        ):
            refunds.setdefault(refund["payment_id"], []).append(refund)
        return [_payment(row, refunds.get(row["id"], [])) for row in rows]

    def payment(self, params: Json) -> Json:
        found = self._payments("id = ?", [params["payment_id"]])
        if not found:
            raise _not_found("payment", params["payment_id"])
        return {"payment": found[0]}

    def refund(self, params: Json) -> Json:
        row = self.db.execute("SELECT * FROM refunds WHERE id = ?", (params["refund_id"],))
        found = row.fetchone()
        if found is None:
            raise _not_found("refund", params["refund_id"])
        return {"refund": _refund(found)}

    # loyalty and customers

    def search_loyalty(self, body: Json) -> Json:
        query = _object(body, "query")
        given = [name for name in LOYALTY_KEYS if query.get(name) is not None]
        if len(given) > 1:
            raise SquareError(
                f"query may use only one of {', '.join(LOYALTY_KEYS)}",
                code="CONFLICTING_PARAMETERS",
            )
        limit, offset = _limit(body, 30, MAX_LOYALTY_PAGE), _offset(body)
        where, args = _where((LOYALTY_KEYS[name], _loyalty_keys(query, name)) for name in given)
        rows = self.db.execute(
            f"{ACCOUNT_SELECT} WHERE {where} ORDER BY a.enrolled_at, a.id LIMIT ? OFFSET ?",
            [*args, limit + 1, offset],
        ).fetchall()
        include = body.get("include_customer") is True
        accounts = [_account(row, include) for row in rows]
        return _page(accounts, offset, limit, "loyalty_accounts")

    def loyalty_account(self, params: Json) -> Json:
        row = self.db.execute(f"{ACCOUNT_SELECT} WHERE a.id = ?", (params["account_id"],))
        found = row.fetchone()
        if found is None:
            raise _not_found("loyalty account", params["account_id"])
        return {"loyalty_account": _account(found, False)}

    def _customers(self, ids: Sequence[str]) -> dict[str, Json]:
        clause, args = _in("c.id", ids)
        rows = self.db.execute(
            "SELECT c.*, c.id AS customer_id, c.phone AS customer_phone FROM customers c"
            f" WHERE {clause}",
            args,
        )
        return {row["id"]: _customer(row) for row in rows}

    def bulk_retrieve_customers(self, body: Json) -> Json:
        ids = _strings(body, "customer_ids", MAX_CUSTOMER_IDS, required=True) or []
        found = self._customers(ids) if ids else {}
        return {
            "responses": {
                i: {"customer": found[i]}
                if i in found
                else {"errors": [_not_found("customer", i).error]}
                for i in ids
            }
        }

    def customer(self, params: Json) -> Json:
        found = self._customers([params["customer_id"]])
        if not found:
            raise _not_found("customer", params["customer_id"])
        return {"customer": next(iter(found.values()))}

    def delete_customer(self, params: Json) -> Json:
        customer_id = params["customer_id"]
        with self.db:
            self.db.execute("DELETE FROM loyalty_accounts WHERE customer_id = ?", (customer_id,))
            deleted = self.db.execute("DELETE FROM customers WHERE id = ?", (customer_id,))
        if not deleted.rowcount:
            raise _not_found("customer", customer_id)
        return {}


def _loyalty_keys(query: Json, name: str) -> list[str]:
    """The values of one search criterion, as the column holds them."""
    if name == "emails":
        return [email.strip().lower() for email in _strings(query, name, MAX_LOYALTY_KEYS) or []]
    if name != "mappings":
        return _strings(query, name, MAX_LOYALTY_KEYS) or []
    mappings = query[name]
    if not isinstance(mappings, list) or not all(
        isinstance(m, dict) and isinstance(m.get("phone_number"), str) for m in mappings
    ):
        raise SquareError("mappings must be objects with a phone_number", field="mappings")
    if len(mappings) > MAX_LOYALTY_KEYS:
        raise SquareError(
            f"mappings may hold at most {MAX_LOYALTY_KEYS} values",
            code="ARRAY_LENGTH_TOO_LONG",
            field="mappings",
        )
    return list(dict.fromkeys(m["phone_number"] for m in mappings))


def _event_position(cursor: Any, last: int) -> int:
    """Where an events search starts: after the cursor's event, or from now."""
    if not cursor:
        return last
    try:
        kind, _, value = base64.urlsafe_b64decode(str(cursor).encode()).decode().partition(":")
        if kind != "event":
            raise ValueError(kind)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise SquareError("invalid cursor", code="INVALID_CURSOR", field="cursor") from exc


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise SquareError("start_at is not RFC 3339", field="start_at") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _event_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"event:{position}".encode()).decode()


def _quantity(value: Any) -> int:
    """A Square decimal-string quantity of whole pieces, at least one."""
    try:
        quantity = int(str(value))
    except ValueError as exc:
        raise SquareError(f"quantity {value!r} is not a whole number", field="quantity") from exc
    if quantity < 1:
        raise SquareError("quantity must be positive", code="VALUE_TOO_LOW", field="quantity")
    return quantity


def _sale_line(line: Any) -> tuple[str, int, int]:
    """(sku, quantity, unit price in cents) of a line item of a new sale."""
    if not isinstance(line, dict) or not isinstance(line.get("catalog_object_id"), str):
        raise SquareError("a line item needs a catalog_object_id", field="line_items")
    money = line.get("base_price_money")
    if not isinstance(money, dict) or not isinstance(money.get("amount"), int):
        raise SquareError("a line item needs base_price_money", field="line_items")
    if money.get("currency") != CURRENCY:
        raise SquareError(f"this POS sells in {CURRENCY}", field="base_price_money")
    return line["catalog_object_id"], _quantity(line.get("quantity")), money["amount"]


def _endpoint(
    handler: Callable[[Json], Json | Awaitable[Json]], *, body: bool
) -> Callable[[Request], Awaitable[Response]]:
    """A handler of the JSON body (or of the path parameters) as a Starlette endpoint;
    an async handler (the events' long poll) is awaited."""

    async def endpoint(request: Request) -> Response:
        try:
            if body:
                try:
                    payload = await request.json()
                except ValueError as exc:
                    raise SquareError("the body is not JSON", code="EXPECTED_JSON_BODY") from exc
                if not isinstance(payload, dict):
                    raise SquareError("the body must be a JSON object", code="BAD_REQUEST")
            else:
                payload = dict(request.path_params)
            answer = handler(payload)
            if inspect.isawaitable(answer):
                return JSONResponse(await while_connected(request, answer))
            return JSONResponse(answer)
        except SquareError as error:
            return error.response()

    return endpoint


def create_app(
    world: World,
    db_path: Path,
    knobs: Knobs | None = None,
    middleware: Sequence[Middleware] = (),
) -> Starlette:
    """The POS on its SQLite file (built from ``world`` when missing)."""
    build(world, db_path)
    db = sqlite3.connect(db_path, check_same_thread=False)
    db.row_factory = sqlite3.Row
    pos = Pos(db, {item.no: item.description for item in world.items})
    routes = [
        Route("/v2/locations", _endpoint(pos.locations, body=False), methods=["GET"]),
        Route("/v2/locations/{location_id}", _endpoint(pos.location, body=False), methods=["GET"]),
        Route(
            "/v2/orders/batch-retrieve",
            _endpoint(pos.batch_retrieve_orders, body=True),
            methods=["POST"],
        ),
        Route("/v2/orders/search", _endpoint(pos.search_orders, body=True), methods=["POST"]),
        Route("/v2/orders", _endpoint(pos.create_order, body=True), methods=["POST"]),
        Route(
            "/v2/inventory/counts/batch-retrieve",
            _endpoint(pos.batch_retrieve_counts, body=True),
            methods=["POST"],
        ),
        Route(
            "/v2/inventory/changes/batch-create",
            _endpoint(pos.batch_change_inventory, body=True),
            methods=["POST"],
        ),
        Route(
            "/v2/loyalty/accounts/search",
            _endpoint(pos.search_loyalty, body=True),
            methods=["POST"],
        ),
        Route(
            "/v2/loyalty/accounts/{account_id}",
            _endpoint(pos.loyalty_account, body=False),
            methods=["GET"],
        ),
        Route(
            "/v2/customers/bulk-retrieve",
            _endpoint(pos.bulk_retrieve_customers, body=True),
            methods=["POST"],
        ),
        Route("/v2/customers/{customer_id}", _endpoint(pos.customer, body=False), methods=["GET"]),
        Route(
            "/v2/customers/{customer_id}",
            _endpoint(pos.delete_customer, body=False),
            methods=["DELETE"],
        ),
        Route("/v2/events", _endpoint(pos.search_events, body=True), methods=["POST"]),
        Route(
            "/v2/payments/batch-retrieve-by-order",
            _endpoint(pos.batch_retrieve_payments, body=True),
            methods=["POST"],
        ),
        Route("/v2/payments/{payment_id}", _endpoint(pos.payment, body=False), methods=["GET"]),
        Route("/v2/refunds/{refund_id}", _endpoint(pos.refund, body=False), methods=["GET"]),
    ]
    return simulated_system("pos", routes, knobs or Knobs(), middleware)
