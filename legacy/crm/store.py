"""The simulated CRM's storage: HubSpot-style contacts as rows of string properties.

HubSpot keeps every property value as a string (booleans as ``"true"``, dates as ISO
text, multi-checkboxes ``;``-joined), and any property may be filtered on. So the store
is one row per contact and one row per (contact, property, value) in SQLite, with each
value's search form beside it, indexed: ``EQ``/``IN`` are index look-ups whatever the
property. Search compares text as HubSpot does: case-insensitively, but otherwise as
stored, so ``phone`` matches only a number written the same way. For finding a number
however it was written HubSpot calculates ``hs_searchable_calculated_phone_number``
from ``phone`` (:func:`searchable_phone`), and so does this store.
"""

from __future__ import annotations

import fnmatch
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import phonenumbers

from legacy.common.sqlite import build_once
from legacy.world import CONSENT_PURPOSES, SEGMENTS, CrmContact, World

#: HubSpot's searchable form of ``phone``, calculated by HubSpot (see searchable_phone)
SEARCHABLE_PHONE = "hs_searchable_calculated_phone_number"
#: the HubSpot default properties the portal has (HubSpot has hundreds; these are the
#: ones the simulation keeps)
STANDARD_PROPERTIES = (
    "firstname",
    "lastname",
    "email",
    "phone",
    "address",
    "city",
    "zip",
    "country",
    "createdate",
    "lastmodifieddate",
    "hs_object_id",
    SEARCHABLE_PHONE,
)
#: the portal's home country: a number written without its country code is taken to be
#: from here when HubSpot calculates its searchable form
PORTAL_REGION = "NL"
#: our portal's own properties, as its administrator defined them
CUSTOM_PROPERTIES = (
    "erp_customer_number",
    "loyalty_card_number",
    *(name for p in CONSENT_PURPOSES for name in (f"consent_{p}", f"consent_{p}_valid_until")),
    "segments",
)
PROPERTIES = frozenset(STANDARD_PROPERTIES + CUSTOM_PROPERTIES)
#: properties whose values identify one contact: usable as ``idProperty``, kept unique
UNIQUE_PROPERTIES = frozenset(
    {"hs_object_id", "email", "erp_customer_number", "loyalty_card_number"}
)
#: maintained by the CRM itself; a PATCH leaves them alone
READ_ONLY_PROPERTIES = frozenset(
    {"hs_object_id", "createdate", "lastmodifieddate", SEARCHABLE_PHONE}
)

SCHEMA = """
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE TABLE properties (
    contact_id INTEGER NOT NULL REFERENCES contacts (id),
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    search_form TEXT NOT NULL,
    PRIMARY KEY (contact_id, name)
) WITHOUT ROWID;
CREATE INDEX properties_by_value ON properties (name, search_form);
"""


def property_definition(name: str) -> dict[str, Any]:
    """What HubSpot's properties API tells of one of the portal's contact properties
    (the ``Property`` object of ``contracts/crm/crm_properties_v3.oas.json``)."""
    kind, field_type, options = "string", "text", []
    if name in ("createdate", "lastmodifieddate"):
        kind, field_type = "datetime", "date"
    elif name.startswith("consent_") and name.endswith("_valid_until"):
        kind, field_type = "date", "date"
    elif name.startswith("consent_"):
        kind, field_type, options = "enumeration", "booleancheckbox", ["true", "false"]
    elif name == "segments":
        kind, field_type, options = "enumeration", "checkbox", list(SEGMENTS)
    elif name == "phone":
        field_type = "phonenumber"
    custom = name not in STANDARD_PROPERTIES
    return {
        "name": name,
        "label": name.replace("_", " ").capitalize(),
        "type": kind,
        "fieldType": field_type,
        "groupName": "mosaic" if custom else "contactinformation",
        "description": "",
        "options": [
            {"label": value, "value": value, "hidden": False, "displayOrder": n}
            for n, value in enumerate(options)
        ],
        "hasUniqueValue": name in UNIQUE_PROPERTIES and name != "hs_object_id",
        "hubspotDefined": not custom,
        "calculated": name == SEARCHABLE_PHONE,
        "formField": not custom,
        "hidden": False,
        "archived": False,
    }


def hubspot_time(moment: datetime) -> str:
    """HubSpot's timestamp format: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def search_form(value: str) -> str:
    """What a filter compares: the text, case-insensitively (as HubSpot search does)."""
    return value.strip().casefold()


def searchable_phone(phone: str) -> str:
    """HubSpot's ``hs_searchable_calculated_phone_number``: the number's national
    significant digits, without country code, trunk prefix or punctuation, so that
    ``+31 6 1234 5678``, ``06-12345678`` and ``0031612345678`` all become ``612345678``.
    A number that does not parse keeps its digits without leading zeros."""
    try:
        return str(phonenumbers.parse(phone, PORTAL_REGION).national_number)
    except phonenumbers.NumberParseException:
        return re.sub(r"\D", "", phone).lstrip("0")


def calculated(properties: Mapping[str, str]) -> dict[str, str]:
    """The properties HubSpot calculates from the given ones ("" clears one)."""
    if "phone" not in properties:
        return {}
    phone = properties["phone"]
    return {SEARCHABLE_PHONE: searchable_phone(phone) if phone else ""}


def contains_token(value: str, pattern: str) -> bool:
    """HubSpot's ``CONTAINS_TOKEN``: a whole word (``;`` and spaces separate them, so a
    multi-checkbox value's options are tokens), case-insensitive, ``*`` a wildcard."""
    wanted = pattern.casefold()
    return any(
        fnmatch.fnmatchcase(token, wanted) for token in re.split(r"[;\s]+", value.casefold())
    )


def contact_properties(contact: CrmContact) -> dict[str, str]:
    """The world's contact as our portal's HubSpot properties (unset ones left out)."""
    values: dict[str, str | None] = {
        "firstname": contact.first_name,
        "lastname": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        "address": contact.address.street,
        "city": contact.address.city,
        "zip": contact.address.postal_code,
        "country": contact.address.country,
        "createdate": hubspot_time(contact.created_at),
        "lastmodifieddate": hubspot_time(contact.updated_at),
        "hs_object_id": contact.id,
        "erp_customer_number": contact.erp_customer_no,
        "loyalty_card_number": contact.loyalty_card,
        "segments": ";".join(contact.segments) or None,
        SEARCHABLE_PHONE: searchable_phone(contact.phone) if contact.phone else None,
    }
    for consent in contact.consents:
        values[f"consent_{consent.purpose}"] = "true" if consent.granted else "false"
        values[f"consent_{consent.purpose}_valid_until"] = (
            consent.valid_until.isoformat() if consent.valid_until else None
        )
    return {name: value for name, value in values.items() if value is not None}


def build(world: World, db_path: Path) -> None:
    """Write the world's CRM slice to ``db_path`` unless it is there already (so writes
    survive a restart)."""
    build_once(db_path, SCHEMA, lambda db: _load(db, world))


def _load(db: sqlite3.Connection, world: World) -> None:
    db.executemany(
        "INSERT INTO contacts (id, created_at, updated_at) VALUES (?, ?, ?)",
        [
            (int(c.id), hubspot_time(c.created_at), hubspot_time(c.updated_at))
            for c in world.crm_contacts
        ],
    )
    db.executemany(
        "INSERT INTO properties VALUES (?, ?, ?, ?)",
        [
            (int(c.id), name, value, search_form(value))
            for c in world.crm_contacts
            for name, value in contact_properties(c).items()
        ],
    )


@dataclass(frozen=True, slots=True)
class Contact:
    id: str
    properties: dict[str, str | None]  # the asked properties; None where unset
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class Filter:
    """One search condition, already checked: ``values`` holds ``value`` or ``values``."""

    name: str
    operator: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Sort:
    """A search's order: one property, ascending or descending."""

    name: str
    descending: bool


#: operator -> (how a value matches, whether the filter keeps the contacts that do NOT)
OPERATORS: dict[str, tuple[str, bool]] = {
    "EQ": ("equals", False),
    "IN": ("equals", False),
    "NEQ": ("equals", True),
    "NOT_IN": ("equals", True),
    "CONTAINS_TOKEN": ("token", False),
    "NOT_CONTAINS_TOKEN": ("token", True),
    "HAS_PROPERTY": ("present", False),
    "NOT_HAS_PROPERTY": ("present", True),
}


class UniqueConflict(Exception):
    """A write would give a unique property's value to a second contact."""

    def __init__(self, name: str, existing_id: int) -> None:
        super().__init__(f"{name} already belongs to contact {existing_id}")
        self.name = name
        self.existing_id = existing_id


class ContactStore:
    """The contacts of one simulated portal. Archived contacts are invisible to reads.

    ``defined`` are the properties the portal has: a portal whose administrator has not
    created a custom property neither answers it nor takes it in a write or a filter."""

    def __init__(self, db_path: Path, defined: frozenset[str] = PROPERTIES) -> None:
        self.defined = defined
        self.db = sqlite3.connect(db_path, check_same_thread=False)
        self.db.create_function("contains_token", 2, contains_token, deterministic=True)

    def find(self, name: str, values: Iterable[str], wanted: Sequence[str]) -> dict[str, Contact]:
        """The contacts whose property ``name`` matches each value, keyed by the value
        asked. With ``hs_object_id`` this reads by internal id."""
        by_form: dict[str, list[str]] = {}
        for value in values:
            by_form.setdefault(search_form(value), []).append(value)
        if not by_form:
            return {}
        rows = self.db.execute(
            "SELECT p.search_form, p.contact_id FROM properties p JOIN contacts c"
            " ON c.id = p.contact_id AND c.archived_at IS NULL"
            f" WHERE p.name = ? AND p.search_form IN ({_marks(by_form)})",
            [name, *by_form],
        ).fetchall()
        contacts = self._load([contact_id for _, contact_id in rows], wanted)
        return {value: contacts[contact_id] for form, contact_id in rows for value in by_form[form]}

    def search(
        self,
        groups: Sequence[Sequence[Filter]],
        wanted: Sequence[str],
        limit: int,
        offset: int,
        sort: Sort | None = None,
    ) -> tuple[int, list[Contact]]:
        """HubSpot search: any group matches, all filters within a group; in the order
        of ``sort`` (ties, and without one: by id, which is the order of creation)."""
        clauses: list[str] = []
        params: list[str] = []
        for group in groups:
            conditions = [_condition(f, params) for f in group]
            clauses.append("(" + (" AND ".join(conditions) or "1") + ")")
        where = "archived_at IS NULL AND (" + (" OR ".join(clauses) or "1") + ")"
        (total,) = self.db.execute(
            f"SELECT COUNT(*) FROM contacts WHERE {where}", params
        ).fetchone()
        order, order_params = "id", []
        if sort is not None:
            direction = "DESC" if sort.descending else "ASC"
            order = (
                "(SELECT value FROM properties WHERE contact_id = contacts.id AND name = ?)"
                f" {direction}, id"
            )
            order_params = [sort.name]
        ids = [
            row[0]
            for row in self.db.execute(
                f"SELECT id FROM contacts WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
                [*params, *order_params, limit, offset],
            )
        ]
        contacts = self._load(ids, wanted)
        return total, [contacts[i] for i in ids]

    def page(self, after: int, limit: int, wanted: Sequence[str]) -> list[Contact]:
        """Up to ``limit`` contacts with ids above ``after``, by id."""
        ids = [
            row[0]
            for row in self.db.execute(
                "SELECT id FROM contacts WHERE archived_at IS NULL AND id > ? ORDER BY id LIMIT ?",
                (after, limit),
            )
        ]
        contacts = self._load(ids, wanted)
        return [contacts[i] for i in ids]

    def update(self, contact_id: int, changes: Mapping[str, str]) -> Contact | None:
        """Overwrite the given properties (``""`` clears one; read-only and undefined ones
        are ignored, as HubSpot does) and stamp the change; None if there is no such
        contact. Returns the contact with the properties written and HubSpot's stamps."""
        if not self._exists(contact_id):
            return None
        writable = {
            name: value
            for name, value in changes.items()
            if name in self.defined and name not in READ_ONLY_PROPERTIES
        }
        self._check_unique(contact_id, writable)
        now = hubspot_time(datetime.now(UTC))
        with self.db:
            for name, value in {
                **writable,
                **calculated(writable),
                "lastmodifieddate": now,
            }.items():
                self._set(contact_id, name, value)
            self.db.execute("UPDATE contacts SET updated_at = ? WHERE id = ?", (now, contact_id))
        answered = [*writable, "createdate", "lastmodifieddate", "hs_object_id"]
        return self._load([contact_id], answered)[contact_id]

    def archive(self, contact_id: int) -> bool:
        """Move a contact to the recycle bin; False if it never existed."""
        with self.db:
            known = self.db.execute(
                "UPDATE contacts SET archived_at = COALESCE(archived_at, ?) WHERE id = ?",
                (hubspot_time(datetime.now(UTC)), contact_id),
            ).rowcount
        return bool(known)

    def purge(self, contact_id: int) -> bool:
        """Delete a contact and every property value it had, for good (archived or not);
        False if there is no such contact."""
        with self.db:
            self.db.execute("DELETE FROM properties WHERE contact_id = ?", (contact_id,))
            known = self.db.execute("DELETE FROM contacts WHERE id = ?", (contact_id,)).rowcount
        return bool(known)

    def close(self) -> None:
        self.db.close()

    def _exists(self, contact_id: int) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM contacts WHERE id = ? AND archived_at IS NULL", (contact_id,)
        ).fetchone()
        return row is not None

    def _check_unique(self, contact_id: int, changes: Mapping[str, str]) -> None:
        for name, value in changes.items():
            if name not in UNIQUE_PROPERTIES or not value:
                continue
            row = self.db.execute(
                "SELECT p.contact_id FROM properties p JOIN contacts c ON c.id = p.contact_id"
                " WHERE p.name = ? AND p.search_form = ? AND p.contact_id != ?"
                " AND c.archived_at IS NULL",
                (name, search_form(value), contact_id),
            ).fetchone()
            if row:
                raise UniqueConflict(name, row[0])

    def _set(self, contact_id: int, name: str, value: str) -> None:
        if value == "":
            self.db.execute(
                "DELETE FROM properties WHERE contact_id = ? AND name = ?", (contact_id, name)
            )
        else:
            self.db.execute(
                "INSERT OR REPLACE INTO properties VALUES (?, ?, ?, ?)",
                (contact_id, name, value, search_form(value)),
            )

    def _load(self, ids: Sequence[int], wanted: Sequence[str]) -> dict[int, Contact]:
        """The contacts with the ``wanted`` properties: defined but unset ones as None,
        as HubSpot answers them, undefined names left out."""
        distinct = list(dict.fromkeys(ids))
        if not distinct:
            return {}
        names = [n for n in dict.fromkeys(wanted) if n in self.defined]
        values: dict[int, dict[str, str | None]] = {i: dict.fromkeys(names) for i in distinct}
        if names:
            for contact_id, name, value in self.db.execute(
                "SELECT contact_id, name, value FROM properties"
                f" WHERE contact_id IN ({_marks(distinct)}) AND name IN ({_marks(names)})",
                [*distinct, *names],
            ):
                values[contact_id][name] = value
        return {
            contact_id: Contact(str(contact_id), values[contact_id], created, updated)
            for contact_id, created, updated in self.db.execute(
                f"SELECT id, created_at, updated_at FROM contacts WHERE id IN ({_marks(distinct)})",
                distinct,
            )
        }


def _condition(f: Filter, params: list[str]) -> str:
    """The SQL of one filter over ``contacts.id``, appending its parameters."""
    match, negated = OPERATORS[f.operator]
    params.append(f.name)
    if match == "equals":
        forms = [search_form(v) for v in f.values]
        params.extend(forms)
        test = f" AND search_form IN ({_marks(forms)})"
    elif match == "token":
        params.extend(f.values)
        test = " AND (" + " OR ".join("contains_token(value, ?)" for _ in f.values) + ")"
    else:
        test = ""
    subquery = f"SELECT contact_id FROM properties WHERE name = ?{test}"
    return f"id {'NOT IN' if negated else 'IN'} ({subquery})"


def _marks(values: Sized) -> str:
    return ", ".join("?" * len(values))
