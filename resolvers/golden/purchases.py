"""A customer's purchases in every channel: the ERP's online orders and the POS's receipts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime

from adapters.records import UNKNOWN_TIME, OrderRecord
from resolvers.golden.identity import Identity
from resolvers.graphql.context import Info
from resolvers.loading.ready import settle

#: the systems a customer's history comes from, each with its own position in a cursor
HISTORY_SYSTEMS = ("erp", "pos")


async def order_history(info: Info, identity: Identity) -> list[OrderRecord]:
    """Every order of the person, newest first. Each system is asked as soon as its own
    key is known, through the request's loaders, so every field that needs the history
    (orders, payments, recommendations) shares one call per system; a system that
    fails is reported and the other's orders still answer. So is a system that could
    not be asked who the person is there (the POS down: no POS customer id, so no
    receipts): the history is never silently short."""
    loaders = info.context.loaders
    erp_orders, pos_orders = await settle(
        info,
        _orders_by(info, identity, "erp_no", loaders.erp_orders_of.load),
        _orders_by(info, identity, "pos_customer", loaders.pos_orders_of.load),
    )
    merged: list[OrderRecord] = [*(erp_orders or ()), *(pos_orders or ())]
    merged.sort(key=newest_first, reverse=True)
    return merged


async def _orders_by(
    info: Info,
    identity: Identity,
    key: str,
    load: Callable[[str], Awaitable[list[OrderRecord]]],
) -> list[OrderRecord]:
    """One system's orders, asked the moment its key is known and not when the other
    system's is too: NAV's orders (80 ms) need only the CRM's cross-reference, and
    would otherwise wait for the POS's card and loyalty lookups behind it."""
    known = await identity.key(key)
    for failure in identity.unlearned(key):  # a system that could not say whose orders
        info.context.report(info, failure)
    return await load(known) if known else []


def newest_first(order: OrderRecord) -> tuple[datetime, str, str]:
    """The history's order, descending: by time (NAV's dates have none: midnight), then
    system, then number, so that every order has one place (a cursor needs that)."""
    return order.placed_at or UNKNOWN_TIME, order.source, order.id


def _position(order: OrderRecord) -> list[str]:
    return [(order.placed_at or UNKNOWN_TIME).isoformat(), order.id]


def after_positions(
    history: Sequence[OrderRecord], positions: Mapping[str, list[str] | None]
) -> list[OrderRecord]:
    """The orders after each system's position: the part of every system's history not
    shown yet, merged newest first. A position is ``[time, number]`` of the last order of
    that system shown; None (or no entry): none of that system's shown yet."""

    def after(order: OrderRecord) -> bool:
        seen = positions.get(order.source)
        if not seen:
            return True
        last = (datetime.fromisoformat(seen[0]), order.source, seen[1])
        return newest_first(order) < last

    return [order for order in history if after(order)]


def page_positions(
    page: Sequence[OrderRecord], start: Mapping[str, list[str] | None]
) -> list[dict[str, list[str] | None]]:
    """Each system's position after each order of the page (its edge's cursor)."""
    positions = {system: start.get(system) for system in HISTORY_SYSTEMS}
    found = []
    for order in page:
        positions[order.source] = _position(order)
        found.append(dict(positions))
    return found
