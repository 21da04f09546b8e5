"""GraphiQL's role picker: with a development token per role (as ``mosaic demo`` mints
them), the page asks as the store employee by default (who can run the reference
operations) and the picker, a menu in GraphiQL's own toolbar, switches the Authorization
header of every request.

The page's data is read as a browser tokenises it; the picker itself is driven in
Chromium against a real gateway that requires tokens.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from gateway.http.graphiql import ReadyOperation, render_graphiql_page
from legacy.examples import examples
from legacy.world import World
from tests.auth_tokens import SECRET, store_of, token
from tests.conftest import SEED, SIZE, _gateway
from tests.test_graphiql import PageReader

pytestmark = pytest.mark.browser  # GraphiQL's role picker in Chromium

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
OPERATION = ReadyOperation("Hello", "{ __typename }", {})
TIMEOUT_MS = 20_000


def config_of(page: str) -> dict[str, Any]:
    reader = PageReader()
    reader.feed(page)
    reader.close()
    return reader.config()


def test_the_page_asks_as_the_store_employee_when_there_is_a_token_for_one() -> None:
    tokens = {"customer": "c-token", "store_employee": "s-token", "service": "x-token"}
    config = config_of(render_graphiql_page([OPERATION], tokens=tokens))
    assert config["tokens"] == tokens
    assert config["role"] == "store_employee"
    assert config["headers"] == {"Authorization": "Bearer s-token"}
    assert config["headersText"] == ""  # the picker owns the header, not the tab


def test_without_a_store_employee_token_the_page_asks_as_the_first_role() -> None:
    config = config_of(render_graphiql_page([OPERATION], tokens={"marketing": "m", "service": "x"}))
    assert (config["role"], config["headers"]) == ("marketing", {"Authorization": "Bearer m"})


def test_without_tokens_there_is_no_role_and_the_headers_are_as_given() -> None:
    config = config_of(render_graphiql_page([OPERATION], headers={"X-Channel": "APP"}))
    assert (config["tokens"], config["role"]) == ({}, None)
    assert config["headers"] == {"X-Channel": "APP"}


@pytest.fixture(scope="module")
def demo_url(
    systems: dict[str, str], world: World, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A gateway set up as ``mosaic demo`` sets it up: a secret, a token per role."""
    examples_file = tmp_path_factory.mktemp("graphiql-roles") / "examples.json"
    examples_file.write_text(json.dumps(examples(SEED, SIZE)))
    tokens = {
        "store_employee": token("store_employee", store=store_of(world)),
        "partner": token("partner", partner="acme"),
    }
    yield from _gateway(
        systems,
        cache=False,
        jwt_secret=SECRET,
        graphiql_tokens=tokens,
        examples_file=examples_file,
    )


@pytest.fixture(scope="module")
def page(demo_url: str) -> Iterator[Page]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def _run_customer360(page: Page) -> dict[str, Any]:
    page.locator(".graphiql-tab-button", has_text="Customer360").click()
    card = examples(SEED, SIZE)["Customer360"]["card"]
    expect(page.locator(".graphiql-editor-tool")).to_contain_text(card)  # the tab is open
    page.locator(".graphiql-execute-button").click()
    result = page.locator(".result-window")
    # an answer, or a refusal before anything ran
    expect(result).to_contain_text(re.compile('"(customer|errors)"'), timeout=TIMEOUT_MS)
    shown: dict[str, Any] = json.loads(
        page.evaluate("document.querySelector('.result-window .CodeMirror').CodeMirror.getValue()")
    )
    return shown


def test_the_role_picker_switches_who_graphiql_asks_as(page: Page, demo_url: str) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{demo_url}/graphql")
    # in GraphiQL's toolbar, beside prettify, merge and copy (issue 18: it was a bare
    # <select> over the tab bar)
    picker = page.locator(".graphiql-toolbar button.mosaic-role")
    expect(picker).to_have_attribute("aria-label", re.compile("^Asking as store_employee"))
    expect(picker).to_have_text("SE")
    as_employee = _run_customer360(page)
    assert "errors" not in as_employee
    assert as_employee["data"]["customer"]["email"].count("***@") == 1

    picker.click()
    page.get_by_text("as partner", exact=False).click()
    expect(picker).to_have_attribute("aria-label", re.compile("^Asking as partner"))
    page.locator(".result-window").evaluate(
        "element => element.querySelector('.CodeMirror').CodeMirror.setValue('')"
    )
    as_partner = _run_customer360(page)
    # a partner may never read a customer: one error before anything runs (issue 18)
    assert "data" not in as_partner
    assert [e["extensions"]["code"] for e in as_partner["errors"]] == ["FORBIDDEN"]
    assert as_partner["errors"][0]["extensions"]["role"] == "partner"
    assert not errors, errors
