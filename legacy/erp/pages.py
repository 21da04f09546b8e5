"""The pages our simulated NAV publishes: the standard ones of ``contracts/erp/``.

What a page offers (its fields, their types, what ``Read`` takes, its lines, its
operations) is read from its contract WSDL and declared nowhere else. What is said here
is how the simulator keeps a page: the table behind it, the fields clients filter on
(indexed), the number series a new document draws from, the date Create stamps, and
the text of a record's RecordId (``ReadByRecId``, ``GetRecIdFromKey``).

The simulated retailer's installation adds two fields to the item card, as NAV
installations do (a partner adds them to the page, and NAV publishes them in the
page's WSDL after the standard ones): ``Brand`` and ``Sales_Channels`` (the channels
that sell the item, ``WEB|APP|STORE``). ``INSTALLATION_FIELDS`` is the mapping that
tells Mosaic about them (``MOSAIC_ERP_FIELDS``); the demo and most tests set it. The
channel of a document is kept where NAV retailers keep it without any extension: a
dimension (shortcut dimension 1 on documents, global dimension 1 on ledger entries),
and the store of a ledger entry in dimension 2; an order a partner brought in names the
partner as its salesperson (``Salesperson_Code``, the partner's code).
``create_app(..., extensions={})`` serves the pure standard pages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from legacy.erp.contract import Field, PageContract

#: The simulated installation's extension fields, per logical page.
EXTENSIONS: Mapping[str, Sequence[Field]] = {
    "items": (Field("Brand", "string"), Field("Sales_Channels", "string")),
}

#: Mosaic's field mapping for the simulated installation (MOSAIC_ERP_FIELDS).
INSTALLATION_FIELDS: Mapping[str, str] = {
    "brand": "Brand",
    "channels": "Sales_Channels",
    "document_channel": "Shortcut_Dimension_1_Code",
    "payment_channel": "Global_Dimension_1_Code",
    "payment_store": "Global_Dimension_2_Code",
    "payment_mirror": "Description",
    "order_partner": "Salesperson_Code",
}


@dataclass(frozen=True, slots=True)
class Page:
    name: str  # the logical page, as adapters/config.py ErpConfig.pages names it
    contract: PageContract  # the standard page, under its default service name
    table: str
    table_no: int  # NAV's table number, the first part of a record's Key
    record_id: str  # how a RecordId names the table (and the document type), e.g. "Item"
    indexed: tuple[str, ...] = ()  # fields clients filter on; the key is always indexed
    nocase: tuple[str, ...] = ()  # fields filtered case-insensitively (``@``)
    number_prefix: str | None = None  # Create numbers a record without No from this series
    stamped: tuple[str, ...] = ()  # date fields Create sets to today when not given
    line_table_no: int = 37

    @property
    def line_table(self) -> str:
        return f"{self.table}_line"


def _page(name: str, service: str, table: str, table_no: int, record_id: str, **kw: object) -> Page:
    return Page(name, PageContract.load(service), table, table_no, record_id, **kw)  # type: ignore[arg-type]


PAGES: tuple[Page, ...] = (
    _page("items", "ItemCard", "item", 27, "Item", indexed=("GTIN", "Item_Category_Code")),
    _page(
        "customers",
        "Customer",
        "customer",
        18,
        "Customer",
        indexed=("Phone_No",),
        nocase=("E_Mail",),
    ),
    _page("prices", "SalesPrices", "sales_price", 7002, "Sales Price"),
    _page("promotions", "SalesLineDiscounts", "sales_line_discount", 7004, "Sales Line Discount"),
    _page(
        "orders",
        "SalesOrder",
        "sales_order",
        36,
        "Sales Header: Order",
        indexed=("Sell_to_Customer_No", "External_Document_No"),
        number_prefix="SO",
        stamped=("Order_Date", "Document_Date", "Posting_Date"),
    ),
    _page(
        "invoices",
        "PostedSalesInvoice",
        "sales_invoice",
        112,
        "Sales Invoice Header",
        indexed=("Sell_to_Customer_No", "Order_No"),
        line_table_no=113,
    ),
    _page(
        "returns",
        "SalesReturnOrder",
        "sales_return_order",
        36,
        "Sales Header: Return Order",
        indexed=("Sell_to_Customer_No", "Applies_to_Doc_No", "External_Document_No"),
        number_prefix="SR",
        stamped=("Order_Date", "Document_Date", "Posting_Date"),
    ),
    _page(
        "payments",
        "CustomerLedgerEntries",
        "cust_ledger_entry",
        21,
        "Cust. Ledger Entry",
        indexed=("Document_No", "Customer_No"),
    ),
)

PAGES_BY_NAME: dict[str, Page] = {page.name: page for page in PAGES}
DEFAULT_SERVICES: dict[str, str] = {page.name: page.contract.service for page in PAGES}


@dataclass(frozen=True, slots=True)
class Service:
    """A page as this installation publishes it under a service name: the standard
    contract, renamed, with the installation's extension fields."""

    page: Page
    contract: PageContract

    @property
    def name(self) -> str:
        return self.contract.service

    @property
    def namespace(self) -> str:
        return self.contract.namespace

    def field(self, name: str) -> Field | None:
        return self.contract.field(name)


def published(
    names: Mapping[str, str], extensions: Mapping[str, Sequence[Field]]
) -> dict[str, Service]:
    """Each logical page under its service name (``names``: page -> service), with the
    extension fields of ``extensions`` (page -> fields), keyed by service name."""
    services = {}
    for page in PAGES:
        name = names.get(page.name, page.contract.service)
        contract = page.contract.published_as(name).extended(extensions.get(page.name, ()))
        services[name] = Service(page, contract)
    return services
