"""The POS's own SQLite file: stores, customer profiles, loyalty accounts, receipts with
their payments (tenders) and refunds, and store stock.

Money is kept as Square keeps it, an integer count of minor units (cents), so the wire
never sees a float. Stock is kept per (item, store) as the two Square inventory states
the POS tracks: ``IN_STOCK`` (on the shelf, free to sell) and ``RESERVED_FOR_SALE``
(held for a customer); the world's ``on_hand`` is their sum. ``calculated_at`` has
Square's millisecond precision, so a follower asking for counts changed after a
moment misses none of the changes within one second.

A customer profile keeps the loyalty card number in ``reference_id``, the field Square
offers for an id from another system (contracts/pos/README.md). A loyalty account
keeps Square's points (``balance``, ``lifetime_points``) and the phone number it is
mapped to; Square's accounts have no card number or tier. A payment's and a refund's
``method`` is the till's word (PIN, CARD, CASH; a refund of an online order paid out by
the ERP: EXTERNAL, with the ERP's refund number as ``external_id``); refund amounts are
positive, as Square's are.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from legacy.common.sqlite import build_once
from legacy.world import ANCHOR, World

SCHEMA = """
CREATE TABLE locations (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, street TEXT NOT NULL, city TEXT NOT NULL,
    postal_code TEXT NOT NULL, country TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,
    opening_hours TEXT NOT NULL, active INTEGER NOT NULL
);
CREATE TABLE customers (
    id TEXT PRIMARY KEY, given_name TEXT, family_name TEXT, email TEXT, email_norm TEXT,
    phone TEXT, reference_id TEXT, created_at TEXT NOT NULL
);
CREATE INDEX customers_email ON customers (email_norm);
CREATE INDEX customers_reference ON customers (reference_id);
CREATE TABLE loyalty_accounts (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, balance INTEGER NOT NULL,
    lifetime_points INTEGER NOT NULL, phone TEXT, enrolled_at TEXT NOT NULL
);
CREATE INDEX loyalty_customer ON loyalty_accounts (customer_id);
CREATE INDEX loyalty_phone ON loyalty_accounts (phone);
CREATE TABLE orders (
    id TEXT PRIMARY KEY, location_id TEXT NOT NULL, customer_id TEXT, state TEXT NOT NULL,
    currency TEXT NOT NULL, created_at TEXT NOT NULL, closed_at TEXT
);
CREATE INDEX orders_customer ON orders (customer_id, created_at);
CREATE TABLE line_items (
    order_id TEXT NOT NULL REFERENCES orders (id), line_no INTEGER NOT NULL,
    sku TEXT NOT NULL, name TEXT NOT NULL, quantity INTEGER NOT NULL,
    unit_amount INTEGER NOT NULL, PRIMARY KEY (order_id, line_no)
);
CREATE TABLE idempotency (
    key TEXT PRIMARY KEY, endpoint TEXT NOT NULL, response TEXT NOT NULL
);
CREATE TABLE stock (
    sku TEXT NOT NULL, location_id TEXT NOT NULL, in_stock INTEGER NOT NULL,
    reserved INTEGER NOT NULL, calculated_at TEXT NOT NULL, PRIMARY KEY (sku, location_id)
);
CREATE INDEX stock_calculated ON stock (calculated_at);
CREATE TABLE payments (
    id TEXT PRIMARY KEY, order_id TEXT NOT NULL, location_id TEXT NOT NULL, customer_id TEXT,
    method TEXT NOT NULL, amount INTEGER NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE INDEX payments_order ON payments (order_id);
CREATE TABLE refunds (
    id TEXT PRIMARY KEY, payment_id TEXT REFERENCES payments (id), order_id TEXT,
    location_id TEXT NOT NULL, method TEXT NOT NULL, amount INTEGER NOT NULL,
    status TEXT NOT NULL, reason TEXT, external_id TEXT, created_at TEXT NOT NULL
);
CREATE INDEX refunds_order ON refunds (order_id);
CREATE INDEX refunds_payment ON refunds (payment_id);
"""

CURRENCY = "EUR"


def rfc3339(moment: datetime) -> str:
    """UTC with milliseconds and a ``Z``, as Square writes its timestamps: sorts as text."""
    utc = moment.astimezone(ANCHOR.tzinfo)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def cents(amount: Decimal) -> int:
    """Major units to minor units, exactly (prices carry two decimals)."""
    return int((amount * 100).to_integral_value())


def build(world: World, db_path: Path) -> None:
    """Write the POS slice of ``world`` into ``db_path``, unless the file already exists
    (the POS keeps the sales and stock changes it recorded across restarts)."""
    build_once(db_path, SCHEMA, lambda db: _load(db, world))


def _load(db: sqlite3.Connection, world: World) -> None:
    db.executemany(
        "INSERT INTO locations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                s.id,
                s.name,
                s.address.street,
                s.address.city,
                s.address.postal_code,
                s.address.country,
                s.lat,
                s.lon,
                s.opening_hours,
                int(s.active),
            )
            for s in world.stores
        ],
    )
    db.executemany(
        "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                c.id,
                c.given_name,
                c.family_name,
                c.email,
                c.email.strip().lower() if c.email else None,
                c.phone,
                c.card_number,
                rfc3339(c.enrolled_at),
            )
            for c in world.pos_customers
        ],
    )
    db.executemany(
        "INSERT INTO loyalty_accounts VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                c.loyalty_account_id,
                c.id,
                c.points,
                c.lifetime_points,
                c.phone,
                rfc3339(c.enrolled_at),
            )
            for c in world.pos_customers
        ],
    )
    names = {item.no: item.description for item in world.items}
    db.executemany(
        "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                o.id,
                o.location_id,
                o.customer_ref,
                o.status,
                CURRENCY,
                rfc3339(o.placed_at),
                rfc3339(o.placed_at) if o.status == "COMPLETED" else None,
            )
            for o in world.pos_orders
        ],
    )
    db.executemany(
        "INSERT INTO line_items VALUES (?, ?, ?, ?, ?, ?)",
        [
            (o.id, n, line.item_no, names[line.item_no], line.quantity, cents(line.unit_price))
            for o in world.pos_orders
            for n, line in enumerate(o.lines, start=1)
        ],
    )
    counted = rfc3339(ANCHOR)
    db.executemany(
        "INSERT INTO stock VALUES (?, ?, ?, ?, ?)",
        [
            (s.item_no, s.location_id, s.on_hand - s.reserved, s.reserved, counted)
            for s in world.store_stock
        ],
    )
    till = [p for p in world.payments if p.system == "pos"]
    db.executemany(
        "INSERT INTO payments VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                p.id,
                p.order_id,
                p.location_id,
                p.customer_ref,
                p.method,
                cents(p.amount),
                p.status,
                rfc3339(p.at),
            )
            for p in till
            if p.kind == "PAYMENT"
        ],
    )
    db.executemany(
        "INSERT INTO refunds VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                p.id,
                p.refund_of,
                # a refund the ERP paid out refunds no Square order: the online order is
                # the ERP's, named by the refund's external details
                None if p.mirror_id else p.order_id,
                p.location_id,
                "EXTERNAL" if p.mirror_id else p.method,
                -cents(p.amount),
                p.status,
                p.reason,
                p.mirror_id,
                rfc3339(p.at),
            )
            for p in till
            if p.kind == "REFUND"
        ],
    )
