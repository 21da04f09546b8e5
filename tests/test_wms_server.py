"""The simulated WMS on the wire: its batch limit, site filter, and conditional,
idempotent reservations that a saga can undo.

These tests write, so they run their own WMS on a fresh file, not the session's shared one.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from legacy.common.runner import ServerThread
from legacy.wms.server import create_app
from legacy.world import StockCount, World
from tests.conftest import WMS_TOKEN
from tests.contracts.checks import checks
from tests.simulators import call


def ask(url: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """A request as the WMS's contract has clients send it: with the bearer token."""
    return call(url, method, path, body, token=WMS_TOKEN)


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wms-writes") / "wms.sqlite"


@pytest.fixture(scope="module")
def wms(world: World, db_path: Path) -> Iterator[str]:
    app = create_app(world, db_path, token=WMS_TOKEN, middleware=checks("wms"))
    server = ServerThread(app).start()
    yield server.url
    server.stop()


def level(url: str, count: StockCount) -> dict[str, Any]:
    _, answer = ask(
        url, "POST", "/api/v1/stock/query", {"skus": [count.item_no], "sites": [count.location_id]}
    )
    (row,) = answer["stock"]
    return dict(row)


def stocked(world: World, n: int) -> StockCount:
    """The n-th warehouse count with goods free to reserve (each test takes its own)."""
    return [s for s in world.warehouse_stock if s.on_hand - s.reserved >= 5][n]


def reserve(url: str, count: StockCount, quantity: int, reference: str | None = None) -> Any:
    body = {"sku": count.item_no, "site": count.location_id, "quantity": quantity}
    return ask(url, "POST", "/api/v1/reservations", {**body, "reference": reference})


@pytest.mark.off_contract_requests
def test_more_than_500_skus_is_a_bad_request(wms: str) -> None:
    status, answer = ask(wms, "POST", "/api/v1/stock/query", {"skus": [str(n) for n in range(501)]})
    assert (status, answer["error"]["code"]) == (400, "TOO_MANY_KEYS")


def test_stock_can_be_asked_for_chosen_sites(wms: str, world: World) -> None:
    count = world.warehouse_stock[0]
    _, answer = ask(
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
    assert ask(wms, "DELETE", f"/api/v1/reservations/{reservation['id']}") == (204, None)
    assert level(wms, count)["reserved"] == count.reserved
    status, answer = ask(wms, "DELETE", f"/api/v1/reservations/{reservation['id']}")
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
    app = create_app(world, db_path, token=WMS_TOKEN, middleware=checks("wms"))
    restarted = ServerThread(app).start()
    try:
        assert level(restarted.url, count)["reserved"] == count.reserved + 1
    finally:
        restarted.stop()


@pytest.mark.off_contract_requests
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/stock/query", {"skus": []}),
        ("/api/v1/inbound/query", {"skus": [""]}),
        ("/api/v1/stock/query", {"skus": ["10000"], "sites": []}),
    ],
    ids=["no-skus", "empty-sku", "no-sites"],
)
def test_a_query_for_nothing_is_a_bad_request(wms: str, path: str, body: Any) -> None:
    """contracts/wms/openapi.yaml: at least one key, none empty."""
    status, answer = ask(wms, "POST", path, body)
    assert (status, answer["error"]["code"]) == (400, "BAD_REQUEST")


@pytest.mark.off_contract_requests
@pytest.mark.parametrize("query", ["limit=501", "limit=0", "wait_s=31", "after=-1", "after=x"])
def test_the_feeds_bounds_are_kept(wms: str, query: str) -> None:
    status, answer = ask(wms, "GET", f"/api/v1/events?{query}")
    assert (status, answer["error"]["code"]) == (400, "BAD_REQUEST")


@pytest.mark.off_contract_requests
def test_with_a_token_every_request_needs_it(world: World, tmp_path: Path) -> None:
    server = ServerThread(
        create_app(world, tmp_path / "wms.sqlite", token="t0k3n", middleware=checks("wms"))
    ).start()
    try:
        refused = urllib.request.Request(server.url + "/api/v1/warehouses")
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(refused, timeout=10)
        admitted = urllib.request.Request(
            server.url + "/api/v1/warehouses", headers={"Authorization": "Bearer t0k3n"}
        )
        with urllib.request.urlopen(admitted, timeout=10) as response:
            warehouses = json.loads(response.read())
        open_admin = ask(server.url, "GET", "/__admin/knobs")[0]
    finally:
        server.stop()
    assert error.value.code == 401
    assert error.value.headers["WWW-Authenticate"].startswith("Bearer")
    assert json.loads(error.value.read())["error"]["code"] == "UNAUTHORIZED"
    assert {w["id"] for w in warehouses} == {w.id for w in world.warehouses}
    assert open_admin == 200
