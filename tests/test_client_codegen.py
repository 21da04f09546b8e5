"""The client story: graphql-codegen turns ``schema.graphql`` and a screen's operation
into TypeScript types with Mosaic's scalars mapped, the example compiles against them,
and its operation answers on the running gateway (``clients/web/README.md``).

Needs ``npm ci --prefix clients/web`` (``scripts/run-tests`` does it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from legacy.examples import showcase_card
from legacy.world import World
from tests.gateway_client import graphql

WEB = Path(__file__).resolve().parent.parent / "clients" / "web"
GENERATED = WEB / "src" / "generated" / "graphql.ts"
EXAMPLE = WEB / "src" / "orderHistory.ts"


def _npm(script: str) -> subprocess.CompletedProcess[str]:
    if not (WEB / "node_modules").is_dir():
        pytest.fail("clients/web is not installed: npm ci --prefix clients/web")
    npm = shutil.which("npm")
    assert npm, "npm is not on the PATH"
    return subprocess.run(
        [npm, "run", "--silent", script], cwd=WEB, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def generated() -> str:
    GENERATED.unlink(missing_ok=True)
    run = _npm("codegen")
    assert run.returncode == 0, run.stdout + run.stderr
    return GENERATED.read_text()


def test_codegen_maps_mosaics_scalars_to_the_text_they_travel_as(generated: str) -> None:
    """Decimal money is text (never a float); dates and instants are ISO text."""
    assert "total: { amount: string, currency: string } | null" in generated
    assert "placedAt: string | null" in generated
    assert ": any" not in generated


def test_codegen_gives_each_closed_vocabulary_a_union(generated: str) -> None:
    union = re.search(r"export type OrderStatus =((?:\s*\| '[A-Z_]+')+);", generated)
    assert union is not None
    assert set(re.findall(r"'([A-Z_]+)'", union[1])) == {
        "PLACED",
        "PROCESSING",
        "PARTIALLY_SHIPPED",
        "SHIPPED",
        "COMPLETED",
        "CANCELLED",
        "OPEN",
        "DRAFT",
    }


def test_the_example_compiles_against_the_generated_types(generated: str) -> None:
    run = _npm("typecheck")
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_examples_operation_pages_through_the_history_on_the_gateway(
    gateway_url: str, world: World
) -> None:
    found = re.search(r"/\* GraphQL \*/ `(.*?)`", EXAMPLE.read_text(), re.DOTALL)
    assert found is not None
    query = found[1]
    card = showcase_card(world)
    first = graphql(gateway_url, query, {"card": card, "first": 5, "after": None})
    assert "errors" not in first, first
    page = first["data"]["customer"]["orderHistory"]
    assert len(page["edges"]) == 5
    assert page["pageInfo"]["hasNextPage"]
    after = page["pageInfo"]["endCursor"]
    second = graphql(gateway_url, query, {"card": card, "first": 5, "after": after})
    ids = [
        e["node"]["id"]
        for p in (first, second)
        for e in p["data"]["customer"]["orderHistory"]["edges"]
    ]
    assert len(set(ids)) == 10
