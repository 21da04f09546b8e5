"""Every way a request can go wrong before GraphQL runs is answered as JSON with a
code, never as HTTP 500 text/plain, and leaves no traceback in the log: bytes that are
not UTF-8, JSON nested 100,000 deep, a method /graphql does not take (PUT, HEAD), a
path that does not exist."""

from __future__ import annotations

import http.client
import json
import logging
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.gateway_client import graphql
from tests.test_graphql_over_http_spec import GRAPHQL_RESPONSE, JSON, Answer


def send(url: str, method: str, path: str, body: bytes | None = None, accept: str = JSON) -> Answer:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        headers = {"Accept": accept, "Content-Type": JSON}
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        headers = {name.lower(): value for name, value in answer.getheaders()}
        return Answer(answer.status, headers, answer.read())
    finally:
        connection.close()


def codes(answer: Answer) -> list[str]:
    return [e["extensions"]["code"] for e in answer.json["errors"]]


def message(answer: Answer) -> str:
    said: str = answer.json["errors"][0]["message"]
    return said


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def log() -> Iterator[Records]:
    """What the gateway and its server log meanwhile (uvicorn's loggers do not reach
    the root logger, so the handler sits on theirs too)."""
    records = Records()
    loggers = [
        logging.getLogger(),
        logging.getLogger("uvicorn"),
        logging.getLogger("uvicorn.error"),
    ]
    for logger in loggers:
        logger.addHandler(records)
    yield records
    for logger in loggers:
        logger.removeHandler(records)


def no_traceback(log: Records) -> bool:
    return not any(
        r.exc_info or "Traceback" in r.getMessage() or "Exception in ASGI" in r.getMessage()
        for r in log.records
    )


INVALID_UTF8 = b'{"query": "{ __typename \xff\xfe }"}'
DEEP_BODY = b"[" * 100_000 + b"]" * 100_000
DEEP_VARIABLES = b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * 40 + b"]" * 40 + b"}}"


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
@pytest.mark.parametrize(
    ("body", "says"),
    [
        (INVALID_UTF8, "not valid UTF-8"),
        (DEEP_BODY, "nests deeper than 32 levels"),
        (DEEP_VARIABLES, "nests deeper than 32 levels"),
        (b"true", "expected a JSON object (or a list of them), not true or false"),
        (b"-0.3333333333333333", "not a number"),
        (b'"{ __typename }"', "not a string"),
        (b"null", "not null"),
        (b"[1, 2]", "not a list of other values"),
    ],
    ids=[
        "invalid-utf-8",
        "json-100000-deep",
        "variables-40-deep",
        # found by the fuzz run: strawberry reads a request's keys without checking it is
        # an object, so any other JSON value was a 500 with a traceback
        "a-boolean",
        "a-number",
        "a-string",
        "null",
        "a-list-of-numbers",
    ],
)
def test_a_malformed_body_is_a_coded_400_and_no_traceback(
    gateway_url: str, log: Records, body: bytes, says: str, accept: str
) -> None:
    answer = send(gateway_url, "POST", "/graphql", body, accept)
    assert answer.status == 400
    assert answer.media == accept
    assert codes(answer) == ["BAD_REQUEST"]
    assert says in message(answer)
    assert no_traceback(log)


def test_json_nested_a_few_levels_is_served(gateway_url: str) -> None:
    body = b'{"query": "{ __typename }", "variables": {"v": [[[[{"a": [1]}]]]]}}'
    answer = send(gateway_url, "POST", "/graphql", body)
    assert answer.status == 200
    assert json.loads(answer.body) == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("method", ["PUT", "HEAD", "DELETE", "PATCH"])
def test_a_method_graphql_does_not_take_is_a_coded_405(
    gateway_url: str, log: Records, method: str
) -> None:
    answer = send(gateway_url, method, "/graphql", b"{}")
    assert answer.status == 405
    assert answer.media == JSON
    assert {m.strip() for m in answer.headers["allow"].split(",")} == {"GET", "POST"}
    if method != "HEAD":  # a HEAD answer has no body, by HTTP's rules
        assert codes(answer) == ["METHOD_NOT_ALLOWED"]
    assert no_traceback(log)


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_an_unknown_path_is_a_coded_404(gateway_url: str, log: Records, method: str) -> None:
    answer = send(gateway_url, method, "/graphq1?x=1", b"{}")
    assert answer.status == 404
    assert answer.media == JSON
    if method != "HEAD":
        assert codes(answer) == ["NOT_FOUND"]
        assert "/graphql" in message(answer)
    assert no_traceback(log)


def test_an_empty_customer_id_is_refused_as_an_id(gateway_url: str) -> None:
    """``customers(ids: [""])`` is about the id, not about a loyalty card nobody gave.
    It is refused at the schema's edge with the argument named (issue 15, finding 11:
    every id is held to its bound), which nulls the list it would have filled."""
    result = graphql(gateway_url, 'query { customers(ids: [""]) { id } }')
    assert result["data"] == {"customers": None}
    [error] = result["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": ["ids", "0"]}
    assert "loyalty" not in error["message"]
    assert "id" in error["message"]
    assert error["path"] == ["customers"]


@pytest.mark.parametrize(
    "representation",
    [
        "{}",
        '"x"',
        '{__typename: "Nope"}',
        '{__typename: "Query"}',
        '{__typename: "Product"}',
        '{__typename: "Customer", email: "a@b.example"}',
    ],
)
def test_an_entity_representation_a_router_could_not_send_is_bad_input(
    gateway_url: str, log: Records, representation: str
) -> None:
    """Found by the fuzz run (bench/fuzz.py): strawberry's ``_entities`` failed with a
    KeyError or TypeError, an unexpected error with a traceback in the log."""
    text = f"{{ _entities(representations: [{representation}]) {{ __typename }} }}"
    result = graphql(gateway_url, text)
    assert [e["extensions"]["code"] for e in result["errors"]] == ["BAD_USER_INPUT"]
    assert no_traceback(log)
