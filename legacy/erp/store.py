"""The ERP's data in SQLite: one table per published page (and per lines subpage),
with NAV's semantics, its columns the page's contract fields.

Records come in as NAV's web services write them: a dict of field name to the value's
XSD text (``"true"``, ``"12.50"``, ``"2026-11-01"``), and for documents the list of line
dicts under the lines element. They are stored typed (booleans and integers as
integers, decimals as exact text, dates as ISO text), so filters compare as NAV
compares. They go out as XML: each page's select renders a record's fields (escaped,
``Key`` first, the lines nested) in one SQL expression, so SQLite turns rows into XML in
C; in Python that was most of the time of a large answer.

What NAV does that the store does too:
- a document's lines get line numbers 10000 apart, ``Line_Amount`` is quantity times
  unit price less the line discount, and every line shows the document's totals
  (``Total_Amount_Incl_VAT``: the simulated retailer's prices include VAT);
- Create stamps the document's dates with today and numbers it from its series;
- a sales order with shipped or invoiced lines cannot be deleted.

Departures from NAV, kept small on purpose (``contracts/erp/PAGES.md`` lists them all):
- A record's ``Key`` is ``"{table no};{row id};{version};"``. NAV's key also changes on
  every modification (that is how a stale Update is refused), but encodes the primary
  key; ours names the row. Records come in primary-key order, as from NAV, and a
  bookmark continues after the bookmarked record's primary key, as NAV's does; a
  bookmark of a record deleted since is refused (NAV's key carries the key values, so
  NAV would go on from where it stood).
- Filter criteria support NAV's ``|`` (or), ``@`` (case-insensitive), ``..`` ranges,
  the wildcards ``*`` (any text) and ``?`` (one character), and ``'quoted'`` literals;
  other operators (``&``, ``<>``, ``(``) are refused with a fault rather than
  half-supported.
- Update changes header fields only (lines are written by Create and removed by
  ``Delete_<lines>``); fields NAV shows read-only are not refused.
- The SQLite file needs ``connect``'s ``nav_lower`` function to be written to.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from legacy.common.sqlite import build_once
from legacy.erp.contract import Field, Lines, Option
from legacy.erp.pages import Service
from legacy.erp.seed import issued_numbers, seed_records
from legacy.world import World

Record = dict[str, Any]  # field -> XSD text; a document's lines element -> list[Record]

#: Hidden columns of a lines table: the document a line belongs to, and its place.
DOCUMENT, LINE = "_document", "_line"
CENT = Decimal("0.01")


class NavError(Exception):
    """What NAV would refuse with a fault: a stale key, a bad value, an unknown field."""


# --- values -----------------------------------------------------------------------


def to_db(field: Field, text: str) -> Any:
    """The stored value of a field's XSD text; NavError when it is not one."""
    kind = field.xsd
    try:
        if kind == "string":
            if isinstance(field.type, Option) and text not in field.type.values:
                raise ValueError(f"not one of {', '.join(field.type.values)}")
            return text
        if kind == "boolean":
            return {"true": 1, "1": 1, "false": 0, "0": 0}[text.strip().lower()]
        if kind == "decimal":
            number = Decimal(text)
            if not number.is_finite():
                raise ValueError("not a finite number")
            return str(number)
        if kind == "int":
            return int(text)
        if kind == "date":
            return date.fromisoformat(text.strip()[:10]).isoformat()
        raise ValueError(f"the simulator keeps no {kind} values")
    except (ValueError, KeyError, InvalidOperation) as exc:
        raise NavError(f"The value '{text}' is not valid for the field {field.name}.") from exc


def _q(name: str) -> str:
    return f'"{name}"'


def _column(field: Field) -> str:
    """A field's column, with NAV's initial value where NAV always has one: an option's
    first value, false, zero (a blank date or text has none, and is left out)."""
    if isinstance(field.type, Option):
        default = "'" + field.type.values[0].replace("'", "''") + "'"
    else:
        default = {"boolean": "0", "int": "0", "decimal": "'0'"}.get(field.xsd, "NULL")
    kind = {"boolean": "INTEGER", "int": "INTEGER"}.get(field.xsd, "TEXT")
    return f"{_q(field.name)} {kind} DEFAULT {default}"


# --- schema and seeding -------------------------------------------------------------


def _create_table(conn: sqlite3.Connection, table: str, columns: Iterable[str]) -> None:
    conn.execute(
        f"CREATE TABLE {table} (_id INTEGER PRIMARY KEY, _version INTEGER NOT NULL DEFAULT 1"
        + "".join(f", {c}" for c in columns)
        + ")"
    )


def _create_schema(conn: sqlite3.Connection, services: Iterable[Service]) -> None:
    for service in services:
        page, contract = service.page, service.contract
        _create_table(conn, page.table, (_column(f) for f in contract.all_fields))
        key = ", ".join(_q(k) for k in contract.key)
        conn.execute(f"CREATE UNIQUE INDEX {page.table}_key ON {page.table} ({key})")
        for name in page.indexed:
            conn.execute(f"CREATE INDEX {page.table}_{name} ON {page.table} ({_q(name)})")
        for name in page.nocase:
            conn.execute(f"CREATE INDEX {page.table}_{name}_nc ON {page.table} ({_lower(name)})")
        if contract.lines:
            hidden = (f"{DOCUMENT} TEXT NOT NULL", f"{LINE} INTEGER NOT NULL")
            fields = (_column(f) for f in contract.lines.fields)
            _create_table(conn, page.line_table, (*hidden, *fields))
            conn.execute(
                f"CREATE UNIQUE INDEX {page.line_table}_key"
                f" ON {page.line_table} ({DOCUMENT}, {LINE})"
            )


#: NAV's No. Series, one per page that numbers its records: the last number each gave
NUMBER_SERIES = (
    "CREATE TABLE IF NOT EXISTS no_series"
    ' ("Code" TEXT PRIMARY KEY, "Last No Used" INTEGER NOT NULL)'
)


def _start_series(conn: sqlite3.Connection, world: World, services: Iterable[Service]) -> None:
    """Each series goes on after the highest number the history used with its prefix."""
    conn.execute(NUMBER_SERIES)
    issued = list(issued_numbers(world))
    for prefix in {s.page.number_prefix for s in services if s.page.number_prefix}:
        used = [int(n[len(prefix) :]) for n in issued if n.startswith(prefix)]
        conn.execute("INSERT INTO no_series VALUES (?, ?)", [prefix, max(used, default=0)])


def _insert_rows(conn: sqlite3.Connection, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Rows with the same columns (the first row's) in one statement."""
    if not rows:
        return
    columns = list(rows[0])
    names = ", ".join(_q(c) for c in columns)
    marks = ", ".join("?" for _ in columns)
    conn.executemany(
        f"INSERT INTO {table} ({names}) VALUES ({marks})", ([r[c] for c in columns] for r in rows)
    )


def _seed(conn: sqlite3.Connection, world: World, services: Iterable[Service]) -> None:
    """The world's ERP slice, each record keeping only the fields its page has (an
    installation without the extension fields simply has no brand)."""
    by_page = {s.page.name: s for s in services}
    for name, headers, lines in seed_records(world):
        service = by_page[name]
        contract = service.contract
        known = {f.name for f in contract.all_fields}
        _insert_rows(
            conn, service.page.table, [{k: v for k, v in r.items() if k in known} for r in headers]
        )
        if contract.lines and lines:
            line_known = {f.name for f in contract.lines.fields} | {DOCUMENT, LINE}
            rows = [{k: v for k, v in r.items() if k in line_known} for r in lines]
            _insert_rows(conn, service.page.line_table, rows)


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


def build(world: World, db_path: Path, services: Sequence[Service]) -> None:
    """Seed the ERP's slice of ``world`` into ``db_path`` for the published pages, unless
    the file exists (then the data written since, orders placed through the gateway say,
    is kept)."""

    def create(conn: sqlite3.Connection) -> None:
        _create_schema(conn, services)
        _seed(conn, world, services)
        _start_series(conn, world, services)

    build_once(db_path, "", create, connect=connect)


# --- filters ----------------------------------------------------------------------

_UNSUPPORTED = set("&()<>='")
_WILDCARDS = set("*?")


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


def _glob(pattern: str) -> str:
    """A NAV wildcard pattern as a GLOB pattern: ``*`` and ``?`` mean the same in both;
    GLOB's character classes are made literal."""
    return pattern.replace("[", "[[]")


def _condition(field: Field, criteria: str) -> tuple[str, list[Any]]:
    """SQL for one field's criteria: the alternatives OR-ed, equalities as ``IN``,
    wildcard patterns as ``GLOB`` (on the lower-cased text, after ``@``)."""
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
        elif _WILDCARDS & set(text) and field.xsd == "string":
            target = _lower(field.name) if insensitive else column
            ranges.append(f"coalesce({target}, '') GLOB ?")
            params.append(_glob(text.lower() if insensitive else text))
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
def _record_sql(service: Service) -> tuple[str, str]:
    """The record's fields before and after its lines element, as SQL."""
    contract = service.contract
    fields = contract.all_fields
    at = contract.lines_after if contract.lines else len(fields)
    before = _xml_fields(service.page.table_no, fields[:at])
    after = " || ".join(
        f"coalesce('<{f.name}>' || {_xml_value(f)} || '</{f.name}>', '')" for f in fields[at:]
    )
    return before, after or "''"


@cache
def _line_sql(service: Service, lines: Lines) -> str:
    fields = _xml_fields(service.page.line_table_no, lines.fields)
    return f"'<{lines.type}>' || {fields} || '</{lines.type}>'"


# --- document arithmetic ------------------------------------------------------------


def _amount(line: Mapping[str, Any]) -> Decimal:
    """A line's amount as NAV computes it: quantity times unit price, less the line
    discount, to the cent."""
    quantity = Decimal(line.get("Quantity") or 0)
    price = Decimal(line.get("Unit_Price") or 0)
    discount = Decimal(line.get("Line_Discount_Percent") or 0)
    return (quantity * price * (1 - discount / 100)).quantize(CENT, ROUND_HALF_UP)


def document_lines(
    lines: Lines, document: str, typed: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A new document's lines completed as NAV completes them: numbered, typed Item,
    amounts computed, nothing shipped, received or invoiced yet, the totals on each."""
    names = {f.name for f in lines.fields}
    done: list[dict[str, Any]] = []
    for n, values in enumerate(typed, start=1):
        line = {DOCUMENT: document, LINE: values.pop("Line_No", n * 10000), **values}
        line.setdefault("Type", "Item")
        line["Line_Amount"] = str(_amount(line))
        for name in ("Quantity_Shipped", "Quantity_Invoiced", "Return_Qty_Received"):
            line.setdefault(name, "0")
        done.append(line)
    total = str(sum((Decimal(line["Line_Amount"]) for line in done), Decimal(0)))
    for line in done:
        line.update(Document_No=document, Line_No=line[LINE], Total_Amount_Incl_VAT=total)
    return [{k: v for k, v in line.items() if k in names or k.startswith("_")} for line in done]


# --- the page operations ----------------------------------------------------------


class Store:
    """Every page operation over one connection (queries are small and synchronous)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.execute(NUMBER_SERIES)  # a file built before the series were kept has none

    # reads

    def read(self, service: Service, key: Mapping[str, str]) -> str | None:
        contract = service.contract
        missing = [k for k in contract.key if k not in key]
        if missing:
            raise NavError(f"Read needs {', '.join(missing)}.")
        where = " AND ".join(f"{_q(k)} = ?" for k in contract.key)
        params = [to_db(self._field(service, k), key[k]) for k in contract.key]
        found = self._select(service, where, params, 1)
        return found[0] if found else None

    def read_multiple(
        self,
        service: Service,
        filters: Sequence[tuple[str, str]],
        bookmark: str | None,
        size: int,
    ) -> list[str]:
        """Records matching every filter, after the bookmarked one, at most ``size``
        (``size`` 0 or less: all of them, as NAV's ``setSize`` 0)."""
        conditions: list[str] = []
        params: list[Any] = []
        for name, criteria in filters:
            sql, values = _condition(self._field(service, name), criteria)
            conditions.append(sql)
            params.extend(values)
        if bookmark:
            row_id = self._parse_key(service.page.table_no, bookmark, service.name)[0]
            if self._version(service.page.table, row_id) is None:
                raise NavError(f"The bookmarked {service.name} no longer exists. Key: {bookmark}")
            key = service.contract.key
            after = ", ".join(_q(k) for k in key)
            table = service.page.table
            current = ", ".join(f"(SELECT {_q(k)} FROM {table} WHERE _id = ?)" for k in key)
            conditions.append(f"({after}) > ({current})")
            params.extend([row_id] * len(key))
        return self._select(service, " AND ".join(conditions) or "1", params, size)

    def is_updated(self, service: Service, key: str) -> bool:
        row_id, version = self._parse_key(service.page.table_no, key, service.name)
        return self._version(service.page.table, row_id) != version

    def record_id(self, service: Service, key: str) -> str:
        """GetRecIdFromKey: the record's RecordId as NAV formats it, ``Item: 1000``."""
        row_id = self._current(service, key, stale_ok=True)
        values = self._key_values(service, row_id)
        return f"{service.page.record_id}: " + ",".join(str(v) for v in values.values())

    def read_by_record_id(self, service: Service, record_id: str) -> str | None:
        prefix = f"{service.page.record_id}: "
        if not record_id.startswith(prefix):
            raise NavError(f"'{record_id}' is not a record of {service.name}.")
        parts = record_id[len(prefix) :].split(",")
        if len(parts) != len(service.contract.key):
            raise NavError(f"'{record_id}' is not a record of {service.name}.")
        return self.read(service, dict(zip(service.contract.key, parts, strict=True)))

    # writes

    def create(self, service: Service, record: Record) -> str:
        with self._transaction():
            row_id = self._create(service, record)
        return self._by_id(service, row_id)

    def create_multiple(self, service: Service, records: Sequence[Record]) -> list[str]:
        with self._transaction():
            row_ids = [self._create(service, record) for record in records]
        return [self._by_id(service, row_id) for row_id in row_ids]

    def update(self, service: Service, record: Record) -> str:
        with self._transaction():
            row_id = self._update(service, record)
        return self._by_id(service, row_id)

    def update_multiple(self, service: Service, records: Sequence[Record]) -> list[str]:
        with self._transaction():
            row_ids = [self._update(service, record) for record in records]
        return [self._by_id(service, row_id) for row_id in row_ids]

    def delete(self, service: Service, key: str) -> bool:
        page = service.page
        row_id = self._current(service, key)
        with self._transaction():
            if service.contract.lines:
                number = self._key_values(service, row_id)["No"]
                self._refuse_deleting_posted_lines(service, number)
                self.conn.execute(f"DELETE FROM {page.line_table} WHERE {DOCUMENT} = ?", [number])
            self.conn.execute(f"DELETE FROM {page.table} WHERE _id = ?", [row_id])
        return True

    def delete_line(self, service: Service, key: str) -> bool:
        page = service.page
        row_id, version = self._parse_key(page.line_table_no, key, service.name)
        current = self._version(page.line_table, row_id)
        if current is None:
            raise NavError(f"The line does not exist. Key: {key}")
        if current != version:
            raise NavError(_stale(service.name))
        self.conn.execute(f"DELETE FROM {page.line_table} WHERE _id = ?", [row_id])
        return True

    # helpers

    def _create(self, service: Service, record: Record) -> int:
        page, contract = service.page, service.contract
        values = self._typed(service, record)
        if page.number_prefix and not values.get("No"):
            values["No"] = self._next_number(page.table, page.number_prefix)
        today = datetime.now(UTC).date().isoformat()
        for name in page.stamped:
            values.setdefault(name, today)
        missing = [k for k in contract.key if values.get(k) in (None, "")]
        if missing:
            raise NavError(f"{', '.join(missing)} must have a value in {service.name}.")
        lines: list[dict[str, Any]] = []
        if contract.lines:
            typed = [
                _typed_fields(contract.lines.fields, line, contract.lines.type)
                for line in record.get(contract.lines.element, [])
            ]
            lines = document_lines(contract.lines, values["No"], typed)
        try:
            cursor = self._insert_row(page.table, values)
            for line in lines:
                self._insert_row(page.line_table, line)
        except sqlite3.IntegrityError as exc:
            ids = ", ".join(f"{k}='{values[k]}'" for k in contract.key)
            raise NavError(
                f"The {service.name} already exists. Identification fields and values: {ids}"
            ) from exc
        return cursor.lastrowid or 0

    def _update(self, service: Service, record: Record) -> int:
        """Change the given header fields of the record whose current Key is given."""
        contract = service.contract
        row_id = self._current(service, record.get("Key"))
        if contract.lines and contract.lines.element in record:
            raise NavError("Lines cannot be changed through Update in this ERP.")
        values = self._typed(service, record)
        current = self._key_values(service, row_id)
        renamed = [k for k in contract.key if k in values and values[k] != current[k]]
        if renamed:
            raise NavError(f"You cannot rename a {service.name} ({', '.join(renamed)}).")
        assignments = "".join(f", {_q(name)} = ?" for name in values)
        self.conn.execute(
            f"UPDATE {service.page.table} SET _version = _version + 1{assignments} WHERE _id = ?",
            [*values.values(), row_id],
        )
        return row_id

    def _refuse_deleting_posted_lines(self, service: Service, number: str) -> None:
        """NAV refuses to delete a document some of whose lines were shipped, received
        or invoiced: posting has begun, and the posted documents refer to it."""
        lines = service.contract.lines
        assert lines is not None
        posted = [
            n
            for n in ("Quantity_Shipped", "Quantity_Invoiced", "Return_Qty_Received")
            if lines.field(n)
        ]
        if not posted:
            return
        started = " OR ".join(f"CAST({_q(n)} AS REAL) <> 0" for n in posted)
        row = self.conn.execute(
            f"SELECT 1 FROM {service.page.line_table} WHERE {DOCUMENT} = ? AND ({started})",
            [number],
        ).fetchone()
        if row:
            raise NavError(
                f"You cannot delete {service.name} {number} because it has been shipped,"
                " received or invoiced in part."
            )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _select(self, service: Service, where: str, params: Sequence[Any], size: int) -> list[str]:
        """The matching records' XML content (the fields, and a document's lines)."""
        page, lines = service.page, service.contract.lines
        before, after = _record_sql(service)
        limit = " LIMIT ?" if size > 0 else ""
        # a document's lines hang on its number, the last field of its key
        number = _q(service.contract.key[-1]) if lines else "NULL"
        order = ", ".join(_q(k) for k in service.contract.key)  # NAV reads in key order
        rows = self.conn.execute(
            f"SELECT {number}, {before}, {after} FROM {page.table} WHERE {where}"
            f" ORDER BY {order}{limit}",
            [*params, size] if size > 0 else params,
        ).fetchall()
        if not lines or not rows:
            return [head + tail for _, head, tail in rows]
        found = self._lines(service, lines, [number for number, _, _ in rows])
        element = lines.element
        return [
            f"{head}<{element}>{''.join(found[number])}</{element}>{tail}"
            if number in found
            else head + tail
            for number, head, tail in rows
        ]

    def _lines(self, service: Service, lines: Lines, numbers: list[str]) -> dict[str, list[str]]:
        """The lines' XML of each document, in line order."""
        found: dict[str, list[str]] = {}
        table = service.page.line_table
        for number, xml in self.conn.execute(
            f"SELECT {DOCUMENT}, {_line_sql(service, lines)} FROM {table}"
            f" WHERE {DOCUMENT} IN (SELECT value FROM json_each(?)) ORDER BY {DOCUMENT}, {LINE}",
            [json.dumps(numbers)],
        ):
            found.setdefault(number, []).append(xml)
        return found

    def _by_id(self, service: Service, row_id: int) -> str:
        return self._select(service, "_id = ?", [row_id], 1)[0]

    def _key_values(self, service: Service, row_id: int) -> dict[str, Any]:
        key = service.contract.key
        columns = ", ".join(_q(k) for k in key)
        row = self.conn.execute(
            f"SELECT {columns} FROM {service.page.table} WHERE _id = ?", [row_id]
        ).fetchone()
        return dict(zip(key, row, strict=True))

    def _version(self, table: str, row_id: int) -> int | None:
        row = self.conn.execute(f"SELECT _version FROM {table} WHERE _id = ?", [row_id]).fetchone()
        return None if row is None else int(row[0])

    @staticmethod
    def _parse_key(table_no: int, key: str, where: str) -> tuple[int, int]:
        parts = key.split(";")
        try:
            if len(parts) != 4 or int(parts[0]) != table_no or parts[3]:
                raise ValueError(key)
            return int(parts[1]), int(parts[2])
        except ValueError as exc:
            raise NavError(f"The key '{key}' is not a valid key of {where}.") from exc

    def _current(self, service: Service, key: Any, stale_ok: bool = False) -> int:
        """The row of a Key that is still current; NAV's refusals otherwise."""
        if not isinstance(key, str) or not key:
            raise NavError(f"Key must have a value to change a {service.name}.")
        row_id, version = self._parse_key(service.page.table_no, key, service.name)
        current = self._version(service.page.table, row_id)
        if current is None:
            raise NavError(f"The {service.name} does not exist. Key: {key}")
        if current != version and not stale_ok:
            raise NavError(_stale(service.name))
        return row_id

    def _field(self, service: Service, name: str) -> Field:
        field = service.field(name)
        if field is None:
            raise NavError(f"The field {name} of page {service.name} does not exist.")
        return field

    def _typed(self, service: Service, record: Record) -> dict[str, Any]:
        skip = {"Key", *((service.contract.lines.element,) if service.contract.lines else ())}
        fields = service.contract.all_fields
        return _typed_fields(
            fields, {k: v for k, v in record.items() if k not in skip}, service.name
        )

    def _insert_row(self, table: str, values: dict[str, Any]) -> sqlite3.Cursor:
        columns = ", ".join(_q(name) for name in values)
        marks = ", ".join("?" for _ in values)
        return self.conn.execute(
            f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(values.values())
        )

    def _next_number(self, table: str, prefix: str) -> str:
        """The next number of the page's series, as NAV's No. Series gives it: the series
        keeps its last number used, so a deleted or posted document's number is never
        given again (an order placed after a cancelled one must not meet the cancelled
        one's payments in the ledger). A file built before the series were kept starts
        its series after the highest number the page holds."""
        if not self.conn.execute('SELECT 1 FROM no_series WHERE "Code" = ?', [prefix]).fetchone():
            row = self.conn.execute(
                f'SELECT MAX("No") FROM {table} WHERE "No" GLOB ?', [prefix + "[0-9]*"]
            ).fetchone()
            highest = int(row[0][len(prefix) :]) if row and row[0] else 0
            self.conn.execute("INSERT OR IGNORE INTO no_series VALUES (?, ?)", [prefix, highest])
        (last,) = self.conn.execute(
            'UPDATE no_series SET "Last No Used" = "Last No Used" + 1 WHERE "Code" = ?'
            ' RETURNING "Last No Used"',
            [prefix],
        ).fetchone()
        return f"{prefix}{last:07d}"


def _stale(service: str) -> str:
    return (
        f"Another user has modified the {service} after you retrieved it from"
        " the database. Refresh the record and try again."
    )


def _typed_fields(fields: Sequence[Field], record: Record, where: str) -> dict[str, Any]:
    by_name = {f.name: f for f in fields}
    typed: dict[str, Any] = {}
    for name, text in record.items():
        if name == "Key":
            continue
        field = by_name.get(name)
        if field is None or not isinstance(text, str):
            raise NavError(f"The field {name} of {where} does not exist.")
        typed[name] = to_db(field, text)
    return typed
