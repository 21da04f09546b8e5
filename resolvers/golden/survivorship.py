"""Which fragment's value survives into the golden record, field by field.

The CRM is the customer master: its values are curated and win. Where it has nothing,
the ERP comes next for contact data (customers type it themselves at checkout and
receive invoices there), and the POS last (cashiers key it in at the till, and it goes
stale: it is where old phone numbers live). Every surviving value keeps its provenance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from adapters.normalise import email_key
from adapters.records import Address, CustomerFragment, LoyaltyAccount

T = TypeVar("T")

#: Order of trust per field, most trusted first.
PRECEDENCE: dict[str, tuple[str, ...]] = {
    "name": ("crm", "pos", "erp"),  # the ERP's single name field is where typos live
    "email": ("crm", "erp", "pos"),
    "phone": ("crm", "erp", "pos"),
    "address": ("crm", "erp"),
}


@dataclass(frozen=True, slots=True)
class Survivor(Generic[T]):
    value: T
    system: str
    record_id: str


@dataclass(frozen=True, slots=True)
class Fragments:
    """The fragments found for one person; any of them may be missing."""

    crm: CustomerFragment | None = None
    erp: CustomerFragment | None = None
    pos: LoyaltyAccount | None = None


def normalise_email(email: str | None) -> str | None:
    return email_key(email) if email and email.strip() else None


def normalise_phone(phone: str | None) -> str | None:
    """Digits only, with the Dutch trunk 0 written as +31, so that numbers compare."""
    if not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit())
    if phone.strip().startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    if digits.startswith("0"):
        return "+31" + digits[1:]
    return "+" + digits if digits else None


def _full_name(first: str | None, last: str | None) -> str | None:
    name = " ".join(part for part in (first, last) if part)
    return name or None


def _candidates(
    fragments: Fragments, read: dict[str, Callable[[Fragments], T | None]], field: str
) -> Survivor[T] | None:
    for system in PRECEDENCE[field]:
        value = read[system](fragments)
        if value is not None:
            record_id = _record_id(fragments, system)
            if record_id is not None:
                return Survivor(value, system, record_id)
    return None


def _record_id(fragments: Fragments, system: str) -> str | None:
    if system == "crm" and fragments.crm:
        return fragments.crm.record_id
    if system == "erp" and fragments.erp:
        return fragments.erp.record_id
    if system == "pos" and fragments.pos:
        return fragments.pos.customer_id
    return None


def name(f: Fragments) -> Survivor[str] | None:
    return _candidates(
        f,
        {
            "crm": lambda f: f.crm and _full_name(f.crm.first_name, f.crm.last_name),
            "pos": lambda f: f.pos and _full_name(f.pos.given_name, f.pos.family_name),
            "erp": lambda f: f.erp and f.erp.full_name,
        },
        "name",
    )


def email(f: Fragments) -> Survivor[str] | None:
    return _candidates(
        f,
        {
            "crm": lambda f: f.crm and normalise_email(f.crm.email),
            "erp": lambda f: f.erp and normalise_email(f.erp.email),
            "pos": lambda f: f.pos and normalise_email(f.pos.email),
        },
        "email",
    )


def phone(f: Fragments) -> Survivor[str] | None:
    return _candidates(
        f,
        {
            "crm": lambda f: f.crm and normalise_phone(f.crm.phone),
            "erp": lambda f: f.erp and normalise_phone(f.erp.phone),
            "pos": lambda f: f.pos and normalise_phone(f.pos.phone),
        },
        "phone",
    )


def address(f: Fragments) -> Survivor[Address] | None:
    return _candidates(
        f,
        {
            "crm": lambda f: f.crm and f.crm.address,
            "erp": lambda f: f.erp and f.erp.address,
        },
        "address",
    )
