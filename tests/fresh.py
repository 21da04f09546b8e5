"""Fresh simulated systems and a gateway for tests that write, and direct questions to
the systems over HTTP, the way the tests check that they agree after a write.

Writing tests get systems of their own (a module's worth), so the session-wide data
other tests count on stays as seeded.
"""

from __future__ import annotations

import base64
import importlib
import json
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from legacy.common.knobs import Knobs
from legacy.common.runner import ServerThread
from legacy.world import World
from tests.conftest import CRM_TOKEN, WMS_TOKEN, gateway_settings
from tests.contracts.checks import checks

SYSTEMS = ("crm", "erp", "pos", "wms")
TOKENS = {"crm": CRM_TOKEN, "wms": WMS_TOKEN}
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


@contextmanager
def fresh_systems(world: World, folder: Path) -> Iterator[dict[str, ServerThread]]:
    """The four simulated systems on new SQLite files in ``folder``."""
    servers: dict[str, ServerThread] = {}
    try:
        for name in SYSTEMS:
            module = importlib.import_module(f"legacy.{name}.server")
            extra: dict[str, Any] = {"token": TOKENS[name]} if name in TOKENS else {}
            app = module.create_app(
                world, folder / f"{name}.sqlite", Knobs(), middleware=checks(name), **extra
            )
            servers[name] = ServerThread(app).start()
        yield servers
    finally:
        # together: each may wait up to a second for its kept-alive connections
        with ThreadPoolExecutor(len(SYSTEMS)) as stopping:
            list(stopping.map(ServerThread.stop, servers.values()))


@contextmanager
def gateway(servers: dict[str, ServerThread], data_dir: Path, **extra: Any) -> Iterator[str]:
    from gateway.app import create_app

    urls = {name: server.url for name, server in servers.items()}
    server = ServerThread(create_app(gateway_settings(urls, data_dir=data_dir, **extra))).start()
    try:
        yield server.url
    finally:
        server.stop()


@contextmanager
def fresh_env(world: World, folder: Path, **extra: Any) -> Iterator[dict[str, str]]:
    """Fresh systems with a gateway in front of them (``extra``: its settings): the
    gateway's URL under ``"gateway"``, each system's under its name."""
    with fresh_systems(world, folder) as servers, gateway(servers, folder / "gw", **extra) as url:
        yield {"gateway": url, **{name: s.url for name, s in servers.items()}}


# --- asking the systems directly -------------------------------------------------------


def _post(url: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def erp_read(
    url: str, service: str, field: str, value: str, login: tuple[str, str] | None = None
) -> list[dict[str, Any]]:
    """NAV ReadMultiple, written by hand: records of a page whose field equals value
    (``login``: the web service user and password, where the ERP asks for them)."""
    namespace = f"urn:microsoft-dynamics-schemas/page/{service.lower()}"
    envelope = (
        f'<s:Envelope xmlns:s="{SOAP}"><s:Body><ReadMultiple xmlns="{namespace}">'
        f"<filter><Field>{field}</Field><Criteria>{value}</Criteria></filter>"
        "<setSize>0</setSize></ReadMultiple></s:Body></s:Envelope>"
    )
    request = urllib.request.Request(
        f"{url}/WS/CRONUS/Page/{service}",
        data=envelope.encode(),
        method="POST",
        headers={"Content-Type": "text/xml", "SOAPAction": f'"{namespace}:ReadMultiple"'},
    )
    if login:
        token = base64.b64encode(":".join(login).encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        root = etree.fromstring(response.read())
    records = root.findall(f".//{{{namespace}}}{service}")
    return [_fields(record) for record in records]


def _fields(element: Any) -> dict[str, Any]:
    """A record's fields as text; a document's lines as a list of such dicts."""
    return {
        etree.QName(c).localname: [_fields(line) for line in c] if len(c) else c.text
        for c in element
    }


def erp_lines(url: str, service: str, no: str) -> list[dict[str, Any]]:
    """A document's lines, as its page answers them."""
    (document,) = erp_read(url, service, "No", no)
    return next(v for v in document.values() if isinstance(v, list))


def erp_post(url: str, what: str, **body: Any) -> Any:
    """NAV's posting of an order, as the warehouse and finance would do it: a
    ``shipment``, an ``invoice`` or a ``payment`` (legacy/erp/posting.py)."""
    return _post(f"{url}/__admin/post/{what}", body)


def erp_orders(url: str, customer_no: str) -> list[dict[str, Any]]:
    return erp_read(url, "SalesOrder", "Sell_to_Customer_No", customer_no)


def erp_order(url: str, order_no: str) -> dict[str, Any]:
    return erp_read(url, "SalesOrder", "No", order_no)[0]


def erp_returns(url: str, applies_to: str) -> list[dict[str, Any]]:
    """The sales return orders applying to a posted invoice (or naming a receipt)."""
    return erp_read(url, "SalesReturnOrder", "Applies_to_Doc_No", applies_to)


def erp_refunds(url: str, order_no: str) -> list[dict[str, Any]]:
    """The refunds the ERP's ledger holds for an order (Document_Type Refund)."""
    entries = erp_read(url, "CustomerLedgerEntries", "Document_No", order_no)
    return [e for e in entries if e["Document_Type"] == "Refund"]


def pos_levels(url: str, sku: str, location: str) -> tuple[int, int]:
    """(IN_STOCK, RESERVED_FOR_SALE) of an item at a store."""
    answer = _post(
        f"{url}/v2/inventory/counts/batch-retrieve",
        {"catalog_object_ids": [sku], "location_ids": [location]},
    )
    levels = {c["state"]: int(c["quantity"]) for c in answer.get("counts", [])}
    return levels.get("IN_STOCK", 0), levels.get("RESERVED_FOR_SALE", 0)


def wms_levels(url: str, sku: str, site: str) -> tuple[int, int]:
    """(on hand, reserved) of an item at a warehouse."""
    answer = _post(
        f"{url}/api/v1/stock/query",
        {"skus": [sku], "sites": [site]},
        {"Authorization": f"Bearer {WMS_TOKEN}"},
    )
    row = answer["stock"][0]
    return int(row["on_hand"]), int(row["reserved"])


def pos_adjust(url: str, key: str, sku: str, location: str, quantity: int, to: str) -> Any:
    """Move goods from IN_STOCK to ``to`` at a store, as a till or back office would."""
    change = {
        "type": "ADJUSTMENT",
        "adjustment": {
            "catalog_object_id": sku,
            "location_id": location,
            "quantity": str(quantity),
            "from_state": "IN_STOCK",
            "to_state": to,
            "occurred_at": datetime.now(UTC).isoformat(),
        },
    }
    return _post(
        f"{url}/v2/inventory/changes/batch-create", {"idempotency_key": key, "changes": [change]}
    )


def pos_sale(url: str, key: str, sku: str, location: str, cents: int = 1000) -> Any:
    """A sale at the till, as Square takes one: an order (CreateOrder), paid in cash for
    its amount (CreatePayment), which completes it and takes its goods from stock."""
    line = {
        "catalog_object_id": sku,
        "quantity": "1",
        "base_price_money": {"amount": cents, "currency": "EUR"},
    }
    order = _post(
        f"{url}/v2/orders",
        {"idempotency_key": key, "order": {"location_id": location, "line_items": [line]}},
    )["order"]
    money = {"amount": cents, "currency": "EUR"}
    _post(
        f"{url}/v2/payments",
        {
            "idempotency_key": f"{key}:paid",
            "source_id": "CASH",
            "amount_money": money,
            "order_id": order["id"],
            "cash_details": {"buyer_supplied_money": money},
        },
    )
    return order


def crm_contact(url: str, contact_id: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/crm/v3/objects/contacts/{contact_id}?properties="
        "firstname,lastname,email,phone,zip,consent_email_marketing,"
        "consent_email_marketing_valid_until",
        headers={"Authorization": f"Bearer {CRM_TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer
