"""One generator for every page's WSDL, in the shape NAV publishes.

Compare ``reference/dynamics-nav/ItemCard.wsdl``: a schema with the record type, its
list, the enumeration of its field names and the filter type; one request and one
``_Result`` element per operation; a document/literal SOAP 1.1 binding whose
``soapAction`` is ``{namespace}:{operation}``; and a service whose address is where the
WSDL was fetched from. The text is generated once per service and only the address is
filled in per request.
"""

from __future__ import annotations

from functools import cache
from xml.sax.saxutils import quoteattr

from legacy.erp.pages import OPERATIONS, Enum, Field, Service

_ADDRESS = "\x00address\x00"  # replaced per request; cannot occur in generated text


def _element(name: str, type_: str, min_occurs: int = 0, max_occurs: str = "1") -> str:
    return (
        f'<xsd:element minOccurs="{min_occurs}" maxOccurs="{max_occurs}" name="{name}"'
        f' type="{type_}" />'
    )


def _type_of(field: Field) -> str:
    return f"tns:{field.type.name}" if isinstance(field.type, Enum) else f"xsd:{field.type}"


def _sequence(elements: list[str]) -> str:
    return "<xsd:sequence>" + "".join(elements) + "</xsd:sequence>"


def _complex_type(name: str, elements: list[str]) -> str:
    return f'<xsd:complexType name="{name}">{_sequence(elements)}</xsd:complexType>'


def _wrapper(name: str, elements: list[str]) -> str:
    return (
        f'<xsd:element name="{name}"><xsd:complexType>{_sequence(elements)}'
        "</xsd:complexType></xsd:element>"
    )


def _enum(name: str, values: list[str]) -> str:
    options = "".join(f'<xsd:enumeration value="{v}" />' for v in values)
    return (
        f'<xsd:simpleType name="{name}"><xsd:restriction base="xsd:string">{options}'
        "</xsd:restriction></xsd:simpleType>"
    )


def _record_types(name: str, fields: tuple[Field, ...], extra: list[str]) -> list[str]:
    elements = [_element("Key", "xsd:string")]
    elements += [_element(f.name, _type_of(f)) for f in fields]
    return [
        _complex_type(name, elements + extra),
        _complex_type(f"{name}_List", [_element(name, f"tns:{name}", 1, "unbounded")]),
    ]


def _types(service: Service) -> str:
    page, name = service.page, service.name
    all_fields = [*page.fields, *(page.lines.fields if page.lines else ())]
    enums = {f.type.name: f.type for f in all_fields if isinstance(f.type, Enum)}
    parts = [_enum(e.name, list(e.values)) for e in enums.values()]
    extra: list[str] = []
    if page.lines:
        parts += _record_types(page.lines.element, page.lines.fields, [])
        extra = [_element(page.lines.field, f"tns:{page.lines.element}_List")]
    parts += _record_types(name, page.fields, extra)
    parts.append(_enum(f"{name}_Fields", [f.name for f in page.fields]))
    parts.append(
        _complex_type(
            f"{name}_Filter",
            [
                _element("Field", f"tns:{name}_Fields", 1),
                _element("Criteria", "xsd:string", 1),
            ],
        )
    )
    record = f"tns:{name}"
    key = [_element("Key", "xsd:string", 1)]
    messages = {
        "Read": (
            [_element(k, _type_of(page.key_field(k)), 1) for k in page.key],
            [_element(name, record)],
        ),
        "ReadMultiple": (
            [
                _element("filter", f"tns:{name}_Filter", 1, "unbounded"),
                _element("bookmarkKey", "xsd:string"),
                _element("setSize", "xsd:int", 1),
            ],
            [_element("ReadMultiple_Result", f"tns:{name}_List")],
        ),
        "IsUpdated": (key, [_element("IsUpdated_Result", "xsd:boolean", 1)]),
        "Create": ([_element(name, record, 1)], [_element(name, record, 1)]),
        "Update": ([_element(name, record, 1)], [_element(name, record, 1)]),
        "Delete": (key, [_element("Delete_Result", "xsd:boolean", 1)]),
    }
    for operation in OPERATIONS:
        request, result = messages[operation]
        parts += [_wrapper(operation, request), _wrapper(f"{operation}_Result", result)]
    return (
        f'<types><xsd:schema elementFormDefault="qualified" targetNamespace="{service.namespace}"'
        f' xmlns:xsd="http://www.w3.org/2001/XMLSchema">{"".join(parts)}</xsd:schema></types>'
    )


def _binding_operation(service: Service, operation: str) -> str:
    soap = 'xmlns="http://schemas.xmlsoap.org/wsdl/soap/"'
    return (
        f'<operation name="{operation}">'
        f'<operation soapAction="{service.soap_action(operation)}" style="document" {soap} />'
        f'<input name="{operation}"><body use="literal" {soap} /></input>'
        f'<output name="{operation}_Result"><body use="literal" {soap} /></output>'
        "</operation>"
    )


@cache
def _template(service: Service) -> str:
    name, ns = service.name, service.namespace
    messages = "".join(
        f'<message name="{m}"><part name="parameters" element="tns:{m}" /></message>'
        for op in OPERATIONS
        for m in (op, f"{op}_Result")
    )
    port_operations = "".join(
        f'<operation name="{op}"><input name="{op}" message="tns:{op}" />'
        f'<output name="{op}_Result" message="tns:{op}_Result" /></operation>'
        for op in OPERATIONS
    )
    bindings = "".join(_binding_operation(service, op) for op in OPERATIONS)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<definitions xmlns:tns="{ns}" targetNamespace="{ns}"'
        ' xmlns="http://schemas.xmlsoap.org/wsdl/">'
        f"{_types(service)}{messages}"
        f'<portType name="{name}_Port">{port_operations}</portType>'
        f'<binding name="{name}_Binding" type="tns:{name}_Port">'
        '<binding transport="http://schemas.xmlsoap.org/soap/http"'
        ' xmlns="http://schemas.xmlsoap.org/wsdl/soap/" />'
        f"{bindings}</binding>"
        f'<service name="{name}_Service"><port name="{name}_Port" binding="tns:{name}_Binding">'
        f'<address location={_ADDRESS} xmlns="http://schemas.xmlsoap.org/wsdl/soap/" />'
        "</port></service></definitions>"
    )


def wsdl(service: Service, address: str) -> bytes:
    """The service's WSDL, with ``address`` (the URL it was asked at) as its endpoint."""
    return _template(service).replace(_ADDRESS, quoteattr(address)).encode()
