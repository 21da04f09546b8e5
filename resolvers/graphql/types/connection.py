"""Relay connections: the lists with no natural bound (a catalogue search, a customer's
whole order history), read a page at a time with opaque cursors (DESIGN: Lists).

A cursor is base64url text of JSON ``[list, position]``: which list it belongs to (a
cursor of one list handed to another is refused, not misread) and where that list
stands after its edge (the ERP's bookmark for a search, each system's position for an
order history). Clients must treat it as opaque: it may change shape with any release.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any, Generic, TypeVar

import strawberry

from adapters.errors import BadUserInput
from resolvers.graphql.inputs import CURSOR, argument

T = TypeVar("T")
#: the most edges one page holds; a screen shows a few dozen
MAX_FIRST = 100
#: a connection field's arguments, the same on every list
First = Annotated[int, strawberry.argument(description=f"How many, at most {MAX_FIRST}.")]
After = Annotated[str | None, argument(CURSOR, "The `endCursor` of the page before.")]


@strawberry.type(description="Where a page of a list stands: whether more follow, and from where.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="True when a next page follows: ask again with `after: endCursor`."
    )
    end_cursor: str | None = strawberry.field(
        description="The last edge's cursor; null on an empty page."
    )


@strawberry.type(description="One item of a page, with the cursor to go on after it.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(
        description="Opaque: pass it as `after` to get the items after this one."
    )
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="One page of a list: its edges in order, and where it stands.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The page's items, in the list's order.")
    page_info: PageInfo = strawberry.field(description="Whether more follow, and from where.")

    @classmethod
    def of(cls, edges: list[Edge[T]], more: bool) -> Connection[T]:
        end = edges[-1].cursor if edges else None
        return cls(edges=edges, page_info=PageInfo(has_next_page=more, end_cursor=end))


def first_checked(first: int) -> int:
    """``first`` within 0..MAX_FIRST, else BAD_USER_INPUT on the field."""
    if not 0 <= first <= MAX_FIRST:
        raise BadUserInput(f"first must be between 0 and {MAX_FIRST}", field=["first"])
    return first


def cursor(list_name: str, position: Any) -> str:
    """The opaque cursor of ``position`` in the list ``list_name``."""
    text = json.dumps([list_name, position], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def position(after: str | None, list_name: str) -> Any:
    """The position an ``after`` cursor of ``list_name`` names (None without one); a
    cursor this list did not give is BAD_USER_INPUT."""
    if after is None:
        return None
    try:
        padded = after + "=" * (-len(after) % 4)
        found = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        found = None
    if not isinstance(found, list) or len(found) != 2 or found[0] != list_name:
        raise BadUserInput(f"after is not a cursor of {list_name}", field=["after"])
    return found[1]
