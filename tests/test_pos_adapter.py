"""The POS adapter against the running Square-style POS: Square's own calls and limits,
Square's minor units and string quantities turned into exact records, every failure one
of ours.

Call counts are read from the simulated POS's own call log, so they are what the POS saw.
Where a real Square takes more calls than the old POS did, the test says why.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import pytest
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.config import PosConfig
from adapters.errors import (
    BadUpstreamResponse,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamFault,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.pos import PosAdapter
from adapters.records import StockRecord
from adapters.transport.resilience import GuardConfig
from legacy.common.runner import ServerThread
from legacy.pos.server import create_app
from legacy.world import TIER_THRESHOLDS, Order, PosCustomer, World
from tests.contracts.checks import checks
from tests.simulators import call_count, clear_calls, reset_knobs, set_knobs

LOYALTY = "POST /v2/loyalty/accounts/search"
CUSTOMERS = "POST /v2/customers/search"
PROFILES = "POST /v2/customers/bulk-retrieve"
LOCATIONS = "GET /v2/locations"
ORDER_SEARCH = "POST /v2/orders/search"
ORDER_RETRIEVE = "POST /v2/orders/batch-retrieve"
COUNTS = "POST /v2/inventory/counts/batch-retrieve"
STORE_CHUNKS = 3  # the small world's 25 stores, 10 a SearchOrders


@pytest.fixture
def pos_url(pos_server: ServerThread) -> str:
    clear_calls(pos_server.url)
    return pos_server.url


@pytest.fixture
def faulty_pos(pos_url: str) -> Iterator[str]:
    """The shared POS, put right again after a test that broke it."""
    yield pos_url
    reset_knobs(pos_url)


def adapter(session: aiohttp.ClientSession, url: str, **config: Any) -> PosAdapter:
    return PosAdapter(session, PosConfig(url=url, tier_thresholds=TIER_THRESHOLDS, **config))


def members(world: World, n: int, start: int = 0) -> list[PosCustomer]:
    return world.pos_customers[start : start + n]


def tier_of(member: PosCustomer) -> str:
    reached = [(p, t) for t, p in TIER_THRESHOLDS.items() if p <= member.lifetime_points]
    return max(reached)[1]


def receipts_by_customer(world: World) -> dict[str, list[Order]]:
    by_customer: dict[str, list[Order]] = {}
    for order in world.pos_orders:
        if order.customer_ref:
            by_customer.setdefault(order.customer_ref, []).append(order)
    return by_customer


# --- stores ---------------------------------------------------------------------


async def test_locations_are_the_stores_with_hours_from_business_hours_place_and_status(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    found = {loc.id: loc for loc in await adapter(session, pos_url).locations()}
    assert set(found) == {store.id for store in world.stores}
    for store in world.stores:
        loc = found[store.id]
        assert loc.kind == "STORE"
        assert (loc.name, loc.active, loc.opening_hours) == (
            store.name,
            store.active,
            store.opening_hours,
        )
        assert (loc.lat, loc.lon) == (store.lat, store.lon)
        assert (loc.address.street, loc.address.city, loc.address.postal_code) == (
            store.address.street,
            store.address.city,
            store.address.postal_code,
        )
    assert call_count(pos_url) == {LOCATIONS: 1}


# --- loyalty --------------------------------------------------------------------


async def test_loyalty_by_cards_finds_each_cards_customer_then_their_accounts(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    """Square's accounts have no card: the card is the profile's reference_id, and
    SearchCustomers' exact filter takes one value. So one search per card (in
    parallel), then one account search for all the customers found: a round more
    than the old POS's single card search."""
    cards = [c.card_number for c in members(world, 12)]
    found = await adapter(session, pos_url).loyalty_by_cards([*cards, *cards[:4], "2619999999999"])
    assert set(found) == set(cards)
    assert call_count(pos_url) == {CUSTOMERS: 13, LOYALTY: 1}


async def test_a_loyalty_account_carries_the_tier_its_lifetime_points_reach(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    member = world.pos_customers[3]
    account = (await adapter(session, pos_url).loyalty_by_cards([member.card_number]))[
        member.card_number
    ]
    assert (account.account_id, account.customer_id, account.card_number) == (
        member.loyalty_account_id,
        member.id,
        member.card_number,
    )
    assert (account.tier, account.points) == (tier_of(member), member.points)
    assert (account.given_name, account.family_name, account.email, account.phone) == (
        member.given_name,
        member.family_name,
        member.email,
        member.phone,
    )


async def test_without_tier_thresholds_every_tier_is_null(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    pos = PosAdapter(session, PosConfig(url=pos_url))
    found = await pos.loyalty_by_customers([c.id for c in members(world, 10)])
    assert len(found) == 10
    assert {account.tier for account in found.values()} == {None}


async def test_without_a_card_field_cards_are_not_looked_for(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    pos = PosAdapter(session, PosConfig(url=pos_url, card_field=None))
    assert await pos.loyalty_by_cards([world.pos_customers[0].card_number]) == {}
    account = (await pos.loyalty_by_customers([world.pos_customers[0].id]))[
        world.pos_customers[0].id
    ]
    assert account.card_number is None
    assert CUSTOMERS not in call_count(pos_url)


async def test_loyalty_by_customers_asks_accounts_and_profiles_at_once(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    """The profiles (name, contact, card) come from BulkRetrieveCustomers: the ids are
    the same, so both calls go in the same round."""
    ids = [c.id for c in members(world, 10, start=20)]
    found = await adapter(session, pos_url).loyalty_by_customers([*ids, "SQC999999"])
    assert {key: a.customer_id for key, a in found.items()} == {i: i for i in ids}
    assert all(a.card_number for a in found.values())
    assert call_count(pos_url) == {LOYALTY: 1, PROFILES: 1}


async def test_loyalty_by_emails_matches_any_casing_and_keys_by_the_normalised_address(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    """One SearchCustomers per address (Square's exact e-mail filter ignores case),
    then one account search."""
    emails = [c.email for c in members(world, 20) if c.email]
    asked = [f"  {e.upper()} " for e in emails]
    found = await adapter(session, pos_url).loyalty_by_emails([*asked, *emails])
    assert set(found) == {e.lower() for e in emails}
    assert all(found[e.lower()].email == e for e in emails)
    assert call_count(pos_url) == {CUSTOMERS: len(set(emails)), LOYALTY: 1}


async def test_loyalty_by_phones_is_one_account_search_then_the_profiles(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    by_phone = {c.phone: c for c in members(world, 10) if c.phone}
    found = await adapter(session, pos_url).loyalty_by_phones([*by_phone, "+31600000000"])
    assert {p: a.customer_id for p, a in found.items()} == {p: c.id for p, c in by_phone.items()}
    assert {p: a.card_number for p, a in found.items()} == {
        p: c.card_number for p, c in by_phone.items()
    }
    assert call_count(pos_url) == {LOYALTY: 1, PROFILES: 1}


async def test_loyalty_lookups_split_at_squares_limit_of_30_keys(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    ids = [c.id for c in members(world, 65)]
    found = await adapter(session, pos_url, max_batch=100).loyalty_by_customers(ids)
    assert len(found) == 65
    assert call_count(pos_url) == {LOYALTY: 3, PROFILES: 1}


async def test_loyalty_lookups_split_at_the_configured_batch_size(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    ids = [c.id for c in members(world, 10)]
    found = await adapter(session, pos_url, max_batch=4).loyalty_by_customers(ids)
    assert len(found) == 10
    assert call_count(pos_url) == {LOYALTY: 3, PROFILES: 3}


async def test_no_keys_means_no_call(session: aiohttp.ClientSession, pos_url: str) -> None:
    pos = adapter(session, pos_url)
    assert await pos.loyalty_by_emails(["", "  "]) == {}
    assert await pos.loyalty_by_cards([]) == {}
    assert await pos.orders([]) == {}
    assert await pos.orders_by_customer([]) == {}
    assert await pos.stock([]) == []
    assert await pos.payments_by_order([]) == {}
    assert call_count(pos_url) == {}


# --- orders ---------------------------------------------------------------------


async def test_orders_by_customer_are_newest_first_with_every_asked_id_present(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    """SearchOrders needs the location ids, at most 10 a search: the merchant's are
    read once (ListLocations), then one search per 10 stores, in parallel."""
    receipts = receipts_by_customer(world)
    ids = sorted(receipts)[:9]  # with the unknown one, Square's limit of 10 per search
    found = await adapter(session, pos_url).orders_by_customer([*ids, ids[0], "SQC999999"])
    assert set(found) == {*ids, "SQC999999"}
    assert found["SQC999999"] == []
    for customer_id in ids:
        expected = sorted(receipts[customer_id], key=lambda o: o.placed_at, reverse=True)
        assert [o.placed_at for o in found[customer_id]] == [o.placed_at for o in expected]
        assert {o.id for o in found[customer_id]} == {o.id for o in expected}
    assert call_count(pos_url) == {LOCATIONS: 1, ORDER_SEARCH: STORE_CHUNKS}


async def test_the_location_ids_are_read_once_an_hour(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    now = [0.0]
    pos = PosAdapter(session, PosConfig(url=pos_url), clock=lambda: now[0])
    customer = sorted(receipts_by_customer(world))[0]
    for moment in (0.0, 3599.0, 3601.0):
        now[0] = moment
        await pos.orders_by_customer([customer])
    assert call_count(pos_url) == {LOCATIONS: 2, ORDER_SEARCH: 3 * STORE_CHUNKS}


async def test_the_location_ids_are_kept_for_the_reference_ttl(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    """MOSAIC_REFERENCE_TTL_S sets how long they are kept; the count pages are planned
    on them too, so store stock asks for them no more often."""
    now = [0.0]
    pos = PosAdapter(session, PosConfig(url=pos_url, reference_ttl_s=60), clock=lambda: now[0])
    skus = [item.no for item in world.items[:3]]
    for moment in (0.0, 59.0, 61.0):
        now[0] = moment
        await pos.stock(skus)
    assert call_count(pos_url) == {LOCATIONS: 2, COUNTS: 3}


async def test_orders_by_customer_split_at_squares_limit_of_10_customers(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    ids = sorted(receipts_by_customer(world))[:25]
    found = await adapter(session, pos_url).orders_by_customer(ids)
    assert all(found[i] for i in ids)
    assert call_count(pos_url) == {LOCATIONS: 1, ORDER_SEARCH: 3 * STORE_CHUNKS}


async def test_orders_are_one_call_and_unknown_ids_are_absent(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    ids = [o.id for o in world.pos_orders[:40]]
    found = await adapter(session, pos_url).orders([*ids, *ids[:5], "R9999999"])
    assert set(found) == set(ids)
    assert call_count(pos_url) == {ORDER_RETRIEVE: 1}


async def test_order_money_is_converted_from_minor_units_exactly(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    orders = world.pos_orders[:60]
    found = await adapter(session, pos_url).orders([o.id for o in orders])
    for order in orders:
        record = found[order.id]
        assert record.total is not None
        assert (record.total.amount, record.total.currency) == (order.total, "EUR")
        assert [(line.sku, line.quantity) for line in record.lines] == [
            (line.item_no, line.quantity) for line in order.lines
        ]
        for line, expected in zip(record.lines, order.lines, strict=True):
            assert line.unit_price is not None
            assert line.unit_price.amount == expected.unit_price
            assert isinstance(line.unit_price.amount, Decimal)
            assert line.unit_price.amount.as_tuple().exponent == -2


async def test_an_order_record_speaks_mosaics_words(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    order = next(o for o in world.pos_orders if o.customer_ref)
    record = (await adapter(session, pos_url).orders([order.id]))[order.id]
    assert (record.source, record.channel, record.status) == ("pos", "STORE", "COMPLETED")
    assert (record.customer_ref, record.location_id) == (order.customer_ref, order.location_id)
    assert record.placed_at == order.placed_at


async def test_orders_are_split_at_the_configured_batch_size(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    ids = [o.id for o in world.pos_orders[:9]]
    found = await adapter(session, pos_url, max_batch=4).orders(ids)
    assert set(found) == set(ids)
    assert call_count(pos_url) == {ORDER_RETRIEVE: 3}


# --- stock ----------------------------------------------------------------------


def world_stock(world: World, skus: set[str], stores: set[str] | None = None) -> set[StockRecord]:
    return {
        StockRecord(s.item_no, s.location_id, s.on_hand, s.reserved)
        for s in world.store_stock
        if s.item_no in skus and (stores is None or s.location_id in stores)
    }


async def test_store_stock_matches_the_stores_counts_in_chunks_that_fill_a_page(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    """Square answers at most 1,000 counts a page, and has a count per item, store and
    state the goods were ever in: IN_STOCK, and RESERVED_FOR_SALE only where some were
    held. So calls are planned at one count per item and store: 60 SKUs at 25 stores
    are 1,500, two calls of 30 in parallel (after the location list that says how many
    stores there are). Until issue 19 they were planned at two counts, 20 SKUs a call:
    three calls."""
    skus = [item.no for item in world.items[:60]]
    found = await adapter(session, pos_url).stock([*skus, *skus[:5], "99999"])
    assert len(found) == len(set(found))
    assert set(found) == world_stock(world, set(skus))
    assert any(record.reserved for record in found)
    assert call_count(pos_url) == {LOCATIONS: 1, COUNTS: 2}


async def test_store_stock_at_chosen_stores_only(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    """Two stores: 500 SKUs fit a page, so 100 are one call, and no location list."""
    skus = [item.no for item in world.items[:100]]
    stores = ["LOC-001", "LOC-007"]
    found = await adapter(session, pos_url).stock(skus, stores)
    assert set(found) == world_stock(world, set(skus), set(stores))
    assert call_count(pos_url) == {COUNTS: 1}


async def test_store_stock_calls_grow_with_the_skus_asked_not_with_the_counts_answered(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    """100 SKUs at 25 stores: 2,500 counts planned, three calls of 34, 33 and 33 SKUs
    (it was five of 20 until issue 19); none of them needs a second page."""
    skus = [item.no for item in world.items[:100]]  # thousands of counts
    found = await adapter(session, pos_url, max_batch=100).stock(skus)
    assert set(found) == world_stock(world, set(skus))
    assert call_count(pos_url) == {LOCATIONS: 1, COUNTS: math.ceil(100 * 25 / 1000)}


async def test_store_stock_splits_the_stores_too_when_they_are_more_than_a_page(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    """With a page of 10 counts, 25 stores are three groups of at most 10 (Square's
    location_ids), each asked for one SKU a call: 3 SKUs are 9 calls in parallel, and
    more when a group's page fills with held goods (its cursor followed)."""
    skus = [item.no for item in world.items[:3]]
    pos = adapter(session, pos_url)
    pos.count_page = 10
    found = await pos.stock(skus)
    assert set(found) == world_stock(world, set(skus))
    assert call_count(pos_url)[COUNTS] >= 3 * math.ceil(len(world.stores) / 10)


async def test_store_stock_follows_the_cursor_to_the_last_page(
    session: aiohttp.ClientSession, pos_url: str, world: World
) -> None:
    """A call is planned at one count per item and store; one whose goods were held
    as well has more counts than that, and follows its cursor. With a page of 7 counts
    at 3 stores, two SKUs a call: 20 SKUs are 10 calls, and more pages than that."""
    skus = [item.no for item in world.items[:20]]
    stores = [s.id for s in world.stores[:3]]
    pos = adapter(session, pos_url, max_batch=100)
    pos.count_page = 7
    found = await pos.stock(skus, stores)
    assert set(found) == world_stock(world, set(skus), set(stores))
    assert call_count(pos_url)[COUNTS] > 10


# --- credentials and version ----------------------------------------------------


class HeaderLog:
    """Inner middleware of a simulated POS: the headers of every request it received."""

    seen: ClassVar[list[dict[str, str]]] = []

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append({k.decode(): v.decode() for k, v in scope["headers"]})
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def guarded_pos(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A POS that wants an access token, as ``mosaic legacy pos --token`` starts it."""
    path: Path = tmp_path_factory.mktemp("pos-token") / "pos.sqlite"
    inner = [Middleware(HeaderLog), *checks("pos")]
    app = create_app(world, path, middleware=inner, token="square-token")
    server = ServerThread(app).start()
    yield server.url
    server.stop()


async def test_the_access_token_and_the_square_version_go_with_every_request(
    session: aiohttp.ClientSession, guarded_pos: str
) -> None:
    HeaderLog.seen.clear()
    pos = adapter(session, guarded_pos, token="square-token", square_version="2025-08-20")
    assert await pos.locations()
    (headers,) = HeaderLog.seen
    assert headers["authorization"] == "Bearer square-token"
    assert headers["square-version"] == "2025-08-20"


async def test_a_refused_token_is_source_auth_failed_asked_once(
    session: aiohttp.ClientSession, guarded_pos: str
) -> None:
    clear_calls(guarded_pos)
    pos = adapter(session, guarded_pos, token="wrong-token")
    with pytest.raises(UpstreamAuthFailed) as raised:
        await pos.locations()
    assert raised.value.source == "pos"
    assert "wrong-token" not in raised.value.message
    assert call_count(guarded_pos) == {LOCATIONS: 1}


# --- failures -------------------------------------------------------------------

#: knobs that break the POS, and what the adapter must raise. A slow answer stands for a
#: hang: it times out the same way, but does not leave a request asleep in the server
#: for an hour (which uvicorn would wait for when the session's servers stop).
FAULTS = [
    ({"fault": "error500"}, UpstreamFault),
    ({"fault": "garbage"}, BadUpstreamResponse),
    ({"fault": "html"}, BadUpstreamResponse),
    ({"fault": "rate_limit"}, UpstreamRateLimited),
    ({"latency_ms": 1000}, UpstreamTimeout),
]


@pytest.mark.parametrize(
    ("knobs", "error"), FAULTS, ids=["error500", "garbage", "html", "rate_limit", "slow"]
)
async def test_a_broken_pos_raises_our_error_naming_the_source(
    session: aiohttp.ClientSession,
    faulty_pos: str,
    world: World,
    knobs: dict[str, Any],
    error: type[UpstreamError],
) -> None:
    set_knobs(faulty_pos, **knobs)
    pos = adapter(session, faulty_pos, timeout_s=0.3, guard=GuardConfig(retries=0))
    with pytest.raises(error) as raised:
        await pos.loyalty_by_customers([world.pos_customers[0].id])
    assert raised.value.source == "pos"


@pytest.mark.parametrize("fault", ["garbage", "html"])
async def test_stock_counts_that_are_not_json_are_a_bad_response_from_the_pos(
    session: aiohttp.ClientSession, faulty_pos: str, world: World, fault: str
) -> None:
    """Counts are decoded straight into their types (``adapters.pos.InventoryCount``),
    not through the JSON every other read takes: a reply that is not JSON is still the
    POS's bad response, not a crash."""
    set_knobs(faulty_pos, fault=fault)
    pos = adapter(session, faulty_pos, timeout_s=0.3, guard=GuardConfig(retries=0))
    with pytest.raises(BadUpstreamResponse) as raised:
        await pos.stock([world.items[0].no], [world.stores[0].id])  # no location list read
    assert raised.value.source == "pos"


async def test_a_pos_that_is_not_there_is_unavailable(session: aiohttp.ClientSession) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pos = adapter(session, f"http://127.0.0.1:{port}", guard=GuardConfig(retries=0))
    with pytest.raises(UpstreamUnavailable):
        await pos.locations()
