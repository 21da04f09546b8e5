"""The simulated ERP behaves as NAV's page web services do: a WSDL per page that a SOAP
toolkit loads, ReadMultiple with NAV's filter semantics, keys that go stale, faults."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import zeep
from lxml import etree
from zeep.exceptions import Fault

from legacy.common.runner import ServerThread
from legacy.erp.pages import DEFAULT_SERVICES
from legacy.world import World
from tests.simulators import reset_knobs, set_knobs

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def page_url(erp: ServerThread, service: str, host: str | None = None) -> str:
    return f"http://{host or erp.host}:{erp.port}/WS/CRONUS/Page/{service}"


@pytest.fixture
def client(erp_server: ServerThread) -> Iterator[Any]:
    """A zeep client per page, as any SOAP toolkit would use the ERP."""
    opened: list[zeep.Client] = []

    def open_page(service: str) -> Any:
        opened.append(zeep.Client(page_url(erp_server, service)))
        return opened[-1].service

    yield open_page
    for each in opened:
        each.transport.session.close()


def read_multiple(service: Any, size: int = 0, bookmark: str | None = None, **filters: str) -> Any:
    criteria = [{"Field": field, "Criteria": value} for field, value in filters.items()]
    return service.ReadMultiple(filter=criteria, bookmarkKey=bookmark, setSize=size) or []


def post(erp: ServerThread, service: str, body: bytes, action: str) -> tuple[int, bytes]:
    request = urllib.request.Request(
        page_url(erp, service),
        data=body,
        method="POST",
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": action},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def faultstring(body: bytes) -> str:
    fault = etree.fromstring(body).find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    assert fault is not None, body
    return fault.findtext("faultstring") or ""


ITEMS_NS = "urn:microsoft-dynamics-schemas/page/itemcard"


def envelope(operation: str, inner: str = "", namespace: str = ITEMS_NS) -> bytes:
    return (
        f'<s:Envelope xmlns:s="{SOAP_ENV}"><s:Body>'
        f'<{operation} xmlns="{namespace}">{inner}</{operation}></s:Body></s:Envelope>'
    ).encode()


@pytest.mark.parametrize("service", sorted(DEFAULT_SERVICES.values()))
def test_every_page_serves_a_wsdl_zeep_loads_with_the_asked_address(
    erp_server: ServerThread, service: str
) -> None:
    url = page_url(erp_server, service, host="localhost")
    loaded = zeep.Client(url)
    try:
        bound = loaded.service
        assert bound._binding_options["address"] == url
        operations = set(bound._binding._operations)
        assert {"Read", "ReadMultiple", "Create", "Update", "Delete"} <= operations
        ns = f"urn:microsoft-dynamics-schemas/page/{service.lower()}"
        assert bound._binding.get("ReadMultiple").soapaction == f"{ns}:ReadMultiple"
    finally:
        loaded.transport.session.close()


def test_the_discovery_document_lists_every_page(erp_server: ServerThread) -> None:
    with urllib.request.urlopen(f"{erp_server.url}/WS/CRONUS/Services", timeout=5) as response:
        document = etree.fromstring(response.read())
    refs = {ref.get("ref") for ref in document}
    assert refs == {page_url(erp_server, s) for s in DEFAULT_SERVICES.values()}


def test_an_unknown_service_is_not_found(erp_server: ServerThread) -> None:
    assert get_status(page_url(erp_server, "NoSuchPage")) == 404


def test_or_criteria_return_each_record_once(client: Any) -> None:
    found = read_multiple(client("ItemCard"), No="10001|10002|10001|99999")
    assert [item.No for item in found] == ["10001", "10002"]


def test_filters_on_different_fields_and_together(client: Any, world: World) -> None:
    found = read_multiple(client("SalesPrices"), Item_No="10001|10002", Sales_Code="WEB|STORE")
    expected = {
        (p.item_no, p.channel, p.unit_price)
        for p in world.prices
        if p.item_no in ("10001", "10002") and p.channel in ("WEB", "STORE")
    }
    assert {(p.Item_No, p.Sales_Code, p.Unit_Price) for p in found} == expected


def test_at_sign_matches_without_regard_to_case(client: Any, world: World) -> None:
    customer = next(c for c in world.erp_customers if c.email.isupper())
    found = read_multiple(client("Customer"), E_Mail=f"@{customer.email.lower()}")
    assert [c.No for c in found] == [customer.no]
    assert read_multiple(client("Customer"), E_Mail=customer.email.lower()) == []


def test_a_range_criteria_matches_both_ends(client: Any) -> None:
    found = read_multiple(client("ItemCard"), No="10003..10006")
    assert [item.No for item in found] == ["10003", "10004", "10005", "10006"]


def test_a_quoted_value_is_a_literal(client: Any) -> None:
    assert read_multiple(client("ItemCard"), No="'10003..10006'") == []


def test_set_size_caps_and_bookmark_key_continues_after_the_bookmark(client: Any) -> None:
    items = client("ItemCard")
    first = read_multiple(items, size=3, No="10000..10007")
    rest = read_multiple(items, size=10, bookmark=first[-1].Key, No="10000..10007")
    assert [i.No for i in first] == ["10000", "10001", "10002"]
    assert [i.No for i in rest] == [f"{n}" for n in range(10003, 10008)]


def test_read_answers_the_record_of_its_key_or_nothing(client: Any, world: World) -> None:
    customers = client("Customer")
    known = world.erp_customers[3]
    assert customers.Read(No=known.no).Name == known.name
    assert customers.Read(No="NO-SUCH-CUSTOMER") is None


def test_orders_carry_their_lines(client: Any, world: World) -> None:
    order = next(o for o in world.erp_orders if len(o.lines) > 1)
    (found,) = read_multiple(client("SalesOrder"), No=order.id)
    lines = found.SalesLines.Sales_Order_Line
    assert [(line.No, int(line.Quantity)) for line in lines] == [
        (line.item_no, line.quantity) for line in order.lines
    ]
    assert found.Amount_Including_VAT == order.total
    assert found.Order_Date == order.placed_at


def test_an_unknown_filter_field_is_a_fault(client: Any) -> None:
    with pytest.raises(Fault, match="Colour"):
        read_multiple(client("ItemCard"), Colour="red")


def test_unsupported_filter_syntax_is_a_fault_not_a_wrong_answer(client: Any) -> None:
    with pytest.raises(Fault, match="syntax"):
        read_multiple(client("ItemCard"), No="1000*")


def test_create_numbers_an_order_and_sums_its_lines(client: Any) -> None:
    orders = client("SalesOrder")
    created = orders.Create(
        SalesOrder={
            "Sell_to_Customer_No": "C-SERVER-TEST",
            "Status": "PLACED",
            "Sales_Channel": "WEB",
            "SalesLines": {
                "Sales_Order_Line": [
                    {"No": "10001", "Quantity": 2, "Unit_Price": Decimal("9.95")},
                    {"No": "10002", "Quantity": 1, "Unit_Price": Decimal("5.00")},
                ]
            },
        }
    )
    assert created.No.startswith("SO")
    assert created.Amount_Including_VAT == Decimal("24.90")
    assert [line.Line_No for line in created.SalesLines.Sales_Order_Line] == [10000, 20000]
    assert orders.Read(No=created.No).Key == created.Key


def test_update_with_a_stale_key_is_a_fault(client: Any) -> None:
    returns = client("SalesReturnOrder")
    created = returns.Create(SalesReturnOrder={"Sell_to_Customer_No": "C-SERVER-TEST"})
    updated = returns.Update(SalesReturnOrder={"Key": created.Key, "Status": "RECEIVED"})
    assert updated.Status == "RECEIVED"
    assert updated.Key != created.Key
    with pytest.raises(Fault, match="Another user has modified"):
        returns.Update(SalesReturnOrder={"Key": created.Key, "Status": "CLOSED"})


def test_delete_removes_the_record(client: Any) -> None:
    returns = client("SalesReturnOrder")
    created = returns.Create(SalesReturnOrder={"Sell_to_Customer_No": "C-SERVER-TEST"})
    assert returns.Delete(Key=created.Key) is True
    assert returns.Read(No=created.No) is None


def test_an_unknown_operation_is_a_fault(erp_server: ServerThread) -> None:
    status, body = post(erp_server, "ItemCard", envelope("Explode"), f'"{ITEMS_NS}:Explode"')
    assert status == 500
    assert "Explode" in faultstring(body)


def test_a_body_that_is_not_an_envelope_is_a_fault(erp_server: ServerThread) -> None:
    status, body = post(erp_server, "ItemCard", b"<not-soap/>", f'"{ITEMS_NS}:Read"')
    assert status == 500
    assert "envelope" in faultstring(body)


def test_a_document_type_declaration_is_refused(erp_server: ServerThread) -> None:
    doctype = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
    status, body = post(
        erp_server, "ItemCard", doctype + envelope("Read", "<No>&a;</No>"), f'"{ITEMS_NS}:Read"'
    )
    assert status == 500
    assert "document type" in faultstring(body)


def test_a_soap_action_for_another_operation_is_a_fault(erp_server: ServerThread) -> None:
    status, body = post(
        erp_server, "ItemCard", envelope("Read", "<No>10001</No>"), f'"{ITEMS_NS}:Delete"'
    )
    assert status == 500
    assert "SOAPAction" in faultstring(body)


def test_the_soap_fault_knob_faults_every_call(erp_server: ServerThread) -> None:
    set_knobs(erp_server.url, fault="soap_fault")
    try:
        status, body = post(
            erp_server, "ItemCard", envelope("Read", "<No>10001</No>"), f'"{ITEMS_NS}:Read"'
        )
        wsdl_status = get_status(page_url(erp_server, "ItemCard"))
    finally:
        reset_knobs(erp_server.url)
    assert status == 500
    assert faultstring(body)
    assert wsdl_status == 500
