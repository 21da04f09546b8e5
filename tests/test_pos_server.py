"""The simulated POS on the wire: Square's endpoints, limits and error shape, cursors, and
the writes (inventory adjustments, a sale at the till) as Square makes them, with their
idempotency. What the old POS offered beyond Square is refused now, as Square refuses it.

These tests write, so they run their own POS on a fresh file, not the session's shared one.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from legacy.common.runner import ServerThread
from legacy.pos.server import create_app
from legacy.world import StockCount, World
from tests.contracts.checks import checks
from tests.simulators import call

NOW = datetime.now(UTC).isoformat()


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pos-writes") / "pos.sqlite"


@pytest.fixture(scope="module")
def pos(world: World, db_path: Path) -> Iterator[str]:
    server = ServerThread(create_app(world, db_path, middleware=checks("pos"))).start()
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
            "occurred_at": NOW,
        },
    }


def stocked(world: World, n: int) -> StockCount:
    """The n-th store stock count with goods free to sell (each test takes its own)."""
    return [s for s in world.store_stock if s.on_hand - s.reserved >= 2][n]


def test_a_location_gives_its_hours_as_squares_business_hours_only(pos: str) -> None:
    status, answer = call(pos, "GET", "/v2/locations")
    location = next(loc for loc in answer["locations"] if loc["id"] == "LOC-001")
    assert status == 200
    assert "opening_hours" not in location
    periods = location["business_hours"]["periods"]
    assert [p["day_of_week"] for p in periods] == ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
    assert periods[-1] == {
        "day_of_week": "SUN",
        "start_local_time": "12:00:00",
        "end_local_time": "17:00:00",
    }


def test_an_unknown_customer_is_squares_not_found(pos: str) -> None:
    status, answer = call(pos, "GET", "/v2/customers/SQC999999")
    assert (status, error_code(answer)) == (404, "NOT_FOUND")


STORES_11 = [f"LOC-{n:03d}" for n in range(1, 12)]


@pytest.mark.off_contract_requests
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
            {
                "location_ids": ["LOC-001"],
                "query": {"filter": {"customer_filter": {"customer_ids": list("abcdefghijk")}}},
            },
            "ARRAY_LENGTH_TOO_LONG",
        ),
        ("/v2/orders/search", {"location_ids": STORES_11}, "ARRAY_LENGTH_TOO_LONG"),
        ("/v2/orders/search", {"query": {}}, "MISSING_REQUIRED_PARAMETER"),
        ("/v2/loyalty/accounts/search", {"limit": 201}, "VALUE_TOO_HIGH"),
        (
            "/v2/loyalty/accounts/search",
            {"query": {"mappings": [{"phone_number": "+31600000000"}], "customer_ids": ["2"]}},
            "CONFLICTING_PARAMETERS",
        ),
        ("/v2/inventory/counts/batch-retrieve", {"limit": 1001}, "VALUE_TOO_HIGH"),
        ("/v2/inventory/counts/batch-retrieve", {"cursor": "not-ours"}, "INVALID_CURSOR"),
        (
            "/v2/orders/search",
            {"location_ids": ["LOC-001"], "query": {"filter": {"state_filter": {"states": ["X"]}}}},
            "INVALID_ENUM_VALUE",
        ),
        ("/v2/customers/search", {"limit": 101}, "VALUE_TOO_HIGH"),
    ],
)
def test_requests_beyond_squares_limits_get_squares_400(
    pos: str, path: str, body: Any, code: str
) -> None:
    status, answer = call(pos, "POST", path, body)
    assert (status, error_code(answer)) == (400, code)
    assert answer["errors"][0]["category"] == "INVALID_REQUEST_ERROR"


@pytest.mark.off_contract_requests
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v2/loyalty/accounts/search", {"query": {"card_numbers": ["2610000000009"]}}),
        ("/v2/loyalty/accounts/search", {"query": {"emails": ["a@example.nl"]}}),
        ("/v2/loyalty/accounts/search", {"include_customer": True}),
        ("/v2/inventory/counts/batch-retrieve", {"wait_s": 5}),
    ],
    ids=["card_numbers", "emails", "include_customer", "wait_s"],
)
def test_what_the_old_pos_added_to_square_is_refused(pos: str, path: str, body: Any) -> None:
    status, answer = call(pos, "POST", path, body)
    assert (status, error_code(answer)) == (400, "UNKNOWN_BODY_PARAMETER")


@pytest.fixture(scope="module")
def unchecked_pos(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A POS without the contract check: a path the contract lacks has no answer the
    check could judge."""
    path = tmp_path_factory.mktemp("pos-unchecked") / "pos.sqlite"
    server = ServerThread(create_app(world, path)).start()
    yield server.url
    server.stop()


@pytest.mark.parametrize(
    "path", ["/v2/payments/batch-retrieve-by-order", "/v2/events", "/v2/locations/LOC-001"]
)
def test_endpoints_square_lacks_or_mosaic_does_not_use_are_not_there(
    unchecked_pos: str, path: str
) -> None:
    status, answer = call(unchecked_pos, "POST", path, {})
    assert (status, error_code(answer)) == (404, "NOT_FOUND")


def test_a_search_pages_with_a_cursor_until_it_has_none(pos: str, world: World) -> None:
    customer = world.pos_orders[0].customer_ref or world.pos_orders[1].customer_ref
    query = {"filter": {"customer_filter": {"customer_ids": [customer]}}}
    stores = [s.id for s in world.stores]
    seen: list[str] = []
    for at in (stores[:10], stores[10:20], stores[20:]):
        body: dict[str, Any] = {"location_ids": at, "query": query, "limit": 1}
        while True:
            _, page = call(pos, "POST", "/v2/orders/search", body)
            seen.extend(order["id"] for order in page.get("orders", []))
            if "cursor" not in page:
                break
            body = {**body, "cursor": page["cursor"]}
    expected = [o for o in world.pos_orders if o.customer_ref == customer]
    assert sorted(seen) == sorted(o.id for o in expected)
    assert len(seen) == len(expected) > 1


def test_a_card_is_found_through_its_customers_reference_id(pos: str, world: World) -> None:
    member = world.pos_customers[7]
    query = {"filter": {"reference_id": {"exact": member.card_number}}}
    _, found = call(pos, "POST", "/v2/customers/search", {"query": query})
    (customer,) = found["customers"]
    assert (customer["id"], customer["reference_id"]) == (member.id, member.card_number)
    _, accounts = call(
        pos, "POST", "/v2/loyalty/accounts/search", {"query": {"customer_ids": [member.id]}}
    )
    (account,) = accounts["loyalty_accounts"]
    assert (account["id"], account["balance"], account["lifetime_points"]) == (
        member.loyalty_account_id,
        member.points,
        member.lifetime_points,
    )
    assert not {"card_number", "tier", "customer"} & set(account)


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


def test_an_adjustment_below_zero_is_applied_as_square_applies_it(pos: str, world: World) -> None:
    """Square has no conditional adjustment: a count may go negative. The hold that
    may fail is Mosaic's own (resolvers/commerce/holds.py)."""
    count = stocked(world, 2)
    before = levels(pos, count.item_no, count.location_id)
    status, _ = call(
        pos,
        "POST",
        "/v2/inventory/changes/batch-create",
        {
            "idempotency_key": "reserve-3",
            "changes": [adjustment(count, "IN_STOCK", "RESERVED_FOR_SALE", before["IN_STOCK"] + 3)],
        },
    )
    assert status == 200
    assert levels(pos, count.item_no, count.location_id)["IN_STOCK"] == -3


def test_counts_updated_after_a_moment_are_the_ones_changed_since(pos: str, world: World) -> None:
    count = stocked(world, 6)
    _, before = call(pos, "POST", "/v2/inventory/counts/batch-retrieve", {"limit": 1})
    # Square's calculated_at has milliseconds: a change in this very millisecond may
    # carry a time a little before the moment asked for (a follower looks back)
    moment = (datetime.now(UTC) - timedelta(milliseconds=1)).isoformat()
    call(
        pos,
        "POST",
        "/v2/inventory/changes/batch-create",
        {"idempotency_key": "since-1", "changes": [adjustment(count, "IN_STOCK", "WASTE", 1)]},
    )
    _, changed = call(pos, "POST", "/v2/inventory/counts/batch-retrieve", {"updated_after": moment})
    assert {(c["catalog_object_id"], c["location_id"]) for c in changed["counts"]} == {
        (count.item_no, count.location_id)
    }
    assert before["counts"]


def test_a_sale_at_the_till_is_an_order_that_its_payment_completes(pos: str, world: World) -> None:
    """CreateOrder makes an OPEN order and leaves the goods where they are; the cash
    payment of its amount completes it, and then the goods are sold."""
    count = stocked(world, 4)
    before = levels(pos, count.item_no, count.location_id)
    line = {
        "catalog_object_id": count.item_no,
        "quantity": "2",
        "base_price_money": {"amount": 1999, "currency": "EUR"},
    }
    body = {
        "idempotency_key": "sale-1",
        "order": {"location_id": count.location_id, "line_items": [line]},
    }
    status, sale = call(pos, "POST", "/v2/orders", body)
    _, again = call(pos, "POST", "/v2/orders", body)
    order = sale["order"]
    assert status == 200
    assert again["order"]["id"] == order["id"]
    assert (order["state"], order["net_amount_due_money"]) == (
        "OPEN",
        {"amount": 3998, "currency": "EUR"},
    )
    assert levels(pos, count.item_no, count.location_id) == before
    money = {"amount": 3998, "currency": "EUR"}
    status, paid = call(
        pos,
        "POST",
        "/v2/payments",
        {
            "idempotency_key": "sale-1-paid",
            "source_id": "CASH",
            "amount_money": money,
            "order_id": order["id"],
            "cash_details": {"buyer_supplied_money": money},
        },
    )
    assert (status, paid["payment"]["status"]) == (200, "COMPLETED")
    assert levels(pos, count.item_no, count.location_id)["IN_STOCK"] == before["IN_STOCK"] - 2
    _, found = call(pos, "POST", "/v2/orders/batch-retrieve", {"order_ids": [order["id"]]})
    (completed,) = found["orders"]
    assert completed["state"] == "COMPLETED"
    assert [t["payment_id"] for t in completed["tenders"]] == [paid["payment"]["id"]]


def test_a_customer_delete_keeps_the_loyalty_account_as_square_does(pos: str, world: World) -> None:
    member = world.pos_customers[9]
    status, _ = call(pos, "DELETE", f"/v2/customers/{member.id}")
    assert status == 200
    assert call(pos, "GET", f"/v2/customers/{member.id}")[0] == 404
    _, accounts = call(
        pos, "POST", "/v2/loyalty/accounts/search", {"query": {"customer_ids": [member.id]}}
    )
    assert [a["id"] for a in accounts["loyalty_accounts"]] == [member.loyalty_account_id]


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
    restarted = ServerThread(create_app(world, db_path, middleware=checks("pos"))).start()
    try:
        assert levels(restarted.url, count.item_no, count.location_id) == expected
        assert expected["IN_STOCK"] == count.on_hand - count.reserved - 1
    finally:
        restarted.stop()


# --- credentials ------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("pos-guarded") / "pos.sqlite"
    server = ServerThread(create_app(world, path, middleware=checks("pos"), token="T0K3N")).start()
    yield server.url
    server.stop()


def _get(url: str, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(url + "/v2/locations", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic T0K3N"}],
    ids=["none", "wrong", "not-bearer"],
)
def test_started_with_a_token_it_answers_401_as_square_does(
    guarded: str, headers: dict[str, str]
) -> None:
    status, answer = _get(guarded, headers)
    assert status == 401
    (error,) = answer["errors"]
    assert (error["category"], error["code"]) == ("AUTHENTICATION_ERROR", "UNAUTHORIZED")


def test_with_its_token_it_answers_and_its_admin_stays_open(guarded: str) -> None:
    status, answer = _get(guarded, {"Authorization": "Bearer T0K3N"})
    assert status == 200
    assert answer["locations"]
    with urllib.request.urlopen(guarded + "/__admin/knobs", timeout=10) as admin:
        assert admin.status == 200


@pytest.mark.off_contract_requests
def test_a_square_version_that_is_no_date_is_refused(guarded: str) -> None:
    status, answer = _get(guarded, {"Authorization": "Bearer T0K3N", "Square-Version": "latest"})
    assert (status, error_code(answer)) == (400, "INVALID_SQUARE_VERSION_FORMAT")


def test_the_token_status_lists_what_the_token_may_do(pos: str) -> None:
    status, answer = call(pos, "POST", "/oauth2/token/status", {})
    assert status == 200
    assert {"ORDERS_READ", "INVENTORY_WRITE", "LOYALTY_READ"} <= set(answer["scopes"])
