"""Each REST product's error body read into our error: HubSpot's ``category``,
``message`` and ``correlationId``, Square's ``errors[]``, the WMS's ``error`` (issue 14,
item 4). Over HTTP: tests/test_crm_adapter.py and tests/test_wms_adapter.py; here the
shapes themselves."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.transport.error_bodies import (
    MESSAGE_LIMIT,
    READERS,
    UpstreamSays,
    hubspot_error,
    square_error,
    wms_error,
)


def test_hubspots_error_gives_its_category_message_and_correlation_id() -> None:
    body = {
        "status": "error",
        "message": "Property values were not valid",
        "correlationId": "aeb5f871-7f07-4993-9211-075dc63e7cbf",
        "category": "VALIDATION_ERROR",
        "subCategory": "INVALID_EMAIL",
    }
    assert hubspot_error(body) == UpstreamSays(
        "Property values were not valid",
        {
            "upstreamCategory": "VALIDATION_ERROR",
            "upstreamCode": "INVALID_EMAIL",
            "correlationId": "aeb5f871-7f07-4993-9211-075dc63e7cbf",
        },
    )


def test_hubspots_429_gives_its_error_type_and_policy() -> None:
    body = {
        "status": "error",
        "message": "You have reached your secondly limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": "c033cdaa-2c40-4a64-ae48-b4cec88dad24",
        "policyName": "SECONDLY",
    }
    said = hubspot_error(body)
    assert said is not None
    assert said.extensions["upstreamCategory"] == "RATE_LIMIT"
    assert said.extensions["upstreamCode"] == "SECONDLY"


def test_squares_errors_give_the_first_errors_category_code_and_field() -> None:
    body = {
        "errors": [
            {
                "category": "INVALID_REQUEST_ERROR",
                "code": "VALUE_TOO_HIGH",
                "detail": "`limit` must be at most 1000",
                "field": "limit",
            },
            {"category": "INVALID_REQUEST_ERROR", "code": "MISSING_REQUIRED_PARAMETER"},
        ]
    }
    assert square_error(body) == UpstreamSays(
        "`limit` must be at most 1000 (and 1 more)",
        {
            "upstreamCategory": "INVALID_REQUEST_ERROR",
            "upstreamCode": "VALUE_TOO_HIGH",
            "upstreamField": "limit",
        },
    )


def test_the_wms_error_gives_its_code_and_message() -> None:
    body = {"error": {"code": "INSUFFICIENT_STOCK", "message": "only 2 available", "available": 2}}
    assert wms_error(body) == UpstreamSays(
        "only 2 available", {"upstreamCode": "INSUFFICIENT_STOCK"}
    )


@pytest.mark.parametrize("body", [None, "oops", [], {}, {"errors": "x"}, {"error": {}}])
def test_a_body_of_no_known_shape_says_nothing(body: Any) -> None:
    assert all(read(body) is None for read in READERS.values())


def test_an_upstream_message_is_cut_short() -> None:
    said = hubspot_error({"message": "x" * 5000, "category": "VALIDATION_ERROR"})
    assert said is not None
    assert len(said.message) == MESSAGE_LIMIT


def test_each_rest_source_reads_its_products_errors() -> None:
    assert {"crm": hubspot_error, "pos": square_error, "wms": wms_error} == READERS
