"""``@defer`` over HTTP: the fast parts of an answer first, the slow parts (ERP prices,
order history) as they come.

graphql-core runs a deferred fragment after the initial payload is out (no early
execution), so it is a round of its own: its keys are batched together, after the
initial round's. Strawberry streams the payloads as ``multipart/mixed``; this module
adds what the schema's own hooks cannot see once the operation has returned:

- errors inside deferred payloads get their ``extensions.code`` like any other
  (``MosaicSchema.process_errors``), and the errors a field reported while still
  answering (a source down under a merged list) travel with the payload they belong to;
- the deferred work keeps the request's deadline;
- a client that does not accept ``multipart/mixed`` gets the whole answer as one
  ordinary response (the deferred parts merged into place), as if it had not asked
  for ``@defer``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import strawberry
from graphql import (
    ExperimentalIncrementalExecutionResults,
    GraphQLError,
    IncrementalDeferResult,
    IncrementalStreamResult,
    SubsequentIncrementalExecutionResult,
)
from strawberry.types import ExecutionResult

from adapters.transport.resilience import deadline, remaining
from resolvers.graphql.context import MosaicContext

Incremental = ExperimentalIncrementalExecutionResults


def accepts_incremental(accept: str) -> bool:
    """Whether the client can read incremental delivery (``multipart/mixed``)."""
    return any(
        part.split(";", 1)[0].strip().lower() == "multipart/mixed" for part in accept.split(",")
    )


def completed_deferred(
    results: Incremental, schema: strawberry.Schema, context: MosaicContext
) -> Incremental:
    """The same stream, with coded errors, the reported partial errors, and the
    request's deadline around the deferred work."""
    reported = _Reported(context)
    initial = results.initial_result
    initial.errors = _coded(schema, [*(initial.errors or []), *reported.new()]) or None
    left = remaining()
    ends_at = None if left is None else time.monotonic() + left

    async def subsequent() -> AsyncGenerator[SubsequentIncrementalExecutionResult, None]:
        source = results.subsequent_results
        try:
            while True:
                with _until(ends_at):
                    try:
                        payload = await anext(source)
                    except StopAsyncIteration:
                        return
                _code_payload(schema, payload, reported)
                yield payload
        finally:
            await source.aclose()

    return results._replace(subsequent_results=subsequent())


async def collapsed(results: Incremental) -> ExecutionResult:
    """One ordinary result: every deferred payload merged in at its path."""
    initial = results.initial_result
    data = initial.data
    errors = list(initial.errors or [])
    paths = {p.id: list(p.path) for p in initial.pending}
    async for payload in results.subsequent_results:
        paths.update({p.id: list(p.path) for p in payload.pending or ()})
        for entry in payload.incremental or ():
            errors.extend(entry.errors or ())
            if data is None:
                continue
            at = [*paths[entry.id], *(getattr(entry, "sub_path", None) or [])]
            if isinstance(entry, IncrementalDeferResult):
                _merge(_at(data, at), entry.data)
            elif isinstance(entry, IncrementalStreamResult):
                _at(data, at).extend(entry.items)
        for done in payload.completed or ():
            errors.extend(done.errors or ())
    return ExecutionResult(data=data, errors=errors or None, extensions=initial.extensions)


class _Reported:
    """The errors fields reported while answering, handed out once each."""

    def __init__(self, context: MosaicContext) -> None:
        self._context = context
        self._seen = 0

    def new(self) -> list[GraphQLError]:
        errors = self._context.partial_errors[self._seen :]
        self._seen += len(errors)
        return errors


def _code_payload(
    schema: strawberry.Schema,
    payload: SubsequentIncrementalExecutionResult,
    reported: _Reported,
) -> None:
    entries = payload.incremental or []
    for entry in entries:
        entry.errors = _coded(schema, entry.errors or []) or None
    for done in payload.completed or ():
        done.errors = _coded(schema, done.errors or []) or None
    if entries:  # else they wait for the next payload that carries data
        first = entries[0]
        first.errors = [*(first.errors or []), *_coded(schema, reported.new())] or None


def _coded(schema: strawberry.Schema, errors: list[GraphQLError]) -> list[GraphQLError]:
    uncoded = [e for e in errors if not (e.extensions and "code" in e.extensions)]
    if uncoded:
        schema.process_errors(uncoded)
    return errors


def _until(ends_at: float | None) -> AbstractContextManager[None]:
    """The request's deadline again, for work done after the view has returned."""
    return nullcontext() if ends_at is None else deadline(max(ends_at - time.monotonic(), 0))


def _at(data: Any, path: Sequence[str | int]) -> Any:
    for key in path:
        data = data[key]
    return data


def _merge(into: dict[str, Any], data: dict[str, Any]) -> None:
    """Deep merge: a deferred fragment may select more of an object the initial payload
    already holds part of."""
    for key, value in data.items():
        old = into.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            _merge(old, value)
        elif isinstance(old, list) and isinstance(value, list) and len(old) == len(value):
            for i, (o, v) in enumerate(zip(old, value, strict=True)):
                if isinstance(o, dict) and isinstance(v, dict):
                    _merge(o, v)
                else:
                    old[i] = v
        else:
            into[key] = value
