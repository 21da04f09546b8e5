"""The GraphiQL page in a real browser: Debian's Chromium, driven by Playwright, opens
GET /graphql on the real gateway, runs the ready Customer360 tab and shows the customer.

Playwright's own browser download cannot work on these machines; the test setup
(scripts/run-tests) installs Debian's ``chromium`` and Playwright drives it through
``executable_path``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from legacy.examples import examples
from tests.conftest import SEED, SIZE, _gateway
from tests.gateway_client import run_reference

pytestmark = pytest.mark.browser  # GraphiQL in Chromium

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RESULT = ".result-window"
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def ready() -> dict[str, dict[str, Any]]:
    return examples(SEED, SIZE)


@pytest.fixture(scope="module")
def graphiql_url(
    systems: dict[str, str],
    ready: dict[str, dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """A gateway whose GraphiQL has the examples ready, in debug mode so the result pane
    also lists the upstream calls."""
    examples_file = tmp_path_factory.mktemp("graphiql") / "examples.json"
    examples_file.write_text(json.dumps(ready))
    yield from _gateway(systems, cache=False, debug=True, examples_file=examples_file)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh context: GraphiQL keeps its tabs in localStorage, and a test
    must not open on the tabs the one before it left."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        yield page
    finally:
        context.close()


def test_graphiql_runs_the_ready_customer360_tab_and_shows_the_customer(
    page: Page,
    graphiql_url: str,
    ready: dict[str, dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{graphiql_url}/graphql")
    page.locator(".graphiql-tab-button", has_text="Customer360").click()
    expect(page.locator(".graphiql-editor-tool")).to_contain_text(ready["Customer360"]["card"])
    page.locator(".graphiql-execute-button").click()

    expected = run_reference(graphiql_url, "Customer360", ready["Customer360"])["data"]["customer"]
    result = page.locator(RESULT)
    expect(result).to_contain_text(expected["id"], timeout=TIMEOUT_MS)
    expect(result).to_contain_text(expected["name"])
    expect(result).to_contain_text(ready["Customer360"]["card"])
    # the pane draws only the lines in view; its editor holds the whole response
    shown = json.loads(
        page.evaluate(f"document.querySelector('{RESULT} .CodeMirror').CodeMirror.getValue()")
    )
    assert shown["data"]["customer"] == expected
    # debug mode lists every upstream call: Customer360's 12 (CRM 1, POS 5, ERP 6:
    # test_reference_queries; the sixth is the promotions read a channel's price needs
    # since issue 17), and on this new gateway the POS's location list, which
    # SearchOrders needs once an hour
    assert len(shown["extensions"]["upstream"]) == 13
    page.screenshot(path=tmp_path_factory.mktemp("screens") / "customer360.png")
    assert not errors, errors


def test_a_run_started_as_a_tab_opens_asks_for_that_tabs_operation(
    page: Page, graphiql_url: str, ready: dict[str, dict[str, Any]]
) -> None:
    """GraphiQL settles a tab's operation name a moment after the switch; the page's
    fetcher sends the one operation the document defines instead of the stale name."""
    page.goto(f"{graphiql_url}/graphql")
    page.locator(".graphiql-tab-button", has_text="Customer360").click()
    page.locator(".graphiql-execute-button").click()
    expect(page.locator(RESULT)).to_contain_text('"customer"', timeout=TIMEOUT_MS)
    page.locator(".graphiql-tab-button", has_text="ProductListing").click()
    page.locator(".graphiql-execute-button").click()  # at once, as a quick hand would
    expected = run_reference(graphiql_url, "ProductListing", ready["ProductListing"])["data"]
    first_sku = json.dumps(next(iter(expected.values()))[0]["sku"])
    expect(page.locator(RESULT)).to_contain_text(first_sku, timeout=TIMEOUT_MS)
    shown = json.loads(
        page.evaluate(f"document.querySelector('{RESULT} .CodeMirror').CodeMirror.getValue()")
    )
    assert "errors" not in shown, shown["errors"]
    assert shown["data"] == expected


def test_graphiql_opens_on_customer360_with_the_mutations_last(
    page: Page, graphiql_url: str
) -> None:
    """The first tab, and the one open, only reads: a newcomer's first run places no
    order (issue 18: it used to open on ClickAndCollect)."""
    page.goto(f"{graphiql_url}/graphql")
    tabs = page.locator(".graphiql-tab-button")
    expect(tabs.first).to_have_text("Customer360")
    expect(page.locator(".graphiql-tab-active")).to_contain_text("Customer360")
    titles = [t.strip() for t in tabs.all_inner_texts()]
    mutations = ["ClickAndCollect", "ReturnInStore"]
    assert titles[-len(mutations) :] == mutations


def test_the_explorer_builds_a_query_from_the_schema_offline(page: Page, graphiql_url: str) -> None:
    """The explorer plugin is in the sidebar, from the gateway's own assets, and lists
    the schema's root fields to tick."""
    offsite: list[str] = []
    page.on(
        "request",
        lambda request: (
            offsite.append(request.url)
            if not request.url.startswith((graphiql_url, "data:"))
            else None
        ),
    )
    page.goto(f"{graphiql_url}/graphql")
    page.locator(".graphiql-sidebar button[aria-label='Show GraphiQL Explorer']").click()
    explorer = page.locator(".graphiql-explorer-root")
    expect(explorer).to_contain_text("productSearch", timeout=TIMEOUT_MS)
    expect(explorer).to_contain_text("customer")
    assert offsite == []
