"""adapters/transport/single_flight.py: calls needing one thing while it loads share
that load and its outcome; a caller that gives up ends no one's load; a failed load is
over, and the next call loads again. (Its uses, against the simulated ERP: the WSDL in
tests/test_erp_adapter.py, the token in tests/test_erp_auth.py.)"""

from __future__ import annotations

import asyncio

import pytest

from adapters.transport.single_flight import SingleFlight


class Loads:
    """A load that waits until the test lets it end, and counts how often it ran."""

    def __init__(self) -> None:
        self.started = 0
        self.end = asyncio.Event()
        self.fail = False

    async def __call__(self) -> str:
        self.started += 1
        await self.end.wait()
        if self.fail:
            raise LookupError("the source failed the load")
        return f"loaded {self.started}"


async def test_callers_arriving_together_share_one_load_and_its_failure() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    load = Loads()
    load.fail = True
    waiting = [asyncio.ensure_future(flights("page", load)) for _ in range(3)]
    await asyncio.sleep(0)
    load.end.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert [type(o) for o in outcomes] == [LookupError] * 3
    assert load.started == 1
    load.fail = False
    assert await flights("page", load) == "loaded 2"


async def test_a_caller_that_gives_up_ends_no_one_elses_load() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    load = Loads()
    impatient = asyncio.ensure_future(flights("page", load))
    patient = asyncio.ensure_future(flights("page", load))
    await asyncio.sleep(0)
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    load.end.set()
    assert await patient == "loaded 1"
    assert load.started == 1


async def test_loads_of_different_keys_run_apart() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    load = Loads()
    load.end.set()
    assert await asyncio.gather(flights("a", load), flights("b", load)) == [
        "loaded 1",
        "loaded 2",
    ]
