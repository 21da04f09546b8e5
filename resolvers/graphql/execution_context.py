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
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from graphql import ExecutionResult
from graphql.pyutils import AwaitableOrValue
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


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
