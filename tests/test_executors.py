"""MOSAIC_EXECUTOR: the engine (resolvers/engine/) and strawberry's own execution serve
the same schema and give the same answers with the same upstream calls; the standard
executor runs without the engine ever being imported.

The reference operations' expectations, the authorisation matrix and the write tests
also run under both executors (``each_executor_url`` and the parametrised gateways in
their modules); this module compares the two answers whole.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from graphql import OperationDefinitionNode, OperationType, parse

from gateway.operations import reference_operations
from legacy.examples import examples
from resolvers.graphql.execution_context import AcyclicExecution
from resolvers.graphql.schema import build_schema
from tests.conftest import SEED, SIZE
from tests.gateway_client import counted
from tests.without_engine import ORDER

ROOT = Path(__file__).resolve().parent.parent


def _is_query(document: str) -> bool:
    return all(
        d.operation is OperationType.QUERY
        for d in parse(document).definitions
        if isinstance(d, OperationDefinitionNode)
    )


#: the reference operations that only read (the writes change what the next one sees)
READS = [name for name, document in reference_operations().items() if _is_query(document)]


def _engine_marks(schema: Any) -> set[str]:
    """The keys the engine leaves in the graphql-core fields' extensions."""
    return {
        key
        for named in schema._schema.type_map.values()
        for field in getattr(named, "fields", {}).values()
        for key in getattr(field, "extensions", None) or {}
        if key.startswith("mosaic-")
    }


@pytest.fixture(scope="module")
def variables() -> dict[str, dict[str, Any]]:
    return examples(SEED, SIZE)


def test_both_executors_serve_the_same_schema_only_the_fast_one_marked() -> None:
    fast, standard = build_schema(), build_schema(executor="standard")
    assert standard.as_str() == fast.as_str()
    # strawberry's own execution context, which only drops its helpers at the end
    assert standard.execution_context_class is AcyclicExecution
    assert _engine_marks(standard) == set()
    assert _engine_marks(fast) == {"mosaic-field-shape", "mosaic-plain-field", "mosaic-direct-call"}


def test_every_reference_operation_is_compared() -> None:
    assert set(ORDER) == set(reference_operations())
    assert {"Customer360", "ProductListing", "StockCheck"} <= set(READS)


@pytest.mark.parametrize("name", READS)
def test_every_reference_read_answers_alike_under_both_with_the_same_calls(
    name: str,
    systems: dict[str, str],
    gateway_url: str,
    standard_gateway_url: str,
    variables: dict[str, dict[str, Any]],
) -> None:
    """Data, errors (message, path, code) and each source operation's call count alike:
    prefetching is the resolvers' own (resolvers/loading/prefetch.py reads the selection
    through strawberry's public API), so the standard executor makes the same calls in
    the same rounds."""
    fast, fast_calls = counted(systems, gateway_url, name, variables[name])
    standard, standard_calls = counted(systems, standard_gateway_url, name, variables[name])
    assert "errors" not in fast
    assert standard == fast
    assert standard_calls == fast_calls


@pytest.mark.parametrize("executor", ["fast", "standard"])
def test_readyz_names_the_executor_in_use(
    executor: str, gateway_url: str, standard_gateway_url: str
) -> None:
    url = gateway_url if executor == "fast" else standard_gateway_url
    with urllib.request.urlopen(url + "/readyz", timeout=10) as reply:
        assert json.loads(reply.read())["executor"] == executor


@pytest.mark.process
def test_the_standard_executor_serves_every_reference_operation_without_the_engine(
    gateway_url: str, variables: dict[str, dict[str, Any]]
) -> None:
    """A process in which importing resolvers.engine fails, told MOSAIC_EXECUTOR=standard
    through its environment, runs every reference operation (the reads first) against
    fresh systems: the reads answer exactly as the fast gateway of the session does, the
    writes succeed."""
    child = subprocess.run(
        [sys.executable, "-m", "tests.without_engine"],
        cwd=ROOT,
        env={**os.environ, "MOSAIC_EXECUTOR": "standard"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(child.stdout.splitlines()[-1])
    assert report["executor"] == "standard"
    assert report["engine_loaded"] is False
    answers = report["answers"]
    for name in READS:
        fast = counted({}, gateway_url, name, variables[name])[0]
        assert answers[name] == fast, name
    placed = answers["ClickAndCollect"]["data"]["placeOrder"]
    assert placed["errors"] == []
    assert placed["order"]["status"] == "PLACED"
    registered = answers["ReturnInStore"]["data"]["registerReturn"]
    assert registered["errors"] == []
    assert registered["return"]["status"] == "REGISTERED"
