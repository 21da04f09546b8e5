"""The simulated warehouse management system: the retailer's own REST/JSON API.

The WMS is in-house, so its API is plain and batch-first: every read takes a list of
SKUs and answers for all of them in one call. ``contracts/wms/openapi.yaml`` is its
contract (the tests hold this server and the adapter to it); in short:

    GET    /api/v1/warehouses
        -> [{id, name, address {street, city, postal_code, country}, lat, lon}]
    POST   /api/v1/stock/query        {skus: [...] (1..500), sites?: [...] (1..500)}
        -> {stock: [{sku, site, on_hand, reserved}]}
        One row per SKU and warehouse that stocks it (store stock lives in the POS).
    POST   /api/v1/inbound/query      {skus: [...] (1..500)}
        -> {shipments: [{id, sku, destination, quantity, expected_at}]}
        Shipments in transit; ``destination`` is a warehouse id or a POS store id,
        as the WMS ships to stores too. ``expected_at`` is RFC 3339.
    POST   /api/v1/reservations       {sku, site, quantity, reference?}
        -> 201 {id, sku, site, quantity, reference, created_at}
        Holds stock for an order, only if ``on_hand - reserved`` covers it (else 409
        ``INSUFFICIENT_STOCK`` with ``available``). A repeated ``reference`` answers 200
        with the reservation it made the first time, so a retried saga step holds the
        stock once.
    DELETE /api/v1/reservations/{id} -> 204 (releases the stock; 404 if unknown)
    GET    /api/v1/events?after=<n>&wait_s=<s>&limit=<l>
        -> {events: [{seq, type: "stock.changed", sku, site, on_hand, reserved, at}], last}
        The change feed: every change of a stock level (a reservation made or released),
        numbered; ``after`` the last number seen (absent: from now). With ``wait_s`` (at
        most 30) the request is held open until an event arrives: a long poll, so a
        follower hears of a change at once, with no webhook endpoint of its own. The
        last 10 000 events are kept; ``last`` is where to continue from; ``limit`` is at
        most 500.

Started with a token, every request needs ``Authorization: Bearer <token>`` (401
``UNAUTHORIZED`` without it); the admin endpoints stay open. Errors are
``{"error": {"code", "message"}}`` with status 400 (``BAD_REQUEST``; ``TOO_MANY_KEYS``
past 500 keys), 401, 404 or 409. SKUs asked twice are answered once; unknown SKUs and
sites have no rows.
"""

from __future__ import annotations

import inspect
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from legacy.common.app import simulated_system
from legacy.common.bearer import BearerGate, Refusal
from legacy.common.feed import ChangeFeed, while_connected
from legacy.common.knobs import Knobs
from legacy.wms.store import build
from legacy.world import World

Json = dict[str, Any]
MAX_SKUS = 500
MAX_EVENTS = 500  # events per answer of the feed
MAX_WAIT_S = 30.0  # the longest a feed request is held open


class WmsError(Exception):
    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"code": code, "message": message, **details}}

    def response(self) -> Response:
        return JSONResponse(self.body, status_code=self.status)


def _keys(body: Json, field: str, *, required: bool) -> list[str] | None:
    """A list of keys from the body, de-duplicated in order; None when absent."""
    value = body.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise WmsError(400, "BAD_REQUEST", f"{field} must be a non-empty list of strings")
    if len(value) > MAX_SKUS:
        raise WmsError(400, "TOO_MANY_KEYS", f"at most {MAX_SKUS} {field} per call")
    return list(dict.fromkeys(value))


def _in(column: str, values: Sequence[str]) -> tuple[str, list[str]]:
    return f"{column} IN ({','.join('?' * len(values))})", list(values)


def _warehouse(row: sqlite3.Row) -> Json:
    return {
        "id": row["id"],
        "name": row["name"],
        "address": {
            "street": row["street"],
            "city": row["city"],
            "postal_code": row["postal_code"],
            "country": row["country"],
        },
        "lat": row["lat"],
        "lon": row["lon"],
    }


class Wms:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.feed = ChangeFeed()

    def warehouses(self, request: Json) -> Any:
        return [_warehouse(row) for row in self.db.execute("SELECT * FROM warehouses ORDER BY id")]

    def stock(self, body: Json) -> Any:
        where, args = _in("sku", _keys(body, "skus", required=True) or [])
        sites = _keys(body, "sites", required=False)
        if sites is not None:
            clause, more = _in("site", sites)
            where, args = f"{where} AND {clause}", [*args, *more]
        rows = self.db.execute(
            f"SELECT sku, site, on_hand, reserved FROM stock WHERE {where} ORDER BY sku, site",
            args,
        )
        return {"stock": [dict(row) for row in rows]}

    def inbound(self, body: Json) -> Any:
        where, args = _in("sku", _keys(body, "skus", required=True) or [])
        rows = self.db.execute(
            "SELECT id, sku, destination, quantity, expected_at FROM inbound"
            f" WHERE {where} ORDER BY expected_at, id",
            args,
        )
        return {"shipments": [dict(row) for row in rows]}

    def reserve(self, body: Json) -> tuple[int, Json]:
        sku, site, quantity = body.get("sku"), body.get("site"), body.get("quantity")
        reference = body.get("reference")
        if not (isinstance(sku, str) and isinstance(site, str) and type(quantity) is int):
            raise WmsError(400, "BAD_REQUEST", "a reservation needs sku, site and quantity")
        if quantity < 1 or not (reference is None or isinstance(reference, str)):
            raise WmsError(400, "BAD_REQUEST", "quantity must be positive, reference a string")
        if reference is not None:
            earlier = self.db.execute(
                "SELECT * FROM reservations WHERE reference = ?", (reference,)
            ).fetchone()
            if earlier is not None:
                return 200, dict(earlier)
        row = self.db.execute(
            "SELECT on_hand, reserved FROM stock WHERE sku = ? AND site = ?", (sku, site)
        ).fetchone()
        if row is None:
            raise WmsError(404, "NOT_FOUND", f"{sku} is not stocked at {site}")
        available = row["on_hand"] - row["reserved"]
        if available < quantity:
            raise WmsError(
                409, "INSUFFICIENT_STOCK", f"only {available} available", available=available
            )
        reservation = {
            "id": f"RSV-{uuid.uuid4().hex[:12]}",
            "sku": sku,
            "site": site,
            "quantity": quantity,
            "reference": reference,
            "created_at": datetime.now(UTC).isoformat(),
        }
        with self.db:
            self.db.execute(
                "UPDATE stock SET reserved = reserved + ? WHERE sku = ? AND site = ?",
                (quantity, sku, site),
            )
            self.db.execute(
                "INSERT INTO reservations VALUES (:id, :sku, :site, :quantity, :reference,"
                " :created_at)",
                reservation,
            )
        self._publish(sku, site)
        return 201, reservation

    def release(self, params: Json) -> None:
        row = self.db.execute(
            "SELECT * FROM reservations WHERE id = ?", (params["reservation_id"],)
        ).fetchone()
        if row is None:
            raise WmsError(404, "NOT_FOUND", f"no reservation {params['reservation_id']}")
        with self.db:
            self.db.execute(
                "UPDATE stock SET reserved = MAX(0, reserved - ?) WHERE sku = ? AND site = ?",
                (row["quantity"], row["sku"], row["site"]),
            )
            self.db.execute("DELETE FROM reservations WHERE id = ?", (row["id"],))
        self._publish(row["sku"], row["site"])

    def _publish(self, sku: str, site: str) -> None:
        """A ``stock.changed`` event with the level after a committed change."""
        row = self.db.execute(
            "SELECT on_hand, reserved FROM stock WHERE sku = ? AND site = ?", (sku, site)
        ).fetchone()
        if row is not None:
            at = datetime.now(UTC).isoformat()
            event = {"type": "stock.changed", "sku": sku, "site": site, **dict(row), "at": at}
            self.feed.publish([event])

    async def events(self, params: Json) -> Json:
        after = _bounded(params, "after", self.feed.last, 0, None)
        limit = _bounded(params, "limit", MAX_EVENTS, 1, MAX_EVENTS)
        wait_s = _bounded(params, "wait_s", 0.0, 0.0, MAX_WAIT_S)
        found = await self.feed.wait_after(int(after), int(limit), wait_s)
        return {
            "events": [{"seq": number, **event} for number, event in found],
            "last": found[-1][0] if found else int(after),
        }


def _bounded(params: Json, name: str, default: float, low: float, high: float | None) -> float:
    """A query parameter as a number within its bounds (whole unless ``default`` is a
    float); absent or empty: ``default``."""
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw) if isinstance(default, float) else int(raw)
    except ValueError as exc:
        raise WmsError(400, "BAD_REQUEST", f"{name} must be a number, got {raw!r}") from exc
    if value < low or (high is not None and value > high):
        bounds = f"at least {low:g}" if high is None else f"between {low:g} and {high:g}"
        raise WmsError(400, "BAD_REQUEST", f"{name} must be {bounds}, got {raw}")
    return value


Endpoint = Callable[[Request], Awaitable[Response]]


class _Gone(Response):
    """No answer at all: the client hung up on its long poll, so nobody is listening."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None


def _endpoint(handler: Callable[[Json], Any], *, body: bool) -> Endpoint:
    """A handler of the JSON body (or of the path and query parameters) as a Starlette
    endpoint; an async handler (the events' long poll) is awaited.

    A handler answers a JSON value (200), a ``(status, value)`` pair, or None (204)."""

    async def endpoint(request: Request) -> Response:
        try:
            if body:
                try:
                    payload = await request.json()
                except ValueError as exc:
                    raise WmsError(400, "BAD_REQUEST", "the body is not JSON") from exc
                if not isinstance(payload, dict):
                    raise WmsError(400, "BAD_REQUEST", "the body must be a JSON object")
            else:
                payload = {**request.query_params, **request.path_params}
            answer = handler(payload)
            if inspect.isawaitable(answer):
                answer = await while_connected(request, answer)
                if answer is None:
                    return _Gone()
        except WmsError as error:
            return error.response()
        if answer is None:
            return Response(status_code=204)
        if isinstance(answer, tuple):
            status, value = answer
            return JSONResponse(value, status_code=status)
        return JSONResponse(answer)

    return endpoint


def _unauthorized(refusal: Refusal) -> Response:
    message = {
        "missing": "an API token is required: Authorization: Bearer <token>",
        "invalid": "the API token is not valid",
    }[refusal]
    response = WmsError(401, "UNAUTHORIZED", message).response()
    response.headers["WWW-Authenticate"] = 'Bearer realm="wms"'
    return response


def create_app(
    world: World,
    db_path: Path,
    knobs: Knobs | None = None,
    middleware: Sequence[Middleware] = (),
    *,
    token: str | None = None,
) -> Starlette:
    """The WMS on its SQLite file (built from ``world`` when missing). With ``token``
    every API request needs ``Authorization: Bearer <token>``."""
    build(world, db_path)
    db = sqlite3.connect(db_path, check_same_thread=False)
    db.row_factory = sqlite3.Row
    wms = Wms(db)
    routes = [
        Route("/warehouses", _endpoint(wms.warehouses, body=False), methods=["GET"]),
        Route("/stock/query", _endpoint(wms.stock, body=True), methods=["POST"]),
        Route("/inbound/query", _endpoint(wms.inbound, body=True), methods=["POST"]),
        Route("/reservations", _endpoint(wms.reserve, body=True), methods=["POST"]),
        Route("/events", _endpoint(wms.events, body=False), methods=["GET"]),
        Route(
            "/reservations/{reservation_id}",
            _endpoint(wms.release, body=False),
            methods=["DELETE"],
        ),
    ]
    gate = [] if token is None else [Middleware(BearerGate, token=token, refuse=_unauthorized)]
    api = Mount("/api/v1", routes=routes, middleware=gate)
    return simulated_system("wms", [api], knobs or Knobs(), middleware)
