"""``mosaic sources check`` for the ERP: is the configured NAV what Mosaic needs?

With the configured credentials, every page's WSDL is loaded (in parallel), and each
page is checked for the operations and standard fields Mosaic uses of it, and for the
fields the installation's mapping names. One finding per thing, so a wrong URL, a
refused password, a page not published or a mapped field missing is one clear line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Protocol

from adapters.checks import Finding
from adapters.config import ERP_FIELDS, ErpConfig
from adapters.errors import UpstreamAuthFailed, UpstreamError, UpstreamUnavailable


class Service(Protocol):
    """A page service as its WSDL describes it (adapters/erp/adapter.py: Service)."""

    @property
    def name(self) -> str: ...
    @property
    def actions(self) -> Collection[str]: ...
    @property
    def fields(self) -> Collection[str]: ...
    @property
    def line_fields(self) -> Collection[str]: ...


class ErpAdapter(Protocol):
    """What the check reads of the ERP adapter (adapters/erp/adapter.py: ErpAdapter,
    which calls the check): protocols, so the two modules do not import each other."""

    @property
    def config(self) -> ErpConfig: ...
    async def service(self, page: str, timeout_s: float) -> Service: ...


SOURCE = "erp"

#: What Mosaic uses of each page: its operations, its fields, its lines' fields.
USES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "items": (
        ("ReadMultiple",),
        ("No", "Description", "Blocked", "Item_Category_Code", "GTIN", "Unit_Price"),
        (),
    ),
    "categories": (("ReadMultiple",), ("Code", "Description", "Parent_Category"), ()),
    "customers": (
        ("Read", "ReadMultiple", "Update"),
        ("No", "Name", "Search_Name", "E_Mail", "Phone_No", "Address", "Post_Code", "City"),
        (),
    ),
    "prices": (
        ("ReadMultiple",),
        ("Item_No", "Sales_Type", "Sales_Code", "Unit_Price", "Starting_Date", "Currency_Code"),
        (),
    ),
    "promotions": (
        ("ReadMultiple",),
        ("Type", "Code", "Sales_Type", "Sales_Code", "Line_Discount_Percent", "Starting_Date"),
        (),
    ),
    "orders": (
        ("ReadMultiple", "Create", "Delete"),
        (
            "No",
            "Sell_to_Customer_No",
            "Order_Date",
            "Status",
            "External_Document_No",
            "Ship_to_Address",
            "Ship_to_Post_Code",
        ),
        ("Type", "No", "Quantity", "Unit_Price", "Line_Discount_Percent", "Quantity_Shipped"),
    ),
    "invoices": (
        ("ReadMultiple",),
        ("No", "Sell_to_Customer_No", "Order_No", "Document_Date", "Cancelled", "Ship_to_Address"),
        ("Type", "No", "Quantity", "Unit_Price", "Line_Discount_Percent"),
    ),
    "returns": (
        ("ReadMultiple", "Create", "Delete"),
        ("No", "Sell_to_Customer_No", "External_Document_No", "Applies_to_Doc_No"),
        ("Type", "No", "Quantity", "Unit_Price", "Return_Qty_Received", "Quantity_Invoiced"),
    ),
    "payments": (
        ("ReadMultiple",),
        ("Entry_No", "Document_Type", "Document_No", "Posting_Date", "Amount", "Reversed"),
        (),
    ),
}


async def check(erp: ErpAdapter) -> list[Finding]:
    config = erp.config
    loaded = await asyncio.gather(
        *(_load(erp, page) for page in config.pages), return_exceptions=True
    )
    failures = [e for e in loaded if isinstance(e, BaseException)]
    refused = next((e for e in failures if isinstance(e, UpstreamAuthFailed)), None)
    if refused is not None:
        return [Finding(SOURCE, "credentials", False, f"{_signing(erp)}: {refused.message}")]
    unreachable = [e for e in failures if isinstance(e, UpstreamUnavailable)]
    if len(unreachable) == len(loaded):
        return [Finding(SOURCE, "connection", False, unreachable[0].message)]
    findings = [Finding(SOURCE, "credentials", True, _signing(erp))]
    for page, service in zip(config.pages, loaded, strict=True):
        if isinstance(service, BaseException):
            reason = service.message if isinstance(service, UpstreamError) else str(service)
            published = config.pages[page]
            findings.append(Finding(SOURCE, f"page {published} ({page})", False, reason))
        else:
            findings += _page(erp, page, service)
    return findings


async def _load(erp: ErpAdapter, page: str) -> Service:
    return await erp.service(page, erp.config.timeout_s)


def _signing(erp: ErpAdapter) -> str:
    config = erp.config
    if config.token_url:
        return f"OAuth client {config.client_id} at {config.token_url}"
    if config.username:
        return f"web service user {config.username}"
    return "no credentials configured"


def _page(erp: ErpAdapter, page: str, service: Service) -> list[Finding]:
    operations, fields, line_fields = USES[page]
    what = f"page {service.name} ({page})"
    missing = [f"operation {o}" for o in operations if o not in service.actions]
    missing += [f"field {f}" for f in fields if f not in service.fields]
    missing += [f"line field {f}" for f in line_fields if f not in service.line_fields]
    findings = [
        Finding(SOURCE, what, not missing, "missing " + ", ".join(missing) if missing else "")
    ]
    for ours, pages in ERP_FIELDS.items():
        field = erp.config.field(ours)
        if page in pages and field:
            there = field in service.fields
            detail = "" if there else f"{service.name} has no field {field}"
            findings.append(
                Finding(SOURCE, f"mapped field {ours} -> {service.name}.{field}", there, detail)
            )
    return findings
