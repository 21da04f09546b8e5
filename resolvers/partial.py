"""Adds the errors recorded with ``MosaicContext.report`` to the response."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import ExecutionResult
from strawberry.extensions import SchemaExtension

from resolvers.context import MosaicContext


class PartialErrors(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        result = self.execution_context.result
        if (
            isinstance(context, MosaicContext)
            and context.partial_errors
            and isinstance(result, ExecutionResult)
        ):
            result.errors = [*(result.errors or []), *context.partial_errors]
