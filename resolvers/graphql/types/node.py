"""The ``Node`` interface: every object with a global id a client can find again by
``node(id:)`` (DESIGN: Lists; the id forms are in ``resolvers/graphql/ids.py``).

Implementing an interface makes strawberry give each implementing type an ``is_type_of``
check, which graphql-core then calls for every object it completes, and which turns off
the fast executor's short way for objects (``resolvers.execution``): a StockCheck
completes thousands of Locations. The interface's own type resolver finds the type of
any object Mosaic returns (each is an instance of its strawberry type), so the checks
are taken off again once the schema is built (:func:`without_type_checks`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry
from graphql import GraphQLObjectType, GraphQLSchema

if TYPE_CHECKING:
    # To type checkers a plain base: each kind declares its own ``id`` (an attribute, or
    # a resolver, as Customer's and Product's are), which a dataclass field here would
    # forbid them.
    class Node:
        pass

else:

    @strawberry.interface(description="An object with a global id, found again by `node(id:)`.")
    class Node:
        id: strawberry.ID = strawberry.field(
            description="Its global id: opaque, unique across systems and stable."
        )


def without_type_checks(schema: GraphQLSchema) -> None:
    """Drop the ``is_type_of`` strawberry adds to the types implementing ``Node``."""
    for named in schema.type_map.values():
        if isinstance(named, GraphQLObjectType) and any(i.name == "Node" for i in named.interfaces):
            named.is_type_of = None
