"""Schema extensions the gateway adds: what the response should say about how it was
answered, beside the data, and answering from the response cache."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, cast

import orjson
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from adapters.cache import ReadLog
from gateway.caching import front_door
from gateway.observability.requests import ANONYMOUS, current_request
from resolvers.graphql.context import MosaicContext

if TYPE_CHECKING:
    from gateway.process.runtime import Runtime


class StaleNotes(SchemaExtension):
    """Lists, under ``extensions.stale``, every cached value that stood in for a failing
    source in this response, with the source, the failure and the value's age, so a
    client can tell a fresh answer from a fallback. The reads note them in the account
    the operation's loaders keep (``adapters.cache.Served``), new for each operation."""

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context.context
        if not isinstance(context, MosaicContext) or not context.loaders.served.stale:
            return {}
        return {"stale": [asdict(n) for n in context.loaders.served.stale]}


class ResponseCaching(SchemaExtension):
    """Answers a query from the response cache when it can, and keeps its answer when
    it was built from cache entries alone. Last among the extensions: the limits and
    the operation's checks run before it, every time."""

    def __init__(self, runtime: Callable[[], Runtime | None]) -> None:
        self._runtime = runtime

    async def on_execute(self) -> AsyncIterator[None]:
        runtime = self._runtime()
        cache = runtime.responses if runtime is not None else None
        context = self.execution_context.context
        key = (
            _key(self.execution_context, context)
            if cache is not None and isinstance(context, MosaicContext)
            else None
        )
        if cache is None or key is None:
            yield
            return
        operation = self.execution_context.operation_name or ANONYMOUS
        answer = await cache.get(key, cache.clock())
        if answer is not None:
            data = cast(dict[str, Any], answer.data)  # orjson writes the Fragment as is
            self.execution_context.result = GraphQLExecutionResult(data=data)
            record = current_request.get()
            if record is not None:
                record.answered_from_cache = True
            front_door.note(key, answer, operation)
            yield
            return
        served = context.loaders.served  # noted there by every read this operation makes
        log = served.log = ReadLog()
        keepable = False
        try:
            yield
            result = self.execution_context.result
            keepable = (
                isinstance(result, GraphQLExecutionResult)
                and result.data is not None
                and not result.errors
                and _built_from_cache_alone(log, context)
            )
        finally:
            served.log = None
            result = self.execution_context.result
            done = result.data if keepable and isinstance(result, GraphQLExecutionResult) else None
            kept = cache.ran(key, done, log)
            if kept is not None:
                front_door.note(key, kept, operation)


def _key(execution: Any, context: MosaicContext) -> Hashable | None:
    """Who asks what: the document, operation and variables, the caller and the channel.
    None for anything but a query, or variables that will not encode."""
    if execution.operation_type is not OperationType.QUERY:
        return None
    try:
        variables = orjson.dumps(execution.variables or {}, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None
    return (
        execution.query,
        execution.operation_name,
        variables,
        context.principal,
        context.channel,
    )


def _built_from_cache_alone(log: ReadLog, context: MosaicContext) -> bool:
    """Every value came through the cross-request cache (every read of the schema goes
    through a named fetcher, ``resolvers/loading/fetchers.py``, and so through it) and
    was fresh when read; nothing personal was read, no source failed under a field that
    still answered."""
    return (
        log.complete
        and bool(log.stored)
        and not context.partial_errors
        and not context.personal_reads.reads
    )
