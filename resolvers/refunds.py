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
from decimal import Decimal

from adapters.records import Money, PaymentRecord


@dataclass(frozen=True, slots=True)
class Refundable:
    """The payment refunds go against (None: nothing was paid), and what is left of it."""

    payment: PaymentRecord | None
    left: Money


def refundable(payments: Sequence[PaymentRecord], owed: Decimal, currency: str) -> Refundable:
    paid = [p for p in payments if p.kind == "PAYMENT" and p.status == "COMPLETED"]
    refunded = -sum(
        (p.amount.amount for p in payments if p.kind == "REFUND" and p.status != "CANCELED"),
        Decimal(0),
    )
    total = sum((p.amount.amount for p in paid), Decimal(0))
    left = max(total - max(refunded, owed), Decimal(0))
    return Refundable(paid[0] if paid else None, Money(left, currency))


def capped(asked: Money, refundable: Refundable) -> Money:
    """At most what is left of what was paid."""
    return Money(min(asked.amount, refundable.left.amount), asked.currency)
