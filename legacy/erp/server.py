"""The simulated ERP: Microsoft Dynamics NAV page web services over SOAP 1.1.

Each page is its own service at ``/WS/{company}/Page/{service}``: ``GET`` answers its
WSDL (the page's contract from ``contracts/erp/``, under the service's name, with the
installation's extension fields, its endpoint address the URL asked, as NAV builds it
from the request's host); ``POST`` runs an operation named by the Body's element and
the ``SOAPAction`` header. Every operation the WSDL declares is served (Read,
ReadByRecId, ReadMultiple, IsUpdated, GetRecIdFromKey, Create, CreateMultiple, Update,
UpdateMultiple, Delete, and Delete_<lines> on documents); any other answers NAV's
fault for an unknown operation. ``GET /WS/{company}/Services`` lists the services, as
NAV's discovery document does. Every failure is a SOAP 1.1 fault with HTTP status 500,
as NAV answers them.

Started with ``credentials``, every request to a service needs them, as a NAV web
service user (``NavUserPassword``) sends them: HTTP Basic; without them NAV answers 401
with a Basic challenge and no body. ``authorize`` replaces that check (the tests' Business
Central stand-in accepts its own OAuth tokens with it).

NAV's service tier serves each session's request on a thread of its own, so one request's
work never holds up the next one's arrival. The simulator does its store's work on one
thread beside the event loop (:data:`SERVICE_TIER`): SQLite releases the GIL while it
reads, so the loop takes the next request in (and starts its latency) while a large
ReadMultiple is still being rendered; on the loop itself, 44 item cards (1.8 ms) made
the two calls sent beside them arrive 2.6 and 3.2 ms late, which a gateway's
measured overhead then carried. One thread, because the store has one connection: its
statements still run one at a time, in the order the requests came.

Where it departs from NAV (beyond the store's notes in ``store.py``; all of them are in
``contracts/erp/PAGES.md``): one company; ``knobs.fault == "soap_fault"`` makes every
call, WSDL included, answer a fault, to test clients against it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from lxml import etree
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from legacy.common.app import simulated_system
from legacy.common.knobs import Knobs
from legacy.erp.contract import Field, render
from legacy.erp.pages import DEFAULT_SERVICES, EXTENSIONS, Service, published
from legacy.erp.posting import Posting
from legacy.erp.soap import (
    APPLICATION_FAULT,
    SoapFault,
    children,
    fault,
    operation_element,
    record_of,
    reply,
)
from legacy.erp.store import NavError, Record, Store, build, connect
from legacy.world import World

XML = "text/xml; charset=utf-8"

Operation = Callable[[Service, Store, etree._Element], str]
Authorize = Callable[[Request], bool]

#: the thread every ERP app in this process does its store's work on (see above)
SERVICE_TIER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nav-service-tier")


def _arguments(service: Service, element: etree._Element) -> dict[str, str]:
    return {name: child.text or "" for name, child in children(element, service.namespace)}


def _argument(service: Service, element: etree._Element, name: str) -> str:
    value = _arguments(service, element).get(name)
    if value is None:
        raise SoapFault(f"The operation needs {name}.")
    return value


def _record_argument(service: Service, element: etree._Element) -> Record:
    for name, child in children(element, service.namespace):
        if name == service.name:
            return record_of(child, service.namespace, service.contract.lines)
    raise SoapFault(f"The operation needs a {service.name} element.")


def _list_argument(service: Service, element: etree._Element) -> list[Record]:
    for name, child in children(element, service.namespace):
        if name == f"{service.name}_List":
            return [
                record_of(record, service.namespace, service.contract.lines)
                for _, record in children(child, service.namespace)
            ]
    raise SoapFault(f"The operation needs a {service.name}_List element.")


def _xml(service: Service, content: str) -> str:
    return f"<{service.name}>{content}</{service.name}>"


def _listed(service: Service, records: Sequence[str]) -> str:
    body = "".join(_xml(service, r) for r in records)
    return f"<{service.name}_List>{body}</{service.name}_List>"


def _read(service: Service, store: Store, element: etree._Element) -> str:
    record = store.read(service, _arguments(service, element))
    return _xml(service, record) if record else ""


def _read_by_rec_id(service: Service, store: Store, element: etree._Element) -> str:
    record = store.read_by_record_id(service, _argument(service, element, "recId"))
    return _xml(service, record) if record else ""


def _read_multiple(service: Service, store: Store, element: etree._Element) -> str:
    filters: list[tuple[str, str]] = []
    bookmark: str | None = None
    size = 0
    for name, child in children(element, service.namespace):
        if name == "filter":
            parts = _arguments(service, child)
            if "Field" not in parts or "Criteria" not in parts:
                raise SoapFault("A filter needs a Field and a Criteria.")
            filters.append((parts["Field"], parts["Criteria"]))
        elif name == "bookmarkKey":
            bookmark = child.text or None
        elif name == "setSize":
            try:
                size = int(child.text or "0")
            except ValueError as exc:
                raise SoapFault("setSize must be an integer.") from exc
        else:
            raise SoapFault(f"ReadMultiple does not take {name}.")
    records = store.read_multiple(service, filters, bookmark, size)
    if not records:
        return ""
    body = "".join(_xml(service, r) for r in records)
    return f"<ReadMultiple_Result>{body}</ReadMultiple_Result>"


def _is_updated(service: Service, store: Store, element: etree._Element) -> str:
    updated = store.is_updated(service, _argument(service, element, "Key"))
    return f"<IsUpdated_Result>{'true' if updated else 'false'}</IsUpdated_Result>"


def _rec_id(service: Service, store: Store, element: etree._Element) -> str:
    record_id = store.record_id(service, _argument(service, element, "Key"))
    return f"<GetRecIdFromKey_Result>{escape(record_id)}</GetRecIdFromKey_Result>"


def _create(service: Service, store: Store, element: etree._Element) -> str:
    return _xml(service, store.create(service, _record_argument(service, element)))


def _create_multiple(service: Service, store: Store, element: etree._Element) -> str:
    return _listed(service, store.create_multiple(service, _list_argument(service, element)))


def _update(service: Service, store: Store, element: etree._Element) -> str:
    return _xml(service, store.update(service, _record_argument(service, element)))


def _update_multiple(service: Service, store: Store, element: etree._Element) -> str:
    return _listed(service, store.update_multiple(service, _list_argument(service, element)))


def _delete(service: Service, store: Store, element: etree._Element) -> str:
    store.delete(service, _argument(service, element, "Key"))
    return "<Delete_Result>true</Delete_Result>"


def _delete_line(service: Service, store: Store, element: etree._Element) -> str:
    lines = service.contract.lines
    assert lines is not None  # the operation is only declared on documents
    store.delete_line(service, _argument(service, element, f"{lines.element}_Key"))
    return f"<Delete_{lines.element}_Result>true</Delete_{lines.element}_Result>"


OPERATIONS: dict[str, Operation] = {
    "Read": _read,
    "ReadByRecId": _read_by_rec_id,
    "ReadMultiple": _read_multiple,
    "IsUpdated": _is_updated,
    "GetRecIdFromKey": _rec_id,
    "Create": _create,
    "CreateMultiple": _create_multiple,
    "Update": _update,
    "UpdateMultiple": _update_multiple,
    "Delete": _delete,
}


def _handler(service: Service, operation: str) -> Operation | None:
    """The operation, if the service's WSDL declares it."""
    if operation not in service.contract.operations:
        return None
    if operation.startswith("Delete_"):
        return _delete_line
    return OPERATIONS.get(operation)


def _run(service: Service, store: Store, body: bytes, soap_action: str | None) -> bytes:
    element = operation_element(body, service.namespace)
    operation = etree.QName(element).localname
    handler = _handler(service, operation)
    if handler is None:
        raise SoapFault(f"Operation {operation} is not supported by {service.name}.")
    if soap_action is not None and soap_action.strip('"') != service.contract.soap_action(
        operation
    ):
        raise SoapFault(f"SOAPAction {soap_action} does not match operation {operation}.")
    try:
        content = handler(service, store, element)
    except NavError as exc:
        raise SoapFault(str(exc), APPLICATION_FAULT) from exc
    return reply(service.namespace, operation, content)


def _post(posting: Posting, what: str, body: dict[str, Any]) -> Response:
    """One posting; a refusal is 409 with NAV's message."""
    try:
        match what:
            case "shipment":
                posting.ship(body["order"], body.get("lines"))
                return JSONResponse({"order": body["order"]})
            case "invoice":
                return JSONResponse({"invoice": posting.invoice(body["order"])})
            case "payment":
                amount = Decimal(str(body["amount"]))
                entry = posting.pay(body["order"], amount, body.get("method", "IDEAL"))
                return JSONResponse({"entry": entry})
    except NavError as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    return JSONResponse({"error": "post a shipment, an invoice or a payment"}, 404)


def _fault_response(message: str, code: str = APPLICATION_FAULT) -> Response:
    return Response(fault(message, code), status_code=500, media_type=XML)


def basic_auth(username: str, password: str) -> Authorize:
    """NAV's check of a web service user's HTTP Basic credentials."""
    expected = f"{username}:{password}".encode()

    def authorize(request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return secrets.compare_digest(given, expected)

    return authorize


def create_app(
    world: World,
    db_path: Path,
    knobs: Knobs | None = None,
    *,
    company: str = "CRONUS",
    services: Mapping[str, str] | None = None,
    extensions: Mapping[str, Sequence[Field]] = EXTENSIONS,
    credentials: tuple[str, str] | None = None,
    authorize: Authorize | None = None,
    middleware: Sequence[Middleware] = (),
    service_tier: Executor = SERVICE_TIER,
) -> Starlette:
    """The ERP app. ``services`` renames pages (logical page -> service name), as an
    administrator publishes them under names of their choosing; ``extensions`` are the
    installation's extension fields per logical page (``{}``: the pure standard pages);
    ``credentials`` (user name, password) or ``authorize`` make it ask for them;
    ``service_tier`` is the thread the store's work runs on."""
    names = {**DEFAULT_SERVICES, **(services or {})}
    by_name = published(names, extensions)
    build(world, db_path, list(by_name.values()))
    store = Store(connect(db_path))
    knobs = knobs or Knobs()
    check = authorize or (basic_auth(*credentials) if credentials else None)

    def lookup(request: Request) -> Service | None:
        if request.path_params["company"] != company:
            return None
        return by_name.get(request.path_params["service"])

    async def page(request: Request) -> Response:
        if check is not None and not check(request):
            return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm=""'})
        service = lookup(request)
        if service is None:
            return PlainTextResponse("No such service.", status_code=404)
        body = await request.body()  # read first: the contract check sees every request
        if knobs.fault == "soap_fault":
            return _fault_response("The ERP could not process the request (simulated fault).")
        if request.method == "GET":
            address = escape(str(request.url.replace(query="")), {'"': "&quot;"})
            return Response(render(service.contract, address), media_type=XML)
        try:
            answer = await asyncio.get_running_loop().run_in_executor(
                service_tier, _run, service, store, body, request.headers.get("soapaction")
            )
        except SoapFault as exc:
            return _fault_response(exc.message, exc.code)
        return Response(answer, media_type=XML)

    async def discovery(request: Request) -> Response:
        if check is not None and not check(request):
            return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm=""'})
        if request.path_params["company"] != company:
            return PlainTextResponse("No such company.", status_code=404)
        base = str(request.base_url).rstrip("/")
        refs = "".join(
            f'<contractRef ref="{base}/WS/{quote(company)}/Page/{quote(name)}"'
            ' xmlns="http://schemas.xmlsoap.org/disco/scl/" />'
            for name in by_name
        )
        body = f'<discovery xmlns="http://schemas.xmlsoap.org/disco/">{refs}</discovery>'
        return Response(body, media_type=XML)

    posting = Posting(store.conn, {s.page.name: s for s in by_name.values()})

    async def post(request: Request) -> Response:
        """``/__admin/post/{shipment,invoice,payment}``: NAV's posting, for tests and the
        demo (legacy/erp/posting.py), on the store's thread like every other write."""
        body = await request.json()
        what = request.path_params["what"]
        return await asyncio.get_running_loop().run_in_executor(
            service_tier, _post, posting, what, body
        )

    routes = [
        Route("/__admin/post/{what}", post, methods=["POST"]),
        Route("/WS/{company}/Page/{service}", page, methods=["GET", "POST"]),
        Route("/WS/{company}/Services", discovery, methods=["GET"]),
    ]
    return simulated_system("erp", routes, knobs, middleware)
