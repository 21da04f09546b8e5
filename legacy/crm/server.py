"""The simulated CRM: HubSpot's CRM v3 contacts API, over the SQLite store.

Each behind the private-app token (``Authorization: Bearer``) when one is configured:

    POST   /crm/v3/objects/contacts/batch/read     by internal id, or a unique property
    POST   /crm/v3/objects/contacts/search         filterGroups, sorts, limit/after paging
    GET    /crm/v3/objects/contacts                list, limit/after paging
    GET    /crm/v3/objects/contacts/{id}           one contact
    PATCH  /crm/v3/objects/contacts/{id}           update properties
    DELETE /crm/v3/objects/contacts/{id}           archive (to the recycle bin)
    POST   /crm/v3/objects/contacts/gdpr-delete    delete for good (by id or e-mail)
    GET    /crm/v3/properties/contacts             the portal's contact properties

Shapes, limits and error bodies follow ``contracts/crm/`` (HubSpot's OpenAPI files), and
where those are silent, HubSpot's documentation: the 401 and 429 bodies, the rate limits
(a rolling ten-second window, with search exempt from it and limited per second of its
own, as the OpenAPI file's ``x-hubspot-rate-limit-exemptions`` says; no ``Retry-After``,
which HubSpot does not send), search comparing text as stored (case-insensitively) and
the calculated ``hs_searchable_calculated_phone_number`` for finding a phone number
however it was written.

Where the simulation still departs from HubSpot, and why:

- Search is consistent at once; HubSpot's search index trails writes by a few seconds.
  Simulating the lag would gain nothing, and tests would have to sleep.
- Search refuses range operators (``LT``, ``GT``, ``BETWEEN`` ...), free-text ``query``
  and more than one sort with 400: Mosaic uses none, and a refusal is never silently
  wrong. A sort given as a bare string is ignored, as HubSpot ignores it (its own SDKs
  send them so, typed by the OpenAPI file); sorts are objects ``{propertyName,
  direction}``, as HubSpot's documentation has them.
- Associations, ``propertiesWithHistory``, ``archived=true`` reads, create and merge
  are not offered (Mosaic uses none); a request asking for them is refused with 400.
- GDPR delete of an e-mail nobody has answers 204 but blocklists nothing.
- The properties API answers only the portal's contact properties (HubSpot's defaults
  the simulation keeps, and the portal's custom ones), without property groups.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from legacy.common.app import simulated_system
from legacy.common.bearer import BearerGate, Refusal, refuse_after_reading
from legacy.common.knobs import Knobs
from legacy.crm.store import (
    CUSTOM_PROPERTIES,
    OPERATORS,
    STANDARD_PROPERTIES,
    UNIQUE_PROPERTIES,
    Contact,
    ContactStore,
    Filter,
    Sort,
    UniqueConflict,
    build,
    hubspot_time,
    property_definition,
)
from legacy.world import World

MAX_INPUTS = 100  # HubSpot's batch size
MAX_PAGE = 100  # HubSpot's largest page of a list
MAX_SEARCH_PAGE = 200  # and of a search
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


def _limit(value: Any, most: int = MAX_PAGE) -> int:
    return _bounded_int(value, "limit", DEFAULT_PAGE, 1, most)


def _after(value: Any) -> int:
    return _bounded_int(value, "after", 0, 0, 2**62)


def _sort(raw: Any, defined: frozenset[str]) -> Sort | None:
    """HubSpot takes one sort, ``{propertyName, direction}``; it ignores a bare string
    (what its SDKs send, following the OpenAPI file's ``sorts: string[]``)."""
    if not isinstance(raw, list):
        raise _invalid("sorts must be a list")
    given = [s for s in raw if not isinstance(s, str)]
    if not given:
        return None
    if len(given) > 1:
        raise _invalid("only one sort can be applied to a search")
    (sort,) = given
    if not isinstance(sort, dict) or sort.get("propertyName") not in defined:
        raise _invalid(f"Property {sort!r} is not a property of contacts to sort by")
    direction = sort.get("direction", "ASCENDING")
    if direction not in ("ASCENDING", "DESCENDING"):
        raise _invalid(f"direction must be ASCENDING or DESCENDING, got {direction!r}")
    return Sort(sort["propertyName"], direction == "DESCENDING")


def _filter(raw: Any, defined: frozenset[str]) -> Filter:
    if not isinstance(raw, dict):
        raise _invalid("a filter must be an object")
    name, operator = raw.get("propertyName"), raw.get("operator")
    if name not in defined:
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


def _filter_groups(raw: Any, defined: frozenset[str]) -> list[list[Filter]]:
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
        groups.append([_filter(f, defined) for f in filters])
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


def _refuse_unoffered(given: Any, what: str) -> None:
    """A part of the API the simulation does not offer: refused, never ignored."""
    if given not in (None, [], "", "false"):
        raise _invalid(f"{what} is not offered by this simulated portal")


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
        _refuse_unoffered(body.get("propertiesWithHistory"), "propertiesWithHistory")
        id_property = body.get("idProperty") or "hs_object_id"
        if id_property not in UNIQUE_PROPERTIES & self.store.defined:
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
            "errors": [],
            "links": {},
        }
        return _json({**answer, "numErrors": 1, "errors": [error]}, status=207)

    async def search(self, request: Request) -> Response:
        body = await _body(request)
        _refuse_unoffered(body.get("query"), "free-text query")
        groups = _filter_groups(body.get("filterGroups"), self.store.defined)
        sort = _sort(body.get("sorts") or [], self.store.defined)
        limit = _limit(body.get("limit"), MAX_SEARCH_PAGE)
        offset = _after(body.get("after"))
        names = _property_names(body.get("properties"))
        total, contacts = self.store.search(groups, names, limit, offset, sort)
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
        for unoffered in ("associations", "propertiesWithHistory", "archived"):
            _refuse_unoffered(request.query_params.get(unoffered), unoffered)
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
        """By id (404 when unknown) or, with ``idProperty: email``, by address (204 also
        when nobody has it: HubSpot then blocklists the address)."""
        body = await _body(request)
        object_id = _text(body.get("objectId"), "objectId")
        id_property = body.get("idProperty") or "hs_object_id"
        if id_property == "email":
            found = self.store.find("email", [object_id], [])
            if object_id in found:
                self.store.purge(int(found[object_id].id))
            return Response(status_code=204)
        if id_property != "hs_object_id":
            raise _invalid("idProperty must be hs_object_id or email")
        if not object_id.isdigit() or not self.store.purge(int(object_id)):
            raise _not_found(object_id)
        return Response(status_code=204)


class PropertiesApi:
    """``GET /crm/v3/properties/contacts``: the portal's contact properties."""

    def __init__(self, store: ContactStore) -> None:
        self.store = store

    def routes(self) -> list[Route]:
        return [Route("/contacts", _answering_errors(self.contacts), methods=["GET"])]

    async def contacts(self, request: Request) -> Response:
        _refuse_unoffered(request.query_params.get("archived"), "archived properties")
        names = sorted(self.store.defined)
        return _json({"results": [property_definition(name) for name in names]})


def _unauthorized(refusal: Refusal) -> Response:
    """HubSpot's 401 for a request without a token, or with one it does not know."""
    message = {
        "missing": "Authentication credentials not found. This API supports OAuth 2.0"
        " authentication and private app access tokens.",
        "invalid": "The access token provided is not valid.",
    }[refusal]
    return error_response(401, "INVALID_AUTHENTICATION", message)


@dataclass(slots=True)
class RollingWindow:
    """At most ``most`` requests in any ``window_s`` seconds, as HubSpot counts them."""

    most: int
    window_s: float
    clock: Callable[[], float]
    stamps: deque[float] = field(default_factory=deque)

    def admit(self) -> bool:
        now = self.clock()
        while self.stamps and self.stamps[0] <= now - self.window_s:
            self.stamps.popleft()
        if len(self.stamps) >= self.most:
            return False
        self.stamps.append(now)
        return True

    @property
    def remaining(self) -> int:
        return self.most - len(self.stamps)


#: what HubSpot's 429 names: the policy, and the words of its message
POLICIES = {"TEN_SECONDLY_ROLLING": "ten_secondly_rolling", "SECONDLY": "secondly"}


def _rate_limited(policy: str, headers: dict[str, str]) -> Response:
    """HubSpot's documented 429: ``errorType`` and ``policyName`` (which limit), with the
    ``category`` its OpenAPI ``Error`` requires (RATE_LIMITS, one of HubSpot's error
    categories), and no ``Retry-After``: a client backs off by itself."""
    body = {
        "status": "error",
        "message": f"You have reached your {POLICIES[policy]} limit.",
        "category": "RATE_LIMITS",
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": policy,
        "requestId": str(uuid.uuid4()),
    }
    return JSONResponse(body, status_code=429, headers=headers)


class RateLimits:
    """HubSpot's rate limits in front of the API: every request counts against the
    rolling ten-second window, except searches, which the OpenAPI file exempts from it
    (``x-hubspot-rate-limit-exemptions: ten-secondly``) and which have a per-second
    limit of their own. Answers outside search carry HubSpot's ``X-HubSpot-RateLimit-*``
    headers."""

    def __init__(
        self, app: ASGIApp, ten_secondly: RollingWindow | None, search: RollingWindow | None
    ) -> None:
        self.app = app
        self.ten_secondly = ten_secondly
        self.search = search

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        searching = scope["type"] == "http" and scope["path"].endswith("/search")
        window = self.search if searching else self.ten_secondly
        if scope["type"] != "http" or window is None:
            await self.app(scope, receive, send)
            return
        admitted = window.admit()
        headers = {} if searching else self._headers(window)
        if not admitted:
            policy = "SECONDLY" if searching else "TEN_SECONDLY_ROLLING"
            await refuse_after_reading(_rate_limited(policy, headers), scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    *((k.lower().encode(), v.encode()) for k, v in headers.items()),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)

    @staticmethod
    def _headers(window: RollingWindow) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(window.window_s * 1000)),
            "X-HubSpot-RateLimit-Max": str(window.most),
            "X-HubSpot-RateLimit-Remaining": str(window.remaining),
        }


def create_app(
    world: World,
    db_path: Path | str,
    knobs: Knobs | None = None,
    token: str | None = None,
    *,
    rate_limit_per_10s: int | None = None,
    search_rate_limit_per_s: int | None = None,
    custom_properties: Sequence[str] = CUSTOM_PROPERTIES,
    middleware: Sequence[Middleware] = (),
    clock: Callable[[], float] = time.monotonic,
) -> Starlette:
    """The CRM app, a portal with the given custom properties (a subset of ours: a
    portal whose administrator has not created them all). With ``token`` every API
    request needs ``Authorization: Bearer <token>`` (the private app's token); with the
    rate limits (HubSpot's are 100 to 190 per ten seconds by tier, and 5 searches a
    second), requests past them are answered 429, counted on ``clock``."""
    path = Path(db_path)
    build(world, path)
    unknown = set(custom_properties) - set(CUSTOM_PROPERTIES)
    if unknown:
        raise ValueError(f"not custom properties of the portal: {sorted(unknown)}")
    store = ContactStore(path, frozenset(STANDARD_PROPERTIES) | frozenset(custom_properties))
    gates = [] if token is None else [Middleware(BearerGate, token=token, refuse=_unauthorized)]
    if rate_limit_per_10s or search_rate_limit_per_s:
        ten_secondly = (
            RollingWindow(rate_limit_per_10s, 10.0, clock) if rate_limit_per_10s else None
        )
        search = (
            RollingWindow(search_rate_limit_per_s, 1.0, clock) if search_rate_limit_per_s else None
        )
        gates.append(Middleware(RateLimits, ten_secondly=ten_secondly, search=search))
    routes = [
        Mount("/crm/v3/objects", routes=ContactsApi(store).routes(), middleware=gates),
        Mount("/crm/v3/properties", routes=PropertiesApi(store).routes(), middleware=gates),
    ]
    return simulated_system("crm", routes, knobs or Knobs(), middleware)
