"""The POS's rows in Square's shapes (contracts/pos/square.json): one function per object.

Only fields Square's objects have; optional ones are left out where the row has no
value, as Square leaves them out.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from legacy.pos.store import CURRENCY

Json = dict[str, Any]

MERCHANT_ID = "MOSAICDEMO"
PROGRAM_ID = "mosaic-rewards"
TIMEZONE = "Europe/Amsterdam"
#: the till's payment methods as Square's tender type and card type
TILL_METHODS: dict[str, tuple[str, str | None]] = {
    "PIN": ("CARD", "DEBIT"),
    "CARD": ("CARD", "CREDIT"),
    "CASH": ("CASH", None),
    "EXTERNAL": ("OTHER", None),
}
#: a payment's status as the card tender's status (Square's TenderCardDetailsStatus)
CARD_STATUS = {"COMPLETED": "CAPTURED", "APPROVED": "AUTHORIZED", "CANCELED": "VOIDED"}
#: a refund's status in an order's ``refunds`` (Square's RefundStatus: APPROVED is done)
ORDER_REFUND_STATUS = {"COMPLETED": "APPROVED", "PENDING": "PENDING", "FAILED": "FAILED"}
#: the inventory states the POS tracks, and the stock column holding each
TRACKED = {"IN_STOCK": "in_stock", "RESERVED_FOR_SALE": "reserved"}
DAYS = {"Mo": "MON", "Tu": "TUE", "We": "WED", "Th": "THU", "Fr": "FRI", "Sa": "SAT", "Su": "SUN"}


def money(amount: int) -> Json:
    return {"amount": amount, "currency": CURRENCY}


def business_hours(opening_hours: str) -> Json:
    """The store's hours (``Mo-Sa 09:00-18:00; Su 12:00-17:00``, as the seed writes
    them) as Square's ``business_hours``: one period per day."""
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


def location(row: sqlite3.Row) -> Json:
    return {
        "id": row["id"],
        "name": row["name"],
        "address": {
            "address_line_1": row["street"],
            "locality": row["city"],
            "postal_code": row["postal_code"],
            "country": row["country"],
        },
        "timezone": TIMEZONE,
        "status": "ACTIVE" if row["active"] else "INACTIVE",
        "merchant_id": MERCHANT_ID,
        "country": row["country"],
        "language_code": "nl-NL",
        "currency": CURRENCY,
        "type": "PHYSICAL",
        "business_hours": business_hours(row["opening_hours"]),
        "coordinates": {"latitude": row["lat"], "longitude": row["lon"]},
    }


def customer(row: sqlite3.Row) -> Json:
    found: Json = {
        "id": row["id"],
        "created_at": row["created_at"],
        "updated_at": row["created_at"],
        "given_name": row["given_name"],
        "family_name": row["family_name"],
        "preferences": {"email_unsubscribed": False},
        "creation_source": "LOYALTY",
        "version": 1,
    }
    for field, column in (
        ("email_address", "email"),
        ("phone_number", "phone"),
        ("reference_id", "reference_id"),
    ):
        if row[column]:
            found[field] = row[column]
    return found


def loyalty_account(row: sqlite3.Row) -> Json:
    account: Json = {
        "id": row["id"],
        "program_id": PROGRAM_ID,
        "balance": row["balance"],
        "lifetime_points": row["lifetime_points"],
        "customer_id": row["customer_id"],
        "enrolled_at": row["enrolled_at"],
        "created_at": row["enrolled_at"],
        "updated_at": row["enrolled_at"],
    }
    if row["phone"]:
        account["mapping"] = {
            "id": f"{row['id']}-phone",
            "created_at": row["enrolled_at"],
            "phone_number": row["phone"],
        }
    return account


def line_item(row: sqlite3.Row) -> Json:
    quantity, unit = row["quantity"], row["unit_amount"]
    return {
        "uid": f"{row['order_id']}-{row['line_no']}",
        "catalog_object_id": row["sku"],
        "name": row["name"],
        "quantity": str(quantity),
        "item_type": "ITEM",
        "base_price_money": money(unit),
        "variation_total_price_money": money(unit * quantity),
        "gross_sales_money": money(unit * quantity),
        "total_tax_money": money(0),
        "total_discount_money": money(0),
        "total_money": money(unit * quantity),
    }


def _card(card_type: str) -> Json:
    brand = "MASTERCARD" if card_type == "DEBIT" else "VISA"
    return {"card_brand": brand, "card_type": card_type}


def _paid(row: sqlite3.Row, fields: Json, cash_field: str) -> Json:
    """A payment's fields (as a tender or as a Payments API payment), with what Square
    adds for the way it was paid: the card, or the cash handed over (``cash_field``,
    which the two objects name differently)."""
    kind, card_type = TILL_METHODS[row["method"]]
    paid = dict(fields)
    if row["customer_id"]:
        paid["customer_id"] = row["customer_id"]
    if card_type:
        status = CARD_STATUS.get(row["status"], "FAILED")
        paid["card_details"] = {"status": status, "card": _card(card_type), "entry_method": "EMV"}
    elif kind == "CASH":
        paid["cash_details"] = {cash_field: money(row["amount"]), "change_back_money": money(0)}
    return paid


def tender(row: sqlite3.Row) -> Json:
    """A payment as its order's tender (the tender's id is the payment's)."""
    fields = {
        "id": row["id"],
        "location_id": row["location_id"],
        "transaction_id": row["order_id"],
        "created_at": row["created_at"],
        "amount_money": money(row["amount"]),
        "type": TILL_METHODS[row["method"]][0],
        "payment_id": row["id"],
    }
    return _paid(row, fields, "buyer_tendered_money")


def order_refund(row: sqlite3.Row) -> Json:
    """A till refund of a tender, as its order's ``refunds`` list it."""
    refund: Json = {
        "id": row["id"],
        "location_id": row["location_id"],
        "transaction_id": row["order_id"],
        "tender_id": row["payment_id"],
        "created_at": row["created_at"],
        "reason": row["reason"] or "Returned goods",
        "amount_money": money(row["amount"]),
        "status": ORDER_REFUND_STATUS.get(row["status"], "REJECTED"),
    }
    return refund


def order(
    row: sqlite3.Row, lines: list[Json], tenders: Sequence[Json], refunds: Sequence[Json]
) -> Json:
    total = sum(line["total_money"]["amount"] for line in lines)
    paid = sum(t["amount_money"]["amount"] for t in tenders)
    found: Json = {
        "id": row["id"],
        "location_id": row["location_id"],
        "source": {"name": "Mosaic POS"},
        "line_items": lines,
        "state": row["state"],
        "created_at": row["created_at"],
        "updated_at": row["closed_at"] or row["created_at"],
        "version": 1,
        "total_money": money(total),
        "total_tax_money": money(0),
        "total_discount_money": money(0),
        "net_amount_due_money": money(max(total - paid, 0)),
    }
    if row["customer_id"]:
        found["customer_id"] = row["customer_id"]
    if row["closed_at"]:
        found["closed_at"] = row["closed_at"]
    if tenders:
        found["tenders"] = list(tenders)
    if refunds:
        found["refunds"] = list(refunds)
    return found


def payment(row: sqlite3.Row) -> Json:
    """A payment as the Payments API answers it (CreatePayment)."""
    kind = TILL_METHODS[row["method"]][0]
    amount = money(row["amount"])
    fields = {
        "id": row["id"],
        "created_at": row["created_at"],
        "updated_at": row["created_at"],
        "amount_money": amount,
        "total_money": amount,
        "status": row["status"],
        "source_type": "EXTERNAL" if kind == "OTHER" else kind,
        "location_id": row["location_id"],
        "order_id": row["order_id"],
        "receipt_number": row["id"][-4:],
    }
    return _paid(row, fields, "buyer_supplied_money")


def payment_refund(row: sqlite3.Row) -> Json:
    """A refund as the Refunds API answers it (GetPaymentRefund). One the ERP paid out
    for an online order returned in a store is ``unlinked`` (no Square payment), of
    destination ``EXTERNAL``, naming the ERP's refund in its external details."""
    refund: Json = {
        "id": row["id"],
        "status": row["status"],
        "location_id": row["location_id"],
        "unlinked": row["payment_id"] is None,
        "amount_money": money(row["amount"]),
        "created_at": row["created_at"],
        "updated_at": row["created_at"],
    }
    if row["method"] == "EXTERNAL":
        refund["destination_type"] = "EXTERNAL"
        refund["destination_details"] = {
            "external_details": {"type": "OTHER", "source": "ERP", "source_id": row["external_id"]}
        }
    else:
        kind, card_type = TILL_METHODS[row["method"]]
        refund["destination_type"] = kind
        refund["destination_details"] = (
            {"card_details": {"card": _card(card_type)}}
            if card_type
            else {"cash_details": {"seller_supplied_money": refund["amount_money"]}}
        )
    for field in ("payment_id", "order_id", "reason"):
        if row[field]:
            refund[field] = row[field]
    return refund


def counts(row: sqlite3.Row, states: Sequence[str] | None) -> list[Json]:
    """The counts of one (item, store) pair: IN_STOCK always, RESERVED_FOR_SALE if any
    (Square has no count for a state never entered)."""
    found = []
    for state, column in TRACKED.items():
        quantity = row[column]
        if (states is None or state in states) and (state == "IN_STOCK" or quantity):
            found.append(
                {
                    "catalog_object_id": row["sku"],
                    "catalog_object_type": "ITEM_VARIATION",
                    "state": state,
                    "location_id": row["location_id"],
                    "quantity": str(quantity),
                    "calculated_at": row["calculated_at"],
                }
            )
    return found
