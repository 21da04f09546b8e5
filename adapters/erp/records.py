"""From NAV's page records to Mosaic's records: one function per record type.

A row is a record element's fields as text (``None`` when empty; a document's lines
as rows). What the standard pages do not hold, an installation may keep in fields of
its own, named by the field mapping (``ErpConfig.fields``); unmapped, each has its
documented default. How each of Mosaic's order, return and payment states derives from
NAV's fields is decided in ``contracts/erp/DECISIONS.md`` and done here, in
``order_state``, ``return_state`` and ``NavRecords.payment``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, TypeVar

from adapters.config import ErpConfig
from adapters.records import (
    Address,
    ChannelName,
    CustomerFragment,
    Money,
    OrderLineRecord,
    OrderRecord,
    PaymentRecord,
    PriceRecord,
    ProductRecord,
    PromotionRecord,
    ReturnRecord,
    discounted,
)
from adapters.transport.exchange import mapping

SOURCE = "erp"
#: NAV leaves Currency_Code blank for the local currency.
LOCAL_CURRENCY = "EUR"
CHANNELS: tuple[ChannelName, ...] = ("WEB", "APP", "STORE")

Row = Mapping[str, Any]  # NAV field -> its text (None when empty); a lines element -> list[Row]
T = TypeVar("T")


def mapped(what: str, build: Callable[[Row], T], rows: Iterable[Row]) -> list[T]:
    """Records built from rows; a missing or malformed field is the ERP's fault, reported
    as SOURCE_BAD_RESPONSE with what was wrong."""
    with mapping(SOURCE, what):
        return [build(row) for row in rows]


def required(row: Row, name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value:
        raise KeyError(f"{name} missing")
    return value


def _decimal(row: Row, name: str, default: str = "0") -> Decimal:
    value = row.get(name)
    return Decimal(value if isinstance(value, str) and value else default)


def _date(row: Row, name: str) -> date | None:
    value = row.get(name)
    return date.fromisoformat(value[:10]) if isinstance(value, str) and value else None


def moment(day: date) -> datetime:
    """A NAV date as a moment: the start of that day, in UTC (NAV's document and
    posting dates carry no time of day)."""
    return datetime.combine(day, time(), UTC)


def _flag(row: Row, name: str) -> bool:
    return row.get(name) == "true"


def lines_of(row: Row) -> list[Row]:
    """A document's item lines (comment and G/L lines are not goods)."""
    rows = next((v for v in row.values() if isinstance(v, list)), [])
    return [line for line in rows if line.get("Type") in ("Item", None) and line.get("No")]


def document_total(lines: list[Row], currency: str) -> Money | None:
    """The total including VAT of a document with these item lines (``lines_of``):
    each line shows it (the subform's totals), else their amounts add up to it (prices
    including VAT)."""
    if not lines:
        return None
    shown = lines[0].get("Total_Amount_Incl_VAT")
    if shown:
        return Money(Decimal(shown), currency)
    return Money(sum((_decimal(line, "Line_Amount") for line in lines), Decimal(0)), currency)


def document_lines(
    lines: list[Row], currency: str, delivered: str | None
) -> tuple[OrderLineRecord, ...]:
    """A document's item lines (``lines_of``) at what the customer pays per piece: the
    unit price less the line discount (NAV writes the promotion as the line's discount),
    with the discount and the price before it kept. ``delivered`` names the line field
    that counts the pieces handed over (``Quantity_Shipped`` on an order); None: every
    piece was (a posted invoice) or the document delivers nothing (a return)."""
    result = []
    for line in lines:
        regular = Money(_decimal(line, "Unit_Price"), currency)
        percent = _decimal(line, "Line_Discount_Percent")
        quantity = int(_decimal(line, "Quantity"))
        result.append(
            OrderLineRecord(
                required(line, "No"),
                quantity,
                discounted(regular, percent),
                discount_percent=percent if percent else None,
                regular_price=regular if percent else None,
                delivered=int(_decimal(line, delivered)) if delivered else quantity,
            )
        )
    return tuple(result)


def _quantities(row: Row, name: str) -> tuple[Decimal, Decimal]:
    lines = lines_of(row)
    whole = sum((_decimal(line, "Quantity") for line in lines), Decimal(0))
    moved = sum((_decimal(line, name) for line in lines), Decimal(0))
    return whole, moved


def order_state(row: Row) -> str:
    """An open sales order's state from its Status and its lines' shipped quantities:
    PLACED (nothing shipped, not released), PROCESSING (released to the warehouse),
    PARTIALLY_SHIPPED, SHIPPED (everything shipped, not yet all invoiced)."""
    ordered, shipped = _quantities(row, "Quantity_Shipped")
    if shipped <= 0:
        return "PROCESSING" if row.get("Status") == "Released" else "PLACED"
    return "SHIPPED" if shipped >= ordered else "PARTIALLY_SHIPPED"


def return_state(row: Row) -> str:
    """A sales return order's state from its lines: REGISTERED (nothing received yet),
    PARTIALLY_RECEIVED, RECEIVED, REFUNDED (every line invoiced: the credit memo is
    posted and the customer is owed or paid the refund)."""
    returned, received = _quantities(row, "Return_Qty_Received")
    _, invoiced = _quantities(row, "Quantity_Invoiced")
    if returned > 0 and invoiced >= returned:
        return "REFUNDED"
    if received <= 0:
        return "REGISTERED"
    return "RECEIVED" if received >= returned else "PARTIALLY_RECEIVED"


def _channels(text: str) -> tuple[ChannelName, ...]:
    named = {part.upper() for part in re.split(r"[|,;\s]+", text) if part}
    return tuple(c for c in CHANNELS if c in named)


@dataclass(frozen=True, slots=True)
class DatedPrice:
    """A Sales Prices line: a channel's unit price from a date, maybe until one."""

    price: PriceRecord
    starts: date
    ends: date | None

    def in_force(self, day: date) -> bool:
        return self.starts <= day and (self.ends is None or day <= self.ends)


class NavRecords:
    """The mappings that depend on the installation: its fields, its channel groups."""

    def __init__(self, config: ErpConfig) -> None:
        self.config = config
        self.channel_of_group: dict[str, ChannelName] = {
            group: c for c in CHANNELS if (group := config.channel_groups.get(c))
        }

    def _mapped_field(self, row: Row, name: str) -> str | None:
        field = self.config.field(name)
        value = row.get(field) if field else None
        return value if isinstance(value, str) and value else None

    def channel(self, row: Row, name: str) -> ChannelName:
        """A document's or entry's channel from the mapped field; an unmapped field, or a
        value that names no channel, is the installation's default channel."""
        found = _channels(self._mapped_field(row, name) or "")
        return found[0] if found else self.config.default_channel

    def product(self, row: Row) -> ProductRecord:
        """An item card. An installation that keeps no channels sells every item in
        every channel (an item is never unsellable for want of an extension field)."""
        listed = self._mapped_field(row, "channels")
        return ProductRecord(
            sku=required(row, "No"),
            name=row.get("Description"),
            brand=self._mapped_field(row, "brand"),
            category=row.get("Item_Category_Code"),
            gtin=row.get("GTIN"),
            list_price=Money(Decimal(row["Unit_Price"]), LOCAL_CURRENCY)
            if row.get("Unit_Price")
            else None,
            unit=row.get("Base_Unit_of_Measure"),
            blocked=_flag(row, "Blocked"),
            channels=CHANNELS if self.config.field("channels") is None else _channels(listed or ""),
        )

    def price(self, row: Row) -> DatedPrice | None:
        """A channel's price line; None for what is no plain channel price (another
        currency, a minimum quantity above one, a group that stands for no channel)."""
        channel = self.channel_of_group.get(row.get("Sales_Code") or "")
        if channel is None or row.get("Currency_Code") or _decimal(row, "Minimum_Quantity") > 1:
            return None
        price = PriceRecord(
            required(row, "Item_No"),
            channel,
            Money(Decimal(required(row, "Unit_Price")), LOCAL_CURRENCY),
        )
        return DatedPrice(price, _date(row, "Starting_Date") or date.min, _date(row, "Ending_Date"))

    def promotion(self, row: Row) -> PromotionRecord | None:
        """A channel's line discount on an item. NAV's line discounts have no code of
        their own: the code is made of the discount's key (group, item, start)."""
        channel = self.channel_of_group.get(row.get("Sales_Code") or "")
        if channel is None or row.get("Currency_Code"):
            return None
        item, starts = required(row, "Code"), _date(row, "Starting_Date")
        return PromotionRecord(
            code=f"{row['Sales_Code']}/{item}/{starts.isoformat() if starts else ''}",
            description="",
            sku=item,
            discount_percent=_decimal(row, "Line_Discount_Percent"),
            channel=channel,
            starts=starts,
            ends=_date(row, "Ending_Date"),
        )

    def return_order(self, row: Row) -> ReturnRecord:
        """A sales return order (page 6630): its state from its lines, each line at what
        it pays back per piece, with what has been received."""
        currency = row.get("Currency_Code") or LOCAL_CURRENCY
        dated = _date(row, "Document_Date") or _date(row, "Order_Date")
        lines = lines_of(row)
        return ReturnRecord(
            id=required(row, "No"),
            status=return_state(row),
            applies_to=row.get("Applies_to_Doc_No"),
            applies_to_invoice=row.get("Applies_to_Doc_Type") == "Invoice",
            registered_at=moment(dated) if dated else None,
            channel=self.channel(row, "document_channel"),
            location_id=row.get("Location_Code"),
            total=document_total(lines, currency),
            lines=document_lines(lines, currency, "Return_Qty_Received"),
            reasons=tuple(line.get("Return_Reason_Code") for line in lines),
        )

    def order(self, row: Row) -> OrderRecord:
        """An open sales order (page 42)."""
        currency = row.get("Currency_Code") or LOCAL_CURRENCY
        placed = _date(row, "Order_Date") or _date(row, "Document_Date")
        if placed is None:
            raise KeyError("Order_Date missing")
        lines = lines_of(row)
        return OrderRecord(
            id=required(row, "No"),
            source="erp",
            channel=self.channel(row, "document_channel"),
            customer_ref=row.get("Sell_to_Customer_No"),
            placed_at=moment(placed),
            status=order_state(row),
            location_id=row.get("Location_Code"),
            total=document_total(lines, currency),
            lines=document_lines(lines, currency, "Quantity_Shipped"),
            partner=self._mapped_field(row, "order_partner"),
            ship_to=ship_to(row),
        )

    def invoiced_order(self, row: Row) -> OrderRecord:
        """A posted sales invoice (page 132) as its order: COMPLETED, or CANCELLED when
        a corrective credit memo cancelled it. Its id is the order's number."""
        currency = row.get("Currency_Code") or LOCAL_CURRENCY
        placed = _date(row, "Document_Date") or _date(row, "Posting_Date")
        if placed is None:
            raise KeyError("Document_Date missing")
        number = required(row, "No")
        lines = lines_of(row)
        return OrderRecord(
            id=row.get("Order_No") or number,
            source="erp",
            channel=self.channel(row, "document_channel"),
            customer_ref=row.get("Sell_to_Customer_No"),
            placed_at=moment(placed),
            status="CANCELLED" if _flag(row, "Cancelled") else "COMPLETED",
            location_id=row.get("Location_Code"),
            total=document_total(lines, currency),
            lines=document_lines(lines, currency, None),
            invoice_id=number,
            partner=self._mapped_field(row, "order_partner"),
            ship_to=ship_to(row),
        )

    def payment(self, row: Row) -> PaymentRecord:
        """A Payment or Refund customer ledger entry (page 25). NAV signs amounts from
        the customer's balance (a payment negative); Mosaic signs them as money moves
        (a refund negative). A reversed entry is CANCELLED."""
        refund = required(row, "Document_Type") == "Refund"
        posted = _date(row, "Posting_Date")
        if posted is None:
            raise KeyError("Posting_Date missing")
        mirror = self._mapped_field(row, "payment_mirror") if refund else None
        return PaymentRecord(
            id=required(row, "Entry_No"),
            source="erp",
            kind="REFUND" if refund else "PAYMENT",
            order_id=required(row, "Document_No"),
            order_source="erp",
            method=row.get("Payment_Method_Code"),
            amount=Money(
                -Decimal(required(row, "Amount")), row.get("Currency_Code") or LOCAL_CURRENCY
            ),
            status="CANCELLED" if _flag(row, "Reversed") else "COMPLETED",
            channel=self.channel(row, "payment_channel"),
            at=moment(posted),
            location_id=self._mapped_field(row, "payment_store"),
            mirror=("pos", mirror) if mirror else None,
        )


def entry_order(payment: PaymentRecord) -> tuple[datetime, int, str]:
    """Ledger entries oldest first: by posting date, then entry number."""
    return payment.at, int(payment.id) if payment.id.isdigit() else 0, payment.id


def refunds_applied(entries: list[PaymentRecord]) -> list[PaymentRecord]:
    """One order's entries, each refund naming the payment it pays back: the order's
    first payment that was not reversed (NAV applies a refund to the payment's entry;
    the ledger page does not show which, and an order has one payment)."""
    paid = next((e for e in entries if e.kind == "PAYMENT" and e.status == "COMPLETED"), None)
    if paid is None:
        return entries
    return [replace(e, refund_of=paid.id) if e.kind == "REFUND" else e for e in entries]


def ship_to(row: Row) -> Address | None:
    """Where a document's goods go (NAV's Ship-to fields); None when it names no
    address (a store's click & collect order, a page without them)."""
    address = Address(
        street=row.get("Ship_to_Address"),
        city=row.get("Ship_to_City"),
        postal_code=row.get("Ship_to_Post_Code"),
        country=row.get("Ship_to_Country_Region_Code"),
    )
    return address if address.street or address.postal_code else None


def customer(row: Row) -> CustomerFragment:
    return CustomerFragment(
        source="erp",
        record_id=required(row, "No"),
        full_name=row.get("Name"),
        email=row.get("E_Mail"),
        phone=row.get("Phone_No"),
        address=Address(
            street=row.get("Address"),
            city=row.get("City"),
            postal_code=row.get("Post_Code"),
            country=row.get("Country_Region_Code"),
        ),
    )
