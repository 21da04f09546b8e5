"""Adds the errors recorded with ``MosaicContext.report`` to the response.

Over HTTP the response is complete when the operation ends. Over a streaming transport
(a query sent on a WebSocket, each event of a subscription) a result leaves while the
operation is still running, so the errors recorded so far join it then, and are not
repeated on the next."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import ExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult as StrawberryResult

from resolvers.graphql.context import MosaicContext


class PartialErrors(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        self._attach(self.execution_context.result)

    def on_stream_result(self, result: object) -> Iterator[None]:
        self._attach(result)
        yield

    def _attach(self, result: object) -> None:
        context = self.execution_context.context
        if (
            isinstance(context, MosaicContext)
            and context.partial_errors
            and isinstance(result, (ExecutionResult, StrawberryResult))
        ):
            result.errors = [*(result.errors or []), *context.partial_errors]
            context.partial_errors = []
