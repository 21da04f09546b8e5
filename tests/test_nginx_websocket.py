"""Subscriptions through the deployment's nginx (docker/nginx.conf under Debian's nginx,
in front of two gateway replicas): a WebSocket's upgrade passes, a graphql-transport-ws
subscription hears of a sale at the till even after staying quiet for longer than any
request may take, and queries are spread over both replicas.

nginx used to drop the Upgrade header (hop-by-hop), so no subscription could pass it.
Here the replicas' read timeout for requests is made one second: a subscription that
outlives it shows that WebSockets have their own."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import aiohttp
import pytest

from legacy.examples import click_and_collect
from legacy.world import World
from tests.fresh import fresh_systems, gateway, pos_sale
from tests.test_nginx import nginx
from tests.test_subscription import SUBSCRIPTION

pytestmark = pytest.mark.process  # nginx in front of two gateways

TIMEOUT_S = 15.0
REQUEST_READ_TIMEOUT_S = 1
REPLICAS = 2


@pytest.fixture(scope="module")
def deployment(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The systems, two replicas and nginx in front of them."""
    folder = tmp_path_factory.mktemp("nginx-websocket")
    with fresh_systems(world, folder) as servers, ExitStack() as replicas:
        urls = [
            replicas.enter_context(gateway(servers, folder / f"gateway-{n}", rate_limit_per_s=0.0))
            for n in range(REPLICAS)
        ]
        quick = {"proxy_read_timeout 30s;": f"proxy_read_timeout {REQUEST_READ_TIMEOUT_S}s;"}
        for port in nginx(folder, urls, **quick):
            yield {"nginx": f"127.0.0.1:{port}", "replicas": urls, "pos": servers["pos"].url}


def operations_served(replica: str, operation: str) -> float:
    """How many requests of ``operation`` the replica answered, by its own metrics."""
    with urllib.request.urlopen(replica + "/metrics", timeout=TIMEOUT_S) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(f'mosaic_requests_total{{operation="{operation}"')
    )


def test_queries_are_spread_over_both_replicas(deployment: dict[str, Any]) -> None:
    for _ in range(2 * REPLICAS):
        request = urllib.request.Request(
            f"http://{deployment['nginx']}/graphql",
            data=json.dumps({"query": "query ThroughNginx { __typename }"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            assert json.loads(response.read()) == {"data": {"__typename": "Query"}}
    served = [operations_served(url, "ThroughNginx") for url in deployment["replicas"]]
    assert sum(served) == 2 * REPLICAS
    assert all(count > 0 for count in served), served


async def test_a_quiet_subscription_through_nginx_hears_of_a_sale(
    deployment: dict[str, Any], world: World
) -> None:
    variables = click_and_collect(world)["input"]
    sku, store = variables["lines"][0]["sku"], variables["pickupLocationId"]
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"ws://{deployment['nginx']}/graphql", protocols=["graphql-transport-ws"]
        ) as ws,
    ):
        assert ws.protocol == "graphql-transport-ws"  # the upgrade reached a replica
        await ws.send_json({"type": "connection_init"})
        assert (await ws.receive_json(timeout=TIMEOUT_S))["type"] == "connection_ack"
        subscribe = {"query": SUBSCRIPTION, "variables": {"skus": [sku], "at": [store]}}
        await ws.send_json({"id": "1", "type": "subscribe", "payload": subscribe})
        # quiet for longer than nginx lets a request's answer take
        await asyncio.sleep(2 * REQUEST_READ_TIMEOUT_S)
        assert not ws.closed
        sold_at = time.monotonic()
        await asyncio.to_thread(
            pos_sale, deployment["pos"], "sale-seen-through-nginx", sku, store.split(":")[1]
        )
        while (message := await ws.receive_json(timeout=TIMEOUT_S))["type"] != "next":
            assert message["type"] in ("ping", "pong"), message
        change = message["payload"]["data"]["stockChanged"]
        assert (change["sku"], change["locationId"], change["source"]) == (sku, store, "POS")
        assert time.monotonic() - sold_at < TIMEOUT_S
