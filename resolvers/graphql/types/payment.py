"""One payment history whatever the channel: the ERP's payments and refunds of online
orders and the POS's at the till, with each money movement shown once.

A store return of an online order is recorded twice on purpose, as retailers do: the
ERP books the refund to the original online payment, the POS records the refund handed
over in the ERP's name (an unlinked Square refund naming the ERP's), and each record
names the other. The two are one movement of money, so it is shown once, from the
system that owns the order (DESIGN: online orders' refunds are the ERP's, in-store ones
the POS's), with both records' ids in ``records``. Each system is asked for its own
orders only: Square finds payments through its orders' tenders and refunds, and has no
way to find a refund by another system's order number (contracts/pos/README.md). When
one system's payments cannot be read, that is reported on the field and the other
system's records still answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import Enum

import strawberry

from adapters.records import PaymentRecord, SourceName
from resolvers.catalogue.places import stores
from resolvers.graphql import ids
from resolvers.graphql.context import Info
from resolvers.graphql.types.common import Channel, Money
from resolvers.graphql.types.location import Location
from resolvers.graphql.types.vocabulary import SourceSystem
from resolvers.loading.ready import settle


@strawberry.enum(description="A payment, or a refund against one (its amount negative).")
class PaymentKind(Enum):
    PAYMENT = "PAYMENT"
    REFUND = "REFUND"


@strawberry.enum(description="How the money moved: online (ERP) or at the till (POS).")
class PaymentMethod(Enum):
    IDEAL = "IDEAL"
    CARD = "CARD"
    PAYPAL = "PAYPAL"
    KLARNA = "KLARNA"
    PIN = "PIN"
    CASH = "CASH"
    OTHER = "OTHER"


def method_of(text: str | None) -> PaymentMethod | None:
    """A system's payment method as the schema's: one it does not know is OTHER."""
    if text is None:
        return None
    return PaymentMethod(text) if text in PaymentMethod.__members__ else PaymentMethod.OTHER


@strawberry.enum(
    description="Where a payment or refund stands: PENDING (owed, not paid out yet), "
    "COMPLETED, CANCELLED (reversed or voided), FAILED."
)
class PaymentStatus(Enum):
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


@strawberry.type(
    description="Money moved for an order, online or at the till: a payment, or a refund "
    "from a return in any channel against the original payment."
)
class Payment:
    id: strawberry.ID = strawberry.field(description="The record of the system that owns it.")
    kind: PaymentKind = strawberry.field(description="A payment, or a refund.")
    method: PaymentMethod | None = strawberry.field(
        description="Null where the record does not say how the money moved (a till "
        "payment by gift card or wallet, say)."
    )
    amount: Money = strawberry.field(description="Negative for a refund.")
    status: PaymentStatus = strawberry.field(description="Where it stands.")
    channel: Channel = strawberry.field(
        description="Where it happened: a refund of an online order returned in a store is STORE."
    )
    at: datetime = strawberry.field(description="When the money moved.")
    system: SourceSystem = strawberry.field(description="The system of record: ERP or POS.")
    order_id: strawberry.ID = strawberry.field(description="The order paid, or returned.")
    refund_of: strawberry.ID | None = strawberry.field(description="A refund's original payment.")
    records: list[strawberry.ID] = strawberry.field(
        description="Every system's record of this movement: a store return of an online "
        "order is booked by the ERP and recorded by the POS, and shown once."
    )
    store_ref: strawberry.Private[str | None]

    @strawberry.field(description="The store, for payments at the till and store returns.")
    async def location(self, info: Info) -> Location | None:
        if self.store_ref is None:
            return None
        place = (await stores(info)).get(self.store_ref)
        return Location.of(place) if place else None

    @classmethod
    def of(cls, record: PaymentRecord, records: Iterable[tuple[SourceName, str]]) -> Payment:
        return cls(
            id=strawberry.ID(ids.make(record.source, record.id)),
            kind=PaymentKind(record.kind),
            method=method_of(record.method),
            amount=Money(amount=record.amount.amount, currency=record.amount.currency),
            status=PaymentStatus(record.status),
            channel=Channel(record.channel),
            at=record.at,
            system=SourceSystem(record.source),
            order_id=strawberry.ID(ids.order_id(record.order_source, record.order_id)),
            refund_of=strawberry.ID(ids.make(record.source, record.refund_of))
            if record.refund_of
            else None,
            records=[strawberry.ID(ids.make(s, i)) for s, i in sorted(records)],
            store_ref=ids.location_id("STORE", record.location_id) if record.location_id else None,
        )


def _movement(record: PaymentRecord) -> frozenset[tuple[SourceName, str]]:
    """The records of one movement of money: this one, and the other system's it names."""
    own: tuple[SourceName, str] = (record.source, record.id)
    return frozenset((own, record.mirror)) if record.mirror else frozenset((own,))


def once_each(records: Iterable[PaymentRecord]) -> list[Payment]:
    """Each movement once, from the system owning its order where it answered; oldest
    first."""
    chosen: dict[frozenset[tuple[SourceName, str]], PaymentRecord] = {}
    for record in records:
        movement = _movement(record)
        held = chosen.get(movement)
        owner = record.source == record.order_source
        if held is None or (owner and held.source != held.order_source):
            chosen[movement] = record
    shown = sorted(chosen.items(), key=lambda item: (item[1].at, item[1].id))
    return [Payment.of(record, movement) for movement, record in shown]


async def payments_of(info: Info, orders: Sequence[tuple[str, str]]) -> list[Payment]:
    """The payments of ``(system, order id)`` from any channel: one ERP call for the
    online orders, one POS call for the store receipts. A failing source is reported;
    the other's records still answer."""
    loaders = info.context.loaders
    erp, pos = await settle(
        info,
        loaders.erp_payments.load_many([local for system, local in orders if system == "erp"]),
        loaders.pos_payments.load_many([local for system, local in orders if system == "pos"]),
    )
    per_order = [*(erp or []), *(pos or [])]
    return once_each(record for records in per_order for record in records)
