"""The world's ERP slice as NAV keeps it: records of the standard pages, in their words.

A story's order becomes what NAV would show for it by now:
- placed and not yet shipped: a sales order, status Open, nothing shipped;
- shipped: a sales order, Released, every line shipped and none invoiced yet;
- delivered: shipped and invoiced, so NAV has deleted the sales order and keeps its
  posted sales invoice (``Order_No`` names the order);
- cancelled: invoiced, then cancelled with a corrective credit memo (NAV 2017's
  "Cancel" on a posted invoice, which sets the invoice's ``Cancelled``); its payment is
  reversed.
Returns are sales return orders applying to the order's invoice, received and
invoiced; the payments and refunds are customer ledger entries whose ``Document_No`` is
the order's number (the convention the webshop's payment integration posts with, see
``contracts/erp/DECISIONS.md``). NAV signs ledger amounts from the customer's
balance: a payment is negative, a refund positive.

Each page's records are plain dicts of field name to stored value (booleans and
integers as integers, decimals and dates as text); the store keeps those fields the
published page has.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from legacy.world import CATEGORY_NAMES, Order, OrderLine, Return, World

Row = dict[str, Any]
#: The ERP keeps amounts in its local currency, EUR, whose Currency_Code is blank.
LCY = ""


def invoice_no(order_id: str) -> str:
    """The number of the posted sales invoice of a story's order."""
    return "PSI" + order_id.removeprefix("SO")


def seed_records(world: World) -> Iterator[tuple[str, list[Row], list[Row]]]:
    """``(logical page, header records, line records)`` per page."""
    yield "items", [_item(i) for i in world.items], []
    used = sorted({i.category for i in world.items})
    yield "categories", [{"Code": c, "Description": CATEGORY_NAMES[c]} for c in used], []
    yield "customers", [_customer(c) for c in world.erp_customers], []
    yield "prices", [_price(p) for p in world.prices], []
    yield "promotions", [_discount(p) for p in world.promotions], []
    ship_to = {c.no: _ship_to(c) for c in world.erp_customers}
    open_orders = [o for o in world.erp_orders if o.status in ("PLACED", "SHIPPED")]
    posted = [o for o in world.erp_orders if o.status in ("DELIVERED", "CANCELLED")]
    yield (
        "orders",
        [{**_order(o), **ship_to.get(o.customer_ref or "", {})} for o in open_orders],
        [
            line
            for o in open_orders
            for line in _lines(o.id, o.lines, shipped=o.status == "SHIPPED")
        ],
    )
    yield (
        "invoices",
        [{**_invoice(o), **ship_to.get(o.customer_ref or "", {})} for o in posted],
        [line for o in posted for line in _lines(invoice_no(o.id), o.lines)],
    )
    yield (
        "returns",
        [_return(r) for r in world.returns],
        [line for r in world.returns for line in _lines(r.id, r.lines, reason=r.reason)],
    )
    yield "payments", [_entry(p) for p in world.payments if p.system == "erp"], []


def issued_numbers(world: World) -> Iterator[str]:
    """Every document number the history has used, posted or not: a NAV order leaves
    the order page once it is posted, but its number stays used in its series."""
    yield from (o.id for o in world.erp_orders)
    yield from (r.id for r in world.returns)


def _item(item: Any) -> Row:
    return {
        "No": item.no,
        "Description": item.description,
        "Blocked": int(item.blocked),
        "Type": "Inventory",
        "Base_Unit_of_Measure": item.base_unit,
        "GTIN": item.gtin,
        "Item_Category_Code": item.category,
        "Search_Description": item.description.upper(),
        "Unit_Price": str(item.unit_price),
        "Price_Includes_VAT": 1,
        "Brand": item.brand,
        "Sales_Channels": "|".join(item.channels),
    }


def _customer(customer: Any) -> Row:
    return {
        "No": customer.no,
        "Name": customer.name,
        "Address": customer.address.street,
        "Post_Code": customer.address.postal_code,
        "City": customer.address.city,
        "Country_Region_Code": customer.address.country,
        "Phone_No": customer.phone,
        "Search_Name": customer.name.upper(),
        "Blocked": "All" if customer.blocked else "_blank_",
        "E_Mail": customer.email,
        "Prices_Including_VAT": 1,
    }


def _ship_to(customer: Any) -> Row:
    """A delivery order's Ship-to: NAV fills it from the sell-to customer's address when
    the order names no other (the seeded history's orders are all delivered)."""
    return {
        "Ship_to_Name": customer.name,
        "Ship_to_Address": customer.address.street,
        "Ship_to_City": customer.address.city,
        "Ship_to_Post_Code": customer.address.postal_code,
        "Ship_to_Country_Region_Code": customer.address.country,
    }


def _price(price: Any) -> Row:
    return {
        "Item_No": price.item_no,
        "Sales_Type": "Customer_Price_Group",
        "Sales_Code": price.channel,
        "Starting_Date": price.starting_date.isoformat(),
        "Currency_Code": LCY,
        "Variant_Code": "",
        "Unit_of_Measure_Code": "",
        "Minimum_Quantity": "0",
        "Unit_Price": str(price.unit_price),
        "Price_Includes_VAT": 1,
        "Allow_Line_Disc": 1,
    }


def _discount(promotion: Any) -> Row:
    return {
        "Type": "Item",
        "Code": promotion.item_no,
        "Sales_Type": "Customer_Disc_Group",
        "Sales_Code": promotion.channel,
        "Starting_Date": promotion.starting_date.isoformat(),
        "Currency_Code": LCY,
        "Variant_Code": "",
        "Unit_of_Measure_Code": "",
        "Minimum_Quantity": "0",
        "Line_Discount_Percent": str(promotion.discount_percent),
        "Ending_Date": promotion.ending_date.isoformat(),
    }


def _dated(day: date) -> Row:
    text = day.isoformat()
    return {"Order_Date": text, "Document_Date": text, "Posting_Date": text}


def _order(order: Order) -> Row:
    return {
        "No": order.id,
        "Sell_to_Customer_No": order.customer_ref,
        **_dated(order.placed_at.date()),
        "Status": "Released" if order.status == "SHIPPED" else "Open",
        "Location_Code": order.location_id,
        "Currency_Code": LCY,
        "Prices_Including_VAT": 1,
        "Shortcut_Dimension_1_Code": order.channel,
        "Salesperson_Code": order.partner,
    }


def _invoice(order: Order) -> Row:
    return {
        "No": invoice_no(order.id),
        "Sell_to_Customer_No": order.customer_ref,
        "Order_No": order.id,
        **_dated(order.placed_at.date()),
        "Cancelled": int(order.status == "CANCELLED"),
        "Corrective": 0,
        "Closed": 1,
        "Location_Code": order.location_id,
        "Currency_Code": LCY,
        "Shortcut_Dimension_1_Code": order.channel,
        "Salesperson_Code": order.partner,
    }


def _return(back: Return) -> Row:
    return {
        "No": back.id,
        "Sell_to_Customer_No": back.customer_ref,
        **_dated(back.returned_at.date()),
        "Status": "Released",
        "Location_Code": back.location_id,
        "Currency_Code": LCY,
        "Prices_Including_VAT": 1,
        "Shortcut_Dimension_1_Code": back.channel,
        "Applies_to_Doc_Type": "Invoice",
        "Applies_to_Doc_No": invoice_no(back.order_id),
    }


def _lines(
    document: str, lines: list[OrderLine], *, shipped: bool = False, reason: str | None = None
) -> list[Row]:
    """A document's lines, with every quantity a posted document of it has moved: a
    posted invoice's and a received return's lines are shipped (received) and invoiced."""
    posted = reason is not None or document.startswith("PSI")
    total = sum((line.unit_price * line.quantity for line in lines), Decimal(0))
    rows = []
    for n, line in enumerate(lines, start=1):
        quantity = str(line.quantity)
        moved = quantity if shipped or posted else "0"
        rows.append(
            {
                "_document": document,
                "_line": n * 10000,
                "Document_No": document,
                "Line_No": n * 10000,
                "Type": "Item",
                "No": line.item_no,
                "Quantity": quantity,
                "Unit_Price": str(line.unit_price),
                "Line_Discount_Percent": "0",
                "Line_Amount": str(line.unit_price * line.quantity),
                "Quantity_Shipped": moved,
                "Quantity_Invoiced": quantity if posted else "0",
                "Return_Qty_Received": quantity if reason else "0",
                "Return_Reason_Code": reason,
                "Total_Amount_Incl_VAT": str(total),
            }
        )
    return rows


def _entry(payment: Any) -> Row:
    amount = str(-payment.amount)  # the customer's balance: a payment lowers it
    return {
        "Entry_No": int(payment.id),
        "Posting_Date": payment.at.date().isoformat(),
        "Document_Type": payment.kind.title(),
        "Document_No": payment.order_id,
        "Customer_No": payment.customer_ref,
        "Description": payment.mirror_id,
        "Global_Dimension_1_Code": payment.channel,
        "Global_Dimension_2_Code": payment.location_id,
        "Payment_Method_Code": payment.method,
        "Currency_Code": LCY,
        "Original_Amount": amount,
        "Original_Amt_LCY": amount,
        "Amount": amount,
        "Amount_LCY": amount,
        "Remaining_Amount": "0",
        "Remaining_Amt_LCY": "0",
        "Open": 0,
        "Reversed": int(payment.status == "CANCELED"),
    }
