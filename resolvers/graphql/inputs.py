"""What a client may send as text: every string argument's bound, declared once, and
checked while the arguments are read, before any resolver (or adapter) sees them.

Each value a client sends ends up in a source: an id, a SKU or a card in a lookup, a
name, an address or a reason in a write. A source takes text only within the lengths
and characters of its fields (NAV's Customer Name is ``Text[50]``, an item number
``Code[20]``; XML cannot carry a NUL at all). A value beyond them would be refused
*there*, as if the source had failed (five refusals opened the ERP's circuit breaker
for every client), or stored cut short, or stored whole in a field nothing else can
show. So each string argument and input field names its :class:`Bound`, taken from
the field it is looked up in or written to (the README's table lists them all, and a
test keeps the table and these declarations equal), and a value beyond it is refused
with ``BAD_USER_INPUT``, the argument's path in ``extensions.field``, before anything
else happens.

- :func:`text` declares an input type's field, :func:`argument` a field argument's.
- :func:`check_arguments` fits every root field of the schema with the check, and
  refuses to build a schema that has a string argument or input field without a bound:
  a new one cannot be forgotten.
- Characters: the C0 controls but tab and newline (NUL, escape, ...) and the two
  non-characters U+FFFE and U+FFFF are refused everywhere: no source takes them (XML
  has no way to write them) and no person types them. Ids, SKUs, cards and e-mail
  addresses (``token``) hold no white space either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import MISSING, dataclass
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types.arguments import StrawberryArgument
from strawberry.types.base import (
    StrawberryList,
    StrawberryOptional,
    has_object_definition,
)
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

from adapters.errors import BadUserInput

#: where a bound is kept in a strawberry field's or argument's metadata
BOUND = "mosaic-bound"
_REFUSED = re.compile("[\x00-\x08\x0b-\x1f\ufffe\uffff]")
_SPACE = re.compile(r"\s")


@dataclass(frozen=True, slots=True)
class Bound:
    """What one string may be: at most ``max_length`` characters, none of them
    refused; a ``token`` (an id, a SKU, an address) has no white space within (around
    it, the resolvers trim it as before); an id starts with one of ``prefixes``
    (``crm:``, ...). ``source`` says whose field the limit is, for the README."""

    max_length: int
    source: str
    token: bool = False
    prefixes: tuple[str, ...] = ()
    required: bool = False  # an empty value names nothing (a SKU): refused, not looked up

    def problem(self, value: str) -> str | None:
        """What is wrong with ``value``, or None when it fits."""
        if len(value) > self.max_length:
            return f"is longer than {self.max_length} characters"
        if self.required and not value.strip():
            return "is empty"
        refused = _REFUSED.search(value)
        if refused:
            return f"holds a control character (U+{ord(refused.group()):04X})"
        if self.token and _SPACE.search(value.strip()):
            return "holds white space"
        if self.prefixes and value.partition(":")[0] not in self.prefixes:
            return "is no id of the right kind (" + ", ".join(f"{p}:…" for p in self.prefixes) + ")"
        return None


def _nav(field: str, kind: str, length: int) -> str:
    return f"NAV {field}, {kind}[{length}]"


# --- the bounds, one per kind of value -------------------------------------------------
# Each is the tightest of the fields the value reaches: a customer's name, contact and
# address live in the CRM (HubSpot's text properties take up to 65,536 characters) and
# on the customer's ERP card, whose NAV 2016-2018 field lengths are the tighter.

NAME = Bound(50, _nav("Customer.Name", "Text", 50))
EMAIL = Bound(80, _nav("Customer.E-Mail", "Text", 80), token=True)
PHONE = Bound(30, _nav("Customer.Phone No.", "Text", 30))
STREET = Bound(50, _nav("Customer.Address / Sales Header.Ship-to Address", "Text", 50))
CITY = Bound(30, _nav("Customer.City / Sales Header.Ship-to City", "Text", 30))
POSTAL_CODE = Bound(20, _nav("Customer.Post Code / Sales Header.Ship-to Post Code", "Code", 20))
COUNTRY = Bound(10, _nav("Customer.Country/Region Code", "Code", 10), token=True)
RETURN_REASON = Bound(10, _nav("Sales Line.Return Reason Code", "Code", 10))
SKU = Bound(20, _nav("Item.No.", "Code", 20), token=True, required=True)
LOYALTY_CARD = Bound(100, "Square Customer.reference_id, maxLength 100", token=True)
CUSTOMER_ID = Bound(
    4 + 191,
    "the longest id of the three: Square Customer.id / Order.customer_id, maxLength 191",
    token=True,
    prefixes=("crm", "erp", "pos"),
)
ORDER_ID = Bound(
    len("order:") + 4 + 192,
    "the longer of NAV Sales Header.No. Code[20] and Square Payment.order_id, maxLength 192",
    token=True,
    prefixes=("order", "erp", "pos"),
)
LOCATION_ID = Bound(
    len("warehouse:") + 32,
    "Square Location.id, maxLength 32 (the WMS declares none: held to the same)",
    token=True,
    prefixes=("store", "warehouse"),
)
NODE_ID = Bound(
    ORDER_ID.max_length,
    "the longest of the ids `node` finds (an order id's)",
    token=True,
    prefixes=(*CUSTOMER_ID.prefixes, "order", "return", "product", *LOCATION_ID.prefixes),
)
IDEMPOTENCY_KEY = Bound(200, "Mosaic's saga log (the sources see keys derived from it)")
SEARCH_TEXT = Bound(50, _nav("Item.Description", "Text", 50))
CATEGORY = Bound(20, _nav("Item.Item Category Code", "Code", 20), token=True)
CURSOR = Bound(
    1000, "Mosaic's own: a cursor it gave (a NAV record key, system positions)", token=True
)

#: every bound by the name the README's table gives it
BOUNDS: Mapping[str, Bound] = {
    "name": NAME,
    "email": EMAIL,
    "phone": PHONE,
    "street": STREET,
    "city": CITY,
    "postalCode": POSTAL_CODE,
    "country": COUNTRY,
    "reason": RETURN_REASON,
    "sku": SKU,
    "loyaltyCard": LOYALTY_CARD,
    "customer id": CUSTOMER_ID,
    "order id": ORDER_ID,
    "location id": LOCATION_ID,
    "node id": NODE_ID,
    "idempotencyKey": IDEMPOTENCY_KEY,
    "text": SEARCH_TEXT,
    "category": CATEGORY,
    "after": CURSOR,
}


# --- declaring ----------------------------------------------------------------------


def text(bound: Bound, *, description: str | None = None, default: Any = MISSING) -> Any:
    """An input type's string field, within ``bound`` (required unless given a
    ``default``)."""
    return strawberry.field(
        description=_described(bound, description),
        default=default,
        metadata={BOUND: bound},
    )


def argument(bound: Bound, description: str | None = None) -> Any:
    """A field argument's annotation part: ``Annotated[str, argument(SKU)]``."""
    return strawberry.argument(description=_described(bound, description), metadata={BOUND: bound})


def _described(bound: Bound, description: str | None) -> str:
    limit = f"At most {bound.max_length} characters."
    return f"{description} {limit}" if description else limit


# --- checking -----------------------------------------------------------------------


def check(value: object, bound: Bound | None, path: Sequence[str | int]) -> None:
    """Refuse ``value`` (a string, a list of them, an input object) where it does not
    fit its declared bounds; ``path`` names it for the client."""
    if value is None or value is strawberry.UNSET:
        return
    if isinstance(value, str):
        problem = bound.problem(value) if bound else None
        if problem:
            where = ".".join(str(p) for p in path)
            raise BadUserInput(f"{where} {problem}", field=[str(p) for p in path])
    elif isinstance(value, list):
        for n, item in enumerate(value):
            check(item, bound, [*path, n])
    elif has_object_definition(value):
        for field in value.__strawberry_definition__.fields:
            check(
                getattr(value, field.python_name), field.metadata.get(BOUND), [*path, _name(field)]
            )


class Checked(FieldExtension):
    """A field's arguments checked against their bounds as they are read (before the
    resolver, the guard, or any source)."""

    def __init__(self, field: StrawberryField) -> None:
        self.bounds = {a.python_name: (_name(a), a.metadata.get(BOUND)) for a in field.arguments}

    def map_arguments(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        for name, value in kwargs.items():
            if name in self.bounds:
                graphql_name, bound = self.bounds[name]
                check(value, bound, [graphql_name])
        return kwargs


def check_arguments(root_types: Iterable[type]) -> None:
    """Fit every field of these root types that takes text with :class:`Checked`
    (once); a string argument or input field without a bound is a mistake in the
    schema, refused here, when the schema is built."""
    for root in root_types:
        for field in root.__strawberry_definition__.fields:  # type: ignore[attr-defined]
            found = texts(field)
            unbounded = [".".join(map(str, path)) for path, bound in found if bound is None]
            if unbounded:
                raise TypeError(
                    f"{root.__name__}.{field.python_name}: no bound declared for "
                    + ", ".join(unbounded)
                    + " (resolvers/graphql/inputs.py)"
                )
            if found and not any(isinstance(e, Checked) for e in field.extensions):
                field.extensions.append(Checked(field))


TextPath = tuple[str | int, ...]


def texts(field: StrawberryField) -> list[tuple[TextPath, Bound | None]]:
    """Every string a field's arguments may hold, as its path (GraphQL names; ``0``
    stands for any item of a list) with its declared bound."""
    return [
        found
        for argument_ in field.arguments
        for found in _texts(argument_.type, (_name(argument_),), argument_.metadata.get(BOUND))
    ]


def _texts(
    kind: Any, path: TextPath, bound: Bound | None
) -> Iterator[tuple[TextPath, Bound | None]]:
    while isinstance(kind, (StrawberryOptional, StrawberryList)):
        if isinstance(kind, StrawberryList):
            path = (*path, 0)
        kind = kind.of_type
    if kind is str or kind is strawberry.ID:
        yield path, bound
    elif has_object_definition(kind) and kind.__strawberry_definition__.is_input:
        for field in kind.__strawberry_definition__.fields:
            yield from _texts(field.type, (*path, _name(field)), field.metadata.get(BOUND))


def _name(field: StrawberryField | StrawberryArgument) -> str:
    return field.graphql_name or to_camel_case(field.python_name)
