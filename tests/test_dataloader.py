"""The request's DataLoader (resolvers/loading/dataloader.py), rule by rule: what it
batches, what it caches, how failures and cancellations reach the waiters. The schema's
call-count tests rest on these rules; here each is held on its own, with a read that
records what it was asked."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Sequence
from typing import Any

import pytest

from resolvers.loading.dataloader import DataLoader


class Reads:
    """A batch read that records its calls; ``answers`` overrides a key's value (an
    exception fails that key), ``raises`` fails the whole call; a ``gated`` read answers
    only once the gate is set."""

    def __init__(self, answers: dict[str, Any] | None = None, *, gated: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.answers = answers or {}
        self.raises: Exception | None = None
        self.gate = asyncio.Event() if gated else None
        self._called = asyncio.Event()

    async def __call__(self, keys: list[str]) -> Sequence[Any]:
        self.calls.append(list(keys))
        self._called.set()
        if self.gate:
            await self.gate.wait()
        if self.raises is not None:
            raise self.raises
        return [self.answers.get(key, key.upper()) for key in keys]

    def release(self) -> None:
        """Let a gated read answer."""
        assert self.gate
        self.gate.set()

    async def reached(self, calls: int) -> None:
        """Until ``calls`` reads have begun."""
        while len(self.calls) < calls:
            self._called.clear()
            await self._called.wait()


# -- batching ---------------------------------------------------------------------------


async def test_keys_asked_in_one_turn_are_read_in_one_call_each_once_in_first_asked_order() -> None:
    reads = Reads()
    loader = DataLoader(reads)
    futures = [loader.load(key) for key in ("b", "a", "b", "c")]
    assert await asyncio.gather(*futures) == ["B", "A", "B", "C"]
    assert reads.calls == [["b", "a", "c"]]


async def test_keys_the_first_loads_woken_coroutines_ask_for_still_join_the_batch() -> None:
    reads = Reads()
    loader = DataLoader(reads)

    async def next_turn() -> str:
        return await loader.load("b")

    first = loader.load("a")
    second = asyncio.ensure_future(next_turn())  # runs one turn later
    assert (await first, await second) == ("A", "B")
    assert reads.calls == [["a", "b"]]


async def test_keys_asked_once_the_read_began_make_the_next_call() -> None:
    reads = Reads(gated=True)
    loader = DataLoader(reads)
    first = loader.load("a")
    await reads.reached(1)
    second = loader.load("b")
    reads.release()
    assert (await first, await second) == ("A", "B")
    assert reads.calls == [["a"], ["b"]]


async def test_without_batching_every_key_is_read_on_its_own() -> None:
    reads = Reads()
    loader = DataLoader(reads, batching=False)
    assert await loader.load_many(["a", "b", "a"]) == ["A", "B", "A"]
    assert reads.calls == [["a"], ["b"]]


# -- caching ----------------------------------------------------------------------------


async def test_a_key_is_read_once_per_loader_and_a_later_load_gets_the_same_future() -> None:
    reads = Reads()
    loader = DataLoader(reads)
    first = loader.load("a")
    assert await first == "A"
    assert loader.load("a") is first
    assert await loader.load_many(["a"]) == ["A"]
    assert reads.calls == [["a"]]


async def test_a_primed_key_is_not_read_and_priming_does_not_replace_an_asked_key() -> None:
    reads = Reads()
    loader = DataLoader(reads)
    loader.prime("a", "primed")
    asked = loader.load("b")
    loader.prime("b", "primed")
    assert await loader.load_many(["a", "b"]) == ["primed", "B"]
    assert await asked == "B"
    assert reads.calls == [["b"]]


async def test_after_clear_all_every_key_is_read_again() -> None:
    reads = Reads()
    loader = DataLoader(reads)
    assert await loader.load("a") == "A"
    loader.clear_all()
    reads.answers["a"] = "written"
    assert await loader.load("a") == "written"
    assert reads.calls == [["a"], ["a"]]


# -- load_many --------------------------------------------------------------------------


async def test_load_many_of_known_keys_is_done_at_once_in_key_order() -> None:
    reads = Reads()
    loader = DataLoader(reads)
    await loader.load_many(["a", "b"])
    again = loader.load_many(["b", "a", "b"])
    assert again.done()
    assert again.result() == ["B", "A", "B"]


async def test_load_many_over_two_reads_answers_when_the_later_one_lands() -> None:
    reads = Reads(gated=True)
    loader = DataLoader(reads)
    early = loader.load("a")
    await reads.reached(1)
    both = loader.load_many(["b", "a"])
    await reads.reached(2)
    assert not both.done()
    reads.release()
    assert await both == ["B", "A"]
    assert await early == "A"
    assert reads.calls == [["a"], ["b"]]


# -- failures ---------------------------------------------------------------------------


async def test_an_exception_as_a_value_fails_that_key_only_and_load_many_with_it() -> None:
    reads = Reads({"b": LookupError("b is gone")})
    loader = DataLoader(reads)
    a, b = loader.load("a"), loader.load("b")
    many = loader.load_many(["a", "b"])
    assert await a == "A"
    with pytest.raises(LookupError, match="b is gone"):
        await b
    with pytest.raises(LookupError, match="b is gone"):
        await many


async def test_a_read_that_raises_fails_every_waiter_and_is_asked_again_next_time() -> None:
    reads = Reads()
    reads.raises = ConnectionError("refused")
    loader = DataLoader(reads)
    with pytest.raises(ConnectionError):
        await loader.load_many(["a", "b"])
    reads.raises = None
    assert await loader.load_many(["a", "b"]) == ["A", "B"]
    assert reads.calls == [["a", "b"], ["a", "b"]]


async def test_a_read_with_too_few_values_fails_every_waiter_with_a_clear_error() -> None:
    async def short(keys: list[str]) -> list[str]:
        return keys[:1]

    loader = DataLoader(short)
    with pytest.raises(ValueError, match="1 values for 2 keys"):
        await loader.load_many(["a", "b"])


async def test_no_failure_a_list_saw_is_logged_as_never_retrieved() -> None:
    loop = asyncio.get_running_loop()
    logged: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: logged.append(context))
    try:
        reads = Reads({"a": LookupError("a"), "b": LookupError("b")})
        loader = DataLoader(reads)
        with pytest.raises(LookupError):
            await loader.load_many(["a", "b"])
        del loader, reads
        gc.collect()
    finally:
        loop.set_exception_handler(previous)
    assert logged == []


# -- cancellation -----------------------------------------------------------------------


async def test_a_cancelled_waiter_leaves_the_others_their_values_and_its_key_is_asked_again() -> (
    None
):
    reads = Reads(gated=True)
    loader = DataLoader(reads)
    gone, staying = loader.load("a"), loader.load("b")
    gone.cancel()
    reads.release()
    assert await staying == "B"
    assert await loader.load("a") == "A"
    assert reads.calls == [["a", "b"], ["a"]]


async def test_cancelling_a_list_cancels_none_of_its_keys() -> None:
    reads = Reads(gated=True)
    loader = DataLoader(reads)
    many, one = loader.load_many(["a", "b"]), loader.load("a")
    many.cancel()
    reads.release()
    assert await one == "A"
    assert await loader.load("b") == "B"
    assert reads.calls == [["a", "b"]]
