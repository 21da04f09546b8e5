"""How every upstream call is guarded: a request deadline, per-source timeouts, bounded
concurrency with a bounded queue, retries for idempotent reads, and a circuit breaker.

Legacy systems are slow, flaky and easily overloaded. A guard per source keeps a slow
source from tying up the gateway (callers past its queue are refused at once), keeps a
failing source from being hammered (the breaker opens and lets one probe through after
a pause), and keeps every call inside the client request's deadline, so no answer waits
longer than the client was promised.
"""

from __future__ import annotations

import asyncio
import contextvars
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, Field

from adapters.errors import (
    BadUpstreamResponse,
    CircuitOpen,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamFault,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.transport.batching import chunk_keys
from adapters.transport.rate_gate import RateGate

T = TypeVar("T")

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "mosaic_deadline", default=None
)


Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@contextmanager
def deadline(seconds: float, clock: Clock = time.monotonic) -> Iterator[None]:
    """Every upstream call made inside this block (and in tasks it starts) must finish
    within ``seconds`` from now; the gateway opens one per client request. (``clock``
    is for tests, and must be the guards' clock.)"""
    token = _deadline.set(clock() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining(clock: Clock = time.monotonic) -> float | None:
    """Seconds left before the current request's deadline, or None outside a request."""
    at = _deadline.get()
    return None if at is None else at - clock()


class GuardConfig(BaseModel):
    """Per-source protection. Defaults suit a legacy system that serves a few dozen
    concurrent calls; lower them for a fragile one."""

    max_concurrency: int = Field(default=32, ge=1)  # calls in flight to the source at once
    max_queue: int = Field(default=256, ge=0)  # calls waiting for a slot; more are refused
    retries: int = Field(default=2, ge=0)  # extra attempts for idempotent reads
    backoff_s: float = Field(default=0.05, gt=0)  # first retry waits 1/2..1 of this, then x2
    # A 429 without Retry-After (HubSpot's and Square's usual answer) is asked again
    # after 1/2..1 of this, then twice that, ... up to the longest window the products
    # count requests in (HubSpot's rolling ten seconds): waiting longer never helps.
    rate_limit_backoff_s: float = Field(default=0.5, gt=0)
    rate_limit_backoff_max_s: float = Field(default=10.0, gt=0)
    # Retries beyond `retries` are allowed only up to this share of all calls, so a
    # failing source under load sees at most 20 % more calls, not `retries` times more.
    retry_budget: float = Field(default=0.2, ge=0)
    failure_threshold: int = Field(default=5, ge=1)  # consecutive failures that open it
    open_s: float = Field(default=5.0, gt=0)  # how long it stays open before a probe
    window: int = Field(default=50, ge=1)  # calls the recent error rate is taken over


BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """One attempt sent to a source, as the guard saw it (a retry is a second call)."""

    source: str
    operation: str  # "POST /v2/orders/search", "items.ReadMultiple": a bounded set
    keys: int  # keys in the batch this call asked for; 0 when not a batch read
    started_at: float  # time.time() when sent
    latency_s: float
    error: str | None  # the error's code (SOURCE_TIMEOUT, ...), None when it answered


class UpstreamObserver(Protocol):
    """Told of every upstream call (metrics, tracing, the debug listing). Observers
    are the gateway's; adapters only call them, so they never depend on the gateway."""

    def __call__(self, call: UpstreamCall, /) -> None: ...


@dataclass(slots=True)
class Breaker:
    """Closed: calls pass. Open: calls fail at once with CIRCUIT_OPEN. Half-open: one
    probe passes; its success closes the breaker, its failure opens it again."""

    threshold: int
    open_s: float
    clock: Clock = time.monotonic  # the guard's; tests move it instead of waiting
    state: BreakerState = "closed"
    failures: int = 0
    opened_at: float = 0.0
    probing: bool = False

    def admit(self, source: str) -> bool:
        """Let a new call pass or refuse it; True when it is the half-open probe."""
        if self.state == "open":
            if self.clock() - self.opened_at < self.open_s:
                raise CircuitOpen(source, "circuit open after repeated failures")
            self.state = "half_open"
        if self.state == "half_open":
            if self.probing:
                raise CircuitOpen(source, "circuit half-open: a probe call is under way")
            self.probing = True
            return True
        return False

    def success(self) -> None:
        self.state, self.failures, self.probing = "closed", 0, False

    def failure(self) -> None:
        self.failures += 1
        if self.state == "half_open" or self.failures >= self.threshold:
            self.state, self.opened_at = "open", self.clock()
        self.probing = False

    def release(self) -> None:
        """The probe ended without telling anything about the source's health (a 4xx,
        a cancelled caller): the next call may probe. Only the probe may say so; a call
        let in before the breaker opened does not make way for a second probe."""
        self.probing = False


#: Failures that say the source is unusable (and count towards the breaker). Refused
#: credentials do: every call would meet the same refusal until a setting is mended.
#: Another 4xx says our request was wrong, a 429 that the source protects itself:
#: neither trips it.
UNHEALTHY = (UpstreamTimeout, UpstreamUnavailable, BadUpstreamResponse, UpstreamAuthFailed)


def _unhealthy(error: UpstreamError) -> bool:
    if isinstance(error, UNHEALTHY):
        return True
    status = error.extensions.get("status")
    return isinstance(error, UpstreamFault) and (status is None or status >= 500)


class SourceGuard:
    """All protection for one source. Adapters run every upstream call through
    :meth:`call`, handing it a function of the timeout to use."""

    def __init__(
        self,
        source: str,
        timeout_s: float,
        config: GuardConfig | None = None,
        rng: random.Random | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.source = source
        self.timeout_s = timeout_s
        self.config = config or GuardConfig()
        self.breaker = Breaker(self.config.failure_threshold, self.config.open_s, clock)
        self._gates: dict[str, RateGate] = {}  # by operation: products limit them apart
        self._slots = asyncio.Semaphore(self.config.max_concurrency)
        self._waiting = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self._outcomes: deque[bool] = deque(maxlen=self.config.window)
        self._calls = 0
        self._retries = 0
        #: calls refused before being sent, by the code the caller got (``_turn``)
        self.refused: Counter[str] = Counter()
        self._rng = rng or random.Random()
        self._clock = clock
        self._sleep = sleep
        self.observers: list[UpstreamObserver] = []

    async def call(
        self, attempt: Callable[[float], Awaitable[T]], *, idempotent: bool, operation: str = ""
    ) -> T:
        """Run ``attempt(timeout)`` under the guard, retrying an idempotent read.
        ``operation`` names the call for observers; it must come from a small set."""
        try:
            probe = self.breaker.admit(self.source)
        except CircuitOpen as refused:
            self.refused[refused.code] += 1
            raise
        try:
            return await self._attempts(attempt, idempotent, operation)
        except BaseException:
            if probe:
                self.breaker.release()
            raise

    def state(self) -> dict[str, object]:
        """What /readyz and /metrics show for this source."""
        recent = len(self._outcomes)
        return {
            "breaker": self.breaker.state,
            "recent_error_rate": round(self._outcomes.count(False) / recent, 3) if recent else 0.0,
            "in_flight": self.in_flight,
            "queued": self._waiting,
            "rate_limited": any(gate.limited for gate in self._gates.values()),
        }

    async def _attempts(
        self, attempt: Callable[[float], Awaitable[T]], idempotent: bool, operation: str
    ) -> T:
        self._calls += 1
        tries = 0
        limited = Patience(self._clock(), self._gate(operation))
        while True:
            first, timeout = await self._turn(limited)
            try:
                started, clock = time.time(), time.perf_counter()
                try:
                    result = await self._in_slot(attempt, timeout)
                except TimeoutError:
                    error: UpstreamError = UpstreamTimeout(
                        self.source, f"no answer within {timeout:.2f}s"
                    )
                except UpstreamError as exc:
                    error = exc
                else:
                    limited.gate.answered()
                    self._observe(operation, started, clock, None)
                    self._outcomes.append(True)
                    self.breaker.success()
                    return result
                self._observe(operation, started, clock, error.code)
                wait = self._next_wait(error, tries, idempotent, limited)
            finally:  # after the gate has heard the answer: the calls held for it go on
                if first:
                    limited.gate.back()
            if wait is None:
                self._outcomes.append(False)
                if _unhealthy(error):
                    self.breaker.failure()
                try:
                    raise error
                finally:  # kept here, it would hold the trace that holds this frame
                    del error
            if not isinstance(error, UpstreamRateLimited):
                tries += 1
                self._retries += 1
            del error  # the next attempt may end in CircuitOpen, which leaves it bound
            await self._sleep(wait)

    async def _turn(self, limited: Patience) -> tuple[bool, float]:
        """The call's turn, holding a slot: whether it goes first after a 429 (then it
        calls the gate's ``back`` once answered), and its timeout. Refused here, the
        call is not sent: the rate limit outlasts its deadline, the deadline has
        passed, the queue is full, or the breaker opened while it waited. That is the
        gateway's load, not the source failing: counted in ``refused``, no call to
        observe, no retry, nothing learnt of the source (its breaker and error rate
        stay)."""
        try:
            first = await limited.gate.enter(self.source, partial(self._patience, limited))
            try:
                timeout = self._timeout()
                await self._acquire()
            except BaseException:
                if first:
                    limited.gate.back()
                raise
        except UpstreamError as refused:
            self.refused[refused.code] += 1
            raise
        return first, timeout

    def _gate(self, operation: str) -> RateGate:
        gate = self._gates.get(operation)
        if gate is None:
            gate = self._gates[operation] = RateGate(self._clock, self._sleep)
        return gate

    def _observe(self, operation: str, started: float, clock: float, error: str | None) -> None:
        if not self.observers:
            return
        call = UpstreamCall(
            source=self.source,
            operation=operation,
            keys=chunk_keys.get(),
            started_at=started,
            latency_s=time.perf_counter() - clock,
            error=error,
        )
        for observer in self.observers:
            observer(call)

    async def _in_slot(self, attempt: Callable[[float], Awaitable[T]], wait_s: float) -> T:
        """One attempt in the slot just acquired. It runs with the source's own
        timeout and keeps its slot until the source has answered (or that timeout has
        passed) even when the caller stops waiting at its deadline: a legacy system
        works on a call whether or not anyone still listens, so the slots count what
        it is really doing, and it never sees more calls at once than the limit."""
        task = asyncio.ensure_future(attempt(self.timeout_s))
        task.add_done_callback(self._release)
        try:
            async with asyncio.timeout(wait_s):
                return await asyncio.shield(task)
        finally:  # the task holds its failure, whose trace holds this frame
            del task

    async def _acquire(self) -> None:
        """A slot, waited for in a bounded queue and no longer than the deadline."""
        if self._slots.locked():
            if self._waiting >= self.config.max_queue:
                raise UpstreamUnavailable(self.source, "overloaded: too many calls waiting")
            self._waiting += 1
            try:
                await asyncio.wait_for(self._slots.acquire(), remaining(self._clock))
            except TimeoutError as exc:
                raise UpstreamTimeout(self.source, "deadline passed waiting for a slot") from exc
            finally:
                self._waiting -= 1
        else:
            await self._slots.acquire()
        if self.breaker.state == "open":
            # Other calls opened it while this one waited: a call let in before is not
            # sent once the source is known to be failing (nor is a retry).
            self._slots.release()
            raise CircuitOpen(self.source, "circuit opened while the call waited")
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def _release(self, task: asyncio.Future[Any]) -> None:
        self.in_flight -= 1
        self._slots.release()
        if not task.cancelled():
            task.exception()  # seen here when nobody waits for it any more

    def _timeout(self) -> float:
        left = remaining(self._clock)
        if left is None:
            return self.timeout_s
        if left <= 0:
            raise UpstreamTimeout(self.source, "the request's deadline has passed")
        return min(self.timeout_s, left)

    def _next_wait(
        self, error: UpstreamError, tries: int, idempotent: bool, limited: Patience
    ) -> float | None:
        """Seconds to wait before asking again, or None to give up now. What the source
        said is told to its rate gate first: a 429 closes it, any other answer opens it
        (a timeout or a connection that failed is no answer: the next call goes first)."""
        if isinstance(error, UpstreamRateLimited):
            return self._rate_limit_wait(error, limited)
        if not isinstance(error, (UpstreamTimeout, UpstreamUnavailable)):
            limited.gate.answered()
        return self._retry_wait(error, tries, idempotent)

    def _rate_limit_wait(self, error: UpstreamRateLimited, limited: Patience) -> float | None:
        """Seconds to wait before asking again after a 429, or None to give up now.

        A 429 is a refusal before any work, so a write may be asked again too. The wait
        is the source's ``Retry-After`` when it sends one, else exponential backoff with
        jitter (callers refused together do not return together), each step fitted to
        the products' windows; no call goes to the source before it is over (the rate
        gate), and it is taken only while it fits in the call's patience, so a source
        that stays limited is reported as SOURCE_RATE_LIMITED in time, never as a
        timeout."""
        config = self.config
        retry_after = error.extensions.get("retryAfter")
        if isinstance(retry_after, (int, float)):
            wait = float(retry_after)
        else:
            step = config.rate_limit_backoff_s * 2**limited.refusals
            wait = _jittered(min(step, config.rate_limit_backoff_max_s), self._rng)
        limited.gate.refused(wait)
        if wait >= self._patience(limited):
            return None
        limited.refusals += 1
        return wait

    def _patience(self, limited: Patience) -> float:
        """Seconds a call may still spend waiting out a rate limit: what is left of the
        request's deadline; outside a request, of the longest one answer is waited for
        (the source's timeout), counted from the call's start."""
        left = remaining(self._clock)
        return self.timeout_s - (self._clock() - limited.began) if left is None else left

    def _retry_wait(self, error: UpstreamError, tries: int, idempotent: bool) -> float | None:
        """Seconds to wait before trying a failed call again, or None to give up now."""
        if not idempotent or tries >= self.config.retries or self.breaker.state == "open":
            return None  # an open breaker: other calls found the source failing too
        left = remaining(self._clock)
        if not _unhealthy(error) or isinstance(
            error, (BadUpstreamResponse, UpstreamTimeout, UpstreamAuthFailed)
        ):
            # A 4xx, refused credentials or a garbled answer will not mend by asking
            # again, and a source that timed out is slow or hanging: asking again
            # doubles its load and spends the request's deadline on the same wait.
            return None
        if self._retries >= self.config.retry_budget * self._calls + self.config.retries:
            return None  # the retry budget is spent: do not multiply load on a sick source
        wait = _jittered(self.config.backoff_s * 2**tries, self._rng)
        return wait if left is None or wait < left else None


@dataclass(slots=True)
class Patience:
    """How one call has fared with a source's rate limit so far."""

    began: float  # by the guard's clock
    gate: RateGate  # its operation's
    refusals: int = 0  # 429s answered so far


def _jittered(step: float, rng: random.Random) -> float:
    """ "Equal jitter": at least half the step, so a backoff still backs off, and the
    rest at random, so callers refused together do not come back together."""
    return step / 2 + rng.uniform(0, step / 2)
