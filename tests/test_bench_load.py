"""The load generator itself: what it does to its own process while it measures."""

from __future__ import annotations

import asyncio
import gc

from bench.load import SMALLEST, Request, closed_loop


async def test_the_generators_heap_is_out_of_the_collectors_way_while_it_drives_load(
    gateway_url: str,
) -> None:
    """Its heap frozen while it drives (collecting it stalled every request in flight
    by ~265 ms), and given back to the collector afterwards."""
    before = gc.get_freeze_count()  # an in-process gateway froze its start-up heap
    frozen: list[int] = []

    async def watch() -> None:
        while True:
            frozen.append(gc.get_freeze_count())
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    result = await closed_loop(
        f"{gateway_url}/graphql", [Request("Hello", SMALLEST)], 2, 0.3, 10**6
    )
    watcher.cancel()
    assert result.samples
    assert frozen
    assert min(frozen) > before
    assert gc.get_freeze_count() == 0
