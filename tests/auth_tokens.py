"""Tokens for the tests of authentication and authorisation, and the seeded people they
are about."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from gateway.security.auth import mint_token
from legacy.examples import showcase_card
from legacy.world import CrmContact, World

SECRET = "test-jwt-secret-that-is-long-enough-for-hs256"
PARTNER_KEY = "partner-key-acme-0123456789"
API_KEYS = {PARTNER_KEY: {"partner": "acme", "scopes": ["orders:read"]}}


def token(role: str, **claims: Any) -> str:
    return mint_token(SECRET, role, **claims)


def bearer(role: str, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, **claims)}"}


@dataclass(frozen=True)
class Person:
    """A customer known to the CRM, the ERP and the POS, with orders in both."""

    contact: CrmContact
    pos_id: str
    erp_orders: tuple[str, ...]
    pos_orders: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"crm:{self.contact.id}"

    @property
    def card(self) -> str:
        return self.contact.loyalty_card or ""

    @property
    def email(self) -> str:
        return self.contact.email

    def consented(self, purpose: str) -> bool:
        today = date.today()
        return any(
            c.purpose == purpose and c.granted and (c.valid_until is None or c.valid_until >= today)
            for c in self.contact.consents
        )


def people(world: World) -> list[Person]:
    """Every fully linked customer with orders online and in store, the showcase first."""
    pos_by_card = {c.card_number: c for c in world.pos_customers}
    erp_orders: dict[str, list[str]] = {}
    pos_orders: dict[str, list[str]] = {}
    # order ids carry their kind since issue 18 (``erp:…`` was a customer or an order)
    for order in world.erp_orders:
        erp_orders.setdefault(order.customer_ref or "", []).append(f"order:erp:{order.id}")
    for order in world.pos_orders:
        pos_orders.setdefault(order.customer_ref or "", []).append(f"order:pos:{order.id}")
    emails = Counter(c.email.lower() for c in world.crm_contacts)
    found = [
        Person(
            contact=c,
            pos_id=pos_by_card[c.loyalty_card].id,
            erp_orders=tuple(erp_orders[c.erp_customer_no]),
            pos_orders=tuple(pos_orders[pos_by_card[c.loyalty_card].id]),
        )
        for c in world.crm_contacts
        if c.loyalty_card in pos_by_card
        and c.erp_customer_no in erp_orders
        and pos_by_card[c.loyalty_card].id in pos_orders
        and emails[c.email.lower()] == 1
    ]
    card = showcase_card(world)
    return sorted(found, key=lambda p: (p.card != card, p.contact.id))


def store_of(world: World) -> str:
    return f"store:{next(s.id for s in world.stores if s.active)}"
