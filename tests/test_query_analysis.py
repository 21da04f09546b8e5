"""The depth and cost analysis never expands fragments: each fragment's figures are
computed once, the walk stops as soon as the bound is passed, and the whole of it runs
within a time budget. A 1.3 KB document of 30 fragments, each spreading the next one
twice (2^30 paths), is refused at once with a code, and while hostile documents are
parsed and checked, the gateway goes on answering everyone else."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import count

import pytest
from graphql import FragmentDefinitionNode, GraphQLNamedType, GraphQLSchema, parse

from gateway.security.complexity import AnalysisTooLong, Budget, Complexity
from resolvers.graphql.schema import build_schema
from tests.auth_tokens import SECRET, bearer
from tests.conftest import _gateway
from tests.test_hostile_requests import query, send

AGENT = bearer("service_agent")
#: how long anything here may take before the test calls it a hang (not a timing claim)
HANG_GUARD_S = 20.0


def fan_out(levels: int, leaf: str = "sku") -> str:
    """``fragment F0 on Product { ...F1 ...F1 }`` and so on: 2^levels paths."""
    fragments = " ".join(
        f"fragment F{i} on Product {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    )
    last = f"fragment F{levels} on Product {{ {leaf} }}"
    return f'{{ product(sku: "10000") {{ ...F0 }} }} {fragments} {last}'


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema()._schema  # type: ignore[attr-defined, no-any-return]


@pytest.fixture(scope="module")
def production_url(systems: dict[str, str]) -> Iterator[str]:
    yield from _gateway(
        systems, cache=False, env="production", jwt_secret=SECRET, rate_limit_per_s=0.0
    )


class Counting(Complexity):
    """The analysis, counting how often each fragment is walked."""

    walked: Counter[str]

    def walk_fragment_depth(self, fragment: FragmentDefinitionNode) -> int:
        self.walked["depth " + fragment.name.value] += 1
        return super().walk_fragment_depth(fragment)

    def walk_fragment_aliases(self, fragment: FragmentDefinitionNode) -> int:
        self.walked["aliases " + fragment.name.value] += 1
        return super().walk_fragment_aliases(fragment)

    def walk_fragment_cost(self, fragment: FragmentDefinitionNode, kind: GraphQLNamedType) -> int:
        self.walked["cost " + fragment.name.value] += 1
        return super().walk_fragment_cost(fragment, kind)


def counting(schema: GraphQLSchema, text: str) -> tuple[Counting, object]:
    document = parse(text)
    walk = Counting(schema, document, Budget(HANG_GUARD_S))
    walk.walked = Counter()
    return walk, document.definitions[0]


def test_each_fragment_is_walked_once_however_often_it_is_spread(schema: GraphQLSchema) -> None:
    walk, operation = counting(schema, fan_out(30, leaf="aliased: sku"))
    assert walk.cost(operation) == 1 + 2**30  # type: ignore[arg-type]
    assert walk.depth(operation) == 1  # type: ignore[arg-type]
    assert walk.aliases([operation]) == 2**30  # type: ignore[list-item]
    assert walk.walked == Counter(
        {f"{figure} F{i}": 1 for i in range(31) for figure in ("cost", "depth", "aliases")}
    )


def test_the_walk_stops_as_soon_as_the_bound_is_passed(schema: GraphQLSchema) -> None:
    text = (
        'query($many: [ID!]!) { products(skus: $many) { ...Big } product(sku: "1") { ...After } }'
        " fragment Big on Product { stock { location { name } } }"
        " fragment After on Product { name }"
    )
    walk, operation = counting(schema, text)
    walk.variables = {"many": ["1"] * 500}
    assert walk.cost(operation, bound=100) == 101  # type: ignore[arg-type]
    assert walk.walked == Counter({"cost Big": 1})  # After never walked


def test_an_analysis_past_its_time_budget_is_refused_with_a_code(schema: GraphQLSchema) -> None:
    ticks = count()
    slow_clock = lambda: float(next(ticks))  # noqa: E731  one second per look at it
    walk = Complexity(schema, parse(fan_out(3)), Budget(5.0, clock=slow_clock))
    with pytest.raises(AnalysisTooLong) as refused:
        walk.cost(parse(fan_out(3)).definitions[0])  # type: ignore[arg-type]
    assert refused.value.extensions == {
        "code": "MAX_ANALYSIS_TIME_EXCEEDED",
        "maxAnalysisMs": 5000.0,
    }


def test_depth_through_fragments_is_counted_and_refused(production_url: str) -> None:
    chain = " ".join(
        f"fragment D{i} on Order {{ customer {{ orders(last: 1) {{ ...D{i + 1} }} }} }}"
        for i in range(10)
    )
    text = f'{{ order(id: "erp:1") {{ ...D0 }} }} {chain} fragment D10 on Order {{ id }}'
    status, answer, _ = send(production_url, query(text), **AGENT)
    assert status == 400
    assert [e["extensions"]["code"] for e in answer["errors"]] == ["MAX_DEPTH_EXCEEDED"]


def test_the_30_level_fan_out_is_refused_with_a_code(production_url: str) -> None:
    document = fan_out(30)
    assert len(document) < 1400
    status, answer, _ = send(production_url, query(document), **AGENT)
    assert status == 400
    assert answer["errors"][0]["extensions"] == {"code": "MAX_COST_EXCEEDED", "maxCost": 50_000}
    assert "data" not in answer


def test_an_analysis_budget_too_small_for_any_document_refuses_with_its_code(
    systems: dict[str, str],
) -> None:
    for url in _gateway(systems, max_analysis_ms=1e-9):
        status, answer, _ = send(url, query('{ product(sku: "10000") { sku } }'))
        assert status == 400
        assert answer["errors"][0]["extensions"]["code"] == "MAX_ANALYSIS_TIME_EXCEEDED"


def healthz(url: str) -> int:
    with urllib.request.urlopen(url + "/healthz", timeout=HANG_GUARD_S) as answer:
        status: int = answer.status
        assert json.loads(answer.read()) == {"status": "alive"}
        return status


def test_healthz_answers_while_hostile_documents_are_in_flight(production_url: str) -> None:
    """Hostile documents from four clients (the fan-out; 2,400 fields that validation
    compares pairwise; a 250 KB string to scan), while another client asks /healthz
    over and over: every answer comes, none hangs."""
    hostile = [
        query(fan_out(30)),
        query("{ " + "__typename " * 2400 + "}"),
        query('{ product(sku: "' + "x" * 250_000 + '") { sku } }'),
    ]
    done = threading.Event()

    def attacker(index: int) -> int:
        sent = 0
        while not done.is_set():
            body = hostile[(index + sent) % len(hostile)].replace(
                b"{ ", f"{{ a{sent}: __typename ".encode(), 1
            )
            status, _, _ = send(production_url, body, **AGENT)
            assert status in (200, 400)
            sent += 1
        return sent

    with ThreadPoolExecutor(max_workers=4) as pool:
        attackers = [pool.submit(attacker, i) for i in range(4)]
        try:
            started = time.monotonic()
            answers = [healthz(production_url) for _ in range(20)]
            assert time.monotonic() - started < HANG_GUARD_S
        finally:
            done.set()
        sent = [a.result(timeout=HANG_GUARD_S) for a in attackers]
    assert answers == [200] * 20
    assert all(n > 0 for n in sent)
