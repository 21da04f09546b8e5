"""Every step of every saga, failed at its source, and the gateway killed between steps:
afterwards the systems, asked directly, agree, and nothing is half done.

Faults come from the simulators' knobs (``fault_only`` aims one at a single step's
calls) or from really closing a system's port. A failed saga undoes what it did at once,
or, when the undo itself cannot reach a system, from the saga log once the system is
back (the sweep runs every ``saga_lease_s``, one second here). The crash tests run the
gateway as a subprocess that exits after a chosen step (tests/crashing_gateway.py: the
hook is passed in, never a setting) and start ``mosaic serve`` again on the same saga log.
"""

from __future__ import annotations

import copy
import os
import socket
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from legacy.common.runner import ServerThread
from legacy.erp.seed import invoice_no
from legacy.examples import click_and_collect, return_in_store
from legacy.world import World
from tests.conftest import CRM_TOKEN, WMS_TOKEN
from tests.crashing_gateway import CRASH_EXIT
from tests.fresh import (
    erp_orders,
    erp_returns,
    fresh_systems,
    gateway,
    pos_levels,
    wms_levels,
)
from tests.gateway_client import codes, run_reference
from tests.simulators import reset_knobs, set_knobs
from tests.timing import poll_until

LEASE_S = 1.0


@dataclass
class Env:
    gateway: str
    servers: dict[str, ServerThread]
    data_dir: Path

    def url(self, system: str) -> str:
        return self.servers[system].url


@pytest.fixture(scope="module")
def env(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    folder = tmp_path_factory.mktemp("sagas")
    with (
        fresh_systems(world, folder) as servers,
        gateway(
            servers,
            folder / "gw",
            saga_lease_s=LEASE_S,
            erp_timeout_s=2.0,
            pos_timeout_s=2.0,
            wms_timeout_s=2.0,
            breaker_failure_threshold=10_000,
        ) as url,
    ):
        yield Env(url, servers, folder / "gw")


@pytest.fixture(autouse=True)
def healthy(env: Env) -> Iterator[None]:
    yield
    for server in env.servers.values():
        if server.server is None:
            server.start()
        reset_knobs(server.url)


def unfinished(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "sagas.sqlite") as db:
        row = db.execute(
            "SELECT count(*) FROM sagas WHERE state IN ('RUNNING', 'COMPENSATING')"
        ).fetchone()
    return int(row[0])


# --- what "nothing half done" means, asked of the systems ------------------------------


@dataclass(frozen=True)
class OrderScene:
    """What a placeOrder may touch: the customer's ERP orders and the goods' levels."""

    variables: dict[str, Any]
    customer_no: str
    sku: str
    location: str
    kind: str  # STORE or WAREHOUSE

    def levels(self, env: Env) -> tuple[int, int]:
        if self.kind == "STORE":
            return pos_levels(env.url("pos"), self.sku, self.location)
        return wms_levels(env.url("wms"), self.sku, self.location)

    def live_orders(self, env: Env) -> list[str]:
        """The customer's open orders: NAV deletes an order that is undone."""
        return sorted(o["No"] for o in erp_orders(env.url("erp"), self.customer_no))


def pickup_scene(world: World, key: str) -> OrderScene:
    variables = copy.deepcopy(click_and_collect(world))
    variables["input"]["idempotencyKey"] = key
    line = variables["input"]["lines"][0]
    contact_id = variables["input"]["customerId"].split(":")[1]
    contact = next(c for c in world.crm_contacts if c.id == contact_id)
    store = variables["input"]["pickupLocationId"].split(":")[1]
    return OrderScene(variables, contact.erp_customer_no or "", line["sku"], store, "STORE")


def delivery_scene(world: World, key: str) -> OrderScene:
    """An item only sold online, so it ships from the warehouse nearest to Groningen."""
    base = pickup_scene(world, key)
    online_only = {i.no for i in world.items if "STORE" not in i.channels and not i.blocked}
    stock = next(s for s in world.warehouse_stock if s.item_no in online_only and s.on_hand > 50)
    site = _nearest_warehouse_with(world, stock.item_no)
    variables = copy.deepcopy(base.variables)
    variables["input"].update(
        lines=[{"sku": stock.item_no, "quantity": 1}],
        pickupLocationId=None,
        deliveryAddress={"postalCode": "9711"},
    )
    return OrderScene(variables, base.customer_no, stock.item_no, site, "WAREHOUSE")


def _nearest_warehouse_with(world: World, sku: str) -> str:
    from geodata import locate
    from resolvers.catalogue.geo import distance_km

    area = locate("9711")
    assert area is not None
    having = {s.location_id for s in world.warehouse_stock if s.item_no == sku and s.on_hand}
    sites = [w for w in world.warehouses if w.id in having]
    return min(sites, key=lambda w: distance_km(area.lat, area.lon, w.lat, w.lon)).id


@dataclass(frozen=True)
class ReturnScene:
    variables: dict[str, Any]
    order_no: str
    sku: str
    store: str

    def state(self, env: Env) -> tuple[list[str], tuple[int, int]]:
        """The order's return orders (an undone one is deleted), the store's levels."""
        returns = erp_returns(env.url("erp"), invoice_no(self.order_no))
        live = sorted(r["No"] for r in returns)
        return live, pos_levels(env.url("pos"), self.sku, self.store)


def return_scene(world: World, key: str, n: int) -> ReturnScene:
    """The n-th delivered online order nothing came back from, returned at a store."""
    returned = {r.order_id for r in world.returns}
    order = [o for o in world.erp_orders if o.status == "DELIVERED" and o.id not in returned][n]
    variables = copy.deepcopy(return_in_store(world))
    sku = order.lines[0].item_no
    variables["input"].update(
        idempotencyKey=key, orderId=f"erp:{order.id}", lines=[{"sku": sku, "quantity": 1}]
    )
    store = variables["input"]["locationId"].split(":")[1]
    return ReturnScene(variables, order.id, sku, store)


# --- a source failing at each step ----------------------------------------------------

#: saga step -> (system, the calls the fault hits)
ORDER_STEPS = {
    "erp_order": ("erp", "page/salesorder:Create"),
    "hold:store": ("pos", "/v2/inventory/changes"),
    "hold:warehouse": ("wms", "/api/v1/reservations"),
}
RETURN_STEPS = {
    "erp_return": ("erp", "page/salesreturnorder:Create"),
    "restock": ("pos", "/v2/inventory/changes"),
}


@pytest.mark.slow  # the undo waits for the sweep (every second here)
@pytest.mark.parametrize("step", list(ORDER_STEPS))
def test_place_order_failing_at_each_step_leaves_nothing_half_done(
    env: Env, world: World, step: str
) -> None:
    make = delivery_scene if step == "hold:warehouse" else pickup_scene
    scene = make(world, f"fail-{step}")
    orders, levels = scene.live_orders(env), scene.levels(env)
    system, calls = ORDER_STEPS[step]
    set_knobs(env.url(system), fault="error500", fault_only=calls)
    result = run_reference(env.gateway, "ClickAndCollect", scene.variables)
    assert codes(result) == ["SOURCE_ERROR"]
    assert result["errors"][0]["extensions"]["source"] == system
    reset_knobs(env.url(system))
    poll_until(lambda: unfinished(env.data_dir) == 0, what="the saga is undone")
    assert scene.live_orders(env) == orders
    assert scene.levels(env) == levels


@pytest.mark.slow  # the undo waits for the sweep (every second here)
def test_place_order_with_the_erp_port_closed_is_undone_once_it_is_back(
    env: Env, world: World
) -> None:
    scene = pickup_scene(world, "fail-erp-closed")
    run_reference(env.gateway, "StockCheck", {"skus": [scene.sku]})  # items in the cache
    orders, levels = scene.live_orders(env), scene.levels(env)
    env.servers["erp"].stop()
    result = run_reference(env.gateway, "ClickAndCollect", scene.variables)
    assert "SOURCE_UNAVAILABLE" in codes(result)
    env.servers["erp"].start()
    poll_until(lambda: unfinished(env.data_dir) == 0, what="the saga is undone")
    assert scene.live_orders(env) == orders
    assert scene.levels(env) == levels


def test_a_store_refusing_the_hold_leaves_no_erp_order(env: Env, world: World) -> None:
    """The hold comes before the ERP's sales order (issue 17), so a refused hold has
    nothing in the ERP to cancel."""
    scene = pickup_scene(world, "refused-hold")
    orders = scene.live_orders(env)
    in_stock, reserved = scene.levels(env)
    variables = copy.deepcopy(scene.variables)
    variables["input"]["lines"][0]["quantity"] = in_stock + 1
    result = run_reference(env.gateway, "ClickAndCollect", variables)
    assert [e["code"] for e in result["data"]["placeOrder"]["errors"]] == ["INSUFFICIENT_STOCK"]
    assert scene.live_orders(env) == orders
    assert scene.levels(env) == (in_stock, reserved)


@pytest.mark.slow  # the undo waits for the sweep (every second here)
@pytest.mark.parametrize("step", list(RETURN_STEPS))
def test_register_return_failing_at_each_step_leaves_nothing_half_done(
    env: Env, world: World, step: str
) -> None:
    scene = return_scene(world, f"fail-return-{step}", list(RETURN_STEPS).index(step))
    before = scene.state(env)
    system, calls = RETURN_STEPS[step]
    set_knobs(env.url(system), fault="error500", fault_only=calls)
    result = run_reference(env.gateway, "ReturnInStore", scene.variables)
    assert codes(result) == ["SOURCE_ERROR"]
    reset_knobs(env.url(system))
    poll_until(lambda: unfinished(env.data_dir) == 0, what="the saga is undone")
    assert scene.state(env) == before
    again = run_reference(env.gateway, "ReturnInStore", scene.variables)  # the key is free
    assert again["data"]["registerReturn"]["errors"] == []
    live, (in_stock, _) = scene.state(env)
    assert len(live) == 1
    assert in_stock == before[1][0] + 1


# --- the gateway killed between steps ------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class GatewayProcess:
    process: subprocess.Popen[bytes]
    url: str


def _spawn(env: Env, data_dir: Path, crash_after: str | None) -> GatewayProcess:
    port = _free_port()
    variables = {
        "MOSAIC_CRM_URL": env.url("crm"),
        "MOSAIC_ERP_URL": env.url("erp"),
        "MOSAIC_POS_URL": env.url("pos"),
        "MOSAIC_WMS_URL": env.url("wms"),
        "MOSAIC_CRM_TOKEN": CRM_TOKEN,
        "MOSAIC_WMS_TOKEN": WMS_TOKEN,
        "MOSAIC_DATA_DIR": str(data_dir),
        "MOSAIC_SAGA_LEASE_S": str(LEASE_S),
    }
    command = (
        ["-m", "tests.crashing_gateway", str(port), crash_after]
        if crash_after
        else ["-m", "gateway.cli", "serve", "--port", str(port)]
    )
    process = subprocess.Popen(
        [sys.executable, *command],
        env={**os.environ, **variables},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def serving() -> bool:
        assert process.poll() is None, "the gateway exited"
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return True
        except OSError:
            return False

    poll_until(serving, 30, what="the gateway serves")
    return GatewayProcess(process, url)


@pytest.fixture
def spawned() -> Iterator[list[GatewayProcess]]:
    started: list[GatewayProcess] = []
    yield started
    for gateway_process in started:
        if gateway_process.process.poll() is None:
            gateway_process.process.terminate()
            gateway_process.process.wait(timeout=10)


def _crash_then_recover(
    env: Env,
    spawned: list[GatewayProcess],
    tmp_path: Path,
    crash_after: str,
    operation: str,
    variables: dict[str, Any],
) -> dict[str, Any]:
    """Send the write to a gateway that dies after the step, start another on the same
    saga log, and answer what the same write (same key) answers there."""
    doomed = _spawn(env, tmp_path, crash_after)
    spawned.append(doomed)
    with pytest.raises((ConnectionError, urllib.error.URLError)):  # dropped: no answer
        run_reference(doomed.url, operation, variables)
    assert doomed.process.wait(timeout=10) == CRASH_EXIT
    assert unfinished(tmp_path) == 1
    restarted = _spawn(env, tmp_path, None)
    spawned.append(restarted)
    poll_until(lambda: unfinished(tmp_path) == 0, what="recovered at start-up")
    return run_reference(restarted.url, operation, variables)


@pytest.mark.process  # gateways killed and restarted
@pytest.mark.parametrize("logged", [True, False], ids=["logged", "unlogged"])
@pytest.mark.parametrize("step", ["erp_order", "hold"])
def test_a_gateway_killed_between_order_steps_finishes_the_order_on_restart(
    env: Env,
    world: World,
    spawned: list[GatewayProcess],
    tmp_path: Path,
    step: str,
    logged: bool,
) -> None:
    scene = pickup_scene(world, f"crash-{step}-{logged}")
    orders, (in_stock, reserved) = scene.live_orders(env), scene.levels(env)
    name = step if step == "erp_order" else f"hold:{scene.location}"
    crash_after = f"place_order:{name}" + ("" if logged else ":unlogged")
    answer = _crash_then_recover(
        env, spawned, tmp_path, crash_after, "ClickAndCollect", scene.variables
    )
    order = answer["data"]["placeOrder"]["order"]
    assert scene.live_orders(env) == sorted([*orders, order["id"].rsplit(":", 1)[1]])
    assert scene.levels(env) == (in_stock - 1, reserved + 1)  # held once, not twice


@pytest.mark.process  # gateways killed and restarted
@pytest.mark.parametrize("step", ["erp_return", "restock:unlogged"])
def test_a_gateway_killed_between_return_steps_finishes_the_return_on_restart(
    env: Env, world: World, spawned: list[GatewayProcess], tmp_path: Path, step: str
) -> None:
    scene = return_scene(world, f"crash-{step}", 5 + ["erp_return", "restock:unlogged"].index(step))
    _, (in_stock, reserved) = scene.state(env)
    answer = _crash_then_recover(
        env, spawned, tmp_path, f"register_return:{step}", "ReturnInStore", scene.variables
    )
    back = answer["data"]["registerReturn"]["return"]
    live, levels = scene.state(env)
    assert live == [back["id"].rsplit(":", 1)[1]]  # one return order, not two
    assert levels == (in_stock + 1, reserved)  # restocked once, not twice
