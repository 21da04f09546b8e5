"""A customer's purchases in every channel: the ERP's online orders and the POS's receipts."""

from __future__ import annotations

from adapters.records import UNKNOWN_TIME, OrderRecord
from resolvers.context import Info
from resolvers.identity import Identity
from resolvers.ready import settle


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
    merged.sort(key=lambda o: o.placed_at or UNKNOWN_TIME, reverse=True)
    return merged


async def _nothing() -> list[OrderRecord]:
    return []
