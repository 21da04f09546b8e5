"""The ERP adapter against the simulated ERP over loopback: one ReadMultiple per chunk of
keys, records in Mosaic's vocabulary, and every failure as one of our errors."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import adapters.erp.adapter
from adapters.config import ErpConfig
from adapters.erp.adapter import ErpAdapter, Service
from adapters.erp.records import NavRecords, mapped
from adapters.errors import (
    BadUpstreamResponse,
    UnsendableValue,
    UpstreamFault,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.transport.resilience import GuardConfig
from legacy.common.knobs import Knobs
from legacy.common.runner import ServerThread
from legacy.erp.pages import INSTALLATION_FIELDS
from legacy.erp.seed import invoice_no
from legacy.erp.server import create_app
from legacy.world import World
from tests.contracts.checks import checks
from tests.nav import newest_first, placed_at, state
from tests.simulators import call_count, clear_calls, reset_knobs, set_knobs


def erp(session: aiohttp.ClientSession, url: str, **config: Any) -> ErpAdapter:
    """An adapter that does not retry, so each test sees exactly the calls it caused,
    with the simulated installation's field mapping."""
    settings = {"fields": dict(INSTALLATION_FIELDS), **config}
    return ErpAdapter(session, ErpConfig(url=url, guard=GuardConfig(retries=0), **settings))


@pytest.fixture
def adapter(session: aiohttp.ClientSession, erp_server: ServerThread) -> ErpAdapter:
    clear_calls(erp_server.url)
    return erp(session, erp_server.url)


def soap_calls(url: str) -> Counter[str]:
    """SOAP operations per page service (WSDL fetches left out)."""
    return Counter({op: n for op, n in call_count(url).items() if ":" in op})


@pytest.fixture
def knobs(erp_server: ServerThread) -> Iterator[Callable[..., object]]:
    """Sets knobs of the shared ERP for one test and always resets them after it."""
    yield lambda **changes: set_knobs(erp_server.url, **changes)
    reset_knobs(erp_server.url)


@pytest.fixture
def spare_erp(world: World, tmp_path: Path) -> Iterator[ServerThread]:
    """A private ERP that a test may stop, start again (same port) or leave hanging."""
    server = ServerThread(
        create_app(world, tmp_path / "erp.sqlite", Knobs(), middleware=checks("erp"))
    ).start()
    yield server
    server.stop()


# --- batching ----------------------------------------------------------------------


async def test_a_batch_of_items_is_one_read_multiple(
    adapter: ErpAdapter, erp_server: ServerThread, world: World
) -> None:
    wanted = world.items[:40]
    found = await adapter.items([item.no for item in wanted])
    assert soap_calls(erp_server.url) == {"ItemCard:ReadMultiple": 1}
    item = wanted[5]
    record = found[item.no]
    assert (record.name, record.brand, record.category, record.gtin) == (
        item.description,
        item.brand,
        item.category,
        item.gtin,
    )
    assert record.list_price is not None
    assert (record.list_price.amount, record.list_price.currency) == (item.unit_price, "EUR")
    assert record.channels == item.channels
    assert len(found) == 40


async def test_duplicate_keys_are_asked_once(adapter: ErpAdapter, erp_server: ServerThread) -> None:
    found = await adapter.items(["10001", "10002", "10001", "10002"])
    assert sorted(found) == ["10001", "10002"]
    assert soap_calls(erp_server.url) == {"ItemCard:ReadMultiple": 1}


async def test_max_batch_splits_keys_into_chunks(
    session: aiohttp.ClientSession, erp_server: ServerThread, world: World
) -> None:
    skus = [item.no for item in world.items[:7]]
    clear_calls(erp_server.url)
    found = await erp(session, erp_server.url, max_batch=2).items(skus)
    assert soap_calls(erp_server.url) == {"ItemCard:ReadMultiple": math.ceil(7 / 2)}
    assert sorted(found) == sorted(skus)


async def test_a_result_larger_than_a_page_is_read_through_bookmarks(
    adapter: ErpAdapter,
    erp_server: ServerThread,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counts = Counter(order.customer_ref for order in world.erp_orders)
    customer, n = counts.most_common(1)[0]
    assert customer is not None
    posted = sum(
        1 for o in world.erp_orders if o.customer_ref == customer and state(o) == "COMPLETED"
    ) + sum(1 for o in world.erp_orders if o.customer_ref == customer and o.status == "CANCELLED")
    monkeypatch.setattr(adapters.erp.adapter, "PAGE_SIZE", 3)
    found = await adapter.orders_by_customer([customer])
    assert len(found[customer]) == n
    assert len({order.id for order in found[customer]}) == n
    assert soap_calls(erp_server.url) == {
        "SalesOrder:ReadMultiple": (n - posted) // 3 + 1,
        "PostedSalesInvoice:ReadMultiple": posted // 3 + 1,
    }


async def test_unknown_keys_are_absent(adapter: ErpAdapter) -> None:
    assert await adapter.items(["NO-SUCH-ITEM"]) == {}
    assert await adapter.customers(["NO-SUCH-CUSTOMER"]) == {}
    assert await adapter.orders(["NO-SUCH-ORDER"]) == {}
    assert await adapter.customers_by_email(["nobody@nowhere.example"]) == {}


# --- records -------------------------------------------------------------------------


async def test_prices_are_those_of_the_asked_sku_and_channel_pairs(
    adapter: ErpAdapter, erp_server: ServerThread, world: World
) -> None:
    asked = [("10001", "WEB"), ("10002", "STORE"), ("10003", "APP")]
    found = await adapter.prices(asked)
    expected = {(p.item_no, p.channel): p.unit_price for p in world.prices}
    assert sorted(found) == sorted(asked)
    for pair, record in found.items():
        assert (record.sku, record.channel) == pair
        assert record.price.amount == expected[pair]
    assert soap_calls(erp_server.url) == {"SalesPrices:ReadMultiple": 1}


async def test_promotions_list_every_asked_sku(adapter: ErpAdapter, world: World) -> None:
    promotion = world.promotions[0]
    found = await adapter.promotions([promotion.item_no, "NO-SUCH-ITEM"])
    assert found["NO-SUCH-ITEM"] == []
    (record,) = found[promotion.item_no]
    assert (record.sku, record.discount_percent, record.channel) == (
        promotion.item_no,
        promotion.discount_percent,
        promotion.channel,
    )
    assert (record.starts, record.ends) == (promotion.starting_date, promotion.ending_date)
    # NAV's line discounts have no code: the discount's key makes one, stable and unique
    assert record.code == f"{promotion.channel}/{promotion.item_no}/{promotion.starting_date}"


async def test_customers_by_number_are_erp_fragments(adapter: ErpAdapter, world: World) -> None:
    customer = world.erp_customers[4]
    fragment = (await adapter.customers([customer.no]))[customer.no]
    assert (fragment.source, fragment.record_id, fragment.full_name) == (
        "erp",
        customer.no,
        customer.name,
    )
    assert (fragment.email, fragment.phone) == (customer.email, customer.phone)
    assert fragment.address is not None
    assert fragment.address.postal_code == customer.address.postal_code


async def test_customers_by_email_ignore_case_and_are_keyed_by_the_normalised_email(
    adapter: ErpAdapter, erp_server: ServerThread, world: World
) -> None:
    shouting = next(c for c in world.erp_customers if c.email.isupper())
    quiet = next(c for c in world.erp_customers if c.email.islower())
    found = await adapter.customers_by_email(
        [f" {shouting.email.lower()} ", quiet.email.title(), quiet.email]
    )
    assert sorted(found) == sorted([shouting.email.lower(), quiet.email])
    assert found[shouting.email.lower()].record_id == shouting.no
    assert found[quiet.email].record_id == quiet.no
    assert soap_calls(erp_server.url) == {"Customer:ReadMultiple": 1}


async def test_orders_by_customer_are_newest_first_with_their_lines(
    adapter: ErpAdapter, erp_server: ServerThread, world: World
) -> None:
    by_customer = Counter(order.customer_ref for order in world.erp_orders)
    customers = [no for no, n in by_customer.most_common(3) if no]
    found = await adapter.orders_by_customer([*customers, "NO-SUCH-CUSTOMER"])
    assert found["NO-SUCH-CUSTOMER"] == []
    # open orders and posted invoices, in parallel: NAV deletes an order once invoiced
    assert soap_calls(erp_server.url) == {
        "SalesOrder:ReadMultiple": 1,
        "PostedSalesInvoice:ReadMultiple": 1,
    }
    for no in customers:
        expected = newest_first([o for o in world.erp_orders if o.customer_ref == no])
        orders = found[no]
        assert [o.id for o in orders] == [o.id for o in expected]
        assert [o.status for o in orders] == [state(o) for o in expected]
        first, truth = orders[0], expected[0]
        assert (first.source, first.channel, first.placed_at) == (
            "erp",
            truth.channel,
            placed_at(truth),
        )
        assert first.total is not None
        assert first.total.amount == truth.total
        assert [(line.sku, line.quantity) for line in first.lines] == [
            (line.item_no, line.quantity) for line in truth.lines
        ]


async def test_orders_by_id_are_found_open_or_posted_by_the_orders_number(
    adapter: ErpAdapter, erp_server: ServerThread, world: World
) -> None:
    open_order = next(o for o in world.erp_orders if o.status == "SHIPPED")
    invoiced = next(o for o in world.erp_orders if o.status == "DELIVERED")
    found = await adapter.orders([open_order.id, invoiced.id])
    for order in (open_order, invoiced):
        assert found[order.id].customer_ref == order.customer_ref
        assert found[order.id].status == state(order)
        assert len(found[order.id].lines) == len(order.lines)
    assert found[invoiced.id].invoice_id == invoice_no(invoiced.id)
    assert soap_calls(erp_server.url) == {
        "SalesOrder:ReadMultiple": 1,
        "PostedSalesInvoice:ReadMultiple": 1,
    }


def test_an_order_missing_its_order_date_is_a_bad_response() -> None:
    records = NavRecords(ErpConfig(url="-"))
    with pytest.raises(BadUpstreamResponse, match="Order_Date"):
        mapped("order", records.order, [{"No": "SO1", "Key": "36;1;1;", "Status": "Open"}])


# --- failures ------------------------------------------------------------------------


async def test_a_soap_fault_is_a_source_error_of_the_erp(
    adapter: ErpAdapter, knobs: Callable[..., object]
) -> None:
    await adapter.items(["10001"])  # the WSDL is loaded: the fault answers the operation
    knobs(fault="soap_fault")
    with pytest.raises(UpstreamFault) as error:
        await adapter.items(["10001"])
    assert error.value.extensions["code"] == "SOURCE_ERROR"
    assert error.value.source == "erp"
    assert "simulated fault" in error.value.message


async def test_garbage_is_a_bad_response(adapter: ErpAdapter, knobs: Callable[..., object]) -> None:
    await adapter.items(["10001"])
    knobs(fault="garbage")
    with pytest.raises(BadUpstreamResponse):
        await adapter.items(["10001"])


async def test_an_html_error_page_is_a_bad_response(
    adapter: ErpAdapter, knobs: Callable[..., object]
) -> None:
    knobs(fault="html")
    with pytest.raises(BadUpstreamResponse, match="HTML"):
        await adapter.customers(["C20000"])


async def test_a_rate_limit_is_reported_with_its_retry_after(
    adapter: ErpAdapter, knobs: Callable[..., object]
) -> None:
    knobs(fault="rate_limit", retry_after_s=7)
    with pytest.raises(UpstreamRateLimited) as error:
        await adapter.items(["10001"])
    assert error.value.extensions["retryAfter"] == 7


async def test_a_hanging_erp_times_out(
    session: aiohttp.ClientSession, spare_erp: ServerThread
) -> None:
    set_knobs(spare_erp.url, fault="hang")
    with pytest.raises(UpstreamTimeout):
        await erp(session, spare_erp.url, timeout_s=0.2).items(["10001"])


async def test_an_erp_down_at_start_up_is_picked_up_when_it_comes_back(
    session: aiohttp.ClientSession, spare_erp: ServerThread
) -> None:
    spare_erp.stop()
    adapter = erp(session, spare_erp.url)
    with pytest.raises(UpstreamUnavailable):
        await adapter.items(["10001"])
    spare_erp.start()
    found = await adapter.items(["10001", "10002"])
    assert sorted(found) == ["10001", "10002"]
    assert found["10001"].list_price is not None
    assert found["10001"].list_price.amount > Decimal(0)


async def test_a_page_wsdl_is_loaded_once_however_many_calls_need_it(
    adapter: ErpAdapter, erp_server: ServerThread
) -> None:
    await adapter.items(["10001"])
    await adapter.items(["10002"])
    counts = call_count(erp_server.url)
    assert counts["GET /WS/CRONUS/Page/ItemCard"] == 1
    assert counts["ItemCard:ReadMultiple"] == 2


async def test_calls_arriving_together_share_one_wsdl_load_and_its_failure(
    adapter: ErpAdapter, erp_server: ServerThread, knobs: Callable[..., object]
) -> None:
    """Calls that need a page's WSDL while it loads wait for that one load: when NAV
    fails it, all of them fail with its fault after one GET, not one GET each in turn;
    the next call loads it again, and that load is kept."""
    knobs(fault="soap_fault", latency_ms=50)
    failed = await asyncio.gather(
        *(adapter.items([sku]) for sku in ("10001", "10002", "10003", "10004")),
        return_exceptions=True,
    )
    assert all(isinstance(f, UpstreamFault) for f in failed)
    assert call_count(erp_server.url)["GET /WS/CRONUS/Page/ItemCard"] == 1
    knobs(fault="none", latency_ms=50)
    together = await asyncio.gather(adapter.items(["10001"]), adapter.items(["10002"]))
    await adapter.items(["10003"])
    assert [sorted(found) for found in together] == [["10001"], ["10002"]]
    assert call_count(erp_server.url)["GET /WS/CRONUS/Page/ItemCard"] == 2


def test_a_records_values_read_in_one_pass_are_the_values_read_field_by_field() -> None:
    """``_Fields.values()`` walks the record's element once (finding a document's lines
    asked every field by name again, a pass per field); it must give exactly what the
    field-by-field view gives, lines included, in the element's order."""
    from lxml import etree

    namespace = "urn:microsoft-dynamics-schemas/page/postedsalesinvoice"
    line = (
        "<Sales_Invoice_Line><Type>Item</Type><No>1000</No><Quantity>2</Quantity>"
        "</Sales_Invoice_Line>"
    )
    element = etree.fromstring(
        f'<PostedSalesInvoice xmlns="{namespace}"><No>103001</No><Empty/>'
        f"<SalesInvLines>{line}{line}</SalesInvLines><Cancelled>false</Cancelled>"
        "</PostedSalesInvoice>"
    )
    row = adapters.erp.adapter._row(element)
    one_pass = list(row.values())
    by_name = [row[name] for name in row]
    plain = [[dict(r) for r in v] if isinstance(v, list) else v for v in one_pass]
    assert plain == [[dict(r) for r in v] if isinstance(v, list) else v for v in by_name]
    lines = [{"Type": "Item", "No": "1000", "Quantity": "2"}] * 2
    assert plain == ["103001", None, lines, "false"]


def test_fields_found_in_one_pass_are_the_fields_searched_for_one_by_one() -> None:
    """A row finds the fields asked of earlier records of its type in one pass
    (``_Fields``); whatever was asked before, of which record, in which order, each
    field read is the record's own, and a field it lacks is None."""
    from lxml import etree

    def card(no: str, *fields: str) -> etree._Element:
        inner = "".join(f"<{field}>{no}-{field}</{field}>" for field in fields)
        return etree.fromstring(
            f'<ItemCard xmlns="urn:microsoft-dynamics-schemas/page/itemcard"><No>{no}</No>'
            f"{inner}</ItemCard>"
        )

    adapters.erp.adapter._ASKED.clear()
    first = adapters.erp.adapter._row(card("1", "Description", "GTIN"))
    second = adapters.erp.adapter._row(card("2", "GTIN", "Blocked"))
    assert first.get("No") == "1"  # the first row of its type: searched for
    assert second.get("Description") is None  # a pass for No; Description searched for
    assert first.get("GTIN") == "1-GTIN"  # asked of no row before: searched for
    third = adapters.erp.adapter._row(card("3", "Blocked", "Description"))
    assert [third.get(f) for f in ("GTIN", "Description", "No")] == [None, "3-Description", "3"]
    assert second.get("Blocked") == "2-Blocked"  # asked of a row made after this one's pass
    assert first["Description"] == "1-Description"
    assert second.get("GTIN") == "2-GTIN"
    with pytest.raises(KeyError):
        third["GTIN"]


CONTRACTS = Path(__file__).resolve().parent.parent / "contracts" / "erp"

#: ReadMultiple arguments of the adapter's shape: one filter and several, filter syntax
#: and characters XML escapes, text beyond ASCII, a bookmark, a page's set size
READS = {
    "one-filter": {"filter": [{"Field": "No", "Criteria": "1000|1001"}], "setSize": 1000},
    "several": {
        "filter": [
            {"Field": "Sell_to_Customer_No", "Criteria": "@C-1|@c-2"},
            {"Field": "Blocked", "Criteria": "false"},
        ],
        "bookmarkKey": None,
        "setSize": 1000,
    },
    "escaped": {"filter": [{"Field": "No", "Criteria": "'a&b'|<x>|\"q\""}], "setSize": 5},
    "unicode": {"filter": [{"Field": "E_Mail", "Criteria": "@zoë@exämple.nl"}], "setSize": 1},
    "bookmarked": {
        "filter": [{"Field": "No", "Criteria": "*"}],
        "bookmarkKey": "36;GwAAAAJ7/zEAMAAwADAAMQ==11;1234567890;",
        "setSize": 1000,
    },
}


@pytest.mark.parametrize("page", sorted(p.stem for p in CONTRACTS.glob("*.wsdl")))
@pytest.mark.parametrize("arguments", READS.values(), ids=READS.keys())
def test_a_read_multiple_built_directly_is_byte_for_byte_what_zeep_builds(
    page: str, arguments: dict[str, Any]
) -> None:
    """The adapter builds its ReadMultiple envelopes itself (zeep took four times as
    long); for every published page and each shape the adapter sends, the envelope and
    headers are exactly zeep's, the standard path."""
    service = Service.from_wsdl((CONTRACTS / f"{page}.wsdl").read_bytes(), f"http://erp/{page}")
    assert service.request("ReadMultiple", arguments) == service.standard_request(
        "ReadMultiple", arguments
    )


@pytest.mark.parametrize(
    ("arguments", "refusal"),
    [
        ({"filter": [{"Field": "No", "Criteria": "a\x00b"}], "setSize": 1}, UnsendableValue),
        ({"filter": [{"Field": "No", "Criteria": "a"}]}, BadUpstreamResponse),
        ({"filter": [], "setSize": 1}, BadUpstreamResponse),
        ({"filter": [{"Field": "No"}], "setSize": 1}, BadUpstreamResponse),
    ],
    ids=["control-character", "no-set-size", "no-filter", "no-criteria"],
)
def test_a_read_multiple_the_envelope_cannot_carry_is_refused_as_zeep_refuses_it(
    arguments: dict[str, Any], refusal: type[Exception]
) -> None:
    """What the direct path cannot build is refused with zeep's own refusal: the caller's
    value (BAD_USER_INPUT), or arguments the WSDL does not take."""
    service = Service.from_wsdl((CONTRACTS / "ItemCard.wsdl").read_bytes(), "http://erp/ItemCard")
    messages = []
    for build in (service.request, service.standard_request):
        with pytest.raises(refusal) as refused:
            build("ReadMultiple", arguments)
        messages.append(str(refused.value))
    assert messages[0] == messages[1]
