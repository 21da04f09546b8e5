"""A query whose client has gone is stopped where it stands.

A client that gives up (a shopper who navigates away, an app's or a load balancer's
timeout) closes its connection, and nobody will read the answer. Finishing it anyway
costs the gateway its CPU and the systems their calls: a Customer360 left during its
ERP round would still ask the ERP for every product and price on its orders. So while
GraphQL runs, the gateway listens for the client going (ASGI's ``http.disconnect``) and
then cancels the run:

- calls already sent finish in the background and keep their slot (the guard's rule:
  a legacy system works on a call whether anyone listens or not), so no call is cut
  short and none counts against its source's health;
- no later call is made, nor one still waiting for a slot (the request's reads run in
  tasks of its own, stopped with it: ``resolvers/loading/request_tasks.py``), and
  nothing is completed or serialised;
- an operation that writes (a mutation) is never stopped: what the client asked to be
  done is carried through whether it stays for the answer or not (asked again with
  the same idempotency key, it finds what was done);
- a streamed answer (``@defer``) is stopped by its own response, which listens for the
  client as it sends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from starlette.types import Receive

from resolvers.loading import request_tasks

T = TypeVar("T")


async def unless_gone(
    run: Coroutine[Any, Any, T], receive: Receive, writes: Callable[[], bool]
) -> T | None:
    """``run``'s result; None when the client went away first and ``writes()`` was
    still False, having cancelled ``run``. The request's body must have been read:
    what ``receive`` gives from here on is only the client going."""
    with request_tasks.scope() as reads:
        work = asyncio.ensure_future(run)
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait((work, gone), return_when=asyncio.FIRST_COMPLETED)
        if work.done() or writes():
            return await work
        work.cancel()
        reads.stop()  # its reads under way, a batch waiting for a slot above all
        try:
            await work
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # this request is being cancelled itself (the server stops)
        return None
    finally:
        gone.cancel()
        work.cancel()  # a no-op once it is done; else this request was cancelled
        del work  # it holds its failure, whose trace holds this frame: no cycle


async def _disconnected(receive: Receive) -> None:
    """Returns when the client has gone."""
    while (await receive())["type"] != "http.disconnect":
        pass
