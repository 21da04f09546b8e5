"""Sync resolvers with arguments or field extensions, called directly
(resolvers/engine/direct_calls.py), answer exactly as strawberry's own calls do: the same
arguments converted the same way, the same extensions around them, the same errors at
the same paths; and the arguments are converted once per field node, not per object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import strawberry
from graphql import ExecutionResult
from strawberry.extensions import FieldExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info

from resolvers.engine.direct_calls import DIRECT, mark_direct_calls
from resolvers.engine.execution import PLAIN, PlainFieldsExecution, mark_plain_fields
from tests.test_plain_fields import SeesEveryField

BUILT: list[str] = []


@strawberry.input
class Near:
    city: str
    radius_km: int = 10

    def __post_init__(self) -> None:
        BUILT.append(self.city)  # strawberry builds the input when it converts arguments


class Doubled(FieldExtension):
    """Doubles an integer answer: an extension around the resolver."""

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        return 2 * next_(source, info, **kwargs)


class Refuses(FieldExtension):
    """Refuses before the resolver runs, as the guard does."""

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        raise PermissionError(f"{info.field_name} refused for {source.name}")


class Shouts(FieldExtension):
    """Reshapes the converted arguments (``map_arguments``), as strawberry allows."""

    def map_arguments(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {**kwargs, "text": kwargs["text"].upper()}


async def later(value: str) -> str:
    return value


@strawberry.type
class Shop:
    name: str
    stock: int

    @strawberry.field
    def greeting(self, word: str = "hello", times: int = 1) -> str:
        return f"{word} {self.name}" * times

    @strawberry.field
    def where(self, info: Info, near: Near) -> str:
        return f"{self.name} near {near.city} within {near.radius_km} km ({info.field_name})"

    @strawberry.field(extensions=[Doubled()])
    def doubled_stock(self) -> int:
        return self.stock

    @strawberry.field(extensions=[Refuses()])
    def secret(self) -> str:
        return self.name

    @strawberry.field(extensions=[Shouts()])
    def echo(self, text: str) -> str:
        return text

    @strawberry.field
    def fails(self, when: int) -> int | None:
        if self.stock == when:
            raise ValueError(f"no count for {self.name}")
        return self.stock

    @strawberry.field
    def slow_name(self, suffix: str) -> str:
        return later(self.name + suffix)  # type: ignore[return-value]


SHOPS = [Shop(name="Ede", stock=1), Shop(name="Oss", stock=2), Shop(name="Urk", stock=3)]


@strawberry.type
class Query:
    @strawberry.field
    def shops(self) -> list[Shop]:
        return SHOPS


def schema(direct: bool) -> strawberry.Schema:
    context = PlainFieldsExecution if direct else StrawberryGraphQLCoreExecutionContext
    built = strawberry.Schema(query=Query, execution_context_class=context)
    if direct:
        mark_plain_fields(built._schema)
        mark_direct_calls(built, skip=PLAIN)
    return built


DIRECT_SCHEMA, USUAL = schema(True), schema(False)


async def both(query: str, variables: dict[str, Any] | None = None) -> ExecutionResult:
    """The direct answer, after checking it is strawberry's own."""
    direct = await DIRECT_SCHEMA.execute(query, variable_values=variables)
    usual = await USUAL.execute(query, variable_values=variables)
    assert direct.data == usual.data
    assert [(e.message, e.path) for e in direct.errors or []] == [
        (e.message, e.path) for e in usual.errors or []
    ]
    return direct


def marked(*names: str) -> set[str]:
    fields = DIRECT_SCHEMA._schema.type_map["Shop"].fields  # type: ignore[union-attr]
    return {name for name in names if DIRECT in fields[name].extensions}


def test_marks_sync_resolvers_with_arguments_or_extensions_but_not_plain_fields() -> None:
    resolved = {"greeting", "where", "doubledStock", "secret", "echo", "fails"}
    assert marked(*resolved, "slowName") == resolved | {"slowName"}
    assert not marked("name", "stock")  # plain: read straight off the object


async def test_literal_and_default_arguments_answer_the_same() -> None:
    result = await both('{ shops { greeting(times: 2) other: greeting(word: "hi") } }')
    assert result.data
    assert result.data["shops"][0] == {"greeting": "hello Edehello Ede", "other": "hi Ede"}


async def test_an_input_object_from_variables_and_info_answer_the_same() -> None:
    query = "query($near: Near!) { shops { where(near: $near) } }"
    result = await both(query, {"near": {"city": "Zeist"}})
    assert result.data
    assert result.data["shops"][1] == {"where": "Oss near Zeist within 10 km (where)"}


async def test_extensions_run_around_the_resolver_as_strawberry_runs_them() -> None:
    result = await both('{ shops { doubledStock echo(text: "x") } }')
    assert result.data
    assert [s["doubledStock"] for s in result.data["shops"]] == [2, 4, 6]
    assert [s["echo"] for s in result.data["shops"]] == ["X", "X", "X"]


async def test_an_extension_refusing_is_the_same_error_at_each_path() -> None:
    result = await both("{ shops { name secret } }")
    assert result.data is None  # secret is non-null, so is the list
    assert result.errors
    assert result.errors[0].message == "secret refused for Ede"
    assert result.errors[0].path == ["shops", 0, "secret"]


async def test_a_resolver_error_nulls_only_its_field() -> None:
    result = await both("{ shops { name fails(when: 2) } }")
    assert result.data
    assert [s["fails"] for s in result.data["shops"]] == [1, None, 3]
    assert result.errors
    assert result.errors[0].path == ["shops", 1, "fails"]


async def test_an_awaitable_from_a_sync_resolver_is_awaited_the_same() -> None:
    result = await both('{ shops { slowName(suffix: "!") } }')
    assert result.data
    assert [s["slowName"] for s in result.data["shops"]] == ["Ede!", "Oss!", "Urk!"]


async def test_arguments_are_converted_once_per_field_node_not_per_object() -> None:
    query = '{ shops { where(near: {city: "Zeist"}) } }'
    BUILT.clear()
    direct = await DIRECT_SCHEMA.execute(query)
    once = len(BUILT)
    BUILT.clear()
    usual = await USUAL.execute(query)
    assert direct.data == usual.data
    assert direct.data
    assert direct.data["shops"][2] == {"where": "Urk near Zeist within 10 km (where)"}
    assert (once, len(BUILT)) == (1, len(SHOPS))


def test_a_schema_extension_with_a_resolve_hook_still_sees_every_call() -> None:
    SeesEveryField.seen = []
    built = strawberry.Schema(
        query=Query, execution_context_class=PlainFieldsExecution, extensions=[SeesEveryField]
    )
    mark_plain_fields(built._schema)
    mark_direct_calls(built, skip=PLAIN)
    result = built.execute_sync("{ shops { doubledStock } }")
    assert not result.errors
    assert SeesEveryField.seen.count("doubledStock") == len(SHOPS)


@strawberry.type
class Oops:
    message: str


class OopsHandler(strawberry.ExceptionHandler[ValueError, Oops]):
    def handle(self, exception: ValueError, *, field: Any, info: Info) -> Oops:
        return Oops(message=str(exception))


def test_a_schema_with_exception_handlers_is_left_to_strawberry() -> None:
    built = strawberry.Schema(query=Query, types=[Oops], exception_handlers=[OopsHandler()])
    mark_direct_calls(built, skip=PLAIN)
    fields = built._schema.type_map["Shop"].fields  # type: ignore[union-attr]
    assert not any(DIRECT in field.extensions for field in fields.values())


@pytest.mark.parametrize("times", [0, 3])
async def test_a_variable_argument_answers_the_same_for_each_value(times: int) -> None:
    query = "query($n: Int!) { shops { greeting(times: $n) } }"
    result = await both(query, {"n": times})
    assert result.data
    assert result.data["shops"][2] == {"greeting": "hello Urk" * times}
