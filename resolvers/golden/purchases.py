"""A customer's purchases in every channel: the ERP's online orders and the POS's receipts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from adapters.records import UNKNOWN_TIME, OrderRecord
from resolvers.golden.identity import Identity
from resolvers.graphql.context import Info
from resolvers.loading.ready import settle

#: the systems a customer's history comes from, each with its own position in a cursor
HISTORY_SYSTEMS = ("erp", "pos")


async def order_history(info: Info, identity: Identity) -> list[OrderRecord]:
    """Every order of the person, newest first. Each system is asked as soon as its key
    is known, through the request's loaders, so every field that needs the history
    (orders, payments, recommendations) shares one call per system; a system that
    fails is reported and the other's orders still answer. So is a system that could
    not be asked who the person is there (the POS down: no POS customer id, so no
    receipts): the history is never silently short."""
    loaders = info.context.loaders
    erp_no, pos_customer = await settle(info, identity.key("erp_no"), identity.key("pos_customer"))
    for name in ("erp_no", "pos_customer"):  # a system that could not say whose orders
        for failure in identity.unlearned(name):
            info.context.report(info, failure)
    erp_orders, pos_orders = await settle(
        info,
        loaders.erp_orders_of.load(erp_no) if erp_no else _nothing(),
        loaders.pos_orders_of.load(pos_customer) if pos_customer else _nothing(),
    )
    merged: list[OrderRecord] = [*(erp_orders or ()), *(pos_orders or ())]
    merged.sort(key=newest_first, reverse=True)
    return merged


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


async def _nothing() -> list[OrderRecord]:
    return []
