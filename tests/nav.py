"""What the simulated NAV shows of the story's ERP orders, for tests to compare with.

``legacy/erp/seed.py`` keeps each story order as NAV would by now (an open sales order,
or a posted invoice); Mosaic reads its state from NAV's fields
(``contracts/erp/DECISIONS.md``). These are the states and dates that reading gives.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from legacy.world import Order

#: The story's order status -> the state Mosaic derives from what NAV keeps of it.
STATES = {
    "PLACED": "PLACED",  # Open, nothing shipped
    "SHIPPED": "SHIPPED",  # every line shipped, none invoiced
    "DELIVERED": "COMPLETED",  # invoiced: a posted sales invoice
    "CANCELLED": "CANCELLED",  # a posted invoice cancelled by a corrective credit memo
}


def state(order: Order) -> str:
    return STATES[order.status]


def placed_at(order: Order) -> datetime:
    """NAV's order date has no time of day: the start of that day, UTC."""
    return datetime.combine(order.placed_at.date(), time(), UTC)


def newest_first(orders: list[Order]) -> list[Order]:
    """Newest first by order date; orders of one day by number, highest first."""
    return sorted(orders, key=lambda o: (o.placed_at.date(), o.id), reverse=True)
