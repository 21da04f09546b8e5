"""The ERP's contracts are NAV's: the two real WSDLs unchanged, the others written in
NAV's exact WSDL shape, and the SOAP check finds what departs from them."""

from __future__ import annotations

import hashlib
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from legacy.common.knobs import Knobs
from legacy.common.runner import ServerThread
from legacy.erp.contract import CONTRACTS, OPERATIONS, PageContract, parse, render
from legacy.erp.pages import DEFAULT_SERVICES
from legacy.erp.server import create_app
from legacy.world import World
from tests.contracts import Departures
from tests.contracts.soap import erp_checks, judge_fault

SOURCES = (CONTRACTS / "SOURCES.md").read_text()
FILES = sorted(CONTRACTS.glob("*.wsdl"))


def _text(path: Path) -> str:
    return path.read_text().replace("\r\n", "\n").strip()


def test_every_page_mosaic_uses_has_a_contract() -> None:
    assert {path.stem for path in FILES} == set(DEFAULT_SERVICES.values())


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_each_contract_is_in_navs_exact_wsdl_shape(path: Path) -> None:
    """The writer reproduces each file from its own model: the built contracts have the
    shape of the real ItemCard and Customer WSDLs (which it reproduces too)."""
    text = _text(path)
    address = re.search(r'<address location="([^"]*)"', text)
    assert address is not None
    assert render(parse(text.encode()), address[1]) == text


@pytest.mark.parametrize(
    ("name", "key", "operations"),
    [
        ("ItemCard", ("No",), OPERATIONS),
        ("Customer", ("No",), OPERATIONS),
        # page 5733 has DeleteAllowed=No: no Delete, and a Delete for its attribute lines
        ("ItemCategoryCard", ("Code",), (*OPERATIONS[:-1], "Delete_Attributes")),
    ],
)
def test_the_real_wsdls_are_copied_unchanged(
    name: str, key: tuple[str, ...], operations: tuple[str, ...]
) -> None:
    """SOURCES.md records the sha256 of each copy as it came from its repository."""
    copied = (CONTRACTS / f"{name}.wsdl").read_bytes()
    recorded = re.search(rf"^{name}\.wsdl +([0-9a-f]{{64}})$", SOURCES, re.MULTILINE)
    assert recorded is not None
    assert hashlib.sha256(copied).hexdigest() == recorded[1]
    page = parse(copied)
    assert page.operations == operations
    assert page.key == key


def test_documents_publish_their_lines_and_a_delete_for_them() -> None:
    order = PageContract.load("SalesOrder")
    assert order.lines is not None
    assert (order.lines.element, order.lines.type) == ("SalesLines", "Sales_Order_Subform")
    assert order.operations == (*OPERATIONS, "Delete_SalesLines")
    # a page that does not allow inserting or deleting publishes no such operation
    ledger = PageContract.load("CustomerLedgerEntries")
    assert {"Create", "CreateMultiple", "Delete"}.isdisjoint(ledger.operations)
    assert "Create" not in PageContract.load("PostedSalesInvoice").operations


# --- the check finds departures --------------------------------------------------------


@pytest.fixture
def undeclared(world: World, tmp_path: Path) -> Iterator[tuple[str, Departures]]:
    """A simulated ERP with extension fields its contract check was not told about."""
    found = Departures()
    app = create_app(
        world, tmp_path / "erp.sqlite", Knobs(), middleware=erp_checks({}, departures=found)
    )
    server = ServerThread(app).start()
    yield server.url, found
    server.stop()


def _post(url: str, service: str, body: str, action: str) -> None:
    request = urllib.request.Request(
        f"{url}/WS/CRONUS/Page/{service}",
        data=body.encode(),
        headers={"Content-Type": "text/xml", "SOAPAction": action},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
    except urllib.error.HTTPError as error:
        error.close()


ITEMS = "urn:microsoft-dynamics-schemas/page/itemcard"
READ = (
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
    f'<Read xmlns="{ITEMS}"><No>10001</No></Read></s:Body></s:Envelope>'
)


def test_a_field_the_page_lacks_is_a_departure_of_the_wsdl_and_the_answer(
    undeclared: tuple[str, Departures],
) -> None:
    url, found = undeclared
    with urllib.request.urlopen(f"{url}/WS/CRONUS/Page/ItemCard", timeout=5) as response:
        response.read()
    _post(url, "ItemCard", READ, f'"{ITEMS}:Read"')
    departures = found.take()
    assert [(d.direction, d.operation) for d in departures] == [
        ("response", "ItemCard:WSDL"),
        ("response", "ItemCard:Read"),
    ]
    assert "Brand" in departures[1].detail


def test_a_soap_action_for_another_operation_is_a_departure_of_the_request(
    undeclared: tuple[str, Departures],
) -> None:
    url, found = undeclared
    _post(url, "ItemCard", READ, f'"{ITEMS}:Delete"')
    ((direction, operation, detail),) = [(d.direction, d.operation, d.detail) for d in found.take()]
    assert (direction, operation) == ("request", "ItemCard:Read")
    assert detail.startswith("SOAPAction")


def test_a_failure_not_in_navs_fault_shape_is_a_departure_of_the_answer() -> None:
    assert list(judge_fault(500, b"<html>oops</html>")) == ["HTTP 500 without a SOAP Fault"]
    assert list(judge_fault(400, b"")) == [
        "HTTP 400: NAV answers a failure with 500 and a SOAP fault"
    ]
