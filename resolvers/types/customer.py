"""The golden customer record, assembled live from its CRM, ERP and POS fragments."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry

from adapters.errors import BadUserInput
from resolvers import ids, survivorship
from resolvers.context import Info, settle
from resolvers.identity import Identity
from resolvers.survivorship import Fragments, Survivor
from resolvers.types.common import Address
from resolvers.types.order import Order

MAX_ORDERS = 200


@strawberry.type
class Loyalty:
    card_number: str
    tier: str | None
    points: int | None


@strawberry.type
class Consent:
    purpose: str
    granted: bool
    valid_until: date | None


@strawberry.type(description="A record about this customer in one system.")
class SourceRecord:
    system: str
    record_id: str


@strawberry.type(description="Where a golden-record field's value came from.")
class Provenance:
    field: str
    system: str
    record_id: str


@strawberry.type(description="One person across CRM, POS loyalty and ERP, assembled live.")
class Customer:
    identity: strawberry.Private[Identity]

    async def _fragments(self) -> Fragments:
        return await self.identity.complete()

    @strawberry.field(
        description="The CRM id where the CRM knows the person, else the "
        "id of the fragment that found them."
    )
    async def id(self) -> strawberry.ID:
        f = await self._fragments()
        if f.crm:
            return strawberry.ID(ids.make("crm", f.crm.record_id))
        if f.pos:
            return strawberry.ID(ids.make("pos", f.pos.customer_id))
        assert f.erp is not None  # a Customer exists only once a fragment was found
        return strawberry.ID(ids.make("erp", f.erp.record_id))

    @strawberry.field
    async def name(self) -> str | None:
        return _value(survivorship.name(await self._fragments()))

    @strawberry.field
    async def email(self) -> str | None:
        return _value(survivorship.email(await self._fragments()))

    @strawberry.field
    async def phone(self) -> str | None:
        return _value(survivorship.phone(await self._fragments()))

    @strawberry.field
    async def address(self) -> Address | None:
        return Address.of(_value(survivorship.address(await self._fragments())))

    @strawberry.field(description="The POS loyalty account.")
    async def loyalty(self) -> Loyalty | None:
        f = await self._fragments()
        self._raise_if_failed("pos", found=f.pos is not None)
        if f.pos is None:
            return None
        return Loyalty(card_number=f.pos.card_number, tier=f.pos.tier, points=f.pos.points)

    @strawberry.field(description="Consents per purpose, from the CRM.")
    async def consents(self) -> list[Consent] | None:
        f = await self._fragments()
        self._raise_if_failed("crm", found=f.crm is not None)
        if f.crm is None:
            return None
        return [
            Consent(purpose=c.purpose, granted=c.granted, valid_until=c.valid_until)
            for c in f.crm.consents
        ]

    @strawberry.field(description="Orders from every channel, newest first.")
    async def orders(self, info: Info, last: int = 20) -> list[Order]:
        if not 0 <= last <= MAX_ORDERS:
            raise BadUserInput(f"last must be between 0 and {MAX_ORDERS}")
        loaders = info.context.loaders
        erp_no, pos_customer = await settle(
            info, self.identity.key("erp_no"), self.identity.key("pos_customer")
        )
        erp_orders, pos_orders = await settle(
            info,
            loaders.erp_orders_of.load(erp_no) if erp_no else _nothing(),
            loaders.pos_orders_of.load(pos_customer) if pos_customer else _nothing(),
        )
        merged = [*(erp_orders or ()), *(pos_orders or ())]
        merged.sort(key=lambda o: o.placed_at, reverse=True)
        return [Order.of(o) for o in merged[:last]]

    @strawberry.field(description="Every system holding a record of this customer.")
    async def sources(self) -> list[SourceRecord]:
        f = await self._fragments()
        found = [
            ("crm", f.crm.record_id if f.crm else None),
            ("erp", f.erp.record_id if f.erp else None),
            ("pos", f.pos.customer_id if f.pos else None),
        ]
        return [SourceRecord(system=s, record_id=r) for s, r in found if r is not None]

    @strawberry.field(description="Which system each golden-record value came from.")
    async def provenance(self) -> list[Provenance]:
        f = await self._fragments()
        survivors: dict[str, Survivor[Any] | None] = {
            "name": survivorship.name(f),
            "email": survivorship.email(f),
            "phone": survivorship.phone(f),
            "address": survivorship.address(f),
        }
        return [
            Provenance(field=k, system=s.system, record_id=s.record_id)
            for k, s in survivors.items()
            if s is not None
        ]

    def _raise_if_failed(self, system: str, found: bool) -> None:
        """A field owned by a system that failed is null with that system's error."""
        failure = self.identity.failures.get(system)
        if failure is not None and not found:
            raise failure


def _value(survivor: Survivor[survivorship.T] | None) -> survivorship.T | None:
    return survivor.value if survivor else None


async def _nothing() -> list[object]:
    return []
