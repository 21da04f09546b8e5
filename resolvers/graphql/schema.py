"""The unified schema, built once per process, and how its errors are coded and logged."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

import strawberry
import strawberry.federation
from graphql import GraphQLError
from graphql.execution import Executor
from strawberry.extensions import SchemaExtension
from strawberry.federation.schema import FederationAny
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext, Info

from adapters.errors import BadUserInput, ErrorCode, MosaicError
from resolvers.catalogue.live import LiveSubscription
from resolvers.commerce.service import CommerceMutation
from resolvers.graphql.execution_context import AcyclicExecution
from resolvers.graphql.inputs import check_arguments
from resolvers.graphql.mutation import Mutation as ErasureMutation
from resolvers.graphql.operation_state import OperationState
from resolvers.graphql.partial import PartialErrors
from resolvers.graphql.query import Query
from resolvers.graphql.types.common import DateTime
from resolvers.privacy.read_policy import RefuseNeverReadable

logger = logging.getLogger("mosaic.errors")

#: ``fast``: the engine (resolvers/engine/); ``standard``: strawberry's own execution
ExecutorName = Literal["fast", "standard"]
#: a change to the execution context class, whichever it is (production's,
#: gateway/security/limits.py)
AdaptExecution = Callable[[type[Executor[Any]]], type[Executor[Any]]]


def error_code(error: GraphQLError, execution_context: ExecutionContext | None) -> str:
    """The ``extensions.code`` of any error: ours carry one; graphql-core's get theirs
    from the phase that raised them, so every error a client sees has a code."""
    original = error.original_error
    if isinstance(original, MosaicError):
        return original.code
    if error.extensions and "code" in error.extensions:
        return str(error.extensions["code"])
    if execution_context is not None and execution_context.graphql_document is None:
        return ErrorCode.GRAPHQL_PARSE_FAILED
    if not error.path and error.message.startswith("Variable '$"):
        return ErrorCode.BAD_USER_INPUT
    if original is None and not error.path:
        return ErrorCode.GRAPHQL_VALIDATION_FAILED
    return ErrorCode.INTERNAL_SERVER_ERROR


class MosaicSchema(strawberry.federation.Schema):
    """A federation v2 subgraph schema (``_service``, ``_entities`` for Customer and
    Product), so Mosaic can join a company supergraph; standalone clients see it as a
    plain schema with two extra root fields."""

    def entities_resolver(
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        """``_entities``: a representation a router could not have sent (not an object,
        no ``__typename`` of an entity, other fields than its key) is the caller's
        mistake, refused as such; strawberry's own resolver fails on it unexpectedly
        (a KeyError, a TypeError: found by bench/fuzz.py)."""
        for representation in representations:
            fields = representation if isinstance(representation, dict) else {}
            name = fields.get("__typename")
            known = self.schema_converter.type_map.get(name) if isinstance(name, str) else None
            origin = getattr(getattr(known, "definition", None), "origin", None)
            resolve = getattr(origin, "resolve_reference", None)
            if resolve is None:
                raise BadUserInput(
                    "each representation must be an object with the __typename of an entity"
                )
            keys = {k: v for k, v in fields.items() if k not in ("__typename", "info")}
            takes = inspect.signature(resolve)
            try:
                takes.bind(**keys, **({"info": None} if "info" in takes.parameters else {}))
            except TypeError as wrong:
                message = f"a {name} representation carries its key fields only"
                raise BadUserInput(message) from wrong
        return super().entities_resolver(info, representations)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Give every error its code. A bug in Mosaic itself is logged with its trace;
        expected failures (a source down, bad input) one line per code and message, with
        the first path and how many more: a source down fails every field read from it,
        and fifty lines saying the same would bury the request's other news and cost
        more CPU than the answer."""
        alike: dict[tuple[str, str], list[GraphQLError]] = {}
        for error in errors:
            code = error_code(error, execution_context)
            error.extensions = {**(error.extensions or {}), "code": code}
            if code == ErrorCode.INTERNAL_SERVER_ERROR:
                logger.error("unexpected error at %s", error.path, exc_info=error.original_error)
            else:
                alike.setdefault((code, error.message), []).append(error)
        for (code, message), same in alike.items():
            more = f" and {len(same) - 1} more" if len(same) > 1 else ""
            logger.info("%s at %s%s: %s", code, same[0].path, more, message)


#: the root types, each module adding its fields (merge_types keeps them apart)
Mutation = merge_types("Mutation", (ErasureMutation, CommerceMutation))
Subscription = merge_types("Subscription", (LiveSubscription,))
Mutation.__strawberry_definition__.description = (  # type: ignore[attr-defined]
    "Writing: orders, returns, profiles, consents, erasure, each across the systems it "
    "touches (sagas, idempotent by key)."
)
Subscription.__strawberry_definition__.description = (  # type: ignore[attr-defined]
    "Live: stock levels as they change."
)
# every text a client sends is checked against its bound before anything runs
check_arguments((Query, Mutation, Subscription))


def build_schema(
    extensions: Sequence[Callable[[], SchemaExtension]] | None = None,
    *,
    production: bool = False,
    executor: ExecutorName = "fast",
    adapt_execution: AdaptExecution | None = None,
    **options: Any,
) -> strawberry.Schema:
    """The schema, with the gateway's extensions (classes or factories, one instance
    per request). ``production`` turns off field suggestions ("did you mean ...?"),
    which would spell out the schema that introspection no longer shows. ``executor``
    (``MOSAIC_EXECUTOR``): the engine, or strawberry's own execution on an unmarked
    schema, which never imports the engine; both give the same answers.
    ``adapt_execution`` changes the execution context class the executor uses (or the
    one given as ``execution_context_class``)."""
    # @defer: the slow parts (ERP prices, order history) arrive after the fast ones
    options.setdefault(
        "config",
        StrawberryConfig(
            enable_experimental_incremental_execution=True,
            disable_field_suggestions=production,
            scalar_map={datetime: DateTime},
        ),
    )
    execution: type[Executor[Any]] = AcyclicExecution
    if executor == "fast":
        # imported here alone, so a standard schema never loads the engine
        from resolvers import engine

        execution = engine.Execution
    execution = options.pop("execution_context_class", execution)
    if adapt_execution is not None:
        execution = adapt_execution(execution)
    schema = MosaicSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        # the read policy last: the gateway's limits refuse a hostile document first
        extensions=[OperationState, PartialErrors, *(extensions or []), RefuseNeverReadable],
        execution_context_class=execution,
        **options,
    )
    if executor == "fast":
        engine.mark(schema)
    return schema
