"""The SOAP contract check: each exchange with the simulated NAV judged against the page
WSDLs in ``contracts/erp/``.

It sees both sides of every call to ``/WS/{company}/Page/{service}``:

- the WSDL the simulator serves must be the page's contract (under the service's name,
  with the installation's declared extension fields appended, as NAV publishes a page
  a partner extended), its address aside;
- a request must be a SOAP 1.1 envelope whose Body holds one operation element that
  validates against the ``xsd:schema`` inside the page's WSDL, sent with the SOAPAction
  ``urn:microsoft-dynamics-schemas/page/<service>:<Operation>``;
- an answer is either the operation's ``<Operation>_Result`` element, valid against the
  same schema, with HTTP 200, or NAV's fault: HTTP 500, a ``Fault`` with a
  ``faultcode`` in ``urn:microsoft-dynamics-schemas/error``, a ``faultstring`` and the
  message again as a ``detail/string``; or NAV's 401 for refused credentials.

Anything else is a :class:`Departure`. The schemas are built with lxml from the
contracts alone, once per service, so a field only the simulator has is found.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from functools import cache

from lxml import etree
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from legacy.erp.contract import Field, PageContract, render
from legacy.erp.pages import DEFAULT_SERVICES, EXTENSIONS
from tests.contracts import SUITE, Departure, Departures, Direction
from tests.contracts.capture import judged

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSD = "http://www.w3.org/2001/XMLSchema"
FAULT_CODES = "urn:microsoft-dynamics-schemas/error"
SERIALIZATION = "http://schemas.microsoft.com/2003/10/Serialization/"
PAGE = re.compile(r"^/WS/[^/]+/Page/(?P<service>[^/]+)$")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def expected_contract(service: str, page: str, extensions: Sequence[Field] = ()) -> PageContract:
    """The contract a service must keep to: the standard page ``page`` (its contract
    file's name) published as ``service``, with the installation's extension fields."""
    return PageContract.load(page).published_as(service).extended(extensions)


def erp_checks(
    extensions: Mapping[str, Sequence[Field]] = EXTENSIONS,
    services: Mapping[str, str] | None = None,
    departures: Departures = SUITE,
) -> list[Middleware]:
    """The check for a simulated ERP publishing the standard pages under ``services``
    (logical page -> service name; default: the standard names) with the declared
    ``extensions`` (logical page -> fields; the simulated installation's by default)."""
    names = {**DEFAULT_SERVICES, **(services or {})}
    contracts = {
        name: expected_contract(name, DEFAULT_SERVICES[page], extensions.get(page, ()))
        for page, name in names.items()
    }
    return [Middleware(SoapCheck, services=contracts, departures=departures)]


@cache
def _schema(contract: PageContract) -> etree.XMLSchema:
    wsdl = etree.fromstring(render(contract, "http://contract.invalid/").encode(), _PARSER)
    schema = wsdl.find(f".//{{{XSD}}}schema")
    assert schema is not None
    # the schema refers to its own types as tns:..., declared on the WSDL's root
    standalone = etree.Element(schema.tag, nsmap={"tns": contract.namespace, "xsd": XSD})
    standalone.attrib.update(schema.attrib)
    standalone.extend(_copy(child) for child in schema)
    return etree.XMLSchema(standalone)


def _copy(element: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(element), _PARSER)


class SoapCheck:
    """ASGI middleware for the simulated ERP (``create_app(middleware=[...])``).
    ``services``: each published service name and the contract it must keep to."""

    def __init__(
        self, app: ASGIApp, *, services: Mapping[str, PageContract], departures: Departures
    ) -> None:
        self.app = app
        self.services = services
        self.departures = departures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = PAGE.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        service = match["service"]
        await judged(
            self.app,
            scope,
            receive,
            send,
            lambda body, answer: self._judged(scope, service, body, answer),
        )

    def _judged(self, scope: Scope, service: str, body: bytes, answer: list[Message]) -> None:
        status = answer[0]["status"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        reply = b"".join(m.get("body", b"") for m in answer)
        contract = self.services.get(service)
        if contract is None:
            if status != 404:
                self._record(service, "response", "-", f"HTTP {status} for an unpublished page")
            return
        if status == 401:
            return  # NAV refusing the credentials: no SOAP on either side
        if scope["method"] == "GET":
            for detail in _judge_wsdl(contract, status, reply):
                self._record(service, "response", "WSDL", detail)
            return
        operation, found = _judge_request(contract, body, headers.get("soapaction"))
        for detail in found:
            self._record(service, "request", operation, detail)
        for detail in _judge_answer(contract, operation, status, reply):
            self._record(service, "response", operation, detail)

    def _record(self, service: str, direction: Direction, operation: str, detail: str) -> None:
        self.departures.record(Departure("erp", direction, f"{service}:{operation}", detail))


def _judge_wsdl(contract: PageContract, status: int, reply: bytes) -> Iterator[str]:
    if status != 200:
        yield from judge_fault(status, reply)
        return
    text = reply.decode("utf-8", errors="replace")
    address = re.search(r'<address location="([^"]*)"', text)
    if address is None or text != render(contract, address[1]):
        yield "the served WSDL is not the page's contract (with its declared extensions)"


def _operation(envelope: bytes) -> etree._Element | None:
    try:
        root = etree.fromstring(envelope, _PARSER)
    except etree.XMLSyntaxError:
        return None
    if root.getroottree().docinfo.doctype:
        return None  # SOAP forbids a document type declaration
    body = root.find(f"{{{SOAP_ENV}}}Body") if root.tag == f"{{{SOAP_ENV}}}Envelope" else None
    children = [c for c in body if isinstance(c.tag, str)] if body is not None else []
    return children[0] if len(children) == 1 else None


def _invalid(contract: PageContract, element: etree._Element) -> Iterator[str]:
    schema = _schema(contract)
    if not schema.validate(_copy(element)):
        for error in schema.error_log:
            yield f"line {error.line}: {error.message}"


def _judge_request(
    contract: PageContract, body: bytes, soap_action: str | None
) -> tuple[str, list[str]]:
    element = _operation(body)
    if element is None:
        return "-", ["not a SOAP 1.1 envelope with one operation in its Body"]
    name = etree.QName(element)
    operation = name.localname
    found = []
    if name.namespace != contract.namespace or operation not in contract.operations:
        found.append(f"{name.text} is not an operation of {contract.service}")
        return operation, found
    expected = contract.soap_action(operation)
    if (soap_action or "").strip('"') != expected:
        found.append(f"SOAPAction {soap_action!r}, the WSDL says {expected!r}")
    found += _invalid(contract, element)
    return operation, found


def _judge_answer(
    contract: PageContract, operation: str, status: int, reply: bytes
) -> Iterator[str]:
    if status != 200:
        yield from judge_fault(status, reply)
        return
    element = _operation(reply)
    if element is None:
        yield "not a SOAP 1.1 envelope with one element in its Body"
        return
    expected = f"{{{contract.namespace}}}{operation}_Result"
    if element.tag != expected:
        yield f"answered {element.tag}, not {expected}"
        return
    yield from _invalid(contract, element)


def judge_fault(status: int, reply: bytes) -> Iterator[str]:
    """NAV's fault: HTTP 500, faultcode in NAV's error namespace, faultstring, detail."""
    if status != 500:
        yield f"HTTP {status}: NAV answers a failure with 500 and a SOAP fault"
        return
    fault = _operation(reply)
    if fault is None or fault.tag != f"{{{SOAP_ENV}}}Fault":
        yield "HTTP 500 without a SOAP Fault"
        return
    code = fault.find("faultcode")
    prefix, _, _ = (code.text or "").partition(":") if code is not None else ("", "", "")
    if code is None or code.nsmap.get(prefix) != FAULT_CODES:
        yield f"faultcode not in {FAULT_CODES}"
    if not (fault.findtext("faultstring") or "").strip():
        yield "fault without a faultstring"
    if fault.find(f"detail/{{{SERIALIZATION}}}string") is None:
        yield "fault without NAV's detail/string"
