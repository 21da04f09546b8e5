"""Writes to the ERP: sales orders and sales return orders created, or deleted again.

Beside ``adapters.erp.adapter`` (the batch reads), over the same guarded SOAP calls,
WSDLs and mapping, through the standard pages only (SalesOrder, SalesReturnOrder). Each
write is safe to repeat, which is what lets a saga replay it after a crash:

- a document is created with Mosaic's own reference in ``External_Document_No``; a
  create first looks the reference up and answers the document it finds (NAV has no
  idempotency key; the gateway's saga log keeps two writers of one reference apart);
- undoing one deletes the document with that reference, if it is still there: NAV has
  no cancelled status; an order or return nobody has shipped, received or invoiced is
  deleted, and NAV refuses to delete one whose posting has begun (the refusal comes
  back as the ERP's fault). ``Delete`` needs the record's current ``Key``, so the
  document is read just before.

What Mosaic does not write, because no standard page takes it: ledger entries. A
refund is owed once the return order exists and paid when finance posts it (the
credit memo, then the refund); the order's payments show it from then on.

Writes are never retried blindly by the guard (``idempotent=False``): a create that
timed out may have happened, and only the look-up above can tell.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from adapters.erp.adapter import SOURCE, ErpAdapter, Service, _criteria, _row
from adapters.erp.records import (
    LOCAL_CURRENCY,
    Row,
    document_lines,
    document_total,
    lines_of,
    mapped,
    moment,
    order_state,
    required,
    return_state,
)
from adapters.errors import BadUpstreamResponse
from adapters.records import Address, Money, OrderLineRecord

Page = Literal["orders", "returns"]


@dataclass(frozen=True, slots=True)
class ErpDocument:
    """A sales or return order as a write needs it: its number, current Key, state."""

    no: str
    key: str
    state: str  # order_state or return_state
    reference: str | None
    customer_no: str | None
    location_code: str | None
    applies_to: str | None  # a return's invoice (or store receipt)
    total: Money | None
    lines: tuple[OrderLineRecord, ...]
    dated: datetime | None  # its order date (a return's document date)


@dataclass(frozen=True, slots=True)
class NewDocument:
    """A sales order or return order to create. Each line's ``unit_price`` is written as
    the line's Unit Price, ``discounts`` (per SKU, percent) as its Line Discount %."""

    reference: str
    customer_no: str | None
    channel: str
    location_code: str | None
    lines: Sequence[OrderLineRecord]
    discounts: dict[str, Decimal] | None = None
    applies_to: str | None = None  # a return's order: its posted invoice, or a receipt
    applies_to_invoice: bool = False  # whether ``applies_to`` is a posted invoice
    reason: str | None = None  # a return's reason code, on each line
    ship_to: Address | None = None  # where an order is delivered (NAV's Ship-to fields)


class ErpWrites:
    def __init__(self, erp: ErpAdapter) -> None:
        self.erp = erp

    async def find(self, page: Page, field: str, value: str) -> list[ErpDocument]:
        rows = await self.erp._read_all(page, [(field, _criteria([value]))])
        return mapped("document", _document(page), rows)

    async def by_reference(self, page: Page, reference: str) -> ErpDocument | None:
        found = await self.find(page, "External_Document_No", reference)
        return found[0] if found else None

    async def create(self, page: Page, document: NewDocument) -> ErpDocument:
        """The document with this reference: found, or created with its lines."""
        existing = await self.by_reference(page, document.reference)
        if existing is not None:
            return existing

        def record(service: Service) -> dict[str, Any]:
            return {service.name: self._record(service, page, document)}

        result = await self.erp._call(page, "Create", shape=record)
        if not len(result):
            raise BadUpstreamResponse(SOURCE, "Create answered no record")
        return mapped("document", _document(page), [_row(result[0])])[0]

    async def delete(self, page: Page, value: str, by: str = "External_Document_No") -> bool:
        """Delete the document with this reference (or whose field ``by`` is ``value``);
        False when there is none."""
        found = await self.find(page, by, value)
        document = found[0] if found else None
        if document is None:
            return False
        await self.erp._call(page, "Delete", Key=document.key)
        return True

    def _record(self, service: Service, page: Page, document: NewDocument) -> dict[str, Any]:
        """The header and lines, in the fields the page's WSDL declares."""
        header: dict[str, Any] = {"External_Document_No": document.reference}
        channel_field = self.erp.config.field("document_channel")
        optional = {
            "Sell_to_Customer_No": document.customer_no,
            "Location_Code": document.location_code,
            "Applies_to_Doc_Type": "Invoice" if document.applies_to_invoice else None,
            "Applies_to_Doc_No": document.applies_to,
            **({channel_field: document.channel} if channel_field else {}),
        }
        if document.ship_to is not None:
            optional.update(
                Ship_to_Address=document.ship_to.street,
                Ship_to_City=document.ship_to.city,
                Ship_to_Post_Code=document.ship_to.postal_code,
                Ship_to_Country_Region_Code=document.ship_to.country,
            )
        header.update({name: value for name, value in optional.items() if value})
        currencies = {line.unit_price.currency for line in document.lines if line.unit_price}
        if currencies - {LOCAL_CURRENCY}:
            header["Currency_Code"] = currencies.pop()
        if service.lines is None:
            raise BadUpstreamResponse(SOURCE, f"{service.name} has no lines in its WSDL")
        element, line_element = service.lines
        discounts = document.discounts or {}
        header[element] = {
            line_element: [
                {
                    "Type": "Item",
                    "No": line.sku,
                    "Quantity": Decimal(line.quantity),
                    "Unit_Price": line.unit_price.amount if line.unit_price else Decimal(0),
                    **(
                        {"Line_Discount_Percent": discounts[line.sku]}
                        if line.sku in discounts
                        else {}
                    ),
                    **({"Return_Reason_Code": document.reason} if document.reason else {}),
                }
                for line in document.lines
            ]
        }
        return header


def _document(page: Page) -> Callable[[Row], ErpDocument]:
    state = order_state if page == "orders" else return_state
    moved = "Quantity_Shipped" if page == "orders" else "Return_Qty_Received"

    def build(row: Row) -> ErpDocument:
        currency = row.get("Currency_Code") or LOCAL_CURRENCY
        dated = row.get("Order_Date") or row.get("Document_Date")
        lines = lines_of(row)
        return ErpDocument(
            no=required(row, "No"),
            key=required(row, "Key"),
            state=state(row),
            reference=row.get("External_Document_No"),
            customer_no=row.get("Sell_to_Customer_No"),
            location_code=row.get("Location_Code"),
            applies_to=row.get("Applies_to_Doc_No"),
            total=document_total(lines, currency),
            lines=document_lines(lines, currency, moved),
            dated=moment(datetime.fromisoformat(dated).date()) if dated else None,
        )

    return build
