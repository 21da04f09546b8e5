"""The REST contract check itself (tests/contracts/openapi.py): what it must catch, on a
small description and a real server on loopback, so that "no departures" over the suite
means something."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openapi_core import OpenAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from legacy.common.runner import ServerThread
from tests.contracts import Departures
from tests.contracts.openapi import Contract, OpenApiCheck
from tests.simulators import call

ID = {"type": "string"}
COUNT = {"type": "integer"}
ITEM = {"type": "object", "required": ["id"], "properties": {"id": ID, "count": COUNT}}
SPEC = {
    "openapi": "3.0.0",
    "info": {"title": "shop", "version": "1"},
    "servers": [{"url": "/"}],
    "paths": {
        "/v2/items/search": {
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["ids"],
                                "properties": {
                                    "ids": {"type": "array", "maxItems": 2, "items": ID},
                                    "limit": {"type": "integer", "maximum": 1000},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "found",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "items": {"type": "array", "items": ITEM},
                                        "errors": {"type": "array", "items": {"type": "object"}},
                                    },
                                }
                            }
                        },
                    }
                },
            }
        }
    },
}


async def search(request: Request) -> JSONResponse:
    body = await request.json()
    if body.get("fail"):
        return JSONResponse({"errors": [{"code": "BAD_REQUEST"}]}, status_code=400)
    if body.get("garbled"):
        return JSONResponse({"items": [{"count": "three"}]})
    return JSONResponse({"items": [{"id": i, "count": 1} for i in body.get("ids", [])]})


async def extra(request: Request) -> JSONResponse:
    return JSONResponse({})


@pytest.fixture(scope="module")
def departures() -> Departures:
    return Departures()


def served(departures: Departures, errors_as: str | None) -> Iterator[str]:
    checked = Contract("pos", OpenAPI.from_dict(SPEC), errors_as)
    app = Starlette(
        routes=[
            Route("/v2/items/search", search, methods=["POST"]),
            Route("/v2/items/ours", extra, methods=["POST"]),
        ],
        middleware=[Middleware(OpenApiCheck, contract=checked, departures=departures)],
    )
    server = ServerThread(app).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def system(departures: Departures) -> Iterator[str]:
    yield from served(departures, errors_as="200")


@pytest.fixture(scope="module")
def strict_system(departures: Departures) -> Iterator[str]:
    yield from served(departures, errors_as=None)


def test_an_exchange_the_description_allows_is_no_departure(
    system: str, departures: Departures
) -> None:
    assert call(system, "POST", "/v2/items/search", {"ids": ["a", "b"], "limit": 1000})[0] == 200
    assert departures.take() == []


@pytest.mark.parametrize(
    ("body", "finding"),
    [
        ({"limit": 10}, "'ids' is a required property"),
        ({"ids": ["a", "b", "c"]}, "is too long"),
        ({"ids": ["a"], "limit": 10_000}, "is greater than the maximum of 1000"),
    ],
    ids=["required field missing", "past maxItems", "past a limit"],
)
def test_a_request_past_the_description_is_a_request_departure(
    system: str, departures: Departures, body: dict[str, object], finding: str
) -> None:
    call(system, "POST", "/v2/items/search", body)
    [found] = departures.take()
    assert (found.source, found.direction, found.operation) == (
        "pos",
        "request",
        "POST /v2/items/search",
    )
    assert finding in found.detail


def test_an_endpoint_the_product_does_not_have_is_a_departure(
    system: str, departures: Departures
) -> None:
    call(system, "POST", "/v2/items/ours", {})
    found = departures.take()
    assert {d.direction for d in found} == {"request", "response"}
    assert all("/v2/items/ours" in d.operation for d in found)


def test_an_answer_of_the_wrong_shape_is_a_response_departure(
    system: str, departures: Departures
) -> None:
    call(system, "POST", "/v2/items/search", {"ids": ["a"], "garbled": True})
    found = departures.take()
    assert [d.direction for d in found] == ["response"]
    assert "'id' is a required property" in found[0].detail
    assert "is not of type 'integer'" in found[0].detail


def test_an_undocumented_error_status_is_held_to_the_documented_answer_where_the_product_says_so(
    system: str, strict_system: str, departures: Departures
) -> None:
    """Square documents only 200 and answers errors in the same object: accepted there,
    but an error status a description does not document is a departure elsewhere."""
    assert call(system, "POST", "/v2/items/search", {"ids": ["a"], "fail": True})[0] == 400
    assert departures.take() == []
    call(strict_system, "POST", "/v2/items/search", {"ids": ["a"], "fail": True})
    [found] = departures.take()
    assert found.direction == "response"
    assert "400" in found.detail
