"""The execution context both executors build on: strawberry's, leaving no reference
cycle once an operation has its answer.

graphql-core (3.3) keeps the executor's own bound methods in ``async_helpers``, so each
executor is in a cycle, and with it everything it reaches: the request's context, its
loaders, every record and future the request made (some 900 objects a Customer360).
Reference counting cannot free a cycle; the collector does, but under load a request
outlives many collections of the youngest generation, its objects are promoted, and
they wait for a collection of the oldest, which walks the whole heap. At 64 concurrent
Customer360s a worker held 360,000 such objects and spent a fifth of its CPU in the
collector, half a second at a time. Dropped once the answer is complete, the helpers
leave nothing cyclic, and a request's objects are freed as soon as its answer is sent.

A source's failure is the other such cycle (resolvers/graphql/traces.py): its trace is
dropped as soon as a field's error is made of it, including the errors of fields still
settling after the answer has gone (siblings of a field whose error nulled their
parent), which no one else would see.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from graphql import ExecutionResult, GraphQLError, GraphQLOutputType
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from adapters.errors import MosaicError
from resolvers.graphql.traces import forget_traces


class AcyclicExecution(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, whose helpers go once the answer is complete."""

    def execute_operation(self, serially: bool | None = None) -> AwaitableOrValue[Any]:
        result = super().execute_operation(serially)
        if self.is_awaitable(result):
            return self._answer_then_acyclic(result)
        return self._acyclic(result)

    async def _answer_then_acyclic(self, result: Awaitable[Any]) -> Any:
        return self._acyclic(await result)

    def _acyclic(self, result: Any) -> Any:
        """``result``, the helpers dropped when it is the whole answer. An incremental
        result's later parts run on copies of this executor, which share its helpers:
        those are kept (only ``@defer`` and ``@stream`` make one)."""
        if isinstance(result, ExecutionResult):
            del self.async_helpers
        return result

    def handle_field_error(
        self,
        raw_error: Exception,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> None:
        """graphql-core's, with an expected failure's trace dropped first: no one reads
        it (``Schema.process_errors`` logs only a bug's trace)."""
        cause = raw_error.original_error if isinstance(raw_error, GraphQLError) else raw_error
        if isinstance(cause, MosaicError):
            forget_traces(raw_error)
        super().handle_field_error(raw_error, return_type, field_details_list, path)
