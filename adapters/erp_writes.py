"""Writes to the ERP: sales orders and return orders created, their status changed.

Beside ``adapters.erp`` (the batch reads), over the same guarded SOAP calls, WSDLs and
mapping. Each write is safe to repeat, which is what lets a saga replay it after a crash:

- a document is created with Mosaic's own reference in ``External_Document_No``; a
  create first looks the reference up and answers the document it finds (NAV has no
  idempotency key; the gateway's saga log keeps two writers of one reference apart);
- a status change sets a value, and answers the document as it is when it has it;
- ``Update`` needs the record's current ``Key`` (NAV refuses a stale one), so the
  document is read just before; a write that lost the race to another is read again
  and tried once more.

Writes are never retried blindly by the guard (``idempotent=False``): a create that
timed out may have happened, and only the look-up above can tell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from adapters.erp import (
    LOCAL_CURRENCY,
    SOURCE,
    ErpAdapter,
    Row,
    _criteria,
    _lines,
    _mapped,
    _required,
    _row,
)
from adapters.errors import BadUpstreamResponse, UpstreamFault
from adapters.records import Money, OrderLineRecord

Page = Literal["orders", "returns", "payments"]
#: each document page's lines element, as ``legacy.erp.pages`` publishes it
LINE_ELEMENTS: dict[Page, str] = {
    "orders": "Sales_Order_Line",
    "returns": "Sales_Return_Order_Line",
}
STALE_KEY = "Another user has modified"


@dataclass(frozen=True, slots=True)
class ErpDocument:
    """A sales or return order as a write needs it: its number, current Key and status."""

    no: str
    key: str
    status: str
    reference: str | None
    customer_no: str | None
    channel: str | None
    location_code: str | None
    applies_to: str | None  # a return's order
    total: Money | None
    lines: tuple[OrderLineRecord, ...]
    dated: datetime | None  # an order's Order_Date, a return's Document_Date


@dataclass(frozen=True, slots=True)
class NewDocument:
    reference: str
    customer_no: str | None
    channel: str
    status: str
    location_code: str | None
    lines: Sequence[OrderLineRecord]
    applies_to: str | None = None  # a return's order
    reason: str | None = None  # a return's reason code


@dataclass(frozen=True, slots=True)
class NewRefund:
    """Money paid back for a return order, booked against the order's payment."""

    order_no: str
    return_no: str
    amount: Money  # positive: what goes back; booked negative, as the ERP books refunds
    channel: str  # where the goods came back: STORE for a store, else the order's channel
    customer_no: str | None
    location_code: str | None
    payment_no: str | None  # the payment refunded
    method: str | None
    reason: str | None


class ErpWrites:
    def __init__(self, erp: ErpAdapter) -> None:
        self.erp = erp

    async def find(self, page: Page, field: str, value: str) -> list[ErpDocument]:
        rows = await self.erp._read_all(page, [(field, _criteria([value]))])
        return _mapped("document", _document, rows)

    async def by_reference(self, page: Page, reference: str) -> ErpDocument | None:
        found = await self.find(page, "External_Document_No", reference)
        return found[0] if found else None

    async def by_number(self, page: Page, no: str) -> ErpDocument | None:
        found = await self.find(page, "No", no)
        return found[0] if found else None

    async def create(self, page: Page, document: NewDocument) -> ErpDocument:
        """The document with this reference: found, or created with its lines."""
        existing = await self.by_reference(page, document.reference)
        if existing is not None:
            return existing
        record: dict[str, Any] = {
            "Status": document.status,
            "Sales_Channel": document.channel,
            "Currency_Code": document.lines[0].unit_price.currency
            if document.lines and document.lines[0].unit_price
            else LOCAL_CURRENCY,
            "External_Document_No": document.reference,
            "SalesLines": {
                LINE_ELEMENTS[page]: [
                    {
                        "Type": "Item",
                        "No": line.sku,
                        "Quantity": Decimal(line.quantity),
                        "Unit_Price": line.unit_price.amount if line.unit_price else Decimal(0),
                    }
                    for line in document.lines
                ]
            },
        }
        optional = {
            "Sell_to_Customer_No": document.customer_no,
            "Location_Code": document.location_code,
            "Applies_to_Order_No": document.applies_to,
            "Return_Reason_Code": document.reason,
        }
        record.update({name: value for name, value in optional.items() if value})
        return await self._write(page, "Create", record)

    async def book_refund(self, refund: NewRefund) -> ErpDocument:
        """The refund of a return order: found by its return order, or posted."""
        existing = await self.find("payments", "Return_Order_No", refund.return_no)
        if existing:
            return existing[0]
        record: dict[str, Any] = {
            "Document_Type": "Refund",
            "Order_No": refund.order_no,
            "Return_Order_No": refund.return_no,
            "Amount": -refund.amount.amount,
            "Currency_Code": refund.amount.currency,
            "Status": "Posted",
            "Sales_Channel": refund.channel,
        }
        optional = {
            "Sell_to_Customer_No": refund.customer_no,
            "Location_Code": refund.location_code,
            "Applies_to_Doc_No": refund.payment_no,
            "Payment_Method_Code": refund.method,
            "Description": refund.reason,
        }
        record.update({name: value for name, value in optional.items() if value})
        return await self._write("payments", "Create", record)

    async def set_status(self, page: Page, no: str, status: str) -> ErpDocument | None:
        """Set a document's status; None when the ERP has no such document."""
        for attempt in range(2):
            current = await self.by_number(page, no)
            if current is None or current.status == status:
                return current
            try:
                return await self._write(page, "Update", {"Key": current.key, "Status": status})
            except UpstreamFault as exc:
                if attempt or STALE_KEY not in exc.message:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _write(self, page: Page, operation: str, record: dict[str, Any]) -> ErpDocument:
        result = await self.erp._call(page, operation, **{self._service(page): record})
        if not len(result):
            raise BadUpstreamResponse(SOURCE, f"{operation} answered no record")
        return _mapped("document", _document, [_row(result[0])])[0]

    def _service(self, page: Page) -> str:
        """The record element's name: NAV names it after the service (the last part of
        the page's URL when it is configured as one)."""
        return self.erp.config.pages[page].rstrip("/").rsplit("/", 1)[-1]


def _document(row: Row) -> ErpDocument:
    currency = row.get("Currency_Code") or LOCAL_CURRENCY
    amount = row.get("Amount_Including_VAT")
    return ErpDocument(
        no=_required(row, "No"),
        key=_required(row, "Key"),
        status=_required(row, "Status"),
        reference=row.get("External_Document_No"),
        customer_no=row.get("Sell_to_Customer_No"),
        channel=row.get("Sales_Channel"),
        location_code=row.get("Location_Code"),
        applies_to=row.get("Applies_to_Order_No"),
        total=Money(Decimal(amount), currency) if amount else None,
        lines=_lines(row, currency),
        dated=_moment(row.get("Order_Date") or row.get("Document_Date")),
    )


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
