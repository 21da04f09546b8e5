"""The simulated WMS on the wire: its batch limit, site filter, and conditional,
idempotent reservations that a saga can undo.

These tests write, so they run their own WMS on a fresh file, not the session's shared one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from legacy.common.runner import ServerThread
from legacy.wms.server import create_app
from legacy.world import StockCount, World
from tests.simulators import call


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wms-writes") / "wms.sqlite"


@pytest.fixture(scope="module")
def wms(world: World, db_path: Path) -> Iterator[str]:
    server = ServerThread(create_app(world, db_path)).start()
    yield server.url
    server.stop()


def level(url: str, count: StockCount) -> dict[str, Any]:
    _, answer = call(
        url, "POST", "/api/v1/stock/query", {"skus": [count.item_no], "sites": [count.location_id]}
    )
    (row,) = answer["stock"]
    return dict(row)


def stocked(world: World, n: int) -> StockCount:
    """The n-th warehouse count with goods free to reserve (each test takes its own)."""
    return [s for s in world.warehouse_stock if s.on_hand - s.reserved >= 5][n]


def reserve(url: str, count: StockCount, quantity: int, reference: str | None = None) -> Any:
    body = {"sku": count.item_no, "site": count.location_id, "quantity": quantity}
    return call(url, "POST", "/api/v1/reservations", {**body, "reference": reference})


def test_more_than_500_skus_is_a_bad_request(wms: str) -> None:
    status, answer = call(
        wms, "POST", "/api/v1/stock/query", {"skus": [str(n) for n in range(501)]}
    )
    assert (status, answer["error"]["code"]) == (400, "TOO_MANY_KEYS")


def test_stock_can_be_asked_for_chosen_sites(wms: str, world: World) -> None:
    count = world.warehouse_stock[0]
    _, answer = call(
        wms, "POST", "/api/v1/stock/query", {"skus": [count.item_no], "sites": [count.location_id]}
    )
    assert answer["stock"] == [
        {
            "sku": count.item_no,
            "site": count.location_id,
            "on_hand": count.on_hand,
            "reserved": count.reserved,
        }
    ]


def test_a_reservation_holds_stock_until_it_is_released(wms: str, world: World) -> None:
    count = stocked(world, 0)
    status, reservation = reserve(wms, count, 3)
    assert status == 201
    assert level(wms, count)["reserved"] == count.reserved + 3
    assert call(wms, "DELETE", f"/api/v1/reservations/{reservation['id']}") == (204, None)
    assert level(wms, count)["reserved"] == count.reserved
    status, answer = call(wms, "DELETE", f"/api/v1/reservations/{reservation['id']}")
    assert (status, answer["error"]["code"]) == (404, "NOT_FOUND")


def test_a_reservation_beyond_what_is_available_is_refused(wms: str, world: World) -> None:
    count = stocked(world, 1)
    available = count.on_hand - count.reserved
    status, answer = reserve(wms, count, available + 1)
    assert (status, answer["error"]["code"], answer["error"]["available"]) == (
        409,
        "INSUFFICIENT_STOCK",
        available,
    )
    assert level(wms, count)["reserved"] == count.reserved


def test_a_repeated_reference_reserves_once(wms: str, world: World) -> None:
    count = stocked(world, 2)
    first = reserve(wms, count, 2, reference="order-42")
    again = reserve(wms, count, 2, reference="order-42")
    assert (first[0], again[0]) == (201, 200)
    assert first[1] == again[1]
    assert level(wms, count)["reserved"] == count.reserved + 2


def test_reservations_survive_a_restart(wms: str, world: World, db_path: Path) -> None:
    count = stocked(world, 3)
    reserve(wms, count, 1)
    restarted = ServerThread(create_app(world, db_path)).start()
    try:
        assert level(restarted.url, count)["reserved"] == count.reserved + 1
    finally:
        restarted.stop()
