"""SOAP 1.1 on the wire: reading request envelopes safely, writing replies and faults.

Requests are parsed with lxml the way defusedxml would have it: no DTD loaded, no
entity expanded, nothing fetched from the network, and a document that declares a DTD
at all is refused. Replies are written from string templates around the records' XML,
which the store renders (escaped) in SQL.

Faults look like NAV's: ``faultcode`` in the ``urn:microsoft-dynamics-schemas/error``
namespace naming the .NET exception, ``faultstring`` the message, the message again in
``detail``.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from legacy.erp.contract import Lines
from legacy.erp.store import Record

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
#: Protocol errors: not an envelope, an unknown operation, an element NAV did not expect.
BROKER_FAULT = "Microsoft.Dynamics.Nav.Service.WebServices.ServiceBrokerException"
#: Errors from the application: a stale key, an invalid value, an unknown filter field.
APPLICATION_FAULT = "Microsoft.Dynamics.Nav.Types.Exceptions.NavCSideException"

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class SoapFault(Exception):
    def __init__(self, message: str, code: str = BROKER_FAULT) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def operation_element(body: bytes, namespace: str) -> etree._Element:
    """The operation element inside the envelope's Body, checked to be in ``namespace``."""
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SoapFault(f"The request is not well-formed XML: {exc}") from exc
    if root.getroottree().docinfo.doctype:
        raise SoapFault("A request may not contain a document type declaration.")
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise SoapFault("The request is not a SOAP 1.1 envelope.")
    body_element = root.find(f"{{{SOAP_ENV}}}Body")
    operation = next(_elements(body_element), None) if body_element is not None else None
    if operation is None:
        raise SoapFault("The SOAP envelope has no Body with an operation.")
    if etree.QName(operation).namespace != namespace:
        raise SoapFault(f"The operation's namespace must be {namespace}.")
    return operation


def _elements(parent: etree._Element) -> Iterator[etree._Element]:
    """Child elements, skipping comments and processing instructions."""
    return (child for child in parent if isinstance(child.tag, str))


def children(element: etree._Element, namespace: str) -> Iterator[tuple[str, etree._Element]]:
    """``(local name, element)`` of each child; an element of another namespace is an
    element NAV does not know."""
    prefix = f"{{{namespace}}}"
    for child in _elements(element):
        if not child.tag.startswith(prefix):
            raise SoapFault(f"Unexpected element {child.tag}.")
        yield child.tag[len(prefix) :], child


def record_of(element: etree._Element, namespace: str, lines: Lines | None) -> Record:
    """A record element (with its lines, for a document) as field name -> text."""
    record: Record = {}
    for name, child in children(element, namespace):
        if lines is not None and name == lines.element:
            lines_of = children(child, namespace)
            record[name] = [record_of(line, namespace, None) for _, line in lines_of]
        else:
            record[name] = child.text or ""
    return record


def _escape(text: str) -> str:
    if "&" in text or "<" in text or ">" in text:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def reply(namespace: str, operation: str, content: str) -> bytes:
    """The response envelope of ``operation`` holding ``content`` (already XML)."""
    result = f"{operation}_Result"
    inner = (
        f'<{result} xmlns="{namespace}">{content}</{result}>'
        if content
        else (f'<{result} xmlns="{namespace}" />')
    )
    return (
        f'<Soap:Envelope xmlns:Soap="{SOAP_ENV}"><Soap:Body>{inner}</Soap:Body></Soap:Envelope>'
    ).encode()


def fault(message: str, code: str = BROKER_FAULT) -> bytes:
    text = _escape(message)
    return (
        f'<s:Envelope xmlns:s="{SOAP_ENV}"><s:Body><s:Fault>'
        f'<faultcode xmlns:a="urn:microsoft-dynamics-schemas/error">a:{code}</faultcode>'
        f'<faultstring xml:lang="en-US">{text}</faultstring>'
        '<detail><string xmlns="http://schemas.microsoft.com/2003/10/Serialization/">'
        f"{text}</string></detail></s:Fault></s:Body></s:Envelope>"
    ).encode()
