"""The NAV pages our ERP publishes, each declared once: its fields with their XSD types.

The WSDL generator, the SQLite schema, the request parser and the reply writer all read
these declarations, so a field exists in exactly one place. Field names are NAV's (the
ones of ``ItemCard.wsdl`` and ``Customer.wsdl`` in the shared reference); a real page
has a hundred fields, we publish the ones our data fills. ``Brand`` and
``Sales_Channels`` on the item card, ``Sales_Channel`` on the sales documents and the
``Promotions`` page are our installation's extensions, as NAV installations add them.
So is ``CustomerPayments``: the payment service provider's captures and refunds per
order, as the webshop integration books them (NAV's own customer ledger signs amounts
from the customer's balance; this page signs them as money moves: refunds negative).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

XsdType = Literal["string", "boolean", "decimal", "int", "date", "dateTime"]


@dataclass(frozen=True, slots=True)
class Enum:
    """A NAV option field, published as an ``xsd:string`` restriction."""

    name: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: XsdType | Enum = "string"

    @property
    def xsd(self) -> XsdType:
        """How the value is stored and compared: an option is a string."""
        return "string" if isinstance(self.type, Enum) else self.type


@dataclass(frozen=True, slots=True)
class Lines:
    """A document's lines subpage, published nested in its header as NAV does."""

    field: str  # the header's element holding the lines, e.g. SalesLines
    element: str  # one line's element and type name, e.g. Sales_Order_Line
    table: str
    table_no: int
    fields: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class Page:
    name: str  # the logical page, as adapters/config.py ErpConfig.pages names it
    service: str  # the service name it is published under by default
    table: str
    table_no: int  # NAV's table number, the first part of a record's Key
    key: tuple[str, ...]  # what Read takes: the table's primary key
    fields: tuple[Field, ...]  # without Key, which every page has
    indexed: tuple[str, ...] = ()  # fields clients filter on; the key is always indexed
    nocase: tuple[str, ...] = ()  # fields filtered case-insensitively (``@``): so indexed
    number_prefix: str | None = None  # Create numbers a record without No from this series
    stamped: str | None = None  # a dateTime field Create sets to now when not given
    lines: Lines | None = None

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def key_field(self, name: str) -> Field:
        field = self.field(name)
        assert field is not None, f"{self.service}'s key {name} is not one of its fields"
        return field


def _f(*names: str, type: XsdType | Enum = "string") -> tuple[Field, ...]:
    return tuple(Field(name, type) for name in names)


ITEM_TYPE = Enum("Type", ("Inventory", "Service"))
CUSTOMER_BLOCKED = Enum("Blocked", ("_blank_", "Ship", "Invoice", "All"))
SALES_TYPE = Enum("Sales_Type", ("Customer", "Customer_Price_Group", "All_Customers", "Campaign"))
LINE_TYPE = Enum("Type", ("_blank_", "G_L_Account", "Item", "Resource", "Fixed_Asset"))
PAYMENT_TYPE = Enum("Document_Type", ("Payment", "Refund"))
PAYMENT_STATUS = Enum("Status", ("Pending", "Posted", "Voided", "Failed"))

_LINE_FIELDS = (
    Field("Line_No", "int"),
    Field("Type", LINE_TYPE),
    Field("No"),
    Field("Quantity", "decimal"),
    Field("Unit_Price", "decimal"),
    Field("Line_Amount", "decimal"),
)
_DOCUMENT_FIELDS = (
    Field("No"),
    Field("Sell_to_Customer_No"),
    Field("Status"),
    Field("Sales_Channel"),
    Field("Location_Code"),
    Field("Currency_Code"),
    Field("Amount_Including_VAT", "decimal"),
    # the number the document has in the system that sent it (Mosaic's order reference)
    Field("External_Document_No"),
)

PAGES: tuple[Page, ...] = (
    Page(
        name="items",
        service="ItemCard",
        table="item",
        table_no=27,
        key=("No",),
        fields=(
            *_f("No", "Description"),
            Field("Blocked", "boolean"),
            Field("Type", ITEM_TYPE),
            *_f("Base_Unit_of_Measure", "GTIN", "Item_Category_Code", "Search_Description"),
            Field("Unit_Price", "decimal"),
            *_f("Brand", "Sales_Channels"),
        ),
        indexed=("GTIN", "Item_Category_Code"),
    ),
    Page(
        name="customers",
        service="Customer",
        table="customer",
        table_no=18,
        key=("No",),
        fields=(
            *_f("No", "Name", "Address", "Post_Code", "City", "Country_Region_Code"),
            *_f("Phone_No", "Search_Name"),
            Field("Blocked", CUSTOMER_BLOCKED),
            Field("E_Mail"),
        ),
        indexed=("Phone_No",),
        nocase=("E_Mail",),
    ),
    Page(
        name="prices",
        service="SalesPrices",
        table="sales_price",
        table_no=7002,
        key=("Item_No", "Sales_Type", "Sales_Code", "Currency_Code", "Starting_Date"),
        fields=(
            Field("Item_No"),
            Field("Sales_Type", SALES_TYPE),
            *_f("Sales_Code", "Currency_Code"),
            Field("Starting_Date", "date"),
            Field("Unit_Price", "decimal"),
        ),
    ),
    Page(
        name="promotions",
        service="Promotions",
        table="promotion",
        table_no=50000,
        key=("Code",),
        fields=(
            *_f("Code", "Description", "Item_No"),
            Field("Discount_Percent", "decimal"),
            Field("Sales_Code"),
            Field("Starting_Date", "date"),
            Field("Ending_Date", "date"),
        ),
        indexed=("Item_No",),
    ),
    Page(
        name="orders",
        service="SalesOrder",
        table="sales_order",
        table_no=36,
        key=("No",),
        fields=(*_DOCUMENT_FIELDS[:2], Field("Order_Date", "dateTime"), *_DOCUMENT_FIELDS[2:]),
        indexed=("Sell_to_Customer_No", "External_Document_No"),
        number_prefix="SO",
        stamped="Order_Date",
        lines=Lines("SalesLines", "Sales_Order_Line", "sales_order_line", 37, _LINE_FIELDS),
    ),
    Page(
        name="returns",
        service="SalesReturnOrder",
        table="sales_return_order",
        table_no=36,
        key=("No",),
        fields=(
            *_DOCUMENT_FIELDS[:2],
            Field("Applies_to_Order_No"),
            Field("Return_Reason_Code"),
            Field("Document_Date", "dateTime"),
            *_DOCUMENT_FIELDS[2:],
        ),
        indexed=("Sell_to_Customer_No", "Applies_to_Order_No", "External_Document_No"),
        number_prefix="SR",
        stamped="Document_Date",
        lines=Lines(
            "SalesLines", "Sales_Return_Order_Line", "sales_return_order_line", 37, _LINE_FIELDS
        ),
    ),
    Page(
        name="payments",
        service="CustomerPayments",
        table="customer_payment",
        table_no=50001,
        key=("No",),
        fields=(
            Field("No"),
            Field("Document_Type", PAYMENT_TYPE),
            *_f("Order_No", "Sell_to_Customer_No", "Payment_Method_Code"),
            Field("Amount", "decimal"),
            Field("Currency_Code"),
            Field("Status", PAYMENT_STATUS),
            *_f("Sales_Channel", "Location_Code"),
            Field("Posted_At", "dateTime"),
            # a refund's payment, its return order, and the POS's record of it
            *_f("Applies_to_Doc_No", "Return_Order_No", "External_Document_No", "Description"),
        ),
        indexed=("Order_No", "Sell_to_Customer_No"),
        number_prefix="PMT",
        stamped="Posted_At",
    ),
)

PAGES_BY_NAME: dict[str, Page] = {page.name: page for page in PAGES}
DEFAULT_SERVICES: dict[str, str] = {page.name: page.service for page in PAGES}

#: The operations every page service offers (NAV also has ReadByRecId, GetRecIdFromKey,
#: CreateMultiple and UpdateMultiple; nothing here needs them).
OPERATIONS = ("Read", "ReadMultiple", "IsUpdated", "Create", "Update", "Delete")


@dataclass(frozen=True, slots=True)
class Service:
    """A page as published under a service name. NAV derives the namespace and the
    record's element name from the service name, not from the page."""

    page: Page
    name: str

    @property
    def namespace(self) -> str:
        return f"urn:microsoft-dynamics-schemas/page/{self.name.lower()}"

    def soap_action(self, operation: str) -> str:
        return f"{self.namespace}:{operation}"
