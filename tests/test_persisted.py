"""Persisted operations over real HTTP: Apollo's automatic persisted queries (POST and
GET), and the trusted-documents mode that runs only an allow-list of documents."""

from __future__ import annotations

import hashlib
import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from gateway.operations import reference_operations
from legacy.world import World
from tests.conftest import _gateway
from tests.gateway_client import post
from tests.simulators import call_count, clear_calls

OPERATIONS = Path(__file__).resolve().parent.parent / "gateway" / "operations"
NAMES = "query Names($skus: [ID!]!) { products(skus: $skus) { sku name } }"

gateway = contextmanager(_gateway)


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def persisted(digest: str, **body: Any) -> bytes:
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    return json.dumps({**body, "extensions": extensions}).encode()


def get(url: str, **params: Any) -> tuple[int, dict[str, Any]]:
    query = urllib.parse.urlencode(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    )
    request = urllib.request.Request(
        f"{url}/graphql?{query}", headers={"Accept": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


@pytest.fixture(scope="module")
def skus(world: World) -> list[str]:
    return [item.no for item in world.items[:2]]


@pytest.fixture(scope="module")
def apq_url(systems: dict[str, str]) -> Iterator[str]:
    with gateway(systems, cache=False) as url:
        yield url


@pytest.fixture(scope="module")
def trusted_url(systems: dict[str, str]) -> Iterator[str]:
    with gateway(systems, cache=False, trusted_documents_dir=OPERATIONS) as url:
        yield url


def test_an_unknown_hash_asks_the_client_for_the_document(apq_url: str, skus: list[str]) -> None:
    """Apollo Client recognises the message, and retries with the document."""
    digest = sha256(NAMES + " # unknown")
    status, result = post(apq_url, persisted(digest, variables={"skus": skus}))
    assert status == 200
    assert result["errors"] == [
        {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    ]


def test_a_document_sent_once_with_its_hash_runs_by_hash_after(
    apq_url: str, skus: list[str], world: World
) -> None:
    digest = sha256(NAMES)
    status, first = post(apq_url, persisted(digest, query=NAMES, variables={"skus": skus}))
    assert status == 200
    status, second = post(apq_url, persisted(digest, variables={"skus": skus}))
    assert status == 200
    assert second == first
    assert [p["name"] for p in second["data"]["products"]] == [
        i.description for i in world.items[:2]
    ]


def test_a_persisted_query_runs_over_get(apq_url: str, skus: list[str]) -> None:
    """The point of APQ: a short, cacheable GET instead of a POST with the document."""
    digest = sha256(NAMES)
    post(apq_url, persisted(digest, query=NAMES, variables={"skus": skus}))
    status, result = get(
        apq_url,
        extensions={"persistedQuery": {"version": 1, "sha256Hash": digest}},
        variables={"skus": skus},
    )
    assert status == 200
    assert [p["sku"] for p in result["data"]["products"]] == skus


def test_a_hash_that_does_not_match_its_document_is_refused_and_not_stored(
    apq_url: str, skus: list[str]
) -> None:
    digest = sha256("query { other }")
    status, result = post(apq_url, persisted(digest, query=NAMES, variables={"skus": skus}))
    assert status == 400
    assert result["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    _, again = post(apq_url, persisted(digest, variables={"skus": skus}))
    assert again["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


def test_an_unsupported_persisted_query_version_is_a_bad_request(apq_url: str) -> None:
    body = json.dumps({"extensions": {"persistedQuery": {"version": 2, "sha256Hash": "x"}}})
    status, result = post(apq_url, body.encode())
    assert status == 400
    assert result["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_a_trusted_document_runs_by_hash(trusted_url: str, skus: list[str]) -> None:
    """The allow-list is the sha256 of each file in gateway/operations/."""
    text = (OPERATIONS / "productListing.graphql").read_text()
    assert "ProductListing" in reference_operations()
    variables = {"skus": skus, "postalCode": "1012"}
    status, result = post(trusted_url, persisted(sha256(text), variables=variables))
    assert status == 200
    assert "errors" not in result
    assert [p["sku"] for p in result["data"]["products"]] == skus


def test_a_trusted_document_runs_by_identical_text(trusted_url: str, skus: list[str]) -> None:
    text = (OPERATIONS / "productListing.graphql").read_text()
    status, result = post(
        trusted_url,
        json.dumps({"query": text, "variables": {"skus": skus, "postalCode": "1012"}}).encode(),
    )
    assert status == 200
    assert "errors" not in result


def test_any_other_document_is_refused_before_any_upstream_call(
    trusted_url: str, systems: dict[str, str], skus: list[str]
) -> None:
    for url in systems.values():
        clear_calls(url)
    for body in (
        json.dumps({"query": NAMES, "variables": {"skus": skus}}).encode(),
        persisted(sha256(NAMES), query=NAMES, variables={"skus": skus}),
        persisted(sha256(NAMES), variables={"skus": skus}),
    ):
        status, result = post(trusted_url, body)
        assert status == 400
        assert result["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
    assert not any(sum(call_count(url).values()) for url in systems.values())


def test_with_persisted_queries_off_a_hash_alone_is_not_supported(
    systems: dict[str, str],
) -> None:
    with gateway(systems, persisted_queries=False) as url:
        status, result = post(url, persisted(sha256(NAMES)))
    assert status == 200
    assert result["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_SUPPORTED"
