"""A client's bad value is the client's error, never the source's.

Issue 15, finding 2: five requests for ``product(sku: "x\\u0000")`` switched the ERP off
for everyone. The SOAP layer refused the value before sending it (XML cannot carry a
NUL), that refusal counted as an ERP failure, the breaker opened, and every client got
``CIRCUIT_OPEN`` on every ERP field; the message also showed the ERP's internal URL.
Now the schema refuses such values before any resolver runs, and a refusal inside an
adapter that still happens is ``BAD_USER_INPUT`` that counts nowhere. Only the source's
own failures count towards its breaker and its retries.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from adapters.config import ErpConfig
from adapters.erp.adapter import ErpAdapter
from adapters.errors import UnsendableValue, UpstreamFault, without_addresses
from adapters.transport.resilience import GuardConfig
from legacy.common.runner import ServerThread
from legacy.erp.pages import INSTALLATION_FIELDS
from legacy.world import World
from tests.conftest import _gateway
from tests.gateway_client import graphql
from tests.simulators import call_count, clear_calls

#: the ERP's breaker opens after this many failures in a row (GuardConfig's default)
THRESHOLD = GuardConfig().failure_threshold


@pytest.fixture(scope="module")
def own_gateway(systems: dict[str, str]) -> Iterator[str]:
    """A gateway of this module's own: were a test here to open a breaker, no other
    module would pay for it."""
    yield from _gateway(systems, cache=False)


def _addresses(systems: dict[str, str]) -> list[str]:
    return [*systems.values(), "127.0.0.1"]


# --- the adapter -----------------------------------------------------------------------


async def test_a_value_the_erp_cannot_take_is_bad_user_input_that_never_opens_its_breaker(
    session: aiohttp.ClientSession, erp_server: ServerThread, world: World
) -> None:
    guard = GuardConfig(failure_threshold=2, retries=2)
    config = ErpConfig(url=erp_server.url, guard=guard, fields=dict(INSTALLATION_FIELDS))
    adapter = ErpAdapter(session, config)
    await adapter.items([world.items[0].no])  # the WSDL is loaded: a refusal is all that is left
    clear_calls(erp_server.url)
    for _ in range(3 * guard.failure_threshold):
        with pytest.raises(UnsendableValue) as refused:
            await adapter.items(["x\x00"])
        assert refused.value.extensions["code"] == "BAD_USER_INPUT"
        assert erp_server.url not in refused.value.message
    assert adapter.guard.breaker.state == "closed"
    assert adapter.guard.state()["recent_error_rate"] == 0.0
    found = await adapter.items([world.items[1].no])
    assert list(found) == [world.items[1].no]
    assert call_count(erp_server.url) == {"ItemCard:ReadMultiple": 1}  # nothing refused was sent


# --- through the gateway ---------------------------------------------------------------

HOSTILE: dict[str, tuple[str, list[str]]] = {
    "a SKU with a NUL": ('{ product(sku: "x\\u0000") { name } }', ["sku"]),
    "SKUs with an escape": ('{ products(skus: ["1", "\\u001b[2J"]) { name } }', ["skus", "1"]),
    "an order id with a NUL": ('{ order(id: "erp:SO\\u0000") { id } }', ["id"]),
    "an e-mail with a NUL": (
        '{ customer(by: {email: "a\\u0000@example.nl"}) { id } }',
        ["by", "email"],
    ),
    "a card with a NUL": (
        '{ customer(by: {loyaltyCard: "\\u0000"}) { id } }',
        ["by", "loyaltyCard"],
    ),
    "a postal code with a NUL": (
        '{ locations(near: {postalCode: "1012\\u0000"}) { id } }',
        ["near", "postalCode"],
    ),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_value_is_bad_user_input_naming_the_argument_and_asks_no_system(
    case: str, own_gateway: str, systems: dict[str, str]
) -> None:
    query, argument = HOSTILE[case]
    for url in systems.values():
        clear_calls(url)
    result = graphql(own_gateway, query)
    [error] = result["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": argument}
    assert all(not call_count(url) for url in systems.values())
    assert not any(address in json.dumps(result) for address in _addresses(systems))


def test_hostile_requests_never_switch_the_erp_off_for_everyone(
    own_gateway: str, systems: dict[str, str], world: World
) -> None:
    for _ in range(3 * THRESHOLD):
        for query, _argument in HOSTILE.values():
            graphql(own_gateway, query)
    sku = world.items[0].no
    result = graphql(own_gateway, "query($sku: ID!) { product(sku: $sku) { name } }", {"sku": sku})
    assert "errors" not in result
    assert result["data"]["product"]["name"]
    with urllib.request.urlopen(f"{own_gateway}/readyz") as answer:
        ready: dict[str, Any] = json.loads(answer.read())
    assert ready["sources"]["erp"]["breaker"] == "closed"


# --- addresses ---------------------------------------------------------------------------


def test_no_upstream_error_names_an_address_even_in_the_sources_own_words() -> None:
    """A source's words may hold its internal address (an ERP fault quoting its own
    URL, an HTTP library naming the host it could not reach): the message a client
    sees keeps the words and drops the address."""
    said = "Service http://nav-prod.internal:7047/DynamicsNAV100/WS/X failed (10.1.2.3:7047)"
    error = UpstreamFault("erp", said, status=500)
    assert error.message == "erp: Service <address> failed (<address>)"
    assert without_addresses("see https://example.com/a?b=c, then retry") == (
        "see <address>, then retry"
    )
