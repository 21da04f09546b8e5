"""Dropping an error's trace once nothing will read it.

A trace holds every frame the exception passed through, and those frames hold the
request: its execution context, its loaders, its records, which hold the error again.
That is a reference cycle, so such a request was freed only by the collector, after
its objects had been promoted to the oldest generation (as the executor's own cycle
did: resolvers/graphql/execution_context.py). A source's failure is worst: one
exception, raised again by every field that reads it, its trace growing with each
raise; a ProductListing with the ERP down left 10,000 objects in cycles.

A source's failure is expected: its trace is never read (``Schema.process_errors``
logs only a bug's, resolvers/graphql/schema.py). So it is dropped when a field's error
is made of it (resolvers/graphql/execution_context.py) and when it is reported on a
field that still answers (``MosaicContext.report``). Where a failure is kept without
becoming a field's error (a retried attempt's, a batch's gathered outcomes), the frame
that holds it lets go of it before raising (adapters/transport/resilience.py,
adapters/cache.py).
"""

from __future__ import annotations

from graphql import GraphQLError


def forget_traces(error: BaseException) -> None:
    """Drop the traces of ``error``, of the exception it wraps (a GraphQL error's
    original error) and of their causes and contexts."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = None
        pending += [current.__cause__, current.__context__]
        if isinstance(current, GraphQLError):
            pending.append(current.original_error)
