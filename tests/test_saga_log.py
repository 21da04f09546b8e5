"""The saga engine over both logs: SQLite (the default) and Redis (replicas), with two
engines standing for two gateway replicas sharing one log.

The saga here is a plain one whose steps count what they do, so the tests see exactly
how often each step ran and was undone. Redis tests run against a real redis-server on
loopback, skipped where none is installed.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from adapters.errors import PayloadCode, Refused, UpstreamUnavailable
from gateway.process.redis_sagas import RedisSagaLog
from resolvers.commerce.holds import leased
from resolvers.commerce.sagas import Json, Results, SagaEngine, SagaLog, SqliteSagaLog, Step
from tests.timing import ManualClock, poll_until_async


class Counting:
    """Two steps; ``fail_at`` makes one fail once (a source down, or a refusal)."""

    kind = "counting"

    def __init__(self) -> None:
        self.done: Counter[str] = Counter()
        self.undone: Counter[str] = Counter()
        self.fail_at: tuple[str, Exception] | None = None

    def steps(self, plan: Json) -> Sequence[Step]:
        return [Step(name, self._do(name), self._undo(name)) for name in ("first", "second")]

    def answer(self, plan: Json, results: Results) -> Json:
        return {"value": plan["value"], "results": results}

    def _do(self, name: str) -> Any:
        async def do(plan: Json, results: Results) -> str:
            await asyncio.sleep(0.01)
            if self.fail_at and self.fail_at[0] == name:
                failure, self.fail_at = self.fail_at[1], None
                raise failure
            self.done[name] += 1
            return f"{name}-done"

        return do

    def _undo(self, name: str) -> Any:
        async def undo(plan: Json, results: Results) -> None:
            self.undone[name] += 1

        return undo


@pytest.fixture(params=["sqlite", "redis"])
async def log(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SagaLog]:
    if request.param == "sqlite":
        sqlite = SqliteSagaLog(tmp_path / "sagas.sqlite")
        yield sqlite
        await sqlite.close()
        return
    redis = Redis.from_url(request.getfixturevalue("redis_url"))
    await redis.flushdb()
    yield RedisSagaLog(redis)
    await redis.aclose()


def engine(
    log: SagaLog, saga: Counting, lease_s: float = 30.0, clock: ManualClock | None = None
) -> SagaEngine:
    return SagaEngine(log, [saga], lease_s=lease_s, timeout_s=10.0, clock=clock or ManualClock())


async def test_a_saga_runs_its_steps_once_and_answers_its_key_again(log: SagaLog) -> None:
    saga = Counting()
    replica = engine(log, saga)
    first = await replica.run("counting", "k1", "f", {"value": 1})
    again = await replica.replay("counting", "k1", "f")
    assert first.answer == {"value": 1, "results": {"first": "first-done", "second": "second-done"}}
    assert again == first
    assert saga.done == Counter(first=1, second=1)


async def test_one_key_sent_to_two_replicas_at_once_runs_once(log: SagaLog) -> None:
    saga = Counting()
    replicas = [engine(log, saga), engine(log, saga)]
    outcomes = await asyncio.gather(
        *(r.run("counting", "same", "f", {"value": n}) for n, r in enumerate(replicas * 3))
    )
    assert all(o.answer == outcomes[0].answer for o in outcomes)
    assert saga.done == Counter(first=1, second=1)


async def test_a_failed_step_undoes_the_steps_begun_and_frees_the_key(log: SagaLog) -> None:
    saga = Counting()
    saga.fail_at = ("second", UpstreamUnavailable("wms", "down"))
    replica = engine(log, saga)
    with pytest.raises(UpstreamUnavailable):
        await replica.run("counting", "k2", "f", {"value": 2})
    assert saga.undone == Counter(first=1, second=1)  # the failed one may have happened
    assert await replica.replay("counting", "k2", "f") is None
    retried = await replica.run("counting", "k2", "f", {"value": 2})
    assert retried.answer is not None


async def test_a_refusal_is_answered_after_the_undo(log: SagaLog) -> None:
    saga = Counting()
    saga.fail_at = ("second", Refused(PayloadCode.INSUFFICIENT_STOCK, "sold out"))
    outcome = await engine(log, saga).run("counting", "k3", "f", {"value": 3})
    assert outcome.refusal is not None
    assert outcome.refusal.code == "INSUFFICIENT_STOCK"
    assert saga.undone == Counter(first=1, second=1)


async def test_a_key_reused_for_another_request_is_refused(log: SagaLog) -> None:
    replica = engine(log, Counting())
    await replica.run("counting", "k4", "one request", {"value": 4})
    outcome = await replica.run("counting", "k4", "another request", {"value": 5})
    assert outcome.refusal is not None
    assert outcome.refusal.code == "IDEMPOTENCY_KEY_REUSED"


async def test_a_replica_finishes_the_saga_of_a_replica_that_died(log: SagaLog) -> None:
    saga, clock = Counting(), ManualClock()
    dead = engine(log, saga, lease_s=0.2, clock=clock)
    saga.fail_at = ("second", asyncio.CancelledError())  # the process stops mid-saga
    with pytest.raises(asyncio.CancelledError):
        await dead.run("counting", "k5", "f", {"value": 5})
    assert len(await log.unfinished()) == 1
    survivor = engine(log, saga, clock=clock)
    assert await survivor.recover() == 0  # its lease has not run out yet
    clock.advance(0.3)
    assert await survivor.recover() == 1
    assert await log.unfinished() == []
    assert saga.done == Counter(first=1, second=1)
    replay = await survivor.replay("counting", "k5", "f")
    assert replay is not None
    assert replay.answer == {
        "value": 5,
        "results": {"first": "first-done", "second": "second-done"},
    }


async def test_only_one_replica_takes_over_an_abandoned_saga(log: SagaLog) -> None:
    saga, clock = Counting(), ManualClock()
    dead = engine(log, saga, lease_s=0.1, clock=clock)
    saga.fail_at = ("first", asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await dead.run("counting", "k6", "f", {"value": 6})
    clock.advance(0.2)  # its lease has run out
    (saga_id,) = await log.unfinished()
    now = clock()
    taken = await asyncio.gather(*(log.take(saga_id, f"r{n}", now + 30, now) for n in range(5)))
    assert sorted(taken) == [False, False, False, False, True]


# --- leases: a store hold's guarantee (resolvers/commerce/holds.py)
# -------------------------------


async def test_a_lease_is_held_by_one_owner_until_it_is_given_up(log: SagaLog) -> None:
    until = time.time() + 30
    assert await log.lease("pos:LOC-001:10000", "a", until)
    assert await log.lease("pos:LOC-001:10000", "a", until)  # its holder may take it again
    assert not await log.lease("pos:LOC-001:10000", "b", until)
    assert await log.lease("pos:LOC-002:10000", "b", until)  # another item or store is free
    await log.unlease("pos:LOC-001:10000", "b")  # not b's: nothing happens
    assert not await log.lease("pos:LOC-001:10000", "b", until)
    await log.unlease("pos:LOC-001:10000", "a")
    assert await log.lease("pos:LOC-001:10000", "b", until)


async def test_a_lease_whose_holder_died_is_free_when_its_term_ends(log: SagaLog) -> None:
    assert await log.lease("pos:LOC-001:10001", "gone", time.time() + 0.2)
    assert not await log.lease("pos:LOC-001:10001", "b", time.time() + 30)
    # the term is the log's own time (Redis expires the key itself): taken once it ends
    await poll_until_async(lambda: log.lease("pos:LOC-001:10001", "b", time.time() + 30))


async def test_holds_under_leases_run_one_at_a_time_per_item_and_store(log: SagaLog) -> None:
    """What makes a store hold safe where Square's adjustments never refuse: two holds of
    the same item at the same store never read and adjust at once."""
    inside: list[str] = []
    overlaps: list[tuple[str, str]] = []

    async def hold(who: str, names: list[str]) -> None:
        async with leased(log, names):
            if inside:
                overlaps.append((inside[0], who))
            inside.append(who)
            await asyncio.sleep(0.05)
            inside.remove(who)

    await asyncio.gather(
        hold("a", ["pos:S1:X", "pos:S1:Y"]),
        hold("b", ["pos:S1:Y", "pos:S1:X"]),  # the other order: no deadlock, names are sorted
        hold("c", ["pos:S1:X"]),
    )
    assert overlaps == []


# --- past the pivot: finished, never undone (issue 17) ------------------------------------


class Forward:
    """Two steps that cannot be undone (an erasure's deletes); ``failing`` makes a step
    fail until it is taken out."""

    kind = "forward"

    def __init__(self) -> None:
        self.done: Counter[str] = Counter()
        self.tried: Counter[str] = Counter()
        self.failing: set[str] = set()

    def steps(self, plan: Json) -> Sequence[Step]:
        return [Step(name, self._do(name), forward=True) for name in ("crm", "pos")]

    def answer(self, plan: Json, results: Results) -> Json:
        return {"results": results}

    def _do(self, name: str) -> Any:
        async def do(plan: Json, results: Results) -> str:
            self.tried[name] += 1
            if name in self.failing:
                raise UpstreamUnavailable(name, "down")
            self.done[name] += 1
            return f"{name}-done"

        return do


def forward_engine(log: SagaLog, saga: Forward, clock: ManualClock) -> SagaEngine:
    return SagaEngine(
        log,
        [saga],
        lease_s=30.0,
        timeout_s=10.0,
        sweep_s=10.0,
        max_backoff_s=40.0,
        clock=clock,
        sleep=clock.sleep,
    )


async def test_a_saga_past_its_pivot_is_finished_by_the_sweep_with_doubling_backoff(
    log: SagaLog,
) -> None:
    """A step that fails past the pivot is not undone: the others are still done, the
    saga stays unfinished with the failure logged, and the sweep tries it again after
    the sweep interval, doubling after each failed try up to the maximum backoff."""
    saga, clock = Forward(), ManualClock()
    saga.failing = {"crm"}
    replica = forward_engine(log, saga, clock)
    with pytest.raises(UpstreamUnavailable):
        await replica.run("forward", "erase-1", "f", {})
    assert saga.done == Counter(pos=1)  # one system down holds up only its own step
    (saga_id,) = await log.unfinished()
    record = await log.load(saga_id)
    assert record is not None
    assert (record.state, record.attempts, list(record.failing)) == ("RUNNING", 1, ["crm"])
    waits = []
    for _ in range(4):  # 10, 20, 40, 40 s: each try waits longer, at most the maximum
        before = saga.tried["crm"]
        assert await replica.recover() == 0  # not due yet
        record = await log.load(saga_id)
        assert record is not None
        waits.append(round(record.lease_until - clock.now))
        clock.advance(record.lease_until - clock.now + 0.001)
        assert await replica.recover() == 1
        assert saga.tried["crm"] == before + 1
    assert waits == [10, 20, 40, 40]
    saga.failing.clear()
    record = await log.load(saga_id)
    assert record is not None
    clock.advance(record.lease_until - clock.now + 0.001)
    assert await replica.recover() == 1
    assert await log.unfinished() == []
    assert saga.done == Counter(pos=1, crm=1)  # each step done once, none undone
    replay = await replica.replay("forward", "erase-1", "f")
    assert replay is not None
    assert replay.answer == {"results": {"crm": "crm-done", "pos": "pos-done"}}


async def test_two_replicas_sweeping_at_once_never_finish_the_same_saga_twice(
    log: SagaLog,
) -> None:
    saga, clock = Forward(), ManualClock()
    saga.failing = {"crm"}
    with pytest.raises(UpstreamUnavailable):
        await forward_engine(log, saga, clock).run("forward", "erase-2", "f", {})
    saga.failing.clear()
    clock.advance(3600)
    replicas = [forward_engine(log, saga, clock) for _ in range(4)]
    recovered = await asyncio.gather(*(r.recover() for r in replicas))
    assert sorted(recovered) == [0, 0, 0, 1]
    assert saga.tried["crm"] == 2
    assert saga.done == Counter(pos=1, crm=1)


async def test_the_sweep_runs_every_interval_of_the_injected_clock(log: SagaLog) -> None:
    saga, clock = Forward(), ManualClock()
    saga.failing = {"crm"}
    replica = forward_engine(log, saga, clock)
    with pytest.raises(UpstreamUnavailable):
        await replica.run("forward", "erase-3", "f", {})
    saga.failing.clear()
    sweeping = asyncio.create_task(replica.sweep())

    async def finished() -> bool:
        return not await log.unfinished()

    try:
        await poll_until_async(lambda: clock.sleeping, what="the sweep's first round")
        assert saga.done["crm"] == 0  # swept at once, but the saga's backoff has not run out
        clock.advance(10.5)  # the sweep's next round, and the saga due
        await poll_until_async(finished, what="the sweep finishes the saga")
        assert saga.done["crm"] == 1
    finally:
        sweeping.cancel()


async def test_the_sqlite_log_waits_for_its_disk_and_locks_off_the_event_loop(
    tmp_path: Path,
) -> None:
    """A write waits while another replica holds the file's write lock (up to SQLite's
    busy timeout), and every commit waits for the disk; the gateway's other requests
    must not wait with it (the fuzz run once saw /healthz held 2 s behind a write)."""
    path = tmp_path / "sagas.sqlite"
    log = SqliteSagaLog(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another replica mid-write: the lock is taken
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    writing = asyncio.create_task(log.lease("sku@store", "owner", time.time() + 30))
    try:
        while ticks < 1_000:  # the loop turns while the write waits for the lock
            assert not writing.done()
            await asyncio.sleep(0)
        other.execute("COMMIT")
        assert await asyncio.wait_for(writing, timeout=10)
    finally:
        ticker.cancel()
        other.close()
        await log.close()
