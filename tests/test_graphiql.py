"""The GraphiQL page: everything it loads comes from the gateway itself (it must work
offline and behind a firewall), and it opens with the ready operations and their variables.

The page is read the way a browser tokenises it (html.parser ends a <script> at the first
`</script`, as browsers do), over real HTTP from a uvicorn server. That the page then
renders and runs a query in Chromium is checked by tools/graphiql/check_in_chromium.py.
"""

from __future__ import annotations

import json
import re
import tomllib
import urllib.request
from collections.abc import Iterator
from fnmatch import fnmatch
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from gateway.http.graphiql import (
    CONFIG_ELEMENT_ID,
    STATIC_DIR,
    ReadyOperation,
    render_graphiql_page,
    static_routes,
)
from legacy.common.runner import ServerThread

ROOT = Path(__file__).resolve().parents[1]
OPERATIONS = [
    ReadyOperation(
        "Customer360",
        "query Customer360($card: String!) { customer(by: {loyaltyCard: $card}) { name } }",
        {"card": "2610000002096", "channel": "STORE"},
    ),
    ReadyOperation("StockCheck", "query StockCheck($skus: [ID!]!) { x }", {"skus": ["1", "2"]}),
]
HEADERS = {"Authorization": "Bearer demo"}
HOSTILE_QUERY = "# </script><script>alert(1)</script> <!-- <SCRIPT>\nquery Evil { x }"
JS_TYPES = ("text/javascript", "application/javascript")


class PageReader(HTMLParser):
    """What a browser would load and run: asset URLs, script elements and their text."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.text: dict[int, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self.scripts.append(found)
        url = found.get("src") if tag == "script" else found.get("href")
        if tag in ("script", "link") and url:
            self.assets.append(url)

    def handle_data(self, data: str) -> None:
        if self.lasttag == "script" and self.scripts:
            index = len(self.scripts) - 1
            self.text[index] = self.text.get(index, "") + data

    def config(self) -> dict[str, Any]:
        """The JSON data element's content, parsed (as mosaic-graphiql.js does)."""
        [index] = [i for i, s in enumerate(self.scripts) if s.get("id") == CONFIG_ELEMENT_ID]
        data: dict[str, Any] = json.loads(self.text[index])
        return data


def read_page(url: str) -> PageReader:
    reader = PageReader()
    reader.feed(fetch(url)[0])
    reader.close()
    return reader


def fetch(url: str, accept: str = "text/html") -> tuple[str, dict[str, str]]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return response.read().decode(), dict(response.headers)


@pytest.fixture(scope="module")
def graphiql_url() -> Iterator[str]:
    pages = {
        "/graphql": render_graphiql_page(OPERATIONS, headers=HEADERS),
        "/hostile": render_graphiql_page([ReadyOperation("Evil", HOSTILE_QUERY, {"a": "</"})]),
    }

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(pages[request.url.path])

    app = Starlette(routes=[Route(path, page) for path in pages] + static_routes())
    server = ServerThread(app).start()
    yield server.url
    server.stop()


def test_the_page_loads_only_assets_from_the_gateway_itself(graphiql_url: str) -> None:
    assets = read_page(f"{graphiql_url}/graphql").assets
    assert assets
    for url in assets:
        parts = urlsplit(url)
        assert not parts.scheme, url
        assert not parts.netloc, url
        assert parts.path.startswith("/static/graphiql/"), url


def test_every_asset_the_page_loads_is_served_as_javascript_or_css(graphiql_url: str) -> None:
    for url in read_page(f"{graphiql_url}/graphql").assets:
        body, headers = fetch(f"{graphiql_url}{url}", accept="*/*")
        kind = headers["content-type"].split(";")[0]
        expected = ("text/css",) if urlsplit(url).path.endswith(".css") else JS_TYPES
        assert kind in expected, (url, kind)
        assert body.strip(), url


def test_assets_at_the_page_urls_may_be_cached_for_a_year(graphiql_url: str) -> None:
    for url in read_page(f"{graphiql_url}/graphql").assets:
        _body, headers = fetch(f"{graphiql_url}{url}", accept="*/*")
        assert headers["cache-control"] == "public, max-age=31536000, immutable"


def test_assets_without_the_current_version_are_revalidated(graphiql_url: str) -> None:
    _body, headers = fetch(f"{graphiql_url}/static/graphiql/vendor/graphiql.js?v=old", "*/*")
    assert headers["cache-control"] == "no-cache"
    assert headers["etag"]


def test_the_page_opens_one_tab_per_query_in_the_given_order(graphiql_url: str) -> None:
    config = read_page(f"{graphiql_url}/graphql").config()
    tabs = [(op["name"], op["query"]) for op in config["operations"]]
    assert tabs == [(op.name, op.query) for op in OPERATIONS]


def test_graphiql_opens_on_a_query_and_puts_the_mutations_last() -> None:
    """Issue 18: the first run of a newcomer must not place an order. The operations come
    as the gateway lists them (by file name: ClickAndCollect first); Customer360 opens,
    ProductListing follows, other queries keep their order, mutations go last."""
    given = [
        ReadyOperation("ClickAndCollect", "mutation ClickAndCollect { placeOrder }", {}),
        ReadyOperation("CategoryPage", "query CategoryPage { productSearch }", {}),
        ReadyOperation("ProductListing", "query ProductListing { products }", {}),
        ReadyOperation("ReturnInStore", "# a return\nmutation ReturnInStore { x }", {}),
        ReadyOperation("Customer360", "query Customer360 { customer }", {}),
        ReadyOperation("StockChanged", "subscription StockChanged { stockChanged }", {}),
        ReadyOperation("Shorthand", "{ __typename }", {}),
    ]
    reader = PageReader()
    reader.feed(render_graphiql_page(given))
    names = [op["name"] for op in reader.config()["operations"]]
    assert names == [
        "Customer360",
        "ProductListing",
        "CategoryPage",
        "Shorthand",
        "StockChanged",
        "ClickAndCollect",
        "ReturnInStore",
    ]


def test_each_tab_has_its_variables_as_pretty_printed_json(graphiql_url: str) -> None:
    config = read_page(f"{graphiql_url}/graphql").config()
    for sent, ready in zip(config["operations"], OPERATIONS, strict=True):
        assert json.loads(sent["variables"]) == ready.variables
        assert sent["variables"] == json.dumps(ready.variables, indent=2)


def test_the_page_posts_to_the_endpoint_with_the_default_headers(graphiql_url: str) -> None:
    config = read_page(f"{graphiql_url}/graphql").config()
    assert config["endpoint"] == "/graphql"
    assert config["headers"] == HEADERS
    assert json.loads(config["headersText"]) == HEADERS


def test_a_query_with_a_closing_script_tag_stays_inside_the_data_element(
    graphiql_url: str,
) -> None:
    html = fetch(f"{graphiql_url}/hostile")[0]
    reader = read_page(f"{graphiql_url}/hostile")
    assert [op["query"] for op in reader.config()["operations"]] == [HOSTILE_QUERY]
    assert reader.config()["operations"][0]["variables"] == json.dumps({"a": "</"}, indent=2)
    assert len(reader.scripts) == 3  # the data element and the two static scripts
    data_element = html[html.index(f'id="{CONFIG_ELEMENT_ID}"') : html.index("<script src=")]
    assert len(re.findall("</script", data_element, flags=re.IGNORECASE)) == 1


def test_the_title_cannot_inject_markup() -> None:
    page = render_graphiql_page(OPERATIONS, title="</title><script>alert(1)</script>")
    assert "<title>&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>" in page


def test_the_explorer_plugin_is_bundled_with_the_rest() -> None:
    """Offline like everything else: the query builder is in the vendored bundle, and the
    page's script adds it to GraphiQL's plugins."""
    bundle = (STATIC_DIR / "vendor/graphiql.js").read_text()
    assert "graphiql-explorer" in bundle
    assert "explorerPlugin" in (STATIC_DIR / "mosaic-graphiql.js").read_text()
    assert ".graphiql-explorer-root" in (STATIC_DIR / "vendor/graphiql.css").read_text()


def test_the_licence_notices_name_the_pinned_packages() -> None:
    pins = json.loads((ROOT / "tools/graphiql/package.json").read_text())["dependencies"]
    notices = (STATIC_DIR / "vendor/THIRD_PARTY_NOTICES.txt").read_text()
    for package, version in pins.items():
        assert f"  {package} {version} (MIT)\n" in notices


def test_every_static_file_is_installed_with_the_package() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["*"]
    files = [p for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert any(fnmatch(path.name, pattern) for pattern in patterns), path


def test_the_gateway_answers_a_browser_with_its_graphiql_page(gateway_url: str) -> None:
    reader = read_page(f"{gateway_url}/graphql")
    assert reader.config()["endpoint"] == "/graphql"
    for url in reader.assets:
        assert fetch(f"{gateway_url}{url}", accept="*/*")[0]
