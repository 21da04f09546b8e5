"""Sagas: one write across several systems, as logged steps that each know how to undo
themselves.

A saga runs its steps in order and logs each one before it starts and when it is done.
When a step fails, the steps already started are undone, last first: every step that
may have had an effect, including the one that failed (a timed-out create may have
happened). A crash is picked up from the log: a saga whose owner stopped renewing its
lease is taken over, at start-up or by a sweep, and finished (the steps not yet done
are run) or, when finishing fails, undone.

Some steps cannot be undone, only finished: money paid back, a record erased. Such a
step is ``forward``: once one has begun, the saga is past its pivot and is never undone;
a step that fails then leaves the saga unfinished, with the failure and the number of
attempts in the log, and the sweep tries the steps not yet done again, each later than
the last (``sweep_s``, doubling, at most ``max_backoff_s``) until all are done. Every
forward step is tried on each attempt, whatever another one answered, so one system
down holds up only its own step. An erasure is all forward steps; a return's refund is
its pivot.

That only works when every step is idempotent at its source, so the engine asks that
of every step: each carries a reference derived from the saga's id (the ERP's
``External_Document_No``, the WMS reservation's ``reference``, the POS's
``idempotency_key``), so doing it again after a crash finds what the first attempt did
instead of doing it twice. Undoing is idempotent too, and safe when the step never
happened.

The client's idempotency key maps to the saga that answers it. A saga that succeeded
answers every later request with that key the same way; one that failed (and was
undone) leaves the key free for another attempt, which is a new saga with new
references. Two requests with one key at once: the second waits for the first.

``after_step``, when given, is called right after each step is done but before it is
logged, the worst moment, and again once it is logged: the crash tests pass one in that
kills the process there (tests/crashing_gateway.py) and check that a restart recovers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from adapters.errors import MosaicError, PayloadCode, Refused
from adapters.transport.resilience import deadline

logger = logging.getLogger("mosaic.sagas")

Json = dict[str, Any]
#: PENDING: logged, not yet holding its key (never run, never recovered)
State = Literal["PENDING", "RUNNING", "COMPENSATING", "SUCCEEDED", "FAILED"]
UNFINISHED: tuple[State, ...] = ("RUNNING", "COMPENSATING")
#: how often a request waiting for another with the same key looks again
WAIT_STEP_S = 0.05


Results = dict[str, Any]  # step name -> what its ``do`` answered (JSON)
#: called with a saga's kind, a step's name, and whether the step is logged yet
AfterStep = Callable[[str, str, bool], None]


@dataclass(frozen=True, slots=True)
class Step:
    """``do(plan, results)`` answers what later steps and ``undo`` need (JSON).
    ``undo(plan, results)`` must be safe when ``do`` never ran or ran only partly."""

    name: str
    do: Callable[[Json, Results], Awaitable[Any]]
    undo: Callable[[Json, Results], Awaitable[None]] | None = None
    forward: bool = False  # cannot be undone: once begun, the saga can only be finished


class Saga(Protocol):
    """One kind of multi-system write: its steps for a plan, and its answer."""

    kind: str

    def steps(self, plan: Json) -> Sequence[Step]: ...

    def answer(self, plan: Json, results: Results) -> Json: ...


@dataclass(slots=True)
class SagaRecord:
    id: str
    kind: str
    key: str
    fingerprint: str
    plan: Json
    state: State = "RUNNING"
    started: list[str] = field(default_factory=list)  # steps begun, in order
    results: Results = field(default_factory=dict)
    undone: list[str] = field(default_factory=list)
    answer: Json | None = None
    error: Json | None = None  # why it failed: {code, message}
    owner: str = ""
    lease_until: float = 0.0
    created_at: float = field(default_factory=time.time)
    attempts: int = 0  # failed attempts to finish a saga past its pivot
    failing: dict[str, Json] = field(default_factory=dict)  # step -> {code, message, source}

    def dump(self) -> str:
        return json.dumps(asdict(self), default=str, sort_keys=True)

    @classmethod
    def load(cls, text: str) -> SagaRecord:
        return cls(**json.loads(text))


class SagaLog(Protocol):
    """Where sagas and idempotency keys live: SQLite by default, Redis for replicas."""

    async def save(self, record: SagaRecord) -> None: ...

    async def load(self, saga_id: str) -> SagaRecord | None: ...

    async def delete(self, saga_id: str) -> None: ...

    async def get_key(self, kind: str, key: str) -> str | None: ...

    async def claim_key(self, kind: str, key: str, saga_id: str) -> str:
        """Map the key to ``saga_id`` unless it maps already; the saga it maps to."""
        ...

    async def replace_key(self, kind: str, key: str, old: str, new: str) -> bool:
        """Map the key to ``new`` if it still maps to ``old``."""
        ...

    async def take(self, saga_id: str, owner: str, until: float, now: float) -> bool:
        """Become the saga's owner if it is unfinished and its lease has run out by
        ``now`` (the engine's clock, epoch seconds)."""
        ...

    async def unfinished(self) -> list[str]: ...

    async def lease(self, name: str, owner: str, until: float) -> bool:
        """Hold the lease ``name`` until ``until`` (epoch seconds) unless another owner
        holds it now; True when ``owner`` holds it."""
        ...

    async def unlease(self, name: str, owner: str) -> None:
        """Give up the lease ``name`` if ``owner`` still holds it."""
        ...

    async def close(self) -> None: ...


class SqliteSagaLog:
    """The saga log in one SQLite file. Replicas on one host may share the file: every
    change is one statement, and SQLite serialises writers.

    Every statement runs on the log's own thread, never on the event loop: a commit
    waits for the disk (an fsync), and a writer may wait up to ``busy_timeout`` for
    another replica's lock; either would stall every request the process serves (the
    fuzz run once saw /healthz wait 2 s behind a write)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="saga-log")
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS sagas (
                id TEXT PRIMARY KEY, state TEXT NOT NULL, owner TEXT NOT NULL,
                lease_until REAL NOT NULL, body TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS sagas_state ON sagas (state);
            CREATE TABLE IF NOT EXISTS idempotency_keys (
                kind TEXT NOT NULL, key TEXT NOT NULL, saga_id TEXT NOT NULL,
                PRIMARY KEY (kind, key)
            );
            CREATE TABLE IF NOT EXISTS leases (
                name TEXT PRIMARY KEY, owner TEXT NOT NULL, until REAL NOT NULL
            );
            """
        )

    async def _run(self, sql: str, args: Sequence[Any] = ()) -> tuple[int, list[Any]]:
        """One statement on the log's thread: the rows it changed, and its rows."""

        def statement() -> tuple[int, list[Any]]:
            cursor = self._db.execute(sql, args)
            return cursor.rowcount, cursor.fetchall()

        return await asyncio.get_running_loop().run_in_executor(self._thread, statement)

    async def save(self, record: SagaRecord) -> None:
        await self._run(
            "INSERT OR REPLACE INTO sagas VALUES (?, ?, ?, ?, ?)",
            (record.id, record.state, record.owner, record.lease_until, record.dump()),
        )

    async def load(self, saga_id: str) -> SagaRecord | None:
        _, rows = await self._run("SELECT body FROM sagas WHERE id = ?", (saga_id,))
        return SagaRecord.load(rows[0][0]) if rows else None

    async def delete(self, saga_id: str) -> None:
        await self._run("DELETE FROM sagas WHERE id = ?", (saga_id,))

    async def get_key(self, kind: str, key: str) -> str | None:
        _, rows = await self._run(
            "SELECT saga_id FROM idempotency_keys WHERE kind = ? AND key = ?", (kind, key)
        )
        return str(rows[0][0]) if rows else None

    async def claim_key(self, kind: str, key: str, saga_id: str) -> str:
        await self._run(
            "INSERT OR IGNORE INTO idempotency_keys VALUES (?, ?, ?)", (kind, key, saga_id)
        )
        return await self.get_key(kind, key) or saga_id

    async def replace_key(self, kind: str, key: str, old: str, new: str) -> bool:
        changed, _ = await self._run(
            "UPDATE idempotency_keys SET saga_id = ? WHERE kind = ? AND key = ? AND saga_id = ?",
            (new, kind, key, old),
        )
        return changed == 1

    async def take(self, saga_id: str, owner: str, until: float, now: float) -> bool:
        changed, _ = await self._run(
            "UPDATE sagas SET owner = ?, lease_until = ? WHERE id = ? AND state IN (?, ?)"
            " AND lease_until < ?",
            (owner, until, saga_id, *UNFINISHED, now),
        )
        return changed == 1

    async def unfinished(self) -> list[str]:
        _, rows = await self._run(
            "SELECT id FROM sagas WHERE state IN (?, ?) ORDER BY rowid", UNFINISHED
        )
        return [row[0] for row in rows]

    async def lease(self, name: str, owner: str, until: float) -> bool:
        changed, _ = await self._run(
            "INSERT INTO leases VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE"
            " SET owner = excluded.owner, until = excluded.until"
            " WHERE leases.until < ? OR leases.owner = excluded.owner",
            (name, owner, until, time.time()),
        )
        return changed == 1

    async def unlease(self, name: str, owner: str) -> None:
        await self._run("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._db.close)
        self._thread.shutdown()


def _replaceable(record: SagaRecord | None, now: float) -> bool:
    """A key's saga that another may replace: gone, failed (and undone), or one that
    never started and whose process is gone."""
    if record is None or record.state == "FAILED":
        return True
    return record.state == "PENDING" and record.lease_until < now


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a saga ended for the client: its answer, or the refusal that undid it."""

    answer: Json | None = None
    refusal: Refused | None = None


Clock = Callable[[], float]  # epoch seconds
Sleep = Callable[[float], Awaitable[None]]


class SagaEngine:
    """Runs sagas, and finishes those a crash or a failure past the pivot left behind.
    ``clock`` and ``sleep`` are passed in so tests can drive leases, backoff and the
    sweep without waiting."""

    def __init__(
        self,
        log: SagaLog,
        sagas: Sequence[Saga],
        *,
        lease_s: float = 30.0,
        timeout_s: float = 60.0,
        sweep_s: float = 30.0,
        max_backoff_s: float = 600.0,
        after_step: AfterStep | None = None,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.log = log
        self.sagas: Mapping[str, Saga] = {saga.kind: saga for saga in sagas}
        self.lease_s = lease_s
        self.timeout_s = timeout_s
        self.sweep_s = sweep_s
        self.max_backoff_s = max_backoff_s
        self.after_step = after_step
        self.clock = clock
        self.sleep = sleep
        self.owner = uuid.uuid4().hex
        self._tasks: set[asyncio.Task[Any]] = set()
        self._driving: set[str] = set()  # saga ids this process drives now

    @staticmethod
    def fingerprint(request: Any) -> str:
        """What identifies a client's request, to tell a key reused for another one."""
        text = json.dumps(request, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    async def replay(self, kind: str, key: str, fingerprint: str) -> Outcome | None:
        """The answer already given to this key, if a saga with it succeeded."""
        saga_id = await self.log.get_key(kind, key)
        record = await self.log.load(saga_id) if saga_id else None
        if record is None or record.state != "SUCCEEDED":
            return None
        return self._outcome_for(record, fingerprint)

    async def run(self, kind: str, key: str, fingerprint: str, plan: Json) -> Outcome:
        """Run a new saga for this key, or answer as the saga that has the key does.
        The saga runs to its end even when the client goes away; a source failure is
        raised after the saga is undone (or left for recovery to undo)."""
        saga_id = uuid.uuid4().hex
        record = SagaRecord(
            id=saga_id,
            kind=kind,
            key=key,
            fingerprint=fingerprint,
            # steps derive their references from the id, and the moment from started_at
            plan={**plan, "saga_id": saga_id, "started_at": datetime.now(UTC).isoformat()},
            state="PENDING",
            owner=self.owner,
            lease_until=self.clock() + self.lease_s,
            created_at=self.clock(),
        )
        await self.log.save(record)
        waited_until = time.monotonic() + self.timeout_s
        while True:
            holder = await self.log.claim_key(kind, key, record.id)
            if holder == record.id:
                return await self._start(record)
            other = await self.log.load(holder)
            if _replaceable(other, self.clock()):
                if await self.log.replace_key(kind, key, holder, record.id):
                    return await self._start(record)
                continue
            assert other is not None
            if other.state == "SUCCEEDED" or other.fingerprint != fingerprint:
                await self.log.delete(record.id)
                return self._outcome_for(other, fingerprint)
            if other.id not in self._driving and await self._take(other.id):
                with contextlib.suppress(MosaicError):  # its owner is gone: finish it first
                    await self._shielded(await self.log.load(other.id) or other)
                continue
            if time.monotonic() > waited_until:
                await self.log.delete(record.id)
                return Outcome(
                    refusal=Refused(PayloadCode.IN_PROGRESS, "a request with this key runs")
                )
            await asyncio.sleep(WAIT_STEP_S)

    async def recover(self) -> int:
        """Finish or undo every saga whose owner stopped renewing its lease, or whose
        backoff has passed; how many. Each is claimed through the log first, so two
        replicas sweeping at once never drive the same saga."""
        recovered = 0
        for saga_id in await self.log.unfinished():
            recovered += await self.finish(saga_id)
        return recovered

    async def finish(self, saga_id: str) -> bool:
        """Drive an unfinished saga now if nobody holds it (its owner's lease, or its
        backoff after a failed attempt, has run out); whether this engine took it."""
        if saga_id in self._driving or not await self._take(saga_id):
            return False
        record = await self.log.load(saga_id)
        if record is None:
            return False
        logger.warning("recovering %s saga %s (%s)", record.kind, record.id, record.state)
        try:
            await self._shielded(record)
        except MosaicError as error:
            logger.warning("saga %s not finished yet: %s", record.id, error.message)
        return True

    async def sweep(self) -> None:
        """Recover abandoned and unfinished sagas now and every ``sweep_s`` seconds (a
        replica that died leaves its sagas to the others)."""
        while True:
            try:
                await self.recover()
            except Exception:
                logger.exception("saga recovery failed")
            await self.sleep(self.sweep_s)

    async def _take(self, saga_id: str) -> bool:
        now = self.clock()
        return await self.log.take(saga_id, self.owner, now + self.lease_s, now)

    def backoff(self, attempts: int) -> float:
        """How long a saga past its pivot waits after its ``attempts``-th failed try."""
        return float(min(self.max_backoff_s, self.sweep_s * 2 ** max(attempts - 1, 0)))

    async def wait_idle(self) -> None:
        """Let sagas in progress reach a logged state (at shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.timeout_s)

    # --- driving one saga -------------------------------------------------------------

    def _outcome_for(self, record: SagaRecord, fingerprint: str) -> Outcome:
        if record.fingerprint != fingerprint:
            return Outcome(
                refusal=Refused(
                    PayloadCode.IDEMPOTENCY_KEY_REUSED,
                    "this idempotency key was used for another request",
                )
            )
        return Outcome(answer=record.answer)

    async def _start(self, record: SagaRecord) -> Outcome:
        """Run a saga that now holds its key."""
        record.state = "RUNNING"
        await self.log.save(record)
        return await self._shielded(record)

    async def _shielded(self, record: SagaRecord) -> Outcome:
        """Drive the saga in a task of its own, with its own deadline: a client that
        hangs up (or whose request deadline passes) does not stop it halfway."""
        self._driving.add(record.id)
        with deadline(self.timeout_s):
            task = asyncio.create_task(self._drive(record))
        self._tasks.add(task)

        def done(finished: asyncio.Task[Outcome]) -> None:
            self._tasks.discard(finished)
            self._driving.discard(record.id)

        task.add_done_callback(done)
        return await asyncio.shield(task)

    async def _drive(self, record: SagaRecord) -> Outcome:
        """Run the steps not done yet; on a failure undo the ones begun, or, past the
        pivot, leave the saga for the sweep. A source's failure is raised (after the
        undo, or with the saga left for recovery)."""
        saga = self.sagas[record.kind]
        steps = list(saga.steps(record.plan))
        failure: MosaicError | None = None
        if record.state == "RUNNING":
            left: list[MosaicError] = []  # failures of steps past the pivot
            try:
                for step in steps:
                    if step.name not in record.results:
                        left += await self._do(record, step, steps)
            except Refused as refusal:
                record.error = {"code": refusal.code, "message": refusal.message}
            except MosaicError as error:
                failure = error
                record.error = {"code": error.code, "message": error.message}
            else:
                if left:
                    await self._unfinished(record)
                    raise left[0]
                record.answer = saga.answer(record.plan, record.results)
                record.state = "SUCCEEDED"
                await self.log.save(record)
                return Outcome(answer=record.answer)
            record.state = "COMPENSATING"
            await self.log.save(record)
        try:
            await self._undo(record, steps)
        except MosaicError:
            if failure is not None:
                raise failure from None
            raise
        if failure is not None:
            raise failure
        why = record.error or {}
        if why.get("code") in PayloadCode.__members__:  # refused, not undone after a failure
            return Outcome(refusal=Refused(PayloadCode(why["code"]), why["message"]))
        return Outcome(refusal=Refused(PayloadCode.INTERRUPTED, "the write was undone"))

    async def _unfinished(self, record: SagaRecord) -> None:
        """A saga past its pivot with steps that failed: kept RUNNING for the sweep,
        which tries again after the backoff."""
        record.attempts += 1
        record.lease_until = self.clock() + self.backoff(record.attempts)
        await self.log.save(record)
        logger.warning(
            "%s saga %s unfinished after %d attempt(s): %s",
            record.kind,
            record.id,
            record.attempts,
            ", ".join(record.failing),
        )

    async def _do(self, record: SagaRecord, step: Step, steps: list[Step]) -> list[MosaicError]:
        """One step. Past the pivot a source's failure is noted on the step, given back,
        and the next step is tried; before it, the failure ends the run (and the saga is
        undone)."""
        record.lease_until = self.clock() + self.lease_s
        if step.name not in record.started:
            record.started.append(step.name)
        await self.log.save(record)
        try:
            result = await step.do(record.plan, record.results)
        except MosaicError as error:
            if not _past_pivot(record, steps):
                raise
            record.failing[step.name] = {
                "code": error.code,
                "message": error.message,
                "source": error.extensions.get("source"),
            }
            await self.log.save(record)
            return [error]
        self._after(record.kind, step.name, logged=False)
        record.results[step.name] = result
        record.failing.pop(step.name, None)
        await self.log.save(record)
        self._after(record.kind, step.name, logged=True)
        return []

    async def _undo(self, record: SagaRecord, steps: list[Step]) -> None:
        """Undo every step begun, last first. A failure leaves the saga COMPENSATING for
        the next sweep (its lease lapses soon) and is raised."""
        for step in reversed(steps):
            if step.name not in record.started or step.name in record.undone:
                continue
            if step.undo is not None:
                try:
                    await step.undo(record.plan, record.results)
                except MosaicError:
                    record.lease_until = self.clock() + min(self.lease_s, 5.0)
                    await self.log.save(record)
                    raise
            record.undone.append(step.name)
            await self.log.save(record)
        record.state = "FAILED"
        await self.log.save(record)

    def _after(self, kind: str, step: str, *, logged: bool) -> None:
        if self.after_step is not None:
            self.after_step(kind, step, logged)


def _past_pivot(record: SagaRecord, steps: Sequence[Step]) -> bool:
    """Whether a forward step has begun: the saga can then only be finished."""
    return any(step.forward and step.name in record.started for step in steps)
