"""What a return may pay back: what was paid for an order, less what was refunded or is
owed already, against the payment it refunds, by that payment's method.

An order's payments are its system's records (the ERP's customer ledger for online
orders, Square's tenders and refunds for store receipts: ``payments_by_order``). What
was refunded is the completed and pending refunds among them; what is owed is the total
of the return orders registered against the order in the ERP, which NAV pays out when
finance posts them. The two overlap (a posted return order has its refund in the ledger),
so what is committed is the larger of them; a store receipt's till refunds (which have no
return order in the ERP when they came before Mosaic) count through the first, Mosaic's
online returns not yet posted through the second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import strawberry

from adapters.records import Money, PaymentRecord
from resolvers.graphql import ids
from resolvers.graphql.types.common import Channel
from resolvers.graphql.types.common import Money as MoneyType
from resolvers.graphql.types.payment import Payment, PaymentKind, PaymentStatus, method_of
from resolvers.graphql.types.vocabulary import SourceSystem


@dataclass(frozen=True, slots=True)
class Refundable:
    """The payment refunds go against (None: nothing was paid), and what is left of it."""

    payment: PaymentRecord | None
    left: Money


def refundable(payments: Sequence[PaymentRecord], owed: Decimal, currency: str) -> Refundable:
    paid = [p for p in payments if p.kind == "PAYMENT" and p.status == "COMPLETED"]
    refunded = -sum(
        (p.amount.amount for p in payments if p.kind == "REFUND" and p.status != "CANCELLED"),
        Decimal(0),
    )
    total = sum((p.amount.amount for p in paid), Decimal(0))
    left = max(total - max(refunded, owed), Decimal(0))
    return Refundable(paid[0] if paid else None, Money(left, currency))


def capped(asked: Money, refundable: Refundable) -> Money:
    """At most what is left of what was paid."""
    return Money(min(asked.amount, refundable.left.amount), asked.currency)


def planned(payment: PaymentRecord, amount: Money) -> dict[str, Any]:
    """A refund as a saga plans it (JSON): how much, against which payment, how."""
    return {
        "amount": str(amount.amount),
        "currency": amount.currency,
        "payment": payment.id,
        "system": payment.source,
        "method": payment.method,
    }


def refund_payment(
    refund: dict[str, Any],
    *,
    record: str,
    paid: bool,
    order_id: str,
    channel: str,
    at: str,
    store: str | None,
) -> Payment:
    """A planned refund as the schema's payment: COMPLETED once a system paid it
    (``record`` is then that system's refund), else PENDING (``record`` names the
    document that owes it)."""
    own = strawberry.ID(record)
    return Payment(
        id=own,
        kind=PaymentKind.REFUND,
        method=method_of(refund["method"]),
        amount=MoneyType(amount=-Decimal(refund["amount"]), currency=refund["currency"]),
        status=PaymentStatus.COMPLETED if paid else PaymentStatus.PENDING,
        channel=Channel(channel),
        at=datetime.fromisoformat(at).astimezone(UTC),
        system=SourceSystem(refund["system"]),
        order_id=strawberry.ID(order_id),
        refund_of=strawberry.ID(ids.make(refund["system"], refund["payment"])),
        records=[own],
        store_ref=ids.location_id("STORE", store) if store else None,
    )
