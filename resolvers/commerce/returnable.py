"""What of an order can still come back: the one rule ``registerReturn`` refuses by and
``OrderLine.returnableQuantity`` shows (``contracts/erp/DECISIONS.md``, issue 17).

Of each SKU, what was shipped or handed over (NAV's ``Quantity_Shipped`` on an open
order's line, every piece of a posted invoice, every piece of a completed store
receipt, nothing of a cancelled order), less what the order's return orders in the
ERP took back. A return order names the document it applies to: the order's posted
invoice, the order itself (shipped, not invoiced yet), or a store receipt; an order
invoiced after a return was registered has returns naming either, so both are read.
"""

from __future__ import annotations

from collections.abc import Iterable

from adapters.records import OrderRecord, ReturnRecord


def documents(order: OrderRecord) -> list[str]:
    """The numbers the order's return orders may apply to: its own, its invoice's."""
    return list(dict.fromkeys(n for n in (order.id, order.invoice_id) if n))


def delivered(order: OrderRecord) -> dict[str, int]:
    """Pieces per SKU shipped or handed over: none of a cancelled order."""
    found: dict[str, int] = {}
    for line in order.lines:
        shipped = line.quantity if line.delivered is None else line.delivered
        found[line.sku] = found.get(line.sku, 0) + shipped
    if order.status == "CANCELLED":
        return dict.fromkeys(found, 0)
    return found


def returned(returns: Iterable[ReturnRecord]) -> dict[str, int]:
    """Pieces per SKU on return orders: every one found stands (undoing one deletes it)."""
    found: dict[str, int] = {}
    for back in returns:
        for line in back.lines:
            found[line.sku] = found.get(line.sku, 0) + line.quantity
    return found


def per_line(order: OrderRecord, returns: Iterable[ReturnRecord]) -> list[int]:
    """How many of each line can still come back: what is left of its SKU, given to the
    order's lines in their order (an SKU on two lines is counted once)."""
    left = delivered(order)
    for sku, n in returned(returns).items():
        left[sku] = left.get(sku, 0) - n
    answer = []
    for line in order.lines:
        n = max(min(line.quantity, left.get(line.sku, 0)), 0)
        left[line.sku] = left.get(line.sku, 0) - n
        answer.append(n)
    return answer
