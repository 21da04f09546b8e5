"""Saga steps that hold or move stock, in the POS (stores) and the WMS (warehouses).

Each is idempotent at its source: a POS adjustment carries an idempotency key (and the
saga's start as its ``occurred_at``, so a repeat is the same request), a WMS
reservation a reference, both derived from the saga. Undoing one first does it again
with the same key or reference, which either answers what the first attempt did or
does it now (when the first never reached the source), and then moves it back; so an
undo is right whether the step happened, happened without our hearing of it (a
timeout, a crash), or never happened.

Square applies every inventory adjustment, even one that takes a count below zero, so
a store hold that may fail is Mosaic's own (:class:`StoreHolds`): under a lease per item
and store in the saga log (SQLite, or Redis shared by replicas), it reads the counts,
refuses when too few are free, and only then adjusts. Holds by Mosaic can no longer
oversell each other. What remains is a sale at the till between the read and the
adjustment (a few milliseconds): the till does not ask for the lease, so the store may
then hold one piece more than it has, its ``IN_STOCK`` below zero, and the stock
change shows it to the store at once (``stockChanged``). Square offers nothing that
would close it (no conditional adjustment, no count version to compare).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from adapters.errors import PayloadCode, Refused, UpstreamError
from adapters.pos import IN_STOCK, RESERVED, StockMove
from resolvers.commerce.sagas import Json
from resolvers.loading.sources import Sources

Invalidate = Callable[[str, Sequence[str]], Awaitable[None]]
#: how long a hold's lease lasts: a count read and an adjustment, each within the POS's
#: timeout, with room to spare; a holder that dies frees it by then. Also how long a
#: hold waits for a lease another holds before it gives up.
HOLD_LEASE_S = 15.0
LEASE_STEP_S = 0.02  # how often a waiting hold looks at the lease again


class Leases(Protocol):
    """The saga log's leases (``resolvers.commerce.sagas.SagaLog``)."""

    async def lease(self, name: str, owner: str, until: float) -> bool: ...

    async def unlease(self, name: str, owner: str) -> None: ...


def refused_for_stock(error: UpstreamError) -> bool:
    """The source said no because there is too little stock (409), not that it failed."""
    return error.extensions.get("status") == 409


def occurred_at(plan: Json) -> datetime:
    """When the saga's stock moves happened, the same for every repeat of them."""
    return datetime.fromisoformat(plan["started_at"])


@contextlib.asynccontextmanager
async def leased(leases: Leases, names: Iterable[str]) -> AsyncIterator[None]:
    """Hold every lease in ``names`` (taken in one order, so two holders never wait
    for each other), or refuse the saga when one stays taken for a whole lease term."""
    owner = uuid.uuid4().hex
    taken: list[str] = []
    try:
        for name in sorted(set(names)):
            give_up = time.monotonic() + HOLD_LEASE_S
            while not await leases.lease(name, owner, time.time() + HOLD_LEASE_S):
                if time.monotonic() >= give_up:
                    raise Refused(PayloadCode.IN_PROGRESS, "another write is holding this stock")
                await asyncio.sleep(LEASE_STEP_S)
            taken.append(name)
        yield
    finally:
        for name in taken:
            await leases.unlease(name, owner)


def _lease_names(moves: Sequence[StockMove]) -> list[str]:
    return [f"pos:{m.location_id}:{m.sku}" for m in moves]


class StoreHolds:
    """Holds at stores that may fail, though Square's adjustments never do."""

    def __init__(self, sources: Sources, invalidate: Invalidate, leases: Leases) -> None:
        self.sources = sources
        self.invalidate = invalidate
        self.leases = leases

    async def hold(self, key: str, moves: Sequence[StockMove], at: datetime) -> None:
        """Move goods out of a tracked state (IN_STOCK to RESERVED_FOR_SALE) only where
        that many are there: under the items' leases, read, check, adjust. Too few
        refuses the saga (``INSUFFICIENT_STOCK``) before anything is written."""
        async with leased(self.leases, _lease_names(moves)):
            records = await self.sources.pos.stock(
                list(dict.fromkeys(m.sku for m in moves)),
                list(dict.fromkeys(m.location_id for m in moves)),
            )
            have: dict[tuple[str, str, str], int] = {}
            for r in records:
                have[(r.sku, r.location_id, IN_STOCK)] = r.on_hand - r.reserved
                have[(r.sku, r.location_id, RESERVED)] = r.reserved
            wanted: dict[tuple[str, str, str], int] = {}
            for m in moves:
                pair = (m.sku, m.location_id, m.from_state)
                wanted[pair] = wanted.get(pair, 0) + m.quantity
            short = sorted({pair[0] for pair, n in wanted.items() if have.get(pair, 0) < n})
            if short:
                raise Refused(
                    PayloadCode.INSUFFICIENT_STOCK, f"too little stock of {', '.join(short)}"
                )
            await pos_move(self.sources, self.invalidate, key, moves, at)

    async def release(self, key: str, moves: Sequence[StockMove], at: datetime) -> None:
        """Undo :meth:`hold` under the same leases, so no other hold reads the counts
        while the undo repeats the hold and moves it back."""
        async with leased(self.leases, _lease_names(moves)):
            await pos_unmove(self.sources, self.invalidate, key, moves, at)


async def pos_move(
    sources: Sources, invalidate: Invalidate, key: str, moves: Sequence[StockMove], at: datetime
) -> None:
    """Apply the moves (all of them: Square refuses none for a lack of stock)."""
    try:
        await sources.pos.adjust(key, moves, at)
    finally:
        await invalidate("store_stock", [m.sku for m in moves])


async def pos_unmove(
    sources: Sources, invalidate: Invalidate, key: str, moves: Sequence[StockMove], at: datetime
) -> None:
    """Undo :func:`pos_move` with the same key and moves: repeat them (answered from
    the first attempt, or done now if it never arrived), then move them back."""
    back = [StockMove(m.sku, m.location_id, m.quantity, m.to_state, m.from_state) for m in moves]
    try:
        await sources.pos.adjust(key, moves, at)
        await sources.pos.adjust(f"{key}:undo", back, at)
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
            raise Refused(PayloadCode.INSUFFICIENT_STOCK, f"too little stock of {sku}") from error
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
