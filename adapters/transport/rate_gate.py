"""A source's rate limit, as its 429s tell it, held for every call of the operation.

A 429 says the source refuses calls for a while. HubSpot counts requests in a rolling
ten seconds and Square per second, and neither usually says for how long. A call that
backs off on its own still lets every other call through meanwhile, each of them
refused and counted against the quota: 64 clients in front of a POS that kept
refusing sent it 65 calls a second, all refused. The gate holds them instead:

- after a 429, no call goes to that source before the wait the 429 led to is over;
- then one call goes first, and the others follow once it was not refused;
- a call whose deadline would pass before its turn ends at once, reported rate limited,
  without being sent.

Any answer other than a 429 opens the gate again. The guard
(``adapters/transport/resilience.py``) keeps a gate per operation of a source, since
products limit their operations apart: HubSpot counts searches per second and the
rest per ten seconds, so a refused search must not hold the batch reads. Operations
that share a limit each meet it with a 429 of their own, one call each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from adapters.errors import UpstreamRateLimited


@dataclass(slots=True)
class RateGate:
    """Whether a source is refusing calls for their rate, and until when."""

    clock: Callable[[], float]  # the guard's: tests pass their own, and its sleep
    sleep: Callable[[float], Awaitable[None]]
    limited: bool = False  # the source's last word on a call was a 429
    until: float = 0.0  # no call is sent before this, by the clock
    first: asyncio.Future[None] | None = None  # the call gone first, while it is out

    async def enter(self, source: str, patience: Callable[[], float]) -> bool:
        """Wait for this call's turn; ``patience()`` is how much longer it may wait, in
        seconds. True when the call goes first after a 429: it must call :meth:`back`
        when its answer is known, whatever the answer."""
        while self.limited:
            wait = self.until - self.clock()
            if wait > 0:
                if wait >= patience():
                    raise UpstreamRateLimited(source, f"rate limited for another {wait:.2f}s")
                await self.sleep(wait)
            elif self.first is None:
                self.first = asyncio.get_running_loop().create_future()
                return True
            else:
                try:
                    async with asyncio.timeout(patience()):
                        await asyncio.shield(self.first)
                except TimeoutError:
                    message = "rate limited: still waiting for the source to take calls"
                    raise UpstreamRateLimited(source, message) from None
        return False

    def refused(self, wait: float) -> None:
        """A 429, whose wait (the source's ``Retry-After``, or a backoff step) is
        ``wait`` seconds: no call goes before it is over."""
        self.limited = True
        self.until = max(self.until, self.clock() + wait)

    def answered(self) -> None:
        """An answer other than a 429: the source takes calls again."""
        self.limited = False

    def back(self) -> None:
        """The call gone first has its answer: the calls waiting for it look again."""
        first, self.first = self.first, None
        if first is not None:
            first.set_result(None)
