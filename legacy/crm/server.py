"""The simulated CRM: HubSpot's CRM v3 contacts API, over the SQLite store.

Under ``/crm/v3/objects/contacts``, each behind the bearer token when one is configured:

    POST   /batch/read     by internal id, or by a unique property (``idProperty``)
    POST   /search         ``filterGroups`` (any group) of ``filters`` (all), limit/after paging
    GET    /               list, limit/after paging
    GET    /{id}           one contact
    PATCH  /{id}           update properties (stamps ``lastmodifieddate``)
    DELETE /{id}           archive (to the recycle bin)
    POST   /gdpr-delete    ``{objectId}``: delete for good, with every property (GDPR)

Shapes and error bodies follow ``reference/hubspot/crm_contacts_v3.oas.json``. Where the
simulation departs from HubSpot, and why:

- Search is consistent at once; HubSpot's search index trails writes by a few seconds.
  Nothing here would gain from simulating the lag, and tests would have to sleep.
- Search answers in id order and ignores ``sorts`` and ``query``; range operators (``LT``,
  ``GT``, ``BETWEEN`` ...) are refused with 400. Mosaic uses none of them.
- Phone filters compare digits only (HubSpot compares the text as written), so a number
  is found however it was typed; HubSpot offers a similar calculated phone property.
- One rate limit for every endpoint, a token bucket (burst = the rate per second), where
  HubSpot has ten-secondly, daily and separate search limits; its 429 here carries
  ``Retry-After``, which HubSpot does not send, so a client honouring it can be tested.
- A PATCH answers every property the contact has, not only the changed ones.
- No associations, ``propertiesWithHistory``, ``archived=true`` reads, create or merge.
- GDPR delete takes ``objectId`` as the contact id only (HubSpot also takes
  ``idProperty: email`` and blocklists an unknown address); an unknown id is 404.
"""

from __future__ import annotations

import math
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from legacy.common.app import simulated_system
from legacy.common.knobs import Knobs
from legacy.crm.store import (
    OPERATORS,
    PROPERTIES,
    UNIQUE_PROPERTIES,
    Contact,
    ContactStore,
    Filter,
    UniqueConflict,
    build,
    hubspot_time,
)
from legacy.world import World

MAX_INPUTS = 100  # HubSpot's batch size
MAX_PAGE = 100  # HubSpot's largest page, search and list
DEFAULT_PAGE = 10
MAX_FILTER_GROUPS = 5  # HubSpot's search limits
MAX_FILTERS_PER_GROUP = 6
#: what HubSpot answers when no properties are asked for
DEFAULT_PROPERTIES = (
    "firstname",
    "lastname",
    "email",
    "createdate",
    "lastmodifieddate",
    "hs_object_id",
)
LIST_OPERATORS = frozenset({"IN", "NOT_IN"})
VALUELESS_OPERATORS = frozenset({"HAS_PROPERTY", "NOT_HAS_PROPERTY"})


class ApiError(Exception):
    """Answered as HubSpot's error object (``Error`` in the OpenAPI description)."""

    def __init__(self, status: int, category: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message


def error_response(
    status: int, category: str, message: str, headers: dict[str, str] | None = None, **more: Any
) -> JSONResponse:
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **more,
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _invalid(message: str) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message)


def _not_found(contact_id: str) -> ApiError:
    return ApiError(404, "OBJECT_NOT_FOUND", f"Contact {contact_id} does not exist.")


# --- request parsing ----------------------------------------------------------------


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise _invalid(f"Invalid input JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise _invalid("Invalid input JSON: expected an object")
    return body


def _text(value: Any, what: str) -> str:
    """A property value or filter value as HubSpot takes it: a string, or a scalar it
    turns into one."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise _invalid(f"{what} must be a string, got {type(value).__name__}")


def _property_names(value: Any) -> list[str]:
    if value is None or value == []:
        return list(DEFAULT_PROPERTIES)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid("properties must be a list of property names")
    return value


def _query_properties(request: Request) -> list[str]:
    """``properties`` given comma-separated, repeated, or both."""
    names = [
        name.strip()
        for given in request.query_params.getlist("properties")
        for name in given.split(",")
        if name.strip()
    ]
    return _property_names(names)


def _bounded_int(value: Any, what: str, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise _invalid(f"{what} must be an integer, got {value!r}") from exc
    if not low <= number <= high:
        raise _invalid(f"{what} must be between {low} and {high}, got {number}")
    return number


def _limit(value: Any) -> int:
    return _bounded_int(value, "limit", DEFAULT_PAGE, 1, MAX_PAGE)


def _after(value: Any) -> int:
    return _bounded_int(value, "after", 0, 0, 2**62)


def _filter(raw: Any) -> Filter:
    if not isinstance(raw, dict):
        raise _invalid("a filter must be an object")
    name, operator = raw.get("propertyName"), raw.get("operator")
    if name not in PROPERTIES:
        raise _invalid(f"Property {name!r} does not exist on contacts")
    if operator not in OPERATORS:
        raise _invalid(f"operator {operator!r} is not supported (have {sorted(OPERATORS)})")
    if operator in VALUELESS_OPERATORS:
        values: tuple[str, ...] = ()
    elif operator in LIST_OPERATORS:
        given = raw.get("values")
        if not isinstance(given, list) or not given:
            raise _invalid(f"{operator} needs a non-empty list in values")
        values = tuple(_text(v, "a filter value") for v in given)
    else:
        if raw.get("value") is None:
            raise _invalid(f"{operator} needs a value")
        values = (_text(raw["value"], "a filter value"),)
    return Filter(name, operator, values)


def _filter_groups(raw: Any) -> list[list[Filter]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_FILTER_GROUPS:
        raise _invalid(f"filterGroups must be a list of at most {MAX_FILTER_GROUPS} groups")
    groups = []
    for group in raw:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list) or len(filters) > MAX_FILTERS_PER_GROUP:
            raise _invalid(
                f"a filter group holds a list of at most {MAX_FILTERS_PER_GROUP} filters"
            )
        groups.append([_filter(f) for f in filters])
    return groups


def _path_id(request: Request) -> int:
    raw = request.path_params["contact_id"]
    if not raw.isdigit():
        raise _not_found(raw)
    return int(raw)


# --- answers ------------------------------------------------------------------------


def _object(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "properties": contact.properties,
        "createdAt": contact.created_at,
        "updatedAt": contact.updated_at,
        "archived": False,
    }


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


Endpoint = Callable[[Request], Awaitable[Response]]


def _answering_errors(endpoint: Endpoint) -> Endpoint:
    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ApiError as exc:
            return error_response(exc.status, exc.category, exc.message)

    return guarded


class ContactsApi:
    def __init__(self, store: ContactStore) -> None:
        self.store = store

    def routes(self) -> list[Route]:
        def route(path: str, endpoint: Endpoint, method: str) -> Route:
            return Route(path, _answering_errors(endpoint), methods=[method])

        return [
            route("/contacts/batch/read", self.batch_read, "POST"),
            route("/contacts/search", self.search, "POST"),
            route("/contacts/gdpr-delete", self.gdpr_delete, "POST"),
            route("/contacts", self.get_page, "GET"),
            route("/contacts/{contact_id}", self.get, "GET"),
            route("/contacts/{contact_id}", self.update, "PATCH"),
            route("/contacts/{contact_id}", self.archive, "DELETE"),
        ]

    async def batch_read(self, request: Request) -> Response:
        """Each asked contact once; 207 with an OBJECT_NOT_FOUND error naming the misses."""
        started = hubspot_time(datetime.now(UTC))
        body = await _body(request)
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or not all(
            isinstance(i, dict) and "id" in i for i in inputs
        ):
            raise _invalid("inputs must be a list of {id}")
        if len(inputs) > MAX_INPUTS:
            raise _invalid(f"Batch input is limited to {MAX_INPUTS} inputs, got {len(inputs)}")
        id_property = body.get("idProperty") or "hs_object_id"
        if id_property not in UNIQUE_PROPERTIES:
            raise _invalid(f"{id_property!r} is not a unique property; it cannot be idProperty")
        names = _property_names(body.get("properties"))
        if id_property != "hs_object_id":
            names = [*names, id_property]
        keys = list(dict.fromkeys(_text(i["id"], "an input id") for i in inputs))
        found = self.store.find(id_property, keys, names)
        contacts = {found[k].id: found[k] for k in keys if k in found}
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": [_object(c) for c in contacts.values()],
            "startedAt": started,
            "completedAt": hubspot_time(datetime.now(UTC)),
        }
        missing = [k for k in keys if k not in found]
        if not missing:
            return _json(answer)
        error = {
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": "Could not get some CONTACT objects, they may be deleted or not exist.",
            "context": {"ids": missing},
        }
        return _json({**answer, "numErrors": 1, "errors": [error]}, status=207)

    async def search(self, request: Request) -> Response:
        body = await _body(request)
        groups = _filter_groups(body.get("filterGroups"))
        limit, offset = _limit(body.get("limit")), _after(body.get("after"))
        names = _property_names(body.get("properties"))
        total, contacts = self.store.search(groups, names, limit, offset)
        answer: dict[str, Any] = {"total": total, "results": [_object(c) for c in contacts]}
        if offset + len(contacts) < total:
            after = str(offset + len(contacts))
            answer["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
        return _json(answer)

    async def get_page(self, request: Request) -> Response:
        limit = _limit(request.query_params.get("limit"))
        after = _after(request.query_params.get("after"))
        page = self.store.page(after, limit + 1, _query_properties(request))
        answer: dict[str, Any] = {"results": [_object(c) for c in page[:limit]]}
        if len(page) > limit:
            last = page[limit - 1].id
            answer["paging"] = {"next": {"after": last, "link": f"?after={last}"}}
        return _json(answer)

    async def get(self, request: Request) -> Response:
        contact_id = str(_path_id(request))
        found = self.store.find("hs_object_id", [contact_id], _query_properties(request))
        if contact_id not in found:
            raise _not_found(contact_id)
        return _json(_object(found[contact_id]))

    async def update(self, request: Request) -> Response:
        contact_id = _path_id(request)
        given = (await _body(request)).get("properties")
        if not isinstance(given, dict):
            raise _invalid("properties must be an object of property values")
        changes = {name: _text(value, name) for name, value in given.items()}
        try:
            contact = self.store.update(contact_id, changes)
        except UniqueConflict as exc:
            raise ApiError(
                409, "CONFLICT", f"Contact already exists. Existing ID: {exc.existing_id}"
            ) from exc
        if contact is None:
            raise _not_found(str(contact_id))
        return _json(_object(contact))

    async def archive(self, request: Request) -> Response:
        contact_id = _path_id(request)
        if not self.store.archive(contact_id):
            raise _not_found(str(contact_id))
        return Response(status_code=204)

    async def gdpr_delete(self, request: Request) -> Response:
        body = await _body(request)
        object_id = _text(body.get("objectId"), "objectId")
        if body.get("idProperty") not in (None, "hs_object_id"):
            raise _invalid("this portal takes only the contact id as objectId")
        if not object_id.isdigit() or not self.store.purge(int(object_id)):
            raise _not_found(object_id)
        return Response(status_code=204)


class TokenBucket:
    """``rate`` requests a second on average, ``rate`` (at least one) at once."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(rate, 1.0)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def take(self) -> float:
        """Take a token: 0.0 if there was one, else the seconds until there is."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class Gate:
    """The private-app token check, then the rate limit, in front of the API (the admin
    endpoints stay open). Refused requests use no part of the rate."""

    def __init__(self, app: ASGIApp, token: str | None, bucket: TokenBucket | None) -> None:
        self.app = app
        self.token = token
        self.bucket = bucket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self._refusal(Headers(scope=scope)) if scope["type"] == "http" else None
        if refusal is None:
            await self.app(scope, receive, send)
        else:
            await refusal(scope, receive, send)

    def _refusal(self, headers: Headers) -> Response | None:
        if self.token is not None:
            scheme, _, credential = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not credential.strip():
                return error_response(
                    401,
                    "INVALID_AUTHENTICATION",
                    "Authentication credentials not found. This API supports OAuth 2.0"
                    " authentication and private app access tokens.",
                )
            if not secrets.compare_digest(credential.strip().encode(), self.token.encode()):
                return error_response(
                    401, "INVALID_AUTHENTICATION", "The access token provided is not valid."
                )
        if self.bucket is not None and (wait := self.bucket.take()) > 0:
            return error_response(
                429,
                "RATE_LIMITS",
                "You have reached your secondly limit.",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
                errorType="RATE_LIMIT",
                policyName="SECONDLY",
            )
        return None


def create_app(
    world: World,
    db_path: Path | str,
    knobs: Knobs | None = None,
    token: str | None = None,
    rate_limit_per_s: float | None = None,
    middleware: Sequence[Middleware] = (),
) -> Starlette:
    """The CRM app. With ``token`` every API request needs ``Authorization: Bearer
    <token>``; with ``rate_limit_per_s`` requests past the rate are answered 429."""
    path = Path(db_path)
    build(world, path)
    api = ContactsApi(ContactStore(path))
    bucket = TokenBucket(rate_limit_per_s) if rate_limit_per_s else None
    gate = Middleware(Gate, token=token, bucket=bucket)
    routes = [Mount("/crm/v3/objects", routes=api.routes(), middleware=[gate])]
    return simulated_system("crm", routes, knobs or Knobs(), middleware)
