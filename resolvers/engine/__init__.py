"""The fast executor: strawberry's execution with short ways for the fields that need
none of its per-field machinery (README.md beside this file: what it does, and every
graphql-core and strawberry internal it touches, with the versions it was tested on).

Only :func:`resolvers.graphql.schema.build_schema` imports this package, and only for
``MOSAIC_EXECUTOR=fast`` (the default); ``standard`` runs strawberry's own execution
on a schema without these marks, so an upgrade that breaks an internal here can be
met by switching the engine off rather than by a release of Mosaic.
"""

from __future__ import annotations

import strawberry

from resolvers.engine.direct_calls import mark_direct_calls
from resolvers.engine.execution import PLAIN, PlainFieldsExecution, mark_plain_fields

#: the execution context a fast schema is built with
Execution = PlainFieldsExecution


def mark(schema: strawberry.Schema) -> None:
    """Record on each field of a schema built with :data:`Execution` the short way it
    can take; run once, when the schema is built."""
    mark_plain_fields(schema._schema)
    mark_direct_calls(schema, skip=PLAIN)


__all__ = ["PLAIN", "Execution", "PlainFieldsExecution", "mark"]
