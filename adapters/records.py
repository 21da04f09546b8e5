"""The plain typed records every adapter returns, in Mosaic's vocabulary.

Each adapter maps its system's words (NAV's ``No`` and ``Unit_Price``, HubSpot's
``properties``, Square's minor-unit money) to these records in one place, so the schema
above never sees a wire format. Records are frozen: the same record may be shared by
many fields of one response.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal, get_type_hints

import msgspec
from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

SourceName = Literal["crm", "erp", "pos", "wms"]
ChannelName = Literal["WEB", "APP", "STORE"]


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal  # major units (euros, not cents)
    currency: str  # ISO 4217


CENT = Decimal("0.01")


def discounted(money: Money, percent: Decimal) -> Money:
    """A price less a percentage, to the cent (half up), as NAV computes a line's
    amount: what one piece costs under a promotion, wherever Mosaic shows or charges it."""
    amount = (money.amount * (1 - percent / 100)).quantize(CENT, ROUND_HALF_UP)
    return Money(amount, money.currency)


@dataclass(frozen=True, slots=True)
class Address:
    street: str | None
    city: str | None
    postal_code: str | None
    country: str | None


@dataclass(frozen=True, slots=True)
class Consent:
    purpose: str
    granted: bool
    valid_until: date | None


@dataclass(frozen=True, slots=True)
class CustomerFragment:
    """What one system knows about a person; the golden record is assembled from these.

    ``links`` holds the ids of this person in other systems as this system knows them:
    the CRM keeps ``erp`` and ``loyalty_card``; the POS gives ``pos`` (its customer id).
    """

    source: SourceName
    record_id: str
    first_name: str | None = None
    last_name: str | None = None
    full_name: str | None = None  # the ERP keeps one name field
    email: str | None = None
    phone: str | None = None
    address: Address | None = None
    updated_at: datetime | None = None
    erp_customer_no: str | None = None
    loyalty_card: str | None = None
    consents: tuple[Consent, ...] = ()
    segments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LoyaltyAccount:
    account_id: str
    customer_id: str  # the POS customer this account belongs to
    card_number: str | None  # None: not in the customer's profile (or the profile is gone)
    tier: str | None
    points: int | None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    phone: str | None = None
    has_profile: bool = True  # False: the customer profile is gone (erased), the account stays


@dataclass(frozen=True, slots=True)
class ProductRecord:
    sku: str
    name: str | None
    brand: str | None
    category: str | None
    gtin: str | None
    list_price: Money | None
    unit: str | None
    blocked: bool
    channels: tuple[ChannelName, ...]


@dataclass(frozen=True, slots=True)
class ItemSearch:
    """A catalogue search: item cards whose name contains ``text``, in ``category``,
    sold in ``channel`` (None: any), after the bookmark ``after``, ``size`` of them."""

    text: str | None
    category: str | None
    channel: ChannelName | None
    after: str | None
    size: int


@dataclass(frozen=True, slots=True)
class ItemPage:
    """One page of a search: each item with its bookmark (the ERP's record key, where
    the next page starts after it), and whether more follow."""

    items: tuple[tuple[str, ProductRecord], ...]
    more: bool


@dataclass(frozen=True, slots=True)
class CategoryRecord:
    code: str
    name: str | None
    parent: str | None  # the parent category's code; None at the top


@dataclass(frozen=True, slots=True)
class PriceRecord:
    sku: str
    channel: ChannelName
    price: Money


@dataclass(frozen=True, slots=True)
class PromotionRecord:
    code: str
    description: str | None
    sku: str
    discount_percent: Decimal
    channel: ChannelName
    starts: date | None
    ends: date | None


@dataclass(frozen=True, slots=True)
class LocationRecord:
    id: str  # the owning system's id (POS location id or WMS warehouse id)
    kind: Literal["STORE", "WAREHOUSE"]
    name: str
    address: Address
    lat: float | None  # None: the system does not say (Square's coordinates are optional)
    lon: float | None
    opening_hours: str | None = None
    active: bool = True


class CountedRecord(msgspec.Struct, frozen=True, gc=False):
    """A frozen record made by the thousand: a stock check makes 1,400 stock records.
    A frozen dataclass is made through ``object.__setattr__`` field by field (0.49 us a
    stock record); a frozen ``msgspec.Struct`` is made in C (0.06 us). Only for records
    of plain values (text, numbers): ``gc=False`` leaves them out of the garbage
    collector, which is safe only while they can hold nothing that refers back.
    Pydantic (the Redis cache's codec) reads and writes one as the object of its fields."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        hints = get_type_hints(cls)
        fields = {
            name: core_schema.typed_dict_field(handler.generate_schema(hints[name]))
            for name in cls.__struct_fields__
        }
        return core_schema.no_info_after_validator_function(
            lambda values: cls(**values),
            core_schema.typed_dict_schema(fields),
            serialization=core_schema.plain_serializer_function_ser_schema(msgspec.structs.asdict),
        )


class StockRecord(CountedRecord, frozen=True):
    sku: str
    location_id: str
    on_hand: int
    reserved: int


@dataclass(frozen=True, slots=True)
class InTransitRecord:
    sku: str
    location_id: str
    quantity: int
    expected_at: datetime | None


@dataclass(frozen=True, slots=True)
class OrderLineRecord:
    sku: str
    quantity: int
    unit_price: Money | None  # what one piece was charged, any line discount taken off
    discount_percent: Decimal | None = None  # the line's discount (a promotion), if any
    regular_price: Money | None = None  # one piece before that discount, if any
    delivered: int | None = None  # shipped or handed over; None: the system does not say


@dataclass(frozen=True, slots=True)
class OrderRecord:
    id: str  # the owning system's id
    source: SourceName  # erp (web, app) or pos (store)
    channel: ChannelName
    customer_ref: str | None  # ERP customer no. or POS customer id
    placed_at: datetime | None  # None: the system does not say (Square's is optional)
    status: str
    location_id: str | None
    total: Money | None
    lines: tuple[OrderLineRecord, ...] = field(default=())
    invoice_id: str | None = None  # an ERP order's posted sales invoice, once invoiced
    partner: str | None = None  # the partner it came in through (the ERP's mapped field)
    ship_to: Address | None = None  # where an online order is delivered (NAV's Ship-to)


@dataclass(frozen=True, slots=True)
class ReturnRecord:
    """A return as the ERP keeps it (a sales return order): its lines at what is paid
    back per piece, with what has come in (``delivered``: NAV's Return Qty. Received)."""

    id: str
    status: str  # REGISTERED, PARTIALLY_RECEIVED, RECEIVED, REFUNDED (DECISIONS.md)
    applies_to: str | None  # the order's posted invoice, the order, or a store receipt
    applies_to_invoice: bool  # whether ``applies_to`` is a posted invoice's number
    registered_at: datetime | None
    channel: ChannelName
    location_id: str | None  # the store it came back at; None: by post
    total: Money | None
    lines: tuple[OrderLineRecord, ...] = field(default=())
    reasons: tuple[str | None, ...] = field(default=())  # each line's return reason code


#: where an order whose system gives no time sorts among others: last, as the oldest
UNKNOWN_TIME = datetime.min.replace(tzinfo=UTC)

PaymentKind = Literal["PAYMENT", "REFUND"]
PaymentStatus = Literal["PENDING", "COMPLETED", "CANCELLED", "FAILED"]


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    """Money moved for an order as one system recorded it: a payment, or a refund
    (``amount`` negative) against the payment ``refund_of`` of the same system.

    ``mirror`` names another system's record of the same refund: a store return of an
    online order is booked by the ERP and recorded at the POS, each naming the other.
    """

    id: str  # the owning system's id
    source: SourceName
    kind: PaymentKind
    order_id: str  # in ``order_source``'s ids: the order paid, or whose goods came back
    order_source: SourceName
    method: str | None  # IDEAL, CARD, PAYPAL, KLARNA, PIN, CASH; None: paid out elsewhere
    amount: Money
    status: PaymentStatus
    channel: ChannelName
    at: datetime
    location_id: str | None = None  # the store (a POS location id)
    refund_of: str | None = None
    mirror: tuple[SourceName, str] | None = None
