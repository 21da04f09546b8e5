"""Browsing the catalogue: ``productSearch`` pages through the ERP's item cards with
NAV's own filters and bookmarks, keeping to each channel's assortment, and
``categories`` lists NAV's item categories.

What a search should find is worked out from the world the simulated ERP was seeded
with; the simulated NAV is held to NAV's filter and bookmark semantics by its own
tests at the end (wildcards, ``@``, key order, continuing after a bookmark).
"""

from __future__ import annotations

from typing import Any

import pytest
import zeep

from legacy.world import CATEGORY_NAMES, Item, World
from tests.gateway_client import codes, graphql
from tests.simulators import call_count, clear_calls

SEARCH = """query($text: String, $category: String, $channel: Channel, $first: Int!,
                  $after: String) {
  productSearch(text: $text, category: $category, channel: $channel, first: $first,
                after: $after) {
    edges { cursor node { id sku name category channels } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def _sold(world: World, channel: str = "WEB", **where: Any) -> list[Item]:
    """What a search should find: unblocked items sold in ``channel``, in item order."""
    text = where.get("text")
    category = where.get("category")
    return sorted(
        (
            i
            for i in world.items
            if not i.blocked
            and channel in i.channels
            and (text is None or text.casefold() in i.description.casefold())
            and (category is None or i.category == category)
        ),
        key=lambda i: i.no,
    )


def _pages(url: str, first: int, headers: dict[str, str] | None = None, **args: Any) -> list[Any]:
    """Every page of a search, following the cursors to the end."""
    pages, after = [], None
    while True:
        result = graphql(url, SEARCH, {**args, "first": first, "after": after}, headers)
        assert "errors" not in result, result
        page = result["data"]["productSearch"]
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]
        assert len(pages) < 100


def _skus(pages: list[Any]) -> list[str]:
    return [edge["node"]["sku"] for page in pages for edge in page["edges"]]


def test_a_text_search_finds_every_product_whose_name_holds_it_in_any_case(
    gateway_url: str, world: World
) -> None:
    pages = _pages(gateway_url, 3, text="SNEAKER")
    assert _skus(pages) == [i.no for i in _sold(world, text="sneaker")]
    assert all("sneaker" in e["node"]["name"].lower() for p in pages for e in p["edges"])
    assert len(pages) > 1


def test_a_category_page_comes_in_pages_each_starting_after_the_last(
    gateway_url: str, world: World
) -> None:
    expected = [i.no for i in _sold(world, category="SHOES")]
    first = graphql(gateway_url, SEARCH, {"category": "SHOES", "first": 10})["data"]
    page = first["productSearch"]
    assert [e["node"]["sku"] for e in page["edges"]] == expected[:10]
    assert page["pageInfo"] == {"hasNextPage": True, "endCursor": page["edges"][-1]["cursor"]}
    after = page["pageInfo"]["endCursor"]
    second = graphql(gateway_url, SEARCH, {"category": "SHOES", "first": 10, "after": after})
    assert [e["node"]["sku"] for e in second["data"]["productSearch"]["edges"]] == expected[10:20]
    assert all(e["node"]["category"] == "SHOES" for e in page["edges"])


def test_the_last_page_says_nothing_follows(gateway_url: str, world: World) -> None:
    expected = [i.no for i in _sold(world, category="TOYS")]
    pages = _pages(gateway_url, len(expected))
    assert pages  # the whole catalogue, in pages of that size
    exact = graphql(gateway_url, SEARCH, {"category": "TOYS", "first": len(expected)})
    page = exact["data"]["productSearch"]
    assert [e["node"]["sku"] for e in page["edges"]] == expected
    assert page["pageInfo"]["hasNextPage"] is False


def test_a_search_keeps_to_the_channels_assortment(gateway_url: str, world: World) -> None:
    """A product sold in stores only is never found online, and one sold online only never
    by a store's tablet, whether the channel comes from the argument or the header."""
    web = _skus(_pages(gateway_url, 50, category="HOME"))
    store = _skus(_pages(gateway_url, 50, category="HOME", channel="STORE"))
    by_header = _skus(_pages(gateway_url, 50, {"X-Channel": "STORE"}, category="HOME"))
    assert web == [i.no for i in _sold(world, "WEB", category="HOME")]
    assert store == by_header == [i.no for i in _sold(world, "STORE", category="HOME")]
    assert set(web) != set(store)


def test_blocked_items_are_never_found(gateway_url: str, world: World) -> None:
    blocked = {i.no for i in world.items if i.blocked}
    assert blocked
    assert not blocked & set(_skus(_pages(gateway_url, 100)))


def test_text_that_is_nav_filter_syntax_is_searched_for_as_text(
    gateway_url: str, world: World
) -> None:
    """``|``, ``*``, ``'``, ``..``, ``@`` and ``&`` would be NAV filter syntax: the search
    matches them as plain characters, and never answers a fault."""
    for text in ("a|b", "*", "'", "x..y", "@", "Home & living", "(", "?"):
        result = graphql(gateway_url, SEARCH, {"text": text, "first": 5})
        assert "errors" not in result, (text, result)
        expected = [i.no for i in _sold(world, text=text)][:5]
        assert [e["node"]["sku"] for e in result["data"]["productSearch"]["edges"]] == expected
    dotted = graphql(gateway_url, SEARCH, {"text": "n b", "first": 50})["data"]
    assert [e["node"]["sku"] for e in dotted["productSearch"]["edges"]] == [
        i.no for i in _sold(world, text="n b")
    ][:50]


def test_a_product_found_has_its_global_id(gateway_url: str) -> None:
    result = graphql(gateway_url, SEARCH, {"first": 1})
    node = result["data"]["productSearch"]["edges"][0]["node"]
    assert node["id"] == f"product:{node['sku']}"


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"first": 5, "after": "not a cursor"}, "after"),
        ({"first": 101}, "first"),
        ({"first": -1}, "first"),
        ({"first": 5, "text": "x" * 51}, "text"),
    ],
)
def test_a_bad_page_request_is_refused_on_the_field(
    gateway_url: str, variables: dict[str, Any], field: str
) -> None:
    result = graphql(gateway_url, SEARCH, variables)
    assert result["data"] == {"productSearch": None}
    assert codes(result) == ["BAD_USER_INPUT"]
    assert result["errors"][0]["extensions"]["field"] == [field]


def test_a_cursor_of_another_list_is_refused(gateway_url: str) -> None:
    from resolvers.graphql.types.connection import cursor

    other = cursor("orderHistory", {"erp": None})
    result = graphql(gateway_url, SEARCH, {"first": 5, "after": other})
    assert codes(result) == ["BAD_USER_INPUT"]
    assert "not a cursor of productSearch" in result["errors"][0]["message"]


def test_a_search_page_is_one_item_card_read(gateway_url: str, systems: dict[str, str]) -> None:
    """The page's item cards come with the search: one ItemCard ReadMultiple (NAV's
    filters and the bookmark), no second read of the cards for the fields below. (The
    session's gateway may not have read ItemCard's WSDL yet, once: a first search does.)"""
    graphql(gateway_url, SEARCH, {"category": "KITCHEN", "first": 10})
    clear_calls(systems["erp"])
    result = graphql(gateway_url, SEARCH, {"category": "KITCHEN", "first": 10})
    assert "errors" not in result
    assert call_count(systems["erp"]) == {"ItemCard:ReadMultiple": 1}


def test_categories_are_the_erps_item_categories(gateway_url: str, world: World) -> None:
    result = graphql(gateway_url, "{ categories { code name parentCode } }")
    assert "errors" not in result
    assert result["data"]["categories"] == [
        {"code": code, "name": CATEGORY_NAMES[code], "parentCode": None}
        for code in sorted({i.category for i in world.items})
    ]


# --- the simulated NAV keeps to NAV's filters and bookmarks ------------------------------


@pytest.fixture(scope="module")
def item_card(systems: dict[str, str]) -> Any:
    return zeep.Client(f"{systems['erp']}/WS/CRONUS/Page/ItemCard").service


def _read(
    service: Any, *filters: tuple[str, str], bookmark: str | None = None, size: int = 0
) -> list[Any]:
    found = service.ReadMultiple(
        filter=[{"Field": f, "Criteria": c} for f, c in filters], bookmarkKey=bookmark, setSize=size
    )
    return list(found or [])


def test_nav_wildcards_match_any_text_and_one_character(item_card: Any, world: World) -> None:
    starred = _read(item_card, ("Description", "*sneaker"))
    assert {r.No for r in starred} == {
        i.no for i in world.items if i.description.endswith("sneaker")
    }
    one = _read(item_card, ("Description", "Veloce?black*"))
    assert {r.No for r in one} == {
        i.no for i in world.items if i.description.startswith("Veloce black")
    }
    assert _read(item_card, ("Description", "*SNEAKER")) == []  # without @, case counts


def test_nav_at_sign_makes_a_wildcard_ignore_case(item_card: Any, world: World) -> None:
    found = _read(item_card, ("Description", "@*SNEAKER*"))
    assert {r.No for r in found} == {i.no for i in world.items if "sneaker" in i.description}


def test_nav_reads_in_key_order_and_goes_on_after_a_bookmark(item_card: Any) -> None:
    everything = [r.No for r in _read(item_card, ("Item_Category_Code", "SHOES"))]
    assert everything == sorted(everything)
    first = _read(item_card, ("Item_Category_Code", "SHOES"), size=4)
    rest = _read(item_card, ("Item_Category_Code", "SHOES"), bookmark=first[-1].Key, size=100)
    assert [r.No for r in first + rest] == everything
