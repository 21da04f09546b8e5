"""Mosaic as an Apollo Federation v2 subgraph, behind a real federation gateway.

The gateway is Apollo's own (``@apollo/gateway`` on Apollo Server, composed with
``@apollo/composition``; ``tools/federation/``, installed by ``scripts/run-tests`` with
``npm ci``). Beside Mosaic it composes a second subgraph, ``reviews``, which extends
Mosaic's Product (key ``sku``) and points at Mosaic's Customer (key ``id``), so one query
through the router crosses both subgraphs both ways. Every process listens on loopback.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from legacy.world import World
from tests.auth_tokens import SECRET, bearer
from tests.conftest import _gateway
from tests.gateway_client import graphql
from tests.simulators import call_count, clear_calls

TOOLS = Path(__file__).resolve().parent.parent / "tools" / "federation"
CONTRACT = Path(__file__).resolve().parent.parent / "schema.graphql"


@contextmanager
def _node(script: str, *args: str) -> Iterator[str]:
    """Runs a node script from tools/federation until the test module ends; yields the
    URL it printed as ``ready <url>`` once listening."""
    if not (TOOLS / "node_modules").is_dir():
        pytest.fail("tools/federation is not installed: npm ci --prefix tools/federation")
    process = subprocess.Popen(
        ["node", str(TOOLS / script), "--port", "0", *args],
        cwd=TOOLS,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    try:
        for line in process.stdout:  # ends when the process dies
            lines.append(line)
            if line.startswith("ready "):
                break
        else:
            pytest.fail(f"{script} did not start:\n{''.join(lines)}")
        yield line.split(" ", 1)[1].strip()
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


@pytest.fixture(scope="module")
def skus(world: World) -> list[str]:
    return [item.no for item in world.items[:3]]


@pytest.fixture(scope="module")
def authors(world: World) -> list[str]:
    return [f"crm:{contact.id}" for contact in world.crm_contacts[:2]]


@pytest.fixture(scope="module")
def router_url(gateway_url: str, skus: list[str], authors: list[str]) -> Iterator[str]:
    with (
        _node(
            "reviews.mjs", "--skus", ",".join(skus), "--authors", ",".join(authors)
        ) as reviews_url,
        _node(
            "gateway.mjs",
            "--subgraph",
            f"mosaic={gateway_url}/graphql",
            "--subgraph",
            f"reviews={reviews_url}",
        ) as url,
    ):
        yield url


def _through_router(url: str, query: str, **variables: Any) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        result: dict[str, Any] = json.loads(response.read())
    return result


@pytest.mark.process  # Apollo's router and a subgraph in Node
def test_a_router_query_joins_mosaics_products_with_another_subgraphs_reviews(
    router_url: str, skus: list[str], world: World
) -> None:
    """Mosaic answers ``products`` and the names; the router takes each sku to the
    reviews subgraph's ``_entities`` for ``reviews``."""
    result = _through_router(
        router_url,
        "query($skus: [ID!]!) { products(skus: $skus) { sku name reviews { rating body } } }",
        skus=skus,
    )
    assert "errors" not in result
    names = {item.no: item.description for item in world.items[:3]}
    assert [p["sku"] for p in result["data"]["products"]] == skus
    for product in result["data"]["products"]:
        assert product["name"] == names[product["sku"]]
        assert [r["body"] for r in product["reviews"]] == [
            f"Review 1 of {product['sku']}",
            f"Review 2 of {product['sku']}",
        ]


@pytest.mark.process  # Apollo's router in Node
def test_a_router_query_resolves_products_and_customers_through_mosaics_entities(
    router_url: str, skus: list[str], authors: list[str], world: World
) -> None:
    """The other direction: the reviews subgraph gives skus and author ids; the router
    asks Mosaic's ``_entities`` for the products' names and the authors' names."""
    result = _through_router(
        router_url, "{ topReviewed { sku name reviews { author { id name email } } } }"
    )
    assert "errors" not in result
    contacts = {f"crm:{c.id}": c for c in world.crm_contacts[:2]}
    names = {item.no: item.description for item in world.items[:3]}
    for product in result["data"]["topReviewed"]:
        assert product["name"] == names[product["sku"]]
        for review in product["reviews"]:
            author = review["author"]
            assert author["id"] in authors
            assert author["email"].lower() == contacts[author["id"]].email.lower()
            assert author["name"]


def test_the_sdl_a_router_composes_is_the_published_contract(gateway_url: str) -> None:
    sdl = graphql(gateway_url, "{ _service { sdl } }")["data"]["_service"]["sdl"]
    assert sdl + "\n" == CONTRACT.read_text()
    assert '@link(url: "https://specs.apollo.dev/federation/v2' in sdl
    # both implement Node since issue 18
    assert 'type Customer implements Node @key(fields: "id")' in sdl
    assert 'type Product implements Node @key(fields: "sku")' in sdl


ENTITIES = """query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Customer { id name loyalty { cardNumber } }
    ... on Product { sku name price(channel: WEB) { amount } }
  }
}"""


def _operations(url: str) -> Counter[str]:
    """Calls per operation, leaving out the ERP's WSDL downloads (the first use of a
    page in this process), which are not calls for data."""
    return Counter({op: n for op, n in call_count(url).items() if "/Page/" not in op})


def _entities(url: str, representations: list[dict[str, str]]) -> list[Any]:
    result = graphql(url, ENTITIES, {"representations": representations})
    assert "errors" not in result, result["errors"]
    entities: list[Any] = result["data"]["_entities"]
    return entities


def test_entities_of_many_customers_are_one_crm_batch_call(
    systems: dict[str, str], gateway_url: str, world: World
) -> None:
    """Five customers by CRM id: every search starts in the same round, so the CRM
    answers one batch read. Their loyalty cards are the next round: one SearchCustomers
    per card (a card is a Square profile's reference_id, and Square's exact filter takes
    one value), then one loyalty account search for all of them; the ERP holds nothing
    asked for (id, name, loyalty) and is not called."""
    contacts = world.crm_contacts[:5]
    for url in systems.values():
        clear_calls(url)
    entities = _entities(
        gateway_url, [{"__typename": "Customer", "id": f"crm:{c.id}"} for c in contacts]
    )
    assert [e["id"] for e in entities] == [f"crm:{c.id}" for c in contacts]
    assert all(e["name"] for e in entities)
    calls = {name: _operations(url) for name, url in systems.items()}
    assert calls["crm"] == Counter({"POST /crm/v3/objects/contacts/batch/read": 1}), calls
    assert calls["erp"] == Counter(), calls
    cards = len({c.loyalty_card for c in contacts if c.loyalty_card})
    assert calls["pos"] == Counter(
        {"POST /v2/customers/search": cards, "POST /v2/loyalty/accounts/search": 1}
    ), calls


def test_entities_of_many_customers_share_each_later_round(
    systems: dict[str, str], gateway_url: str, world: World
) -> None:
    """Asking where each of five customers has records wants every system: after the
    CRM's one batch read, the POS's profiles of their loyalty cards (one SearchCustomers
    a card) and then one account search, one ERP Customer read by number for those the
    CRM knows an ERP number of, and one by e-mail for the others (two of these five)."""
    contacts = world.crm_contacts[:5]
    for url in systems.values():
        clear_calls(url)
    result = graphql(
        gateway_url,
        "query($r: [_Any!]!) { _entities(representations: $r) "
        "{ ... on Customer { id sources { system } } } }",
        {"r": [{"__typename": "Customer", "id": f"crm:{c.id}"} for c in contacts]},
    )
    assert "errors" not in result, result
    assert [e["id"] for e in result["data"]["_entities"]] == [f"crm:{c.id}" for c in contacts]
    calls = {name: _operations(url) for name, url in systems.items()}
    assert calls["crm"] == Counter({"POST /crm/v3/objects/contacts/batch/read": 1}), calls
    assert calls["erp"] == Counter({"Customer:ReadMultiple": 2}), calls
    cards = len({c.loyalty_card for c in contacts if c.loyalty_card})
    assert calls["pos"] == Counter(
        {"POST /v2/customers/search": cards, "POST /v2/loyalty/accounts/search": 1}
    ), calls


def test_entities_of_many_products_are_one_erp_call_per_operation(
    systems: dict[str, str], gateway_url: str, world: World
) -> None:
    """Ten products: their names are one ERP ItemCard read and their web prices one
    SalesPrices read and one SalesLineDiscounts read (a channel's price today is less
    its running promotion: issue 17), whatever the number of products; no other source
    is asked."""
    items = world.items[:10]
    for url in systems.values():
        clear_calls(url)
    entities = _entities(gateway_url, [{"__typename": "Product", "sku": i.no} for i in items])
    assert [(e["sku"], e["name"]) for e in entities] == [(i.no, i.description) for i in items]
    erp = _operations(systems["erp"])
    assert sum(erp.values()) == 3
    assert set(erp.values()) == {1}
    assert not any(sum(call_count(systems[s]).values()) for s in ("crm", "pos", "wms"))


def test_an_unknown_customer_entity_is_null(gateway_url: str) -> None:
    assert _entities(gateway_url, [{"__typename": "Customer", "id": "crm:nobody"}]) == [None]


def test_a_customer_token_resolves_only_its_own_customer_entity(
    systems: dict[str, str], world: World
) -> None:
    """The router's entity path admits a customer like ``customer(by:)`` does: their own
    record, and for anyone else's id a FORBIDDEN null, so ``_entities`` is no way round
    the authorisation of the root fields."""
    me, other = (f"crm:{c.id}" for c in world.crm_contacts[:2])
    with contextmanager(_gateway)(systems, cache=False, jwt_secret=SECRET) as url:
        result = graphql(
            url,
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { id } } }",
            {"r": [{"__typename": "Customer", "id": i} for i in (me, other)]},
            headers=bearer("customer", customer=me),
        )
    assert result["data"]["_entities"] == [{"id": me}, None]
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [
        (["_entities", 1], "FORBIDDEN")
    ]
