"""The simulated ERP: Microsoft Dynamics NAV page web services over SOAP 1.1.

Each page is its own service at ``/WS/{company}/Page/{service}``: ``GET`` answers its
WSDL (whose endpoint address is the URL asked, as NAV builds it from the request's
host), ``POST`` runs an operation (``Read``, ``ReadMultiple``, ``IsUpdated``,
``Create``, ``Update``, ``Delete``) named by the Body's element and the ``SOAPAction``
header. ``GET /WS/{company}/Services`` lists the services, as NAV's discovery document
does. Every failure is a SOAP 1.1 fault with HTTP status 500, as NAV answers them.

Where it departs from NAV (beyond the store's notes in ``store.py``): no
authentication (NAV wants NTLM or a web service key); one company; services publish
only the operations listed above; ``knobs.fault == "soap_fault"`` makes every call,
WSDL included, answer a fault, to test clients against it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

from lxml import etree
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from legacy.common.app import simulated_system
from legacy.common.knobs import Knobs
from legacy.erp.pages import DEFAULT_SERVICES, PAGES_BY_NAME, Service
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
from legacy.erp.wsdl import wsdl
from legacy.world import World

XML = "text/xml; charset=utf-8"

Operation = Callable[[Service, Store, etree._Element], str]


def _arguments(service: Service, element: etree._Element) -> dict[str, str]:
    return {name: child.text or "" for name, child in children(element, service.namespace)}


def _key(service: Service, element: etree._Element) -> str:
    key = _arguments(service, element).get("Key")
    if key is None:
        raise SoapFault("The operation needs a Key.")
    return key


def _record_argument(service: Service, element: etree._Element) -> Record:
    for name, child in children(element, service.namespace):
        if name == service.name:
            return record_of(child, service.namespace, service.page.lines)
    raise SoapFault(f"The operation needs a {service.name} element.")


def _xml(service: Service, content: str) -> str:
    return f"<{service.name}>{content}</{service.name}>"


def _read(service: Service, store: Store, element: etree._Element) -> str:
    record = store.read(service.page, _arguments(service, element))
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
    records = store.read_multiple(service.page, filters, bookmark, size)
    if not records:
        return ""
    body = "".join(_xml(service, r) for r in records)
    return f"<ReadMultiple_Result>{body}</ReadMultiple_Result>"


def _is_updated(service: Service, store: Store, element: etree._Element) -> str:
    updated = store.is_updated(service.page, _key(service, element))
    return f"<IsUpdated_Result>{'true' if updated else 'false'}</IsUpdated_Result>"


def _create(service: Service, store: Store, element: etree._Element) -> str:
    return _xml(service, store.create(service.page, _record_argument(service, element)))


def _update(service: Service, store: Store, element: etree._Element) -> str:
    return _xml(service, store.update(service.page, _record_argument(service, element)))


def _delete(service: Service, store: Store, element: etree._Element) -> str:
    store.delete(service.page, _key(service, element))
    return "<Delete_Result>true</Delete_Result>"


OPERATIONS: dict[str, Operation] = {
    "Read": _read,
    "ReadMultiple": _read_multiple,
    "IsUpdated": _is_updated,
    "Create": _create,
    "Update": _update,
    "Delete": _delete,
}


def _run(service: Service, store: Store, body: bytes, soap_action: str | None) -> bytes:
    element = operation_element(body, service.namespace)
    operation = etree.QName(element).localname
    handler = OPERATIONS.get(operation)
    if handler is None:
        raise SoapFault(f"Operation {operation} is not supported by {service.name}.")
    if soap_action is not None and soap_action.strip('"') != service.soap_action(operation):
        raise SoapFault(f"SOAPAction {soap_action} does not match operation {operation}.")
    try:
        content = handler(service, store, element)
    except NavError as exc:
        raise SoapFault(str(exc), APPLICATION_FAULT) from exc
    return reply(service.namespace, operation, content)


def _fault_response(message: str, code: str = APPLICATION_FAULT) -> Response:
    return Response(fault(message, code), status_code=500, media_type=XML)


def create_app(
    world: World,
    db_path: Path,
    knobs: Knobs | None = None,
    *,
    company: str = "CRONUS",
    services: Mapping[str, str] | None = None,
    middleware: Sequence[Middleware] = (),
) -> Starlette:
    """The ERP app; ``services`` renames pages (logical page -> service name), as an
    administrator publishes them under names of their choosing."""
    build(world, db_path)
    store = Store(connect(db_path))
    knobs = knobs or Knobs()
    names = {**DEFAULT_SERVICES, **(services or {})}
    published = {name: Service(PAGES_BY_NAME[page], name) for page, name in names.items()}

    def lookup(request: Request) -> Service | None:
        if request.path_params["company"] != company:
            return None
        return published.get(request.path_params["service"])

    async def page(request: Request) -> Response:
        service = lookup(request)
        if service is None:
            return PlainTextResponse("No such service.", status_code=404)
        if knobs.fault == "soap_fault":
            return _fault_response("The ERP could not process the request (simulated fault).")
        if request.method == "GET":
            return Response(wsdl(service, str(request.url.replace(query=""))), media_type=XML)
        try:
            answer = _run(service, store, await request.body(), request.headers.get("soapaction"))
        except SoapFault as exc:
            return _fault_response(exc.message, exc.code)
        return Response(answer, media_type=XML)

    async def discovery(request: Request) -> Response:
        if request.path_params["company"] != company:
            return PlainTextResponse("No such company.", status_code=404)
        base = str(request.base_url).rstrip("/")
        refs = "".join(
            f'<contractRef ref="{base}/WS/{quote(company)}/Page/{quote(name)}"'
            ' xmlns="http://schemas.xmlsoap.org/disco/scl/" />'
            for name in published
        )
        body = f'<discovery xmlns="http://schemas.xmlsoap.org/disco/">{refs}</discovery>'
        return Response(body, media_type=XML)

    routes = [
        Route("/WS/{company}/Page/{service}", page, methods=["GET", "POST"]),
        Route("/WS/{company}/Services", discovery, methods=["GET"]),
    ]
    return simulated_system("erp", routes, knobs, middleware)
