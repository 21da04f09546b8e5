"""A NAV page web service's contract: its WSDL read into a model, and written back.

The WSDL files under ``contracts/erp/`` are the one statement of what each page
publishes: its record's fields with their XSD types and option values, the fields
``Read`` takes (the table's primary key), a document's lines subpage, and the
operations. The simulated ERP reads its pages from them (``PageContract.load``), so it
cannot offer a field the page lacks; the SOAP contract checker in the tests validates
every exchange against the schema inside them.

``render`` writes a model back in the exact shape NAV's WSDL generator gives it
(compare ``ItemCard.wsdl``, ``Customer.wsdl`` and the BOMs page with lines: option
types first, in the order the page meets them; the lines' types, then the record's;
the field-name enumeration and the filter type; one request and one ``_Result``
element per operation; messages, port type, a document/literal SOAP 1.1 binding whose
``soapAction`` is ``{namespace}:{operation}``, and the service). A test renders every
contract file from its own model and compares the text, so the built WSDLs follow the
same generator as the two real ones; the simulator renders a page with an
installation's extension fields appended, as NAV publishes a page a partner changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from lxml import etree

import contracts

#: Where the contract WSDLs live (the repository's ``contracts/erp``, shipped with it).
CONTRACTS = Path(contracts.__file__).resolve().parent / "erp"

XSD = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
_NS = {"xsd": XSD, "wsdl": WSDL}

#: NAV's page operations, in the order its WSDLs list them; a page with lines adds
#: ``Delete_<lines element>`` at the end. NAV leaves out the ones the page's properties
#: forbid (``InsertAllowed=No``: no Create or CreateMultiple; ``DeleteAllowed=No``: no
#: Delete; ``ModifyAllowed=No``: no Update or UpdateMultiple), as the real
#: ItemCategoryCard WSDL (page 5733, DeleteAllowed=No) shows.
OPERATIONS = (
    "Read",
    "ReadByRecId",
    "ReadMultiple",
    "IsUpdated",
    "GetRecIdFromKey",
    "Create",
    "CreateMultiple",
    "Update",
    "UpdateMultiple",
    "Delete",
)


@dataclass(frozen=True, slots=True)
class Option:
    """A NAV option field, published as an ``xsd:string`` enumeration."""

    name: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str | Option  # an XSD built-in's local name (string, decimal, date, ...) or an option

    @property
    def xsd(self) -> str:
        """How the value is written: an option is a string."""
        return "string" if isinstance(self.type, Option) else self.type


@dataclass(frozen=True, slots=True)
class Lines:
    """A document's lines subpage, published nested in its header."""

    element: str  # the header's element holding the lines, e.g. SalesLines
    type: str  # one line's type and element name, e.g. Sales_Order_Subform
    fields: tuple[Field, ...]

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True, slots=True)
class PageContract:
    """One page as published under one service name."""

    service: str
    fields: tuple[Field, ...]  # the record's fields without Key, in page order
    key: tuple[str, ...]  # what Read takes
    lines: Lines | None = None
    lines_after: int = 0  # how many of ``fields`` come before the lines element
    operations: tuple[str, ...] = OPERATIONS  # what the service offers, in NAV's order
    extensions: tuple[Field, ...] = field(default=())  # fields an installation added

    @property
    def namespace(self) -> str:
        return f"urn:microsoft-dynamics-schemas/page/{self.service.lower()}"

    @property
    def all_fields(self) -> tuple[Field, ...]:
        """The record's fields, the installation's extensions included."""
        return (*self.fields, *self.extensions)

    def field(self, name: str) -> Field | None:
        return next((f for f in self.all_fields if f.name == name), None)

    def soap_action(self, operation: str) -> str:
        return f"{self.namespace}:{operation}"

    def published_as(self, service: str) -> PageContract:
        """The same page under another service name (NAV derives the namespace and the
        record's element name from the service name, not from the page)."""
        return replace(self, service=service)

    def extended(self, fields: Sequence[Field]) -> PageContract:
        """The page with fields an installation added after the standard ones."""
        return replace(self, extensions=(*self.extensions, *fields))

    @staticmethod
    @cache
    def load(service: str) -> PageContract:
        """The contract of a standard page, by its default service name."""
        return parse((CONTRACTS / f"{service}.wsdl").read_bytes())


# --- reading ----------------------------------------------------------------------


def _elements(parent: etree._Element) -> list[etree._Element]:
    return list(parent.iterfind("xsd:sequence/xsd:element", _NS))


def _local(qname: str) -> str:
    return qname.split(":", 1)[1]


def parse(wsdl: bytes) -> PageContract:
    """The page a NAV WSDL describes."""
    root = etree.fromstring(wsdl, etree.XMLParser(resolve_entities=False, no_network=True))
    schema = root.find("wsdl:types/xsd:schema", _NS)
    assert schema is not None, "a NAV WSDL has its schema inline"
    service = root.find("wsdl:service", _NS)
    assert service is not None
    name = service.get("name", "").removesuffix("_Service")
    options = {
        s.get("name", ""): Option(
            s.get("name", ""),
            tuple(e.get("value", "") for e in s.findall("xsd:restriction/xsd:enumeration", _NS)),
        )
        for s in schema.findall("xsd:simpleType", _NS)
    }
    types = {c.get("name", ""): c for c in schema.findall("xsd:complexType", _NS)}

    def fields_of(type_name: str) -> Iterator[tuple[str, str]]:
        for element in _elements(types[type_name]):
            yield element.get("name", ""), _local(element.get("type", ""))

    def typed(field_name: str, type_name: str) -> Field:
        return Field(field_name, options.get(type_name) or type_name)

    fields: list[Field] = []
    lines: Lines | None = None
    lines_after = 0
    for field_name, type_name in fields_of(name):
        if field_name == "Key":
            continue
        if type_name.endswith("_List") and type_name[: -len("_List")] in types:
            line_type = type_name[: -len("_List")]
            line_fields = tuple(typed(n, t) for n, t in fields_of(line_type) if n != "Key")
            lines, lines_after = Lines(field_name, line_type, line_fields), len(fields)
        else:
            fields.append(typed(field_name, type_name))
    read = schema.find("xsd:element[@name='Read']/xsd:complexType", _NS)
    assert read is not None
    key = tuple(e.get("name", "") for e in _elements(read))
    operations = tuple(o.get("name", "") for o in root.findall("wsdl:portType/wsdl:operation", _NS))
    return PageContract(name, tuple(fields), key, lines, lines_after, operations)


# --- writing ----------------------------------------------------------------------


def _element(name: str, type_: str, min_occurs: int = 0, max_occurs: str = "1") -> str:
    return (
        f'<xsd:element minOccurs="{min_occurs}" maxOccurs="{max_occurs}" name="{name}"'
        f' type="{type_}" />'
    )


def _type_of(f: Field) -> str:
    return f"tns:{f.type.name}" if isinstance(f.type, Option) else f"xsd:{f.type}"


def _nest(tags: Sequence[str], inner: Iterable[str]) -> list[str]:
    """``inner`` inside ``tags`` (opening tags, outermost first), two spaces a level."""
    lines = list(inner)
    for tag in reversed(tags):
        name = tag[1:].split(" ", 1)[0].rstrip(">")
        lines = [tag, *(f"  {line}" for line in lines), f"</{name}>"]
    return lines


def _enum(name: str, values: Sequence[str]) -> list[str]:
    return _nest(
        [f'<xsd:simpleType name="{name}">', '<xsd:restriction base="xsd:string">'],
        (f'<xsd:enumeration value="{v}" />' for v in values),
    )


def _complex(name: str, elements: Sequence[str]) -> list[str]:
    return _nest([f'<xsd:complexType name="{name}">', "<xsd:sequence>"], elements)


def _wrapper(name: str, elements: Sequence[str]) -> list[str]:
    """A request or result element: an anonymous type around its elements."""
    tags = [f'<xsd:element name="{name}">', "<xsd:complexType>", "<xsd:sequence>"]
    return _nest(tags, elements)


def _record(name: str, fields: Sequence[Field], nested: tuple[int, str] | None) -> list[str]:
    elements = [_element(f.name, _type_of(f)) for f in fields]
    if nested is not None:
        at, element = nested
        elements.insert(at, element)
    return [
        *_complex(name, [_element("Key", "xsd:string"), *elements]),
        *_complex(f"{name}_List", [_element(name, f"tns:{name}", 1, "unbounded")]),
    ]


def _options(page: PageContract) -> list[Option]:
    """Every option type once, in the order the page meets them (the lines' where the
    lines element stands)."""
    fields = list(page.all_fields)
    if page.lines:
        fields[page.lines_after : page.lines_after] = page.lines.fields
    found: dict[str, Option] = {}
    for f in fields:
        if isinstance(f.type, Option):
            known = found.setdefault(f.type.name, f.type)
            assert known == f.type, f"two options named {f.type.name} differ"
    return list(found.values())


def _messages(page: PageContract) -> dict[str, tuple[list[str], list[str]]]:
    name, record = page.service, f"tns:{page.service}"
    key = [_element("Key", "xsd:string", 1)]
    listed = [_element(f"{name}_List", f"tns:{name}_List", 1)]
    one, maybe = [_element(name, record, 1)], [_element(name, record)]
    read = [_element(k, _type_of(f), 1) for k in page.key if (f := page.field(k))]
    messages: dict[str, tuple[list[str], list[str]]] = {
        "Read": (read, maybe),
        "ReadByRecId": ([_element("recId", "xsd:string", 1)], maybe),
        "ReadMultiple": (
            [
                _element("filter", f"tns:{name}_Filter", 1, "unbounded"),
                _element("bookmarkKey", "xsd:string"),
                _element("setSize", "xsd:int", 1),
            ],
            [_element("ReadMultiple_Result", f"tns:{name}_List")],
        ),
        "IsUpdated": (key, [_element("IsUpdated_Result", "xsd:boolean", 1)]),
        "GetRecIdFromKey": (key, [_element("GetRecIdFromKey_Result", "xsd:string", 1)]),
        "Create": (one, one),
        "CreateMultiple": (listed, listed),
        "Update": (one, one),
        "UpdateMultiple": (listed, listed),
        "Delete": (key, [_element("Delete_Result", "xsd:boolean", 1)]),
    }
    if page.lines:
        operation = f"Delete_{page.lines.element}"
        messages[operation] = (
            [_element(f"{page.lines.element}_Key", "xsd:string", 1)],
            [_element(f"{operation}_Result", "xsd:boolean", 1)],
        )
    return {op: messages[op] for op in page.operations}


def _schema(page: PageContract) -> list[str]:
    name = page.service
    parts: list[str] = []
    for option in _options(page):
        parts += _enum(option.name, option.values)
    nested = None
    if page.lines:
        lines = page.lines
        parts += _record(lines.type, lines.fields, None)
        nested = (page.lines_after, _element(lines.element, f"tns:{lines.type}_List"))
    parts += _record(name, page.all_fields, nested)
    parts += _enum(f"{name}_Fields", [f.name for f in page.all_fields])
    parts += _complex(
        f"{name}_Filter",
        [_element("Field", f"tns:{name}_Fields", 1), _element("Criteria", "xsd:string", 1)],
    )
    for operation, (request, result) in _messages(page).items():
        parts += _wrapper(operation, request) + _wrapper(f"{operation}_Result", result)
    return parts


def _binding_operation(page: PageContract, operation: str) -> list[str]:
    return [
        f'<operation name="{operation}">',
        f'  <operation soapAction="{page.soap_action(operation)}" style="document"'
        f' xmlns="{SOAP}" />',
        f'  <input name="{operation}">',
        f'    <body use="literal" xmlns="{SOAP}" />',
        "  </input>",
        f'  <output name="{operation}_Result">',
        f'    <body use="literal" xmlns="{SOAP}" />',
        "  </output>",
        "</operation>",
    ]


def render(page: PageContract, address: str) -> str:
    """The page's WSDL as NAV writes it, its endpoint ``address`` (XML-escaped by the
    caller where needed)."""
    name, ns = page.service, page.namespace
    operations = page.operations
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<definitions xmlns:tns="{ns}" targetNamespace="{ns}" xmlns="{WSDL}">',
        "  <types>",
        f'    <xsd:schema elementFormDefault="qualified" targetNamespace="{ns}" xmlns:xsd="{XSD}">',
        *(f"      {line}" for line in _schema(page)),
        "    </xsd:schema>",
        "  </types>",
    ]
    for operation in operations:
        for message in (operation, f"{operation}_Result"):
            lines += [
                f'  <message name="{message}">',
                f'    <part name="parameters" element="tns:{message}" />',
                "  </message>",
            ]
    lines.append(f'  <portType name="{name}_Port">')
    for operation in operations:
        lines += [
            f'    <operation name="{operation}">',
            f'      <input name="{operation}" message="tns:{operation}" />',
            f'      <output name="{operation}_Result" message="tns:{operation}_Result" />',
            "    </operation>",
        ]
    lines += [
        "  </portType>",
        f'  <binding name="{name}_Binding" type="tns:{name}_Port">',
        f'    <binding transport="http://schemas.xmlsoap.org/soap/http" xmlns="{SOAP}" />',
    ]
    for operation in operations:
        lines += [f"    {line}" for line in _binding_operation(page, operation)]
    lines += [
        "  </binding>",
        f'  <service name="{name}_Service">',
        f'    <port name="{name}_Port" binding="tns:{name}_Binding">',
        f'      <address location="{address}" xmlns="{SOAP}" />',
        "    </port>",
        "  </service>",
        "</definitions>",
    ]
    return "\n".join(lines)
