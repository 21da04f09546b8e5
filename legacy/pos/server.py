"""The simulated point of sale: Square's API (contracts/pos/square.json) over the POS's
SQLite file, offering only Square's endpoints, fields and limits.

Money as ``{amount, currency}`` in minor units, quantities as decimal strings, RFC 3339
timestamps with milliseconds, opaque pagination cursors, errors as ``{"errors":
[{category, code, detail, field}]}``. Started with a token (``mosaic legacy pos --token
T``), every API request needs ``Authorization: Bearer T`` and is answered 401 with
Square's ``AUTHENTICATION_ERROR`` body without it, as Square does; without one it is
open. A ``Square-Version`` header, when sent, must be a date (``2025-08-20``).

Endpoints (Square's operation names)
    GET    /v2/locations                       ListLocations
    POST   /v2/customers/search                SearchCustomers (exact ``reference_id``,
                                               ``email_address``, ``phone_number``;
                                               limit <= 100)
    POST   /v2/customers/bulk-retrieve         BulkRetrieveCustomers (ids <= 100)
    GET    /v2/customers/{id}                  RetrieveCustomer
    DELETE /v2/customers/{id}                  DeleteCustomer
    POST   /v2/loyalty/accounts/search         SearchLoyaltyAccounts (``mappings`` or
                                               ``customer_ids``, <= 30; limit <= 200)
    POST   /v2/orders/search                   SearchOrders (``location_ids`` 1..10,
                                               customers <= 10; limit <= 1000)
    POST   /v2/orders/batch-retrieve           BatchRetrieveOrders (ids <= 100)
    POST   /v2/orders                          CreateOrder (an OPEN order)
    POST   /v2/payments                        CreatePayment (CASH or EXTERNAL)
    POST   /v2/refunds                         RefundPayment (linked refunds only)
    GET    /v2/refunds/{id}                    GetPaymentRefund
    POST   /v2/inventory/counts/batch-retrieve BatchRetrieveInventoryCounts (limit <= 1000,
                                               ``updated_after``)
    POST   /v2/inventory/changes/batch-create  BatchChangeInventory (ADJUSTMENTs, <= 100)
    POST   /oauth2/token/status                RetrieveTokenStatus

Rulings: what the POS did beyond Square, and what it does now (contracts/pos/README.md
holds the reasons)
- Conditional inventory changes that failed below zero: gone. An adjustment is applied
  as asked and a count may go negative, as in Square; the hold Mosaic needs is its own
  (a lease per SKU and store, then read and adjust: ``resolvers/commerce/holds.py``).
- Order search without ``location_ids``: gone; 1 to 10 locations, as Square requires.
- A customer delete that also deleted the loyalty account: gone. DeleteCustomer deletes
  the profile only; the loyalty account stays, as Square has no API to delete one.
- Orders that completed a sale at once: gone. CreateOrder makes an OPEN order; a
  CreatePayment for its amount (``CASH`` or ``EXTERNAL``, the sources an API can record
  at a till) completes the payment and the order, and only then do its goods leave
  ``IN_STOCK`` (to ``SOLD``), as Square moves inventory when an order completes.
- ``include_customer`` on the loyalty search: gone; profiles come from the Customers API.
- Card numbers on loyalty accounts: gone. The card number is the customer profile's
  ``reference_id``, searched with SearchCustomers' exact ``reference_id`` filter.
- Tiers on loyalty accounts: gone. Accounts carry ``balance`` and ``lifetime_points``;
  Mosaic derives the tier from ``lifetime_points`` with thresholds in its settings.
- ``opening_hours`` (an OpenStreetMap-style string): gone; Square's
  ``business_hours.periods`` only.
- The long-polled events (``POST /v2/events`` with our ``wait_s``): gone. Stock changes
  are followed by polling BatchRetrieveInventoryCounts with ``updated_after``.
- ``POST /v2/payments/batch-retrieve-by-order``: gone (Square has no such endpoint).
  An order's payments are its ``tenders`` (the tender's id is the payment's), its till
  refunds its ``refunds``, as BatchRetrieveOrders and SearchOrders answer them. A
  refund the ERP paid out for an online order returned in a store is an unlinked
  refund with an ``EXTERNAL`` destination naming the ERP's refund (GetPaymentRefund).
- Inventory count pages of 10,000: gone; at most 1,000, Square's maximum.

What the POS simulates of Square, less than Square: RefundPayment refunds a payment
it names (no unlinked refunds), completed at once (Square's card refunds are PENDING
until the card network confirms); SearchCustomers matches exactly only; SearchOrders
sorts every field by ``created_at`` (receipts are created, paid and closed together);
inventory changes are ADJUSTMENTs only; counts are sorted by item and store (Square:
newest first) so that pages are stable.
"""

from __future__ import annotations

import inspect
import json
import re
import secrets
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from legacy.common.app import simulated_system
from legacy.common.knobs import Knobs
from legacy.pos import render
from legacy.pos.store import CURRENCY, build, rfc3339
from legacy.pos.wire import (
    SquareError,
    enums,
    known,
    limit,
    missing,
    money,
    not_found,
    obj,
    offset,
    page,
    quantity,
    strings,
    text,
    where_all,
    where_in,
)
from legacy.world import World

Json = dict[str, Any]

MAX_ORDER_IDS = 100
MAX_SEARCH_LOCATIONS = 10
MAX_SEARCH_CUSTOMERS = 10
MAX_ORDERS_PAGE = 1000
MAX_COUNTS_PAGE = 1000
MAX_COUNT_KEYS = 10_000  # not in Square's spec; keeps one query within SQLite's limits
MAX_LOYALTY_KEYS = 30
MAX_LOYALTY_PAGE = 200
MAX_CUSTOMERS_PAGE = 100
MAX_CUSTOMER_IDS = 100
MAX_CHANGES = 100
MAX_REFUND_KEY = 45  # Square: "Keys are limited to a max of 45 characters"
REFUND_FIELDS = (
    "idempotency_key",
    "amount_money",
    "app_fee_money",
    "payment_id",
    "destination_id",
    "unlinked",
    "location_id",
    "customer_id",
    "reason",
    "payment_version_token",
    "team_member_id",
    "cash_details",
    "external_details",
)
ORDER_STATES = ("OPEN", "COMPLETED", "CANCELED", "DRAFT")
COUNT_FIELDS = ("catalog_object_ids", "location_ids", "updated_after", "cursor", "states", "limit")
#: states goods may come from or go to without being counted here
UNTRACKED = ("NONE", "SOLD", "WASTE", "RETURNED_BY_CUSTOMER", "RECEIVED_FROM_VENDOR")
STATES = (*render.TRACKED, *UNTRACKED, "CUSTOM", "IN_TRANSIT")
#: SearchCustomers' exact filters and the column each matches (e-mail: any casing)
CUSTOMER_FILTERS = {
    "reference_id": "reference_id",
    "email_address": "email_norm",
    "phone_number": "phone",
}
#: what a token may do at this POS: every scope Mosaic asks for (contracts/pos/README.md)
SCOPES = (
    "MERCHANT_PROFILE_READ",
    "CUSTOMERS_READ",
    "CUSTOMERS_WRITE",
    "LOYALTY_READ",
    "ORDERS_READ",
    "ORDERS_WRITE",
    "PAYMENTS_READ",
    "PAYMENTS_WRITE",
    "INVENTORY_READ",
    "INVENTORY_WRITE",
)
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Pos:
    def __init__(self, db: sqlite3.Connection, item_names: dict[str, str]) -> None:
        self.db = db
        self.item_names = item_names

    # locations

    def locations(self, params: Json) -> Json:
        rows = self.db.execute("SELECT * FROM locations ORDER BY id").fetchall()
        return {"locations": [render.location(row) for row in rows]}

    # customers

    def search_customers(self, body: Json) -> Json:
        known(body, ("cursor", "limit", "query", "count"))
        filters = obj(obj(body, "query"), "filter")
        conditions, args = ["1 = 1"], []
        for name, column in CUSTOMER_FILTERS.items():
            if name not in filters:
                continue
            exact = obj(filters, name).get("exact")
            if not isinstance(exact, str):
                raise SquareError(
                    f"only exact {name} matching is simulated", field=f"query.filter.{name}"
                )
            conditions.append(f"{column} = ?")
            args.append(exact.strip().lower() if name == "email_address" else exact)
        return self._paged(
            body,
            f"SELECT * FROM customers WHERE {' AND '.join(conditions)}"
            " ORDER BY given_name, family_name, id",
            args,
            (MAX_CUSTOMERS_PAGE, MAX_CUSTOMERS_PAGE),
            ("customers", render.customer),
        )

    def _customers(self, ids: Sequence[str]) -> dict[str, Json]:
        clause, args = where_in("id", ids)
        rows = self.db.execute(f"SELECT * FROM customers WHERE {clause}", args)
        return {row["id"]: render.customer(row) for row in rows}

    def bulk_retrieve_customers(self, body: Json) -> Json:
        ids = strings(body, "customer_ids", MAX_CUSTOMER_IDS, required=True) or []
        found = self._customers(ids) if ids else {}
        return {
            "responses": {
                i: {"customer": found[i]}
                if i in found
                else {"errors": [not_found("customer", i).error]}
                for i in ids
            }
        }

    def customer(self, params: Json) -> Json:
        found = self._customers([params["customer_id"]])
        if not found:
            raise not_found("customer", params["customer_id"])
        return {"customer": next(iter(found.values()))}

    def delete_customer(self, params: Json) -> Json:
        """The profile only: Square keeps the loyalty account, and offers no way to
        delete one."""
        with self.db:
            deleted = self.db.execute(
                "DELETE FROM customers WHERE id = ?", (params["customer_id"],)
            )
        if not deleted.rowcount:
            raise not_found("customer", params["customer_id"])
        return {}

    # loyalty

    def search_loyalty(self, body: Json) -> Json:
        known(body, ("query", "limit", "cursor"))
        query = known(obj(body, "query"), ("mappings", "customer_ids"), "query.")
        if query.get("mappings") is not None and query.get("customer_ids") is not None:
            raise SquareError(
                "query may use mappings or customer_ids, not both", code="CONFLICTING_PARAMETERS"
            )
        if query.get("mappings") is not None:
            where, args = where_in("phone", _phones(query))
        elif query.get("customer_ids") is not None:
            ids = strings(query, "customer_ids", MAX_LOYALTY_KEYS) or []
            where, args = where_in("customer_id", ids)
        else:
            where, args = "1 = 1", []
        return self._paged(
            body,
            f"SELECT * FROM loyalty_accounts WHERE {where} ORDER BY enrolled_at, id",
            args,
            (30, MAX_LOYALTY_PAGE),
            ("loyalty_accounts", render.loyalty_account),
        )

    def _paged(
        self,
        body: Json,
        query: str,
        args: Sequence[Any],
        limits: tuple[int, int],
        shape: tuple[str, Callable[[sqlite3.Row], Json]],
    ) -> Json:
        """One page of a query's rows in Square's shape: ``limits`` is the page's
        (default, maximum), ``shape`` the answer's list field and each row's shape."""
        size, start = limit(body, *limits), offset(body)
        rows = self.db.execute(f"{query} LIMIT ? OFFSET ?", [*args, size + 1, start])
        field, render_row = shape
        return page([render_row(row) for row in rows.fetchall()], start, size, field)

    # orders

    def _orders(self, where: str, args: Sequence[Any], tail: str = "") -> list[Json]:
        rows = self.db.execute(f"SELECT * FROM orders WHERE {where} {tail}", args).fetchall()
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        lines = self._children("line_items", "order_id", ids, "line_no", render.line_item)
        tenders = self._children("payments", "order_id", ids, "created_at, id", render.tender)
        refunds = self._children("refunds", "order_id", ids, "created_at, id", render.order_refund)
        return [
            render.order(row, lines.get(i, []), tenders.get(i, []), refunds.get(i, []))
            for row, i in zip(rows, ids, strict=True)
        ]

    def _children(
        self,
        table: str,
        key: str,
        ids: Sequence[str],
        order: str,
        shape: Callable[[sqlite3.Row], Json],
    ) -> dict[str, list[Json]]:
        clause, args = where_in(key, ids)
        found: dict[str, list[Json]] = {}
        for row in self.db.execute(f"SELECT * FROM {table} WHERE {clause} ORDER BY {order}", args):
            found.setdefault(row[key], []).append(shape(row))
        return found

    def batch_retrieve_orders(self, body: Json) -> Json:
        ids = strings(body, "order_ids", MAX_ORDER_IDS, required=True) or []
        if not ids:
            return {}
        where, args = where_in("id", ids)
        if body.get("location_id"):
            where, args = f"{where} AND location_id = ?", [*args, body["location_id"]]
        found = {order["id"]: order for order in self._orders(where, args)}
        return {"orders": [found[i] for i in ids if i in found]} if found else {}

    def search_orders(self, body: Json) -> Json:
        known(body, ("location_ids", "cursor", "query", "limit", "return_entries"))
        locations = strings(body, "location_ids", MAX_SEARCH_LOCATIONS)
        if not locations:
            raise SquareError(
                "location_ids must name 1 to 10 locations",
                code="MISSING_REQUIRED_PARAMETER",
                field="location_ids",
            )
        query = obj(body, "query")
        filters = obj(query, "filter")
        sort = obj(query, "sort")
        customers = obj(filters, "customer_filter")
        where, args = where_all(
            [
                ("location_id", locations),
                ("customer_id", strings(customers, "customer_ids", MAX_SEARCH_CUSTOMERS)),
                ("state", enums(obj(filters, "state_filter"), "states", ORDER_STATES)),
            ]
        )
        direction = sort.get("sort_order", "DESC")
        if direction not in ("ASC", "DESC"):
            raise SquareError("sort_order must be ASC or DESC", code="INVALID_SORT_ORDER")
        size, start = limit(body, 500, MAX_ORDERS_PAGE), offset(body)
        orders = self._orders(
            where,
            [*args, size + 1, start],
            f"ORDER BY created_at {direction}, id {direction} LIMIT ? OFFSET ?",
        )
        return page(orders, start, size, "orders")

    def create_order(self, body: Json) -> Json:
        """An OPEN order; its goods stay where they are until it is paid."""
        order = obj(body, "order")
        key = text(body, "idempotency_key") or uuid.uuid4().hex
        return self._once(key, "orders", lambda: self._open_order(order))

    def _open_order(self, order: Json) -> Json:
        location = text(order, "location_id", required=True)
        self._known_location(location or "")
        lines = order.get("line_items")
        if not isinstance(lines, list) or not lines:
            raise missing("order.line_items")
        order_id = f"RX{uuid.uuid4().hex[:10].upper()}"
        self.db.execute(
            "INSERT INTO orders VALUES (?, ?, ?, 'OPEN', ?, ?, NULL)",
            (order_id, location, text(order, "customer_id"), CURRENCY, _now()),
        )
        for n, line in enumerate(lines, start=1):
            if not isinstance(line, dict):
                raise SquareError("a line item must be an object", field="order.line_items")
            sku = text(line, "catalog_object_id", required=True) or ""
            self.db.execute(
                "INSERT INTO line_items VALUES (?, ?, ?, ?, ?, ?)",
                (
                    order_id,
                    n,
                    sku,
                    line.get("name") or self.item_names.get(sku, sku),
                    quantity(line.get("quantity")),
                    money(line, "base_price_money", CURRENCY),
                ),
            )
        return {"order": self._orders("id = ?", [order_id])[0]}

    # payments

    def create_payment(self, body: Json) -> Json:
        key = text(body, "idempotency_key", required=True) or ""
        return self._once(key, "payments", lambda: self._pay(body))

    def _pay(self, body: Json) -> Json:
        """A cash or external payment; one for an order's amount due completes the order,
        and the order's goods are sold (IN_STOCK to SOLD)."""
        source = text(body, "source_id", required=True)
        if source not in ("CASH", "EXTERNAL"):
            raise SquareError(
                "this POS records CASH and EXTERNAL payments; cards are taken at the till",
                field="source_id",
            )
        amount = money(body, "amount_money", CURRENCY)
        order_id = text(body, "order_id")
        order = self._orders("id = ?", [order_id])[0] if order_id else None
        if order_id and order is None:
            raise not_found("order", order_id)
        location = text(body, "location_id") or (order["location_id"] if order else None)
        if location is None:
            raise missing("location_id")
        if order is not None:
            if order["state"] != "OPEN":
                raise SquareError(f"order {order_id} is {order['state']}", code="BAD_REQUEST")
            if amount != order["net_amount_due_money"]["amount"]:
                raise SquareError(
                    "amount_money must be the order's amount due", field="amount_money"
                )
        payment_id = f"PX{uuid.uuid4().hex[:10].upper()}"
        now = _now()
        self.db.execute(
            "INSERT INTO payments VALUES (?, ?, ?, ?, ?, ?, 'COMPLETED', ?)",
            (
                payment_id,
                order_id,
                location,
                text(body, "customer_id") or (order or {}).get("customer_id"),
                source,
                amount,
                now,
            ),
        )
        if order is not None:
            self.db.execute(
                "UPDATE orders SET state = 'COMPLETED', closed_at = ? WHERE id = ?", (now, order_id)
            )
            for line in order["line_items"]:
                self._move(
                    line["catalog_object_id"],
                    order["location_id"],
                    int(line["quantity"]),
                    "IN_STOCK",
                    "SOLD",
                )
        row = self.db.execute("SELECT * FROM payments WHERE id = ?", (payment_id,)).fetchone()
        return {"payment": render.payment(row)}

    def refund_payment(self, body: Json) -> Json:
        known(body, REFUND_FIELDS)
        key = text(body, "idempotency_key", required=True) or ""
        if len(key) > MAX_REFUND_KEY:
            raise SquareError(
                f"idempotency_key is longer than {MAX_REFUND_KEY} characters",
                code="VALUE_TOO_LONG",
                field="idempotency_key",
            )
        return self._once(key, "refunds", lambda: self._refund(body))

    def _refund(self, body: Json) -> Json:
        """Money back to the payment it refunds, the way it was paid: at most what the
        payment took less what was refunded of it already."""
        if body.get("unlinked"):
            raise SquareError("unlinked refunds are not simulated", code="NOT_IMPLEMENTED")
        payment_id = text(body, "payment_id", required=True) or ""
        paid = self.db.execute("SELECT * FROM payments WHERE id = ?", (payment_id,)).fetchone()
        if paid is None:
            raise not_found("payment", payment_id)
        amount = money(body, "amount_money", CURRENCY)
        refunded = self.db.execute(
            "SELECT coalesce(sum(amount), 0) FROM refunds WHERE payment_id = ?"
            " AND status IN ('COMPLETED', 'PENDING')",
            (payment_id,),
        ).fetchone()[0]
        if amount <= 0 or amount > paid["amount"] - refunded:
            raise SquareError(
                "amount_money is more than the payment has left to refund",
                code="REFUND_AMOUNT_INVALID",
                field="amount_money",
            )
        refund_id = f"RF{uuid.uuid4().hex[:10].upper()}"
        self.db.execute(
            "INSERT INTO refunds VALUES (?, ?, ?, ?, ?, ?, 'COMPLETED', ?, NULL, ?)",
            (
                refund_id,
                payment_id,
                paid["order_id"],
                paid["location_id"],
                paid["method"],
                amount,
                text(body, "reason"),
                _now(),
            ),
        )
        row = self.db.execute("SELECT * FROM refunds WHERE id = ?", (refund_id,)).fetchone()
        return {"refund": render.payment_refund(row)}

    def refund(self, params: Json) -> Json:
        row = self.db.execute("SELECT * FROM refunds WHERE id = ?", (params["refund_id"],))
        found = row.fetchone()
        if found is None:
            raise not_found("refund", params["refund_id"])
        return {"refund": render.payment_refund(found)}

    # inventory

    def batch_retrieve_counts(self, body: Json) -> Json:
        known(body, COUNT_FIELDS)
        where, args = where_all(
            [
                ("sku", strings(body, "catalog_object_ids", MAX_COUNT_KEYS)),
                ("location_id", strings(body, "location_ids", MAX_COUNT_KEYS)),
            ]
        )
        since = text(body, "updated_after")
        if since is not None:
            where, args = f"{where} AND calculated_at > ?", [*args, rfc3339(_instant(since))]
        states = enums(body, "states", STATES)
        size, start = limit(body, MAX_COUNTS_PAGE, MAX_COUNTS_PAGE), offset(body)
        rows = self.db.execute(f"SELECT * FROM stock WHERE {where} ORDER BY sku, location_id", args)
        counts = [count for row in rows for count in render.counts(row, states)]
        return page(counts[start : start + size + 1], start, size, "counts")

    def batch_change_inventory(self, body: Json) -> Json:
        key = text(body, "idempotency_key", required=True) or ""
        changes = body.get("changes")
        if not isinstance(changes, list) or not 1 <= len(changes) <= MAX_CHANGES:
            raise SquareError(f"changes must hold 1 to {MAX_CHANGES} changes", field="changes")
        return self._once(key, "inventory", lambda: self._adjust(changes))

    def _adjust(self, changes: list[Any]) -> Json:
        """Every adjustment as asked; a count may go below zero, as in Square."""
        touched: dict[tuple[str, str], None] = {}
        for change in changes:
            adjustment = change.get("adjustment") if isinstance(change, dict) else None
            if not isinstance(adjustment, dict) or change.get("type") != "ADJUSTMENT":
                raise SquareError(
                    "this POS takes ADJUSTMENT changes", code="NOT_IMPLEMENTED", field="changes"
                )
            sku = text(adjustment, "catalog_object_id", required=True) or ""
            location = text(adjustment, "location_id", required=True) or ""
            _instant(text(adjustment, "occurred_at", required=True) or "")
            self._move(
                sku,
                location,
                quantity(adjustment.get("quantity")),
                adjustment.get("from_state"),
                adjustment.get("to_state"),
            )
            touched[(sku, location)] = None
        rows = [
            self.db.execute(
                "SELECT * FROM stock WHERE sku = ? AND location_id = ?", pair
            ).fetchone()
            for pair in touched
        ]
        return {
            "counts": [count for row in rows for count in render.counts(row, None)],
            "changes": changes,
        }

    def _move(self, sku: str, location: str, pieces: int, source: Any, target: Any) -> None:
        """Move ``pieces`` of an item between states at a store."""
        known = (*render.TRACKED, *UNTRACKED)
        if source not in known or target not in known or source == target:
            raise SquareError(f"cannot move goods from {source} to {target}", field="changes")
        self._known_location(location)
        now = _now()
        self.db.execute("INSERT OR IGNORE INTO stock VALUES (?, ?, 0, 0, ?)", (sku, location, now))
        row = self.db.execute(
            "SELECT * FROM stock WHERE sku = ? AND location_id = ?", (sku, location)
        ).fetchone()
        levels = {state: row[column] for state, column in render.TRACKED.items()}
        if source in levels:
            levels[source] -= pieces
        if target in levels:
            levels[target] += pieces
        self.db.execute(
            "UPDATE stock SET in_stock = ?, reserved = ?, calculated_at = ?"
            " WHERE sku = ? AND location_id = ?",
            (levels["IN_STOCK"], levels["RESERVED_FOR_SALE"], now, sku, location),
        )

    def _known_location(self, location: str) -> None:
        if not self.db.execute("SELECT 1 FROM locations WHERE id = ?", (location,)).fetchone():
            raise not_found("location", location)

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
            raise
        self.db.commit()
        return answer


def _now() -> str:
    return rfc3339(datetime.now(UTC))


def _instant(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise SquareError(f"{value!r} is not an RFC 3339 timestamp", code="INVALID_TIME") from exc
    if moment.tzinfo is None:
        raise SquareError(f"{value!r} has no offset", code="INVALID_TIME")
    return moment


def _phones(query: Json) -> list[str]:
    mappings = query["mappings"]
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


def _endpoint(
    handler: Callable[[Json], Json | Awaitable[Json]], *, body: bool
) -> Callable[[Request], Awaitable[Response]]:
    """A handler of the JSON body (or of the path parameters) as a Starlette endpoint."""

    async def endpoint(request: Request) -> Response:
        try:
            if body:
                try:
                    payload = await request.json()
                except ValueError as exc:
                    raise SquareError("the body is not JSON", code="EXPECTED_JSON_BODY") from exc
                if not isinstance(payload, dict):
                    raise SquareError("the body must be a JSON object", code="EXPECTED_OBJECT")
            else:
                payload = dict(request.path_params)
            answer = handler(payload)
            if inspect.isawaitable(answer):
                answer = await answer
            return JSONResponse(answer)
        except SquareError as error:
            return error.response()

    return endpoint


class Gate:
    """Square's access token check and ``Square-Version`` format, in front of the API
    (the admin endpoints stay open)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self._refusal(Headers(scope=scope)) if scope["type"] == "http" else None
        if refusal is None:
            await self.app(scope, receive, send)
        else:
            await refusal.response()(scope, receive, send)

    def _refusal(self, headers: Headers) -> SquareError | None:
        version = headers.get("square-version")
        if version is not None and not _VERSION.match(version):
            return SquareError(
                f"Square-Version {version!r} is not a date", code="INVALID_SQUARE_VERSION_FORMAT"
            )
        if self.token is None:
            return None
        scheme, _, credential = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            return _unauthorized("The request has no Authorization header with a bearer token.")
        if not secrets.compare_digest(credential.strip().encode(), self.token.encode()):
            return _unauthorized("This request could not be authorized.")
        return None


async def _not_found(request: Request) -> Response:
    return SquareError(
        f"{request.method} {request.url.path} is not an endpoint here",
        code="NOT_FOUND",
        status=404,
    ).response()


#: every other path and method: Square's 404, in Square's error shape
_NOWHERE = Route("/{rest:path}", _not_found, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])


def _unauthorized(detail: str) -> SquareError:
    return SquareError(detail, code="UNAUTHORIZED", status=401, category="AUTHENTICATION_ERROR")


def _token_status(scopes: Sequence[str]) -> Callable[[Json], Json]:
    def status(body: Json) -> Json:
        return {"scopes": list(scopes), "merchant_id": render.MERCHANT_ID}

    return status


def create_app(
    world: World,
    db_path: Path,
    knobs: Knobs | None = None,
    middleware: Sequence[Middleware] = (),
    token: str | None = None,
    scopes: Sequence[str] = SCOPES,
) -> Starlette:
    """The POS on its SQLite file (built from ``world`` when missing). With ``token``
    every API request needs it as a bearer token; ``scopes`` are what the token may do
    (RetrieveTokenStatus answers them)."""
    build(world, db_path)
    db = sqlite3.connect(db_path, check_same_thread=False)
    db.row_factory = sqlite3.Row
    pos = Pos(db, {item.no: item.description for item in world.items})

    def get(path: str, handler: Callable[[Json], Json]) -> Route:
        return Route(path, _endpoint(handler, body=False), methods=["GET"])

    def post(path: str, handler: Callable[[Json], Json]) -> Route:
        return Route(path, _endpoint(handler, body=True), methods=["POST"])

    v2 = [
        get("/locations", pos.locations),
        post("/customers/search", pos.search_customers),
        post("/customers/bulk-retrieve", pos.bulk_retrieve_customers),
        get("/customers/{customer_id}", pos.customer),
        Route(
            "/customers/{customer_id}",
            _endpoint(pos.delete_customer, body=False),
            methods=["DELETE"],
        ),
        post("/loyalty/accounts/search", pos.search_loyalty),
        post("/orders/search", pos.search_orders),
        post("/orders/batch-retrieve", pos.batch_retrieve_orders),
        post("/orders", pos.create_order),
        post("/payments", pos.create_payment),
        post("/refunds", pos.refund_payment),
        get("/refunds/{refund_id}", pos.refund),
        post("/inventory/counts/batch-retrieve", pos.batch_retrieve_counts),
        post("/inventory/changes/batch-create", pos.batch_change_inventory),
        _NOWHERE,
    ]
    oauth2 = [post("/token/status", _token_status(scopes)), _NOWHERE]
    gate = [Middleware(Gate, token=token)]
    api = [
        Mount("/v2", routes=v2, middleware=gate),
        Mount("/oauth2", routes=oauth2, middleware=gate),
    ]
    return simulated_system("pos", api, knobs or Knobs(), middleware)
