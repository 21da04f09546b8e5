"""Following Square's store stock by polling inventory counts with ``updated_after``:
the first poll only learns where the feed stands, each change is told once (although
every poll looks a few seconds back), with both states' levels after it, and a poll
with nothing to tell waits out its time in polls a few milliseconds apart."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from adapters.config import PosConfig
from adapters.feeds import PosFeed
from adapters.pos import PosAdapter
from legacy.common.runner import ServerThread
from legacy.pos.server import create_app
from legacy.world import StockCount, World
from tests.contracts.checks import checks
from tests.fresh import pos_adjust, pos_sale
from tests.simulators import call_count, clear_calls


@pytest.fixture(scope="module")
def pos_url(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("pos-feed") / "pos.sqlite"
    server = ServerThread(create_app(world, path, middleware=checks("pos"))).start()
    yield server.url
    server.stop()


@pytest.fixture
async def feed(pos_url: str) -> AsyncIterator[PosFeed]:
    async with aiohttp.ClientSession() as session:
        yield PosFeed(PosAdapter(session, PosConfig(url=pos_url)), interval_s=0.02)


def stocked(world: World, n: int) -> StockCount:
    return [s for s in world.store_stock if s.on_hand - s.reserved >= 3 and s.reserved][n]


async def test_the_first_poll_tells_nothing_and_the_next_tells_a_sale_with_both_states(
    feed: PosFeed, pos_url: str, world: World
) -> None:
    count = stocked(world, 0)
    events, position = await feed.poll(None, 0.0)
    assert events == []
    pos_sale(pos_url, "feed-sale", count.item_no, count.location_id)
    events, later = await feed.poll(position, 5.0)
    (event,) = events
    assert (event.source, event.kind, event.sku, event.location_id) == (
        "pos",
        "STORE",
        count.item_no,
        count.location_id,
    )
    # the sale touched IN_STOCK only; the reserved goods are still told
    assert (event.on_hand, event.reserved) == (count.on_hand - 1, count.reserved)
    assert later > position


async def test_a_change_is_told_once_though_each_poll_looks_back(
    feed: PosFeed, pos_url: str, world: World
) -> None:
    count = stocked(world, 1)
    _, position = await feed.poll(None, 0.0)
    pos_adjust(pos_url, "feed-hold", count.item_no, count.location_id, 1, "RESERVED_FOR_SALE")
    told, position = await feed.poll(position, 5.0)
    assert [(e.sku, e.reserved) for e in told] == [(count.item_no, count.reserved + 1)]
    again, _ = await feed.poll(position, 0.1)
    assert again == []


async def test_a_quiet_poll_waits_its_time_in_short_polls_then_answers_empty(
    feed: PosFeed, pos_url: str
) -> None:
    _, position = await feed.poll(None, 0.0)
    clear_calls(pos_url)
    events, same = await feed.poll(position, 0.2)
    assert (events, same) == ([], position)
    # one at once, then one after each 20 ms pause of the 200 ms
    assert call_count(pos_url) == {"POST /v2/inventory/counts/batch-retrieve": 11}
