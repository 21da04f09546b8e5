"""Answering a field now when what it reads is already loaded, and later only when not.

graphql-core completes a plain value in place, but an awaitable costs a coroutine, a
task and a gather at every level above it: an async resolver costs about ten times a
plain one, and Customer360 has sixty prices below its orders. The parents start (and
await, in the same round) the loads their children will read, so by the time a
child's resolver runs its loader futures are usually done. Such a resolver is a plain
function that returns its value at once when they are, and an awaitable only when a
path without that prefetch reached it: the same answer, sync when it can be.

A resolver written this way declares its GraphQL type with ``graphql_type`` (its
Python return type, ``T | Awaitable[T]``, is not one strawberry reads).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias, TypeVar

from adapters.errors import MosaicError
from resolvers.graphql.context import Info

T = TypeVar("T")
#: a value now, or an awaitable of it when its loads are still on their way
Ready: TypeAlias = T | Awaitable[T]


def _judged(info: Info | None, outcomes: Sequence[Any]) -> list[Any]:
    """Values from outcomes (a value, or the exception that came instead). With
    ``info``, a source's failure is reported on the field and gives None; without, or
    for any other exception, it raises."""
    values: list[Any] = []
    for outcome in outcomes:
        if info is not None and isinstance(outcome, MosaicError):
            info.context.report(info, outcome)
            values.append(None)
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            values.append(outcome)
    return values


def _outcomes(futures: Sequence[asyncio.Future[Any]]) -> list[Any]:
    return [future.exception() or future.result() for future in futures]


async def settle(info: Info, *awaitables: Awaitable[Any]) -> list[Any]:
    """Await sources in parallel; a source that fails gives None and is reported on
    this field, so one system down never takes the others' answers with it."""
    return _judged(info, await asyncio.gather(*awaitables, return_exceptions=True))


def when_loaded(
    futures: Sequence[asyncio.Future[Any]],
    then: Callable[..., T],
    *,
    partial: Info | None = None,
) -> Ready[T]:
    """``then(*values)`` of the futures: now if all are done, else once they are.

    ``partial``: the field's info, to answer with what the other sources gave when one
    fails (its failure reported, its value None); without it a failure is the field's.
    """
    if all(future.done() for future in futures):
        return then(*_judged(partial, _outcomes(futures)))

    async def later() -> T:
        await asyncio.wait(futures)
        return then(*_judged(partial, _outcomes(futures)))

    return later()
