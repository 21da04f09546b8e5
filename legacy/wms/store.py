"""The WMS's own SQLite file: warehouses, stock per site, inbound shipments, reservations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from legacy.common.sqlite import build_once
from legacy.world import World

SCHEMA = """
CREATE TABLE warehouses (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, street TEXT NOT NULL, city TEXT NOT NULL,
    postal_code TEXT NOT NULL, country TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL
);
CREATE TABLE stock (
    sku TEXT NOT NULL, site TEXT NOT NULL REFERENCES warehouses (id),
    on_hand INTEGER NOT NULL, reserved INTEGER NOT NULL, PRIMARY KEY (sku, site)
);
CREATE TABLE inbound (
    id TEXT PRIMARY KEY, sku TEXT NOT NULL, destination TEXT NOT NULL,
    quantity INTEGER NOT NULL, expected_at TEXT NOT NULL
);
CREATE INDEX inbound_sku ON inbound (sku);
CREATE TABLE reservations (
    id TEXT PRIMARY KEY, sku TEXT NOT NULL, site TEXT NOT NULL, quantity INTEGER NOT NULL,
    reference TEXT UNIQUE, created_at TEXT NOT NULL
);
"""


def build(world: World, db_path: Path) -> None:
    """Write the WMS slice of ``world`` into ``db_path``, unless the file already exists
    (the WMS keeps its reservations across restarts)."""
    build_once(db_path, SCHEMA, lambda db: _load(db, world))


def _load(db: sqlite3.Connection, world: World) -> None:
    db.executemany(
        "INSERT INTO warehouses VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                w.id,
                w.name,
                w.address.street,
                w.address.city,
                w.address.postal_code,
                w.address.country,
                w.lat,
                w.lon,
            )
            for w in world.warehouses
        ],
    )
    db.executemany(
        "INSERT INTO stock VALUES (?, ?, ?, ?)",
        [(s.item_no, s.location_id, s.on_hand, s.reserved) for s in world.warehouse_stock],
    )
    db.executemany(
        "INSERT INTO inbound VALUES (?, ?, ?, ?, ?)",
        [
            (i.id, i.item_no, i.location_id, i.quantity, i.expected_at.isoformat())
            for i in world.inbound
        ],
    )
