"""Live stock: ``stockChanged(skus, locationIds)``, fed by the POS's and the WMS's change
feeds, fanned out to every subscriber whose filter matches.

The gateway follows each system's feed (``adapters.feeds``) with one long poll at a
time, only while someone is subscribed: with no subscriber there is nothing to deliver,
and the legacy systems are not asked. A change reaches a subscriber as soon as the
system publishes it (the long poll returns at once), so a store tablet sees a web
sale in milliseconds. Each change also invalidates the cached stock of its SKU, so the
next read of it is fresh.

A follower that loses its system retries with a growing pause and starts again from
where it was: subscribers miss nothing the system still keeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import strawberry

from adapters.errors import BadUserInput, Forbidden, MosaicError
from adapters.feeds import Feed, StockEvent
from resolvers.graphql import ids
from resolvers.graphql.context import Info
from resolvers.graphql.inputs import LOCATION_ID, SKU, argument
from resolvers.graphql.types.location import Location
from resolvers.graphql.types.vocabulary import SourceSystem
from resolvers.privacy.authz import STOCK_DENIED

logger = logging.getLogger("mosaic.live")

MAX_SKUS = 500
QUEUE_SIZE = 1000  # changes a slow subscriber may fall behind before the oldest go
LONG_POLL_S = 25.0
#: how long a new subscription waits for the followers to know where the feeds stand
START_S = 2.0
OnChange = Callable[[Sequence[StockEvent]], Awaitable[None]]


@dataclass(eq=False, slots=True)
class _Subscriber:
    skus: frozenset[str]
    locations: frozenset[str] | None  # global ids; None: everywhere
    queue: asyncio.Queue[StockEvent]

    def wants(self, event: StockEvent) -> bool:
        return event.sku in self.skus and (
            self.locations is None or _location_id(event) in self.locations
        )

    def offer(self, event: StockEvent) -> None:
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(event)


def _location_id(event: StockEvent) -> str:
    return ids.location_id(event.kind, event.location_id)


class StockFeed:
    def __init__(
        self, feeds: Sequence[Feed], on_change: OnChange, long_poll_s: float = LONG_POLL_S
    ) -> None:
        self.feeds = feeds
        self.on_change = on_change
        self.long_poll_s = long_poll_s
        self._subscribers: set[_Subscriber] = set()
        self._followers: list[asyncio.Task[None]] = []
        self._started: list[asyncio.Event] = []

    @contextlib.asynccontextmanager
    async def subscribe(
        self, skus: frozenset[str], locations: frozenset[str] | None
    ) -> AsyncIterator[asyncio.Queue[StockEvent]]:
        subscriber = _Subscriber(skus, locations, asyncio.Queue(QUEUE_SIZE))
        self._subscribers.add(subscriber)
        if not self._followers:
            self._started = [asyncio.Event() for _ in self.feeds]
            self._followers = [
                asyncio.create_task(self._follow(feed, started))
                for feed, started in zip(self.feeds, self._started, strict=True)
            ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in self._started)), START_S)
        try:
            yield subscriber.queue
        finally:
            self._subscribers.discard(subscriber)
            if not self._subscribers:
                await self.stop()

    async def stop(self) -> None:
        followers, self._followers = self._followers, []
        for task in followers:
            task.cancel()
        for task in followers:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _follow(self, feed: Feed, started: asyncio.Event) -> None:
        position: str | None = None
        pause = 0.5
        while True:
            try:
                # the first poll only learns where the feed stands (from now on)
                wait = self.long_poll_s if position is not None else 0.0
                events, position = await feed.poll(position, wait)
            except MosaicError as error:
                logger.warning(
                    "%s change feed: %s; trying again in %.1fs", feed.source, error, pause
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, 10.0)
                continue
            started.set()
            pause = 0.5
            if events:
                await self.on_change(events)
            for event in events:
                for subscriber in list(self._subscribers):
                    if subscriber.wants(event):
                        subscriber.offer(event)


@strawberry.type(description="A stock level after it changed.")
class StockChange:
    sku: strawberry.ID = strawberry.field(description="The product's SKU.")
    location_id: strawberry.ID = strawberry.field(description="Where it changed.")
    on_hand: int = strawberry.field(description="Pieces there now.")
    reserved: int = strawberry.field(description="Of those, held for orders.")
    available: int = strawberry.field(description="Free to sell: on hand less reserved.")
    changed_at: datetime = strawberry.field(description="When the system counted it.")
    source: SourceSystem = strawberry.field(description="The system that reported it: POS or WMS.")

    @strawberry.field(description="The store or warehouse it changed at.")
    async def location(self, info: Info) -> Location | None:
        return await Location.at(info, str(self.location_id))

    @classmethod
    def of(cls, event: StockEvent) -> StockChange:
        return cls(
            sku=strawberry.ID(event.sku),
            location_id=strawberry.ID(_location_id(event)),
            on_hand=event.on_hand,
            reserved=event.reserved,
            available=max(event.on_hand - event.reserved, 0),
            changed_at=event.at,
            source=SourceSystem(event.source),
        )


def _filters(
    skus: list[strawberry.ID], location_ids: list[strawberry.ID] | None
) -> tuple[frozenset[str], frozenset[str] | None]:
    if not skus or len(skus) > MAX_SKUS:
        raise BadUserInput(f"skus takes 1 to {MAX_SKUS} values")
    if location_ids is None:
        return frozenset(map(str, skus)), None
    for location in location_ids:
        ids.split(str(location), tuple(ids.LOCATION_PREFIXES.values()), "location")
    return frozenset(map(str, skus)), frozenset(map(str, location_ids))


@strawberry.type
class LiveSubscription:
    @strawberry.subscription(
        description="Stock levels of these SKUs as they change (at these locations, or "
        "anywhere): store sales, click & collect holds, warehouse reservations."
    )
    async def stock_changed(
        self,
        info: Info,
        skus: Annotated[list[strawberry.ID], argument(SKU)],
        location_ids: Annotated[list[strawberry.ID] | None, argument(LOCATION_ID)] = None,
    ) -> AsyncGenerator[StockChange, None]:
        # The same roles as Product.stock: a subscription must not show what the field
        # refuses (anonymous callers, customers and marketing see no stock levels).
        if info.context.principal.role in STOCK_DENIED:
            raise Forbidden("stock levels are not for this role")
        wanted, where = _filters(skus, location_ids)
        commerce = info.context.commerce
        if commerce is None:
            raise BadUserInput("live stock is not available here")
        async with commerce.feed.subscribe(wanted, where) as queue:
            while True:
                yield StockChange.of(await queue.get())
