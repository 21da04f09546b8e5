"""The simulated POS on the wire: Square's limits and error shape, cursors, and the writes
(reservations, store sales) with their idempotency and all-or-nothing rules.

These tests write, so they run their own POS on a fresh file, not the session's shared one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from legacy.common.runner import ServerThread
from legacy.pos.server import create_app
from legacy.world import StockCount, World
from tests.simulators import call


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pos-writes") / "pos.sqlite"


@pytest.fixture(scope="module")
def pos(world: World, db_path: Path) -> Iterator[str]:
    server = ServerThread(create_app(world, db_path)).start()
    yield server.url
    server.stop()


def error_code(answer: Any) -> str:
    code: str = answer["errors"][0]["code"]
    return code


def levels(url: str, sku: str, location: str) -> dict[str, int]:
    _, answer = call(
        url,
        "POST",
        "/v2/inventory/counts/batch-retrieve",
        {"catalog_object_ids": [sku], "location_ids": [location]},
    )
    return {c["state"]: int(c["quantity"]) for c in answer.get("counts", [])}


def adjustment(count: StockCount, source: str, target: str, quantity: int) -> dict[str, Any]:
    return {
        "type": "ADJUSTMENT",
        "adjustment": {
            "from_state": source,
            "to_state": target,
            "location_id": count.location_id,
            "catalog_object_id": count.item_no,
            "quantity": str(quantity),
        },
    }


def stocked(world: World, n: int) -> StockCount:
    """The n-th store stock count with goods free to sell (each test takes its own)."""
    return [s for s in world.store_stock if s.on_hand - s.reserved >= 2][n]


def test_a_location_gives_squares_business_hours_beside_our_opening_hours(pos: str) -> None:
    status, answer = call(pos, "GET", "/v2/locations/LOC-001")
    location = answer["location"]
    assert status == 200
    assert location["opening_hours"] == "Mo-Sa 09:00-18:00; Su 12:00-17:00"
    periods = location["business_hours"]["periods"]
    assert [p["day_of_week"] for p in periods] == ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
    assert periods[-1] == {
        "day_of_week": "SUN",
        "start_local_time": "12:00:00",
        "end_local_time": "17:00:00",
    }


def test_an_unknown_location_is_squares_not_found(pos: str) -> None:
    status, answer = call(pos, "GET", "/v2/locations/LOC-999")
    assert (status, error_code(answer)) == (404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        (
            "/v2/orders/batch-retrieve",
            {"order_ids": [f"R{n}" for n in range(101)]},
            "ARRAY_LENGTH_TOO_LONG",
        ),
        (
            "/v2/orders/search",
            {"query": {"filter": {"customer_filter": {"customer_ids": list("abcdefghijk")}}}},
            "ARRAY_LENGTH_TOO_LONG",
        ),
        ("/v2/loyalty/accounts/search", {"limit": 201}, "VALUE_TOO_HIGH"),
        (
            "/v2/loyalty/accounts/search",
            {"query": {"card_numbers": ["1"], "customer_ids": ["2"]}},
            "CONFLICTING_PARAMETERS",
        ),
        ("/v2/inventory/counts/batch-retrieve", {"cursor": "not-ours"}, "INVALID_CURSOR"),
        (
            "/v2/orders/search",
            {"query": {"filter": {"state_filter": {"states": ["LOST"]}}}},
            "INVALID_ENUM_VALUE",
        ),
    ],
)
def test_requests_beyond_squares_limits_get_squares_400(
    pos: str, path: str, body: Any, code: str
) -> None:
    status, answer = call(pos, "POST", path, body)
    assert (status, error_code(answer)) == (400, code)
    assert answer["errors"][0]["category"] == "INVALID_REQUEST_ERROR"


def test_a_search_pages_with_a_cursor_until_it_has_none(pos: str, world: World) -> None:
    customer = world.pos_orders[0].customer_ref or world.pos_orders[1].customer_ref
    query = {"filter": {"customer_filter": {"customer_ids": [customer]}}}
    seen: list[str] = []
    body: dict[str, Any] = {"query": query, "limit": 1}
    while True:
        _, page = call(pos, "POST", "/v2/orders/search", body)
        seen.extend(order["id"] for order in page["orders"])
        if "cursor" not in page:
            break
        body = {**body, "cursor": page["cursor"]}
    expected = [o for o in world.pos_orders if o.customer_ref == customer]
    assert sorted(seen) == sorted(o.id for o in expected)
    assert len(seen) == len(expected) > 1


def test_a_reservation_moves_goods_from_in_stock_to_reserved(pos: str, world: World) -> None:
    count = stocked(world, 0)
    before = levels(pos, count.item_no, count.location_id)
    status, _ = call(
        pos,
        "POST",
        "/v2/inventory/changes/batch-create",
        {
            "idempotency_key": "reserve-1",
            "changes": [adjustment(count, "IN_STOCK", "RESERVED_FOR_SALE", 2)],
        },
    )
    after = levels(pos, count.item_no, count.location_id)
    assert status == 200
    assert after["IN_STOCK"] == before["IN_STOCK"] - 2
    assert after["RESERVED_FOR_SALE"] == before.get("RESERVED_FOR_SALE", 0) + 2


def test_a_repeated_idempotency_key_changes_stock_once(pos: str, world: World) -> None:
    count = stocked(world, 1)
    before = levels(pos, count.item_no, count.location_id)
    body = {
        "idempotency_key": "reserve-2",
        "changes": [adjustment(count, "IN_STOCK", "RESERVED_FOR_SALE", 1)],
    }
    first = call(pos, "POST", "/v2/inventory/changes/batch-create", body)
    again = call(pos, "POST", "/v2/inventory/changes/batch-create", body)
    assert first == again
    assert levels(pos, count.item_no, count.location_id)["IN_STOCK"] == before["IN_STOCK"] - 1


def test_a_change_that_would_go_below_zero_is_refused_and_undoes_the_whole_batch(
    pos: str, world: World
) -> None:
    count, other = stocked(world, 2), stocked(world, 3)
    before = levels(pos, count.item_no, count.location_id)
    status, answer = call(
        pos,
        "POST",
        "/v2/inventory/changes/batch-create",
        {
            "idempotency_key": "reserve-3",
            "changes": [
                adjustment(count, "IN_STOCK", "RESERVED_FOR_SALE", 1),
                adjustment(other, "IN_STOCK", "RESERVED_FOR_SALE", 10_000),
            ],
        },
    )
    assert (status, error_code(answer)) == (409, "CONFLICT")
    assert levels(pos, count.item_no, count.location_id) == before


def test_a_store_sale_is_recorded_once_and_takes_its_goods_from_stock(
    pos: str, world: World
) -> None:
    count = stocked(world, 4)
    before = levels(pos, count.item_no, count.location_id)
    body = {
        "idempotency_key": "sale-1",
        "order": {
            "location_id": count.location_id,
            "line_items": [
                {
                    "catalog_object_id": count.item_no,
                    "quantity": "2",
                    "base_price_money": {"amount": 1999, "currency": "EUR"},
                }
            ],
        },
    }
    status, sale = call(pos, "POST", "/v2/orders", body)
    _, again = call(pos, "POST", "/v2/orders", body)
    order = sale["order"]
    assert status == 200
    assert again["order"]["id"] == order["id"]
    assert (order["state"], order["total_money"]) == (
        "COMPLETED",
        {"amount": 3998, "currency": "EUR"},
    )
    assert levels(pos, count.item_no, count.location_id)["IN_STOCK"] == before["IN_STOCK"] - 2
    _, found = call(pos, "POST", "/v2/orders/batch-retrieve", {"order_ids": [order["id"]]})
    assert found["orders"] == [order]


def test_writes_survive_a_restart(pos: str, world: World, db_path: Path) -> None:
    count = stocked(world, 5)
    change = adjustment(count, "IN_STOCK", "RESERVED_FOR_SALE", 1)
    call(
        pos,
        "POST",
        "/v2/inventory/changes/batch-create",
        {"idempotency_key": "keep", "changes": [change]},
    )
    expected = levels(pos, count.item_no, count.location_id)
    restarted = ServerThread(create_app(world, db_path)).start()
    try:
        assert levels(restarted.url, count.item_no, count.location_id) == expected
        assert expected["IN_STOCK"] == count.on_hand - count.reserved - 1
    finally:
        restarted.stop()
