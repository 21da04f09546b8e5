"""The client story: graphql-codegen turns ``schema.graphql`` and the reference operations
(the screens) into TypeScript types and typed documents with Mosaic's scalars mapped,
and the example compiles against them (``clients/web/README.md``).

Needs ``npm ci --prefix clients/web`` (``scripts/run-tests`` does it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gateway.operations import reference_operations

WEB = Path(__file__).resolve().parent.parent / "clients" / "web"
GENERATED = WEB / "src" / "generated" / "graphql.ts"


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


def test_every_reference_operation_becomes_a_typed_document(generated: str) -> None:
    """The client sends the gateway's own reference operations (the screens GraphiQL
    has ready, whose calls the tests count), each with its result and variables types."""
    for name in reference_operations():
        assert f"export const {name}Document = " in generated, name
        assert re.search(rf"export type {name}(Query|Mutation)Variables = ", generated), name
