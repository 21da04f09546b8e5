"""Each upstream read is declared once (issue 16, ``resolvers/loading/reads.py``): its
name, source, batch function, key and value types and kind of fact. The fetch table,
the request's loaders and the gateway's cache policy are derived from that one table,
so these tests check that they agree with it and that nothing names a read it does
not declare.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.cache import Freshness
from gateway.caching.policy import FRESHNESS, VALUE_TYPES, freshness_for
from gateway.settings import Settings
from resolvers.loading.fetchers import Fetchers
from resolvers.loading.loaders import Loaders
from resolvers.loading.reads import READS, Fact, Fetch, UpstreamRead
from resolvers.loading.sources import Sources

ROOT = Path(__file__).resolve().parents[1]
#: where reads are named: the gateway, the schema, the benchmark and these tests
NAMED_IN = ("gateway", "resolvers", "bench", "tests")


class _Anything:
    """An adapter stand-in that answers every method name, so the fetch table can be
    built without systems (nothing is called)."""

    def __getattr__(self, name: str) -> Any:
        async def method(*args: Any) -> Any:
            raise AssertionError("not called")

        return method


def test_the_fetch_table_and_the_cache_store_hold_exactly_the_declared_reads() -> None:
    anything: Any = _Anything()
    sources = Sources(crm=anything, erp=anything, pos=anything, wms=anything)
    asked: list[tuple[str, str]] = []

    def wrap(name: str, source: str, fetch: Fetch) -> Any:
        asked.append((name, source))
        return fetch

    assert set(Fetchers.of(sources, wrap)) == set(READS) == set(VALUE_TYPES)
    assert asked == [(name, read.source) for name, read in READS.items()]
    assert {read.source for read in READS.values()} == {"crm", "erp", "pos", "wms"}


def test_a_list_valued_read_answers_an_unknown_key_with_an_empty_list() -> None:
    """Whether a read is list-valued follows from its declared value type alone."""
    assert {name for name, read in READS.items() if read.list_valued} == {
        "erp_orders_of",
        "pos_orders_of",
        "erp_returns_of",
        "erp_payments",
        "pos_payments",
        "categories",
        "items_in_category",
        "promotions",
        "store_stock",
        "warehouse_stock",
        "inbound",
        "stores",
        "warehouses",
    }


def test_every_kind_of_fact_has_a_freshness() -> None:
    assert set(FRESHNESS) == set(Fact)


@pytest.mark.parametrize(
    ("name", "ttl_s", "max_stale_s"),
    [
        ("crm_contact", 0, 0),  # customers are live
        ("erp_orders_of", 0, 0),  # orders are live
        ("item_search", 0, 0),  # searches are never cached
        ("item", 600, 86_400),  # product master: 10 min
        ("categories", 600, 86_400),
        ("price", 60, 3_600),  # channel prices: 60 s
        ("promotions", 60, 3_600),
        ("store_stock", 5, 60),  # stock: 5 s
        ("warehouse_stock", 5, 60),
        ("inbound", 5, 300),
        ("stores", 3_600, 86_400),  # places: MOSAIC_REFERENCE_TTL_S, 1 h by default
        ("warehouses", 3_600, 86_400),
    ],
)
def test_each_read_is_as_fresh_as_designs_table_says_for_its_kind(
    name: str, ttl_s: float, max_stale_s: float
) -> None:
    found = freshness_for(name, Settings())
    assert (found.ttl_s, found.max_stale_s) == (ttl_s, max_stale_s)


def test_a_per_read_ttl_override_wins_over_its_kind() -> None:
    settings = Settings(cache_ttl_s={"price": 30})
    assert freshness_for("price", settings).ttl_s == 30
    assert freshness_for("promotions", settings).ttl_s == 60
    assert FRESHNESS[Fact.PRICE] == Freshness(ttl_s=60, max_stale_s=3_600)


def test_a_read_declared_without_its_types_fails_when_declared() -> None:
    with pytest.raises((RuntimeError, TypeError)) as caught:

        class Untyped:
            orders = UpstreamRead("erp", Fact.LIVE, lambda s: s.erp.orders)

    # Python 3.11 wraps what __set_name__ raises in a RuntimeError
    error = caught.value.__cause__ or caught.value
    assert "must declare its types" in str(error)


def _refused(tree: ast.AST) -> set[int]:
    """The nodes under ``with pytest.raises(...)``: names a test means to be refused."""
    return {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.With)
        and any("raises" in ast.unparse(item.context_expr) for item in node.items)
        for statement in node.body
        for inner in ast.walk(statement)
    }


def _named_reads(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Where a module names a read: ``<...>loaders.<read>``, ``Load("<read>")``,
    ``freshness_for("<read>", ...)``."""
    refused = _refused(tree)
    for node in ast.walk(tree):
        if id(node) in refused:
            continue
        if isinstance(node, ast.Attribute):
            owner = node.value
            owned = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if owned == "loaders":
                yield node.lineno, node.attr
        elif isinstance(node, ast.Call) and node.args:
            called = node.func
            name = called.id if isinstance(called, ast.Name) else getattr(called, "attr", "")
            first = node.args[0]
            if name in {"Load", "freshness_for"} and isinstance(first, ast.Constant):
                yield node.lineno, str(first.value)


def test_nothing_names_a_read_it_does_not_declare() -> None:
    """The type checker holds the gateway to the declarations; this holds the tests and
    the string names (a field's loads, the freshness asked for) to them too."""
    members = set(dir(Loaders)) | set(vars(Loaders(Fetchers())))
    known = set(READS) | {name for name in members if not name.startswith("__")}
    unknown = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for folder in NAMED_IN
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line, name in _named_reads(ast.parse(path.read_text(), str(path)))
        if name not in known
    ]
    assert unknown == []
    assert len(READS) == 29
