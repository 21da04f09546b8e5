"""What every resolver of one request can reach: its loaders (with the request's account
of what its reads were served from), the asking channel, and the errors of sources that
failed while the field itself could still answer; who is asking and what personal data
they read; the Customer type, for an order's way back to who placed it; the adapters and
logs writes need."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from graphql import GraphQLError
from strawberry.types import Info as StrawberryInfo

from adapters.errors import MosaicError
from resolvers.golden.identity import PersonalRecord
from resolvers.graphql.traces import forget_traces
from resolvers.loading.loaders import Loaders
from resolvers.privacy.principal import OPEN, PersonalReads, Principal

if TYPE_CHECKING:
    from adapters.erp.writes import ErpWrites
    from adapters.feeds import StockEvent
    from resolvers.commerce.sagas import SagaEngine
    from resolvers.loading.sources import Sources


class StockChanges(Protocol):
    """Live stock changes to subscribe to (resolvers/catalogue/live.py: StockFeed)."""

    def subscribe(
        self, skus: frozenset[str], locations: frozenset[str] | None
    ) -> AbstractAsyncContextManager[asyncio.Queue[StockEvent]]: ...


class Customers(Protocol):
    """Finds a person from keys a record of theirs names (an order's customer number),
    reached ``via`` that record: the Customer type
    (resolvers/graphql/types/customer.py), which the gateway passes in. Carried by the
    context because a customer lists their orders, so the customer's type imports the
    order's, which cannot import it back to say who placed an order."""

    async def find(
        self, loaders: Loaders, known: dict[str, str], via: str
    ) -> PersonalRecord | None: ...


class Services(Protocol):
    """What the omnichannel writes and live stock need, as the context carries them
    (resolvers/commerce/service.py: Commerce, made at start-up). A protocol, so this
    module, which every resolver imports, imports none of the writes' modules."""

    @property
    def sources(self) -> Sources: ...
    @property
    def erp(self) -> ErpWrites: ...
    @property
    def sagas(self) -> SagaEngine: ...
    @property
    def feed(self) -> StockChanges: ...


@dataclass(slots=True)
class MosaicContext:
    loaders: Loaders
    customers: Customers  # who placed an order (resolvers/graphql/types/order.py)
    channel: str = "WEB"  # from the token's channel claim or X-Channel; default WEB
    partial_errors: list[GraphQLError] = field(default_factory=list)
    # The default is open mode (everything allowed); the gateway always sets the caller.
    principal: Principal = OPEN
    personal_reads: PersonalReads = field(default_factory=PersonalReads)
    # The adapters themselves, for writes (reads go through the loaders); None where a
    # context only reads.
    sources: Sources | None = None
    # What the omnichannel writes and live stock need (resolvers/commerce/service.py).
    commerce: Services | None = None
    # categories that never drive nor appear in recommendations (Settings)
    sensitive_categories: frozenset[str] = frozenset({"HEALTH"})
    # a WebSocket client's connection_init payload (strawberry sets it), where browsers,
    # which cannot set a WebSocket's headers, send their credentials
    connection_params: dict[str, object] | None = None
    # a WebSocket connection's context, which strawberry hands to each of its operations:
    # each gets its own copy (resolvers/graphql/operation_state.py)
    shared: bool = False

    def for_operation(self) -> MosaicContext:
        """This caller's context with the per-request state new: loaders (whose caches
        must not outlive an operation), partial errors, personal reads."""
        return replace(
            self,
            loaders=self.loaders.fresh(),
            partial_errors=[],
            personal_reads=PersonalReads(),
            shared=False,
        )

    def report(self, info: Info, error: MosaicError) -> None:
        """Record a source's failure against this field while the field still answers
        with what the other sources gave (a merged order history without the ERP's
        part, say), so the client learns the answer is partial and why. An expected
        failure: the request's access line names its source (``failing_sources``), and
        its trace is dropped (resolvers/graphql/traces.py)."""
        forget_traces(error)
        self.partial_errors.append(
            GraphQLError(
                error.message,
                path=info.path.as_list(),
                original_error=error,
                extensions=error.extensions,
            )
        )


Info = StrawberryInfo[MosaicContext, None]
