"""The REST contract check: each exchange with a simulated CRM, POS or WMS validated with
openapi-core against the product's OpenAPI description in ``contracts/<source>/``.

It sees both sides of every call: the request the gateway's adapter sent (path, query,
headers, body, credentials) and the answer the simulated system gave (status, body).
Anything the description does not allow is a :class:`Departure`: an endpoint or field
only our simulator has, a limit the product refuses, a required field missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import yaml
from openapi_core import Config, OpenAPI
from openapi_core.exceptions import OpenAPIError
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.contracts import Departure, Departures
from tests.contracts.capture import judged

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
#: Paths that are the simulators' own test knobs, not the product's API.
ADMIN = "/__admin"
HOST = "http://simulated.invalid"


@dataclass(frozen=True, slots=True)
class Contract:
    """One product's description as a test reads it.

    ``errors_as`` names the documented status whose schema an undocumented error status
    is held to: Square documents only ``200`` per operation, and answers its errors with
    the same response object (``errors`` set, the rest absent) under 4xx and 5xx.
    """

    source: str
    spec: OpenAPI
    errors_as: str | None = None


def description_files(source: str) -> list[Path]:
    """The OpenAPI files in ``contracts/<source>/`` (a product may publish one per API:
    HubSpot's contacts and its properties)."""
    folder = CONTRACTS / source
    if not folder.is_dir():
        return []
    return [path for path in sorted(folder.iterdir()) if _is_openapi(path)]


def _merged(into: dict[str, Any], more: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Two descriptions of one product as one: their paths and components together. A
    name both define must mean the same (objects merge, e.g. an OAuth2 flow's scopes)."""
    for name, value in more.items():
        if name not in into:
            into[name] = value
        elif isinstance(into[name], dict) and isinstance(value, dict):
            _merged(into[name], value, f"{where}/{name}")
        elif into[name] != value and where.startswith(("/paths", "/components")):
            raise ValueError(f"the descriptions disagree on {where}/{name}")
    return into


def _is_openapi(path: Path) -> bool:
    if path.suffix not in (".json", ".yaml", ".yml"):
        return False
    return "openapi" in _load(path)


def _load(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    loaded = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return loaded if isinstance(loaded, dict) else {}


@cache
def contract(source: str, errors_as: str | None = None) -> Contract | None:
    """``source``'s contract, read once per test session; None when it has none yet.

    The description's servers are the product's hosts (``api.hubapi.com``); the
    simulators run on loopback, so the check matches paths on any host.
    """
    paths = description_files(source)
    if not paths:
        return None
    loaded: dict[str, Any] = {}
    for path in paths:
        _merged(loaded, _load(path))
    spec = {**_bodiless_as_such(loaded), "servers": [{"url": "/"}]}
    return Contract(source, OpenAPI.from_dict(spec, config=CONFIG), errors_as)


def _bodiless_as_such(spec: dict[str, Any]) -> dict[str, Any]:
    """An answer described with an empty ``content`` map (HubSpot's ``204 No content``)
    has no body; openapi-core would read the empty map as a body that must be there."""
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            responses = operation.get("responses", {}) if isinstance(operation, dict) else {}
            for response in responses.values():
                if isinstance(response, dict) and response.get("content") == {}:
                    del response["content"]
    return spec


def _json_or_text(value: str | bytes) -> Any:
    """HubSpot describes its error answers as ``*/*``, for which openapi-core has no
    reader; they are JSON, and are held to their schema as JSON."""
    try:
        return json.loads(value)
    except ValueError:
        return value


CONFIG = Config(extra_media_type_deserializers={"*/*": _json_or_text})


class OpenApiCheck:
    """ASGI middleware for a simulated REST system (``create_app(middleware=[...])``)."""

    def __init__(self, app: ASGIApp, *, contract: Contract, departures: Departures) -> None:
        self.app = app
        self.contract = contract
        self.departures = departures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN):
            await self.app(scope, receive, send)
            return
        await judged(
            self.app, scope, receive, send, lambda body, answer: self._judged(scope, body, answer)
        )

    def _judged(self, scope: Scope, body: bytes, answer: list[Message]) -> None:
        """Judge one exchange before its last part leaves, so whatever it departs in is
        recorded by the time the client (and the test) has the answer."""
        start = answer[0]
        response = _response(
            start["status"], start.get("headers", []), b"".join(m.get("body", b"") for m in answer)
        )
        operation = f"{scope['method']} {scope['path']}"
        for direction, detail in self._judge(_request(scope, body), response):
            self.departures.record(Departure(self.contract.source, direction, operation, detail))

    def _judge(self, request: MockRequest, response: MockResponse) -> Iterator[tuple[Any, str]]:
        spec = self.contract.spec
        try:
            spec.validate_request(request)
        except OpenAPIError as exc:
            yield "request", _explain(exc)
        try:
            spec.validate_response(request, response)
        except ResponseNotFound as exc:
            if not (self.contract.errors_as and response.status_code >= 400):
                yield "response", _explain(exc)
                return
            as_documented = MockResponse(
                response.data,
                status_code=int(self.contract.errors_as),
                headers=dict(response.headers),
                content_type=response.content_type,
            )
            try:
                spec.validate_response(request, as_documented)
            except OpenAPIError as again:
                yield "response", f"HTTP {response.status_code}: {_explain(again)}"
        except OpenAPIError as exc:
            yield "response", _explain(exc)


def _request(scope: Scope, body: bytes) -> MockRequest:
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return MockRequest(
        HOST,
        scope["method"],
        scope["path"],
        args=dict(query),
        headers=headers,
        data=body or None,
        content_type=headers.get("content-type", ""),
    )


def _response(status: int, raw_headers: list[tuple[bytes, bytes]], body: bytes) -> MockResponse:
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in raw_headers}
    return MockResponse(
        body, status_code=status, headers=headers, content_type=headers.get("content-type", "")
    )


def _explain(error: OpenAPIError) -> str:
    """The validator's finding: each schema error and where it is, else its message
    (the value itself is left out: a whole body says less than the path to the fault)."""
    details = getattr(error, "details", None)
    found = details.get("schema_errors", []) if isinstance(details, dict) else []
    if not found:
        return str(error)
    return f"{type(error).__name__}: " + "; ".join(
        f"{'/'.join(str(step) for step in e['path']) or '(root)'}: {e['message']}" for e in found
    )
