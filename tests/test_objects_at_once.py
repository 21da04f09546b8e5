"""Whole objects completed at once (resolvers/engine/execution.py: ``_fields_now``): an
object whose selected fields are all plain attributes, and the objects and lists of
objects under it, answer exactly as graphql-core's own execution answers them: the
same data, and wherever something in them is not plain (a null where none may be, an
object of the wrong type, an error, an awaitable), the same errors at the same paths."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionResult

from resolvers.engine.execution import PlainFieldsExecution, mark_plain_fields


@strawberry.interface
class Spot:
    code: str


@strawberry.type
class Site(Spot):
    """Strawberry gives a type with interfaces its own ``is_type_of``."""

    opened: date | None = None
    rent: Decimal = Decimal("12.50")


@strawberry.type
class Stock:
    site: Site
    count: int | None
    sites: list[Site | None]
    strict: list[Site]


async def later(site: Site) -> Site:
    return site


def stocks() -> list[Stock]:
    utrecht, oss = Site(code="UT", opened=date(2020, 3, 1)), Site(code="OS")
    return [
        Stock(site=utrecht, count=4, sites=[utrecht, None, oss], strict=[oss]),
        Stock(site=oss, count=None, sites=[], strict=[utrecht, oss]),
    ]


@strawberry.type
class Query:
    @strawberry.field
    def stocks(self) -> list[Stock]:
        return stocks()

    @strawberry.field
    async def later_stocks(self) -> list[Stock]:
        return stocks()

    @strawberry.field
    def wrong(self) -> list[Stock]:
        """An object of another type than declared."""
        stock = stocks()[0]
        stock.site = Stock(site=stock.site, count=0, sites=[], strict=[])  # type: ignore[assignment]
        return [stock]

    @strawberry.field
    def nothing(self) -> list[Stock]:
        """A null in a list of non-null objects."""
        stock = stocks()[0]
        stock.strict = [Site(code="UT"), None]  # type: ignore[list-item]
        return [stock]

    @strawberry.field
    def huge(self) -> list[Stock]:
        """A count beyond 32 bits, which Int cannot represent."""
        stock = stocks()[0]
        stock.count = 2**31
        return [stock]

    @strawberry.field
    def lost(self) -> list[Stock]:
        """An error and an awaitable among a list's objects."""
        stock = stocks()[0]
        stock.sites = [Site(code="UT"), ValueError("lost"), later(Site(code="EDE"))]  # type: ignore[list-item]
        return [stock]


def built(context_class: type[StrawberryGraphQLCoreExecutionContext]) -> strawberry.Schema:
    schema = strawberry.Schema(query=Query, types=[Site], execution_context_class=context_class)
    mark_plain_fields(schema._schema)
    return schema


SHORT, USUAL = built(PlainFieldsExecution), built(StrawberryGraphQLCoreExecutionContext)


def same(one: ExecutionResult, other: ExecutionResult) -> None:
    assert one.data == other.data
    assert [(e.message, e.path) for e in one.errors or []] == [
        (e.message, e.path) for e in other.errors or []
    ]


@pytest.mark.parametrize("field", ["stocks", "laterStocks"])  # from a sync and an async resolver
async def test_objects_with_dates_decimals_and_typed_interfaces_answer_the_same(
    field: str,
) -> None:
    selection = "count site { code opened rent } sites { code } strict { code }"
    query = f"{{ {field} {{ {selection} }} }}"
    result = await SHORT.execute(query)
    assert not result.errors
    assert result.data == {
        field: [
            {"count": 4, "site": {"code": "UT", "opened": "2020-03-01", "rent": "12.50"},
             "sites": [{"code": "UT"}, None, {"code": "OS"}], "strict": [{"code": "OS"}]},
            {"count": None, "site": {"code": "OS", "opened": None, "rent": "12.50"},
             "sites": [], "strict": [{"code": "UT"}, {"code": "OS"}]},
        ]
    }  # fmt: skip
    same(result, await USUAL.execute(query))


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ("{ wrong { count site { code } } }", ["wrong", 0, "site"]),
        ("{ nothing { count strict { code } } }", ["nothing", 0, "strict", 1]),
        ("{ lost { count sites { code } } }", ["lost", 0, "sites", 1]),
        ("{ huge { count site { code } } }", ["huge", 0, "count"]),
    ],
)
async def test_what_cannot_be_completed_at_once_is_the_same_error(
    query: str, path: list[object]
) -> None:
    result = await SHORT.execute(query)
    assert result.errors
    assert result.errors[0].path == path
    same(result, await USUAL.execute(query))
