"""The ERP's data in SQLite: one table per page (and per lines subpage), NAV semantics.

Records come in as NAV's web services write them: a dict of field name to the value's
XSD text (``"true"``, ``"12.50"``, ``"2026-11-01T12:00:00Z"``), and for documents the
list of line dicts under the lines field. They are stored typed (booleans and integers
as integers, decimals as exact text, dates as ISO text), so filters compare as NAV
compares. They go out as XML: each page's select renders a record's fields (escaped,
``Key`` first, the lines nested) in one SQL expression, so SQLite turns rows into XML in
C; in Python that was most of the time of a large answer (38 ms for 730 orders with
1,780 lines, against 13 ms now; 100 items take under 1 ms).

Departures from NAV, kept small on purpose:
- A record's ``Key`` is ``"{table no};{row id};{version};"``. NAV's key also changes on
  every modification (that is how a stale Update is refused), but encodes the primary
  key; ours names the row, so records are ordered and bookmarked by insertion, which
  for the seeded data is primary-key order.
- The SQLite file needs ``connect``'s ``nav_lower`` function to be written to.
- Filter criteria support NAV's ``|`` (or), ``@`` (case-insensitive), ``..`` ranges
  and ``'quoted'`` literals; other operators (``*``, ``&``, ``<>``, ``(``) are refused
  with a fault rather than half-supported.
- Update changes header fields only; a document's lines are written by Create.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from legacy.common.sqlite import build_once
from legacy.erp.pages import PAGES, Enum, Field, Lines, Page
from legacy.world import Order, Payment, Return, World

Record = dict[str, Any]  # field -> XSD text; a document's lines field -> list[Record]

#: Fields of a lines table that are not published: the header it belongs to.
DOCUMENT_NO = "Document_No"


class NavError(Exception):
    """What NAV would refuse with a fault: a stale key, a bad value, an unknown field."""


# --- values -----------------------------------------------------------------------


def _datetime_text(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_db(field: Field, text: str) -> Any:
    """The stored value of a field's XSD text; NavError when it is not one."""
    kind = field.xsd
    try:
        if kind == "string":
            if isinstance(field.type, Enum) and text not in field.type.values:
                raise ValueError(f"not one of {', '.join(field.type.values)}")
            return text
        if kind == "boolean":
            return {"true": 1, "1": 1, "yes": 1, "false": 0, "0": 0, "no": 0}[text.lower()]
        if kind == "decimal":
            number = Decimal(text)
            if not number.is_finite():
                raise ValueError("not a finite number")
            return str(number)
        if kind == "int":
            return int(text)
        if kind == "date":
            return date.fromisoformat(text).isoformat()
        return _datetime_text(datetime.fromisoformat(text))
    except (ValueError, KeyError, InvalidOperation) as exc:
        raise NavError(f"The value '{text}' is not valid for the field {field.name}.") from exc


# --- schema and seeding -------------------------------------------------------------


def _q(name: str) -> str:
    return f'"{name}"'


def _sql_type(field: Field) -> str:
    return {"boolean": "INTEGER", "int": "INTEGER"}.get(field.xsd, "TEXT")


def _create_table(conn: sqlite3.Connection, table: str, fields: Iterable[Field]) -> None:
    columns = ", ".join(f"{_q(f.name)} {_sql_type(f)}" for f in fields)
    conn.execute(
        f"CREATE TABLE {table} (_id INTEGER PRIMARY KEY, _version INTEGER NOT NULL DEFAULT 1,"
        f" {columns})"
    )


def _create_schema(conn: sqlite3.Connection) -> None:
    for page in PAGES:
        _create_table(conn, page.table, page.fields)
        key = ", ".join(_q(k) for k in page.key)
        conn.execute(f"CREATE UNIQUE INDEX {page.table}_key ON {page.table} ({key})")
        for name in page.indexed:
            conn.execute(f"CREATE INDEX {page.table}_{name} ON {page.table} ({_q(name)})")
        for name in page.nocase:
            conn.execute(
                f"CREATE INDEX {page.table}_{name}_nocase ON {page.table} ({_lower(name)})"
            )
        if page.lines:
            lines = page.lines
            _create_table(conn, lines.table, (Field(DOCUMENT_NO), *lines.fields))
            conn.execute(
                f"CREATE UNIQUE INDEX {lines.table}_key ON {lines.table} ({DOCUMENT_NO}, Line_No)"
            )


def _insert(
    conn: sqlite3.Connection, table: str, fields: Sequence[Field], rows: Iterable[Sequence[Any]]
) -> None:
    columns = ", ".join(_q(f.name) for f in fields)
    marks = ", ".join("?" for _ in fields)
    conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)


def _seed(conn: sqlite3.Connection, world: World) -> None:
    """The world's ERP slice, as tuples in each page's field order."""
    pages = {page.name: page for page in PAGES}
    _insert(
        conn,
        "item",
        pages["items"].fields,
        (
            (
                i.no,
                i.description,
                int(i.blocked),
                "Inventory",
                i.base_unit,
                i.gtin,
                i.category,
                i.description.upper(),
                str(i.unit_price),
                i.brand,
                "|".join(i.channels),
            )
            for i in world.items
        ),
    )
    _insert(
        conn,
        "customer",
        pages["customers"].fields,
        (
            (
                c.no,
                c.name,
                c.address.street,
                c.address.postal_code,
                c.address.city,
                c.address.country,
                c.phone,
                c.name.upper(),
                "All" if c.blocked else "_blank_",
                c.email,
            )
            for c in world.erp_customers
        ),
    )
    _insert(
        conn,
        "sales_price",
        pages["prices"].fields,
        (
            (
                p.item_no,
                "Customer_Price_Group",
                p.channel,
                p.currency,
                p.starting_date.isoformat(),
                str(p.unit_price),
            )
            for p in world.prices
        ),
    )
    _insert(
        conn,
        "promotion",
        pages["promotions"].fields,
        (
            (
                p.code,
                p.description,
                p.item_no,
                str(p.discount_percent),
                p.channel,
                p.starting_date.isoformat(),
                p.ending_date.isoformat(),
            )
            for p in world.promotions
        ),
    )
    orders = pages["orders"]
    assert orders.lines is not None
    _insert(conn, orders.table, orders.fields, (_order_row(o) for o in world.erp_orders))
    _insert(
        conn,
        orders.lines.table,
        (Field(DOCUMENT_NO), *orders.lines.fields),
        _line_rows(world.erp_orders),
    )
    returns = pages["returns"]
    assert returns.lines is not None
    _insert(conn, returns.table, returns.fields, (_return_row(r) for r in world.returns))
    _insert(
        conn,
        returns.lines.table,
        (Field(DOCUMENT_NO), *returns.lines.fields),
        _line_rows(world.returns),
    )
    _insert(
        conn,
        pages["payments"].table,
        pages["payments"].fields,
        (_payment_row(p) for p in world.payments if p.system == "erp"),
    )


def _return_row(back: Return) -> tuple[Any, ...]:
    return (
        back.id,
        back.customer_ref,
        back.order_id,
        back.reason,
        _datetime_text(back.returned_at),
        "REFUNDED",
        back.channel,
        back.location_id,
        "EUR",
        str(back.total),
        None,  # External_Document_No
    )


def _payment_row(payment: Payment) -> tuple[Any, ...]:
    return (
        payment.id,
        payment.kind.title(),
        payment.order_id,
        payment.customer_ref,
        payment.method,
        str(payment.amount),
        "EUR",
        {"COMPLETED": "Posted", "CANCELED": "Voided"}[payment.status],
        payment.channel,
        payment.location_id,
        _datetime_text(payment.at),
        payment.refund_of,
        payment.return_id,
        payment.mirror_id,
        payment.reason,
    )


def _order_row(order: Order) -> tuple[Any, ...]:
    return (
        order.id,
        order.customer_ref,
        _datetime_text(order.placed_at),
        order.status,
        order.channel,
        order.location_id,
        "EUR",
        str(order.total),
        None,  # External_Document_No
    )


def _line_rows(orders: Iterable[Order | Return]) -> Iterator[tuple[Any, ...]]:
    for order in orders:
        for n, line in enumerate(order.lines, start=1):
            yield (
                order.id,
                n * 10000,
                "Item",
                line.item_no,
                str(line.quantity),
                str(line.unit_price),
                str(line.unit_price * line.quantity),
            )


def _fold(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


def _lower(name: str) -> str:
    """SQL for a column in lower case, Unicode-aware (SQLite's NOCASE and lower() fold
    ASCII only, and NAV's ``@`` matches ``ZOË`` to ``zoë``)."""
    return f"nav_lower({_q(name)})"


def connect(db_path: Path) -> sqlite3.Connection:
    """A connection with ``nav_lower``, which the case-insensitive indexes are built on
    (so every connection that writes to the file needs it)."""
    conn = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
    conn.create_function("nav_lower", 1, _fold, deterministic=True)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def build(world: World, db_path: Path) -> None:
    """Seed the ERP's slice of ``world`` into ``db_path``, unless the file exists (then
    the data written since, orders placed through the gateway say, is kept)."""
    build_once(db_path, "", lambda conn: _create_and_seed(conn, world), connect=connect)


def _create_and_seed(conn: sqlite3.Connection, world: World) -> None:
    _create_schema(conn)  # the schema is built from the page declarations
    _seed(conn, world)


# --- filters ----------------------------------------------------------------------

_UNSUPPORTED = set("&()<>=*'")


def _alternatives(criteria: str) -> Iterator[str]:
    """The ``|``-separated parts of a criteria, leaving quoted ``'a|b'`` whole."""
    start, quoted = 0, False
    for i, char in enumerate(criteria):
        if char == "'":
            quoted = not quoted
        elif char == "|" and not quoted:
            yield criteria[start:i]
            start = i + 1
    if quoted:
        raise NavError(f"The filter '{criteria}' has an unterminated quote.")
    yield criteria[start:]


def _condition(field: Field, criteria: str) -> tuple[str, list[Any]]:
    """SQL for one field's criteria: the alternatives OR-ed, equalities as ``IN``."""
    column = _q(field.name)
    if field.xsd == "decimal":
        column = f"CAST({column} AS REAL)"
    exact: list[Any] = []
    nocase: list[str] = []
    ranges: list[str] = []
    params: list[Any] = []

    def value(text: str) -> Any:
        stored = to_db(field, text)
        return float(stored) if field.xsd == "decimal" else stored

    for alternative in _alternatives(criteria):
        text, insensitive = (
            (alternative[1:], True) if alternative.startswith("@") else (alternative, False)
        )
        if len(text) >= 2 and text[0] == text[-1] == "'":
            literal = text[1:-1].replace("''", "'")
            (nocase if insensitive else exact).append(literal if insensitive else value(literal))
        elif _UNSUPPORTED & set(text):
            raise NavError(f"The filter '{criteria}' uses syntax this ERP does not support.")
        elif ".." in text:
            low, high = text.split("..", 1)
            bounds = [f"{column} >= ?"] * bool(low) + [f"{column} <= ?"] * bool(high)
            ranges.append("(" + " AND ".join(bounds or ["1"]) + ")")
            params.extend(value(v) for v in (low, high) if v)
        else:
            (nocase if insensitive else exact).append(text if insensitive else value(text))
    parts = ranges
    if exact:
        parts.append(f"{column} IN ({', '.join('?' * len(exact))})")
    if nocase:
        parts.append(f"{_lower(field.name)} IN ({', '.join('?' * len(nocase))})")
    return "(" + " OR ".join(parts) + ")", [*params, *exact, *(v.lower() for v in nocase)]


# --- rendering records as XML, in SQL ----------------------------------------------


def _xml_value(field: Field) -> str:
    """SQL for a field's XSD text, escaped for XML; NULL stays NULL."""
    column = _q(field.name)
    if field.xsd == "boolean":
        return f"CASE {column} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END"
    if field.xsd == "string":
        return f"replace(replace(replace({column}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')"
    return column


def _xml_fields(table_no: int, fields: Sequence[Field]) -> str:
    """SQL for a record's fields as XML elements, its Key first, absent fields left out."""
    key = f"'<Key>{table_no};' || _id || ';' || _version || ';</Key>'"
    elements = (f"coalesce('<{f.name}>' || {_xml_value(f)} || '</{f.name}>', '')" for f in fields)
    return " || ".join([key, *elements])


@cache
def _record_sql(page: Page) -> str:
    return _xml_fields(page.table_no, page.fields)


@cache
def _line_sql(lines: Lines) -> str:
    fields = _xml_fields(lines.table_no, lines.fields)
    return f"'<{lines.element}>' || {fields} || '</{lines.element}>'"


# --- the page operations ----------------------------------------------------------


class Store:
    """Every page operation over one connection (queries are small and synchronous)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # reads

    def read(self, page: Page, key: dict[str, str]) -> str | None:
        missing = [k for k in page.key if k not in key]
        if missing:
            raise NavError(f"Read needs {', '.join(missing)}.")
        where = " AND ".join(f"{_q(k)} = ?" for k in page.key)
        params = [to_db(page.key_field(k), key[k]) for k in page.key]
        found = self._select(page, where, params, 1)
        return found[0] if found else None

    def read_multiple(
        self, page: Page, filters: Sequence[tuple[str, str]], bookmark: str | None, size: int
    ) -> list[str]:
        """Records matching every filter, after the bookmarked one, at most ``size``
        (``size`` 0 or less: all of them, as NAV's ``setSize`` 0)."""
        conditions: list[str] = []
        params: list[Any] = []
        for name, criteria in filters:
            field = page.field(name)
            if field is None:
                raise NavError(f"The field {name} of page {page.service} does not exist.")
            sql, values = _condition(field, criteria)
            conditions.append(sql)
            params.extend(values)
        if bookmark:
            conditions.append("_id > ?")
            params.append(self._parse_key(page, bookmark)[0])
        return self._select(page, " AND ".join(conditions) or "1", params, size)

    def is_updated(self, page: Page, key: str) -> bool:
        row_id, version = self._parse_key(page, key)
        return self._version(page, row_id) != version

    # writes

    def create(self, page: Page, record: Record) -> str:
        values = self._typed(page, record)
        if page.number_prefix and not values.get("No"):
            values["No"] = self._next_number(page.table, page.number_prefix)
        if page.stamped:
            values.setdefault(page.stamped, _datetime_text(datetime.now(UTC)))
        lines = (
            self._typed_lines(page.lines, record.get(page.lines.field, [])) if page.lines else []
        )
        if lines and "Amount_Including_VAT" not in values:
            values["Amount_Including_VAT"] = str(
                sum((Decimal(line["Line_Amount"]) for line in lines), Decimal(0))
            )
        missing = [k for k in page.key if values.get(k) in (None, "")]
        if missing:
            raise NavError(f"{', '.join(missing)} must have a value in {page.service}.")
        try:
            with self._transaction():
                cursor = self._insert_row(page.table, values)
                if page.lines:
                    for line in lines:
                        self._insert_row(page.lines.table, {DOCUMENT_NO: values["No"], **line})
        except sqlite3.IntegrityError as exc:
            ids = ", ".join(f"{k}='{values[k]}'" for k in page.key)
            raise NavError(
                f"The {page.service} already exists. Identification fields and values: {ids}"
            ) from exc
        return self._by_id(page, cursor.lastrowid or 0)

    def update(self, page: Page, record: Record) -> str:
        """Change the given header fields of the record whose current Key is given."""
        row_id = self._current(page, record.get("Key"))
        if page.lines and page.lines.field in record:
            raise NavError("Lines cannot be changed through Update in this ERP.")
        values = self._typed(page, record)
        current = self._key_values(page, row_id)
        renamed = [k for k in page.key if k in values and values[k] != current[k]]
        if renamed:
            raise NavError(f"You cannot rename a {page.service} ({', '.join(renamed)}).")
        assignments = "".join(f", {_q(name)} = ?" for name in values)
        self.conn.execute(
            f"UPDATE {page.table} SET _version = _version + 1{assignments} WHERE _id = ?",
            [*values.values(), row_id],
        )
        return self._by_id(page, row_id)

    def delete(self, page: Page, key: str) -> bool:
        row_id = self._current(page, key)
        with self._transaction():
            if page.lines:
                number = self._key_values(page, row_id)["No"]
                self.conn.execute(
                    f"DELETE FROM {page.lines.table} WHERE {DOCUMENT_NO} = ?", [number]
                )
            self.conn.execute(f"DELETE FROM {page.table} WHERE _id = ?", [row_id])
        return True

    # helpers

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _select(self, page: Page, where: str, params: Sequence[Any], size: int) -> list[str]:
        """The matching records' XML content (the fields, and a document's lines)."""
        limit = " LIMIT ?" if size > 0 else ""
        number = '"No"' if page.lines else "NULL"  # a document's lines hang on its No
        rows = self.conn.execute(
            f"SELECT {number}, {_record_sql(page)} FROM {page.table} WHERE {where}"
            f" ORDER BY _id{limit}",
            [*params, size] if size > 0 else params,
        ).fetchall()
        if not page.lines or not rows:
            return [xml for _, xml in rows]
        lines = self._lines(page.lines, [number for number, _ in rows])
        field = page.lines.field
        return [
            f"{xml}<{field}>{''.join(lines[number])}</{field}>" if number in lines else xml
            for number, xml in rows
        ]

    def _lines(self, lines: Lines, numbers: list[str]) -> dict[str, list[str]]:
        """The lines' XML of each document, in line order."""
        found: dict[str, list[str]] = {}
        for number, xml in self.conn.execute(
            f"SELECT {DOCUMENT_NO}, {_line_sql(lines)} FROM {lines.table}"
            f" WHERE {DOCUMENT_NO} IN (SELECT value FROM json_each(?))"
            f" ORDER BY {DOCUMENT_NO}, Line_No",
            [json.dumps(numbers)],
        ):
            found.setdefault(number, []).append(xml)
        return found

    def _by_id(self, page: Page, row_id: int) -> str:
        return self._select(page, "_id = ?", [row_id], 1)[0]

    def _key_values(self, page: Page, row_id: int) -> dict[str, Any]:
        columns = ", ".join(_q(k) for k in page.key)
        row = self.conn.execute(
            f"SELECT {columns} FROM {page.table} WHERE _id = ?", [row_id]
        ).fetchone()
        return dict(zip(page.key, row, strict=True))

    def _version(self, page: Page, row_id: int) -> int | None:
        row = self.conn.execute(
            f"SELECT _version FROM {page.table} WHERE _id = ?", [row_id]
        ).fetchone()
        return None if row is None else int(row[0])

    def _parse_key(self, page: Page, key: str) -> tuple[int, int]:
        parts = key.split(";")
        try:
            if len(parts) != 4 or int(parts[0]) != page.table_no or parts[3]:
                raise ValueError(key)
            return int(parts[1]), int(parts[2])
        except ValueError as exc:
            raise NavError(f"The key '{key}' is not a valid key of {page.service}.") from exc

    def _current(self, page: Page, key: Any) -> int:
        """The row of a Key that is still current; NAV's refusals otherwise."""
        if not isinstance(key, str) or not key:
            raise NavError(f"Key must have a value to change a {page.service}.")
        row_id, version = self._parse_key(page, key)
        current = self._version(page, row_id)
        if current is None:
            raise NavError(f"The {page.service} does not exist. Key: {key}")
        if current != version:
            raise NavError(
                f"Another user has modified the {page.service} after you retrieved it from"
                " the database. Refresh the record and try again."
            )
        return row_id

    def _typed(self, page: Page, record: Record) -> dict[str, Any]:
        return _typed_fields(page.fields, record, page.service, skip={"Key", *_lines_field(page)})

    def _typed_lines(self, lines: Lines, records: Any) -> list[dict[str, Any]]:
        typed = []
        for n, record in enumerate(records, start=1):
            values = _typed_fields(lines.fields, record, lines.element, skip={"Key"})
            values.setdefault("Line_No", n * 10000)
            values.setdefault("Type", "Item")
            if "Line_Amount" not in values:
                quantity = Decimal(values.get("Quantity", "0"))
                values["Line_Amount"] = str(quantity * Decimal(values.get("Unit_Price", "0")))
            typed.append(values)
        return typed

    def _insert_row(self, table: str, values: dict[str, Any]) -> sqlite3.Cursor:
        columns = ", ".join(_q(name) for name in values)
        marks = ", ".join("?" for _ in values)
        return self.conn.execute(
            f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(values.values())
        )

    def _next_number(self, table: str, prefix: str) -> str:
        row = self.conn.execute(
            f'SELECT MAX("No") FROM {table} WHERE "No" GLOB ?', [prefix + "[0-9]*"]
        ).fetchone()
        last = int(row[0][len(prefix) :]) if row and row[0] else 0
        return f"{prefix}{last + 1:07d}"


def _lines_field(page: Page) -> tuple[str, ...]:
    return (page.lines.field,) if page.lines else ()


def _typed_fields(
    fields: Sequence[Field], record: Record, where: str, skip: set[str]
) -> dict[str, Any]:
    by_name = {f.name: f for f in fields}
    typed: dict[str, Any] = {}
    for name, text in record.items():
        if name in skip:
            continue
        field = by_name.get(name)
        if field is None or not isinstance(text, str):
            raise NavError(f"The field {name} of {where} does not exist.")
        typed[name] = to_db(field, text)
    return typed
