"""What NAV's posting does to the pages Mosaic reads, for tests and the demo to ship,
invoice and pay orders as the retailer's warehouse and finance would.

NAV posts through its posting routines (a warehouse shipment, the Post action on a sales
order, a cash receipt journal), none of which a page web service offers: Mosaic never
posts. The simulator offers them under ``/__admin/post/`` (beside its knobs), and each
leaves the pages as NAV's posting would:

- **shipment**: the order's lines shipped, in full or the quantities given (their
  ``Quantity_Shipped``), the order Released;
- **invoice**: an order shipped in full is invoiced: its posted sales invoice is
  written (numbered ``PSI`` + the order's digits, ``Order_No`` naming the order, dated
  today, the lines invoiced), and NAV deletes the sales order;
- **payment**: a customer ledger entry of type Payment with the order's number as its
  ``Document_No`` (the convention the webshop's payment integration posts with:
  ``contracts/erp/DECISIONS.md``), signed from the customer's balance (negative), in the
  order's channel dimension.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from legacy.erp.pages import Service
from legacy.erp.store import DOCUMENT, NavError

Row = dict[str, Any]


class Posting:
    def __init__(self, conn: sqlite3.Connection, services: Mapping[str, Service]) -> None:
        """``services``: the published pages by logical name (orders, invoices, payments)."""
        self.conn = conn
        self.orders = services["orders"].page
        self.invoices = services["invoices"].page
        self.ledger = services["payments"].page

    def ship(self, order_no: str, quantities: Mapping[str, int] | None = None) -> None:
        """Ship the order's lines: every piece, or per SKU the pieces given (in all)."""
        self._order(order_no)
        for line in self._lines(self.orders.line_table, order_no):
            ordered = Decimal(line["Quantity"])
            wanted = ordered if quantities is None else Decimal(quantities.get(line["No"], 0))
            shipped = min(ordered, Decimal(line["Quantity_Shipped"]) + wanted)
            self.conn.execute(
                f'UPDATE {self.orders.line_table} SET "Quantity_Shipped" = ?,'
                " _version = _version + 1 WHERE _id = ?",
                (str(shipped), line["_id"]),
            )
        self.conn.execute(
            f'UPDATE {self.orders.table} SET "Status" = ?, _version = _version + 1 WHERE "No" = ?',
            ("Released", order_no),
        )

    def invoice(self, order_no: str) -> str:
        """Invoice an order shipped in full; the posted invoice's number."""
        order = self._order(order_no)
        lines = self._lines(self.orders.line_table, order_no)
        if any(Decimal(line["Quantity_Shipped"]) < Decimal(line["Quantity"]) for line in lines):
            raise NavError(f"Sales order {order_no} is not shipped in full.")
        number = "PSI" + order_no.removeprefix("SO")
        today = _today()
        header = {
            **order,
            "No": number,
            "Order_No": order_no,
            "Document_Date": today,
            "Posting_Date": today,
            "Cancelled": 0,
        }
        self._insert(self.invoices.table, header)
        for line in lines:
            invoiced = {**line, DOCUMENT: number, "Document_No": number}
            invoiced["Quantity_Invoiced"] = line["Quantity"]
            self._insert(self.invoices.line_table, invoiced)
        self.conn.execute(f"DELETE FROM {self.orders.line_table} WHERE {DOCUMENT} = ?", (order_no,))
        self.conn.execute(f'DELETE FROM {self.orders.table} WHERE "No" = ?', (order_no,))
        return number

    def pay(self, order_no: str, amount: Decimal, method: str) -> int:
        """Post a payment of the order; the ledger entry's number."""
        order = self._order(order_no, posted_too=True)
        entry = 1 + (
            self.conn.execute(f'SELECT max("Entry_No") FROM {self.ledger.table}').fetchone()[0] or 0
        )
        balance = str(-amount)  # the customer's balance: a payment lowers it
        self._insert(
            self.ledger.table,
            {
                "Entry_No": entry,
                "Posting_Date": _today(),
                "Document_Type": "Payment",
                "Document_No": order_no,
                "Customer_No": order["Sell_to_Customer_No"],
                "Global_Dimension_1_Code": order.get("Shortcut_Dimension_1_Code"),
                "Payment_Method_Code": method,
                "Currency_Code": "",
                "Original_Amount": balance,
                "Original_Amt_LCY": balance,
                "Amount": balance,
                "Amount_LCY": balance,
                "Remaining_Amount": "0",
                "Remaining_Amt_LCY": "0",
                "Open": 0,
                "Reversed": 0,
            },
        )
        return entry

    def _order(self, order_no: str, posted_too: bool = False) -> Row:
        found = self._rows(self.orders.table, '"No" = ?', order_no)
        if not found and posted_too:
            found = self._rows(self.invoices.table, '"Order_No" = ?', order_no)
        if not found:
            raise NavError(f"Sales order {order_no} does not exist.")
        return found[0]

    def _lines(self, table: str, document: str) -> list[Row]:
        return self._rows(table, f"{DOCUMENT} = ?", document)

    def _rows(self, table: str, where: str, value: str) -> list[Row]:
        cursor = self.conn.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY _id", (value,))
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _insert(self, table: str, values: Row) -> None:
        """A row of those values the table has columns for (a new row id and version)."""
        columns = {row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")}
        kept = {k: v for k, v in values.items() if k in columns and k not in ("_id", "_version")}
        names = ", ".join(f'"{k}"' for k in kept)
        marks = ", ".join("?" for _ in kept)
        self.conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(kept.values()))


def _today() -> str:
    return datetime.now(UTC).date().isoformat()
