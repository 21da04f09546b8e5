"""Per-request state for every operation, WebSocket connections included.

strawberry builds one context per WebSocket connection and hands it to every operation
sent on it, so the loaders' caches would serve a query the answers of an earlier one
(and two operations at once would share them). Each operation on a shared context runs
with its own copy instead: the same caller and channel, new loaders, new error and
audit lists.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from resolvers.graphql.context import MosaicContext


class OperationState(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, MosaicContext) and context.shared:
            self.execution_context.context = context.for_operation()
        yield
