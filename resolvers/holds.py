"""Saga steps that hold or move stock, in the POS (stores) and the WMS (warehouses).

Each is idempotent at its source: a POS adjustment carries an idempotency key, a WMS
reservation a reference, both derived from the saga. Undoing one first does it again
with the same key or reference, which either answers what the first attempt did or
does it now (when the first never reached the source), and then moves it back; so an
undo is right whether the step happened, happened without our hearing of it (a
timeout, a crash), or never happened (then the repeat is refused and there is nothing
to undo).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from adapters.errors import UpstreamError
from adapters.pos import StockMove
from resolvers.sagas import Refused
from resolvers.sources import Sources

Invalidate = Callable[[str, Sequence[str]], Awaitable[None]]


def refused_for_stock(error: UpstreamError) -> bool:
    """The source said no because there is too little stock (409), not that it failed."""
    return error.extensions.get("status") == 409


async def pos_move(
    sources: Sources, invalidate: Invalidate, key: str, moves: Sequence[StockMove]
) -> None:
    """Apply the moves (all or none); too little stock refuses the saga."""
    try:
        await sources.pos.adjust(key, moves)
    except UpstreamError as error:
        if refused_for_stock(error):
            skus = ", ".join(sorted({m.sku for m in moves}))
            raise Refused("INSUFFICIENT_STOCK", f"too little stock of {skus}") from error
        raise
    finally:
        await invalidate("store_stock", [m.sku for m in moves])


async def pos_unmove(
    sources: Sources, invalidate: Invalidate, key: str, moves: Sequence[StockMove]
) -> None:
    """Undo :func:`pos_move` with the same key and moves."""
    try:
        await sources.pos.adjust(key, moves)
    except UpstreamError as error:
        if refused_for_stock(error):
            return  # it never happened: nothing to move back
        raise
    back = [StockMove(m.sku, m.location_id, m.quantity, m.to_state, m.from_state) for m in moves]
    try:
        await sources.pos.adjust(f"{key}:undo", back)
    finally:
        await invalidate("store_stock", [m.sku for m in moves])


async def wms_hold(
    sources: Sources, invalidate: Invalidate, reference: str, sku: str, site: str, quantity: int
) -> str:
    """Reserve stock at a warehouse; its reservation id. Too little refuses the saga."""
    try:
        return await sources.wms.reserve(sku, site, quantity, reference)
    except UpstreamError as error:
        if refused_for_stock(error):
            raise Refused("INSUFFICIENT_STOCK", f"too little stock of {sku}") from error
        raise
    finally:
        await invalidate("warehouse_stock", [sku])


async def wms_unhold(
    sources: Sources, invalidate: Invalidate, reference: str, sku: str, site: str, quantity: int
) -> None:
    """Undo :func:`wms_hold` with the same reference."""
    try:
        reservation = await sources.wms.reserve(sku, site, quantity, reference)
    except UpstreamError as error:
        if refused_for_stock(error):
            return
        raise
    try:
        await sources.wms.release(reservation)
    finally:
        await invalidate("warehouse_stock", [sku])
