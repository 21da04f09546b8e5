"""Query limits, in every mode: what a hostile or careless request is refused before it
costs the legacy systems anything.

| limit | where | code |
|---|---|---|
| body size, deadline | ``gateway/http/body.py``: 413, 408 | PAYLOAD_TOO_LARGE, REQUEST_TIMEOUT |
| tokens | the parser stops counting past it | MAX_TOKENS_EXCEEDED |
| depth | validation (``gateway/security/complexity.py``) | MAX_DEPTH_EXCEEDED |
| aliases | validation (``gateway/security/complexity.py``) | MAX_ALIASES_EXCEEDED |
| estimated cost | before execution, with the variables | MAX_COST_EXCEEDED |
| analysis time | the depth and cost walks, each | MAX_ANALYSIS_TIME_EXCEEDED |
| list arguments | the resolvers (``resolvers/graphql/query.py``: 500 keys) | BAD_USER_INPUT |

Batches (a JSON array of operations) are not enabled: strawberry refuses the array as a
request it cannot read (400). In production introspection is off (INTROSPECTION_DISABLED),
field suggestions are off, the federation ``_service`` field (the whole SDL) answers only
role ``service`` (the router), and unexpected errors are masked.

Parsing and validation run on a worker thread (``gateway/http/documents.py``), so a
document that takes long to check never holds up the event loop.

The defaults are far above what a real frontend sends: Customer360 is 6 deep, ~100
tokens, no aliases and costs ~900; ProductListing of 48 products ~1,800.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from graphql import (
    SKIP,
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    ValidationContext,
    VisitorAction,
    get_operation_ast,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.execution import Executor
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, MaskErrors, SchemaExtension

from adapters.errors import ErrorCode
from gateway.http.documents import Documents, ParseOffLoop, ValidateOffLoop
from gateway.security.complexity import UNBOUNDED, AnalysisTooLong, Budget, Complexity
from gateway.settings import Settings
from resolvers.graphql.context import MosaicContext

#: codes of every refusal made here (a request error: no field ran)
LIMIT_CODES = frozenset(
    {
        ErrorCode.MAX_DEPTH_EXCEEDED,
        ErrorCode.MAX_ALIASES_EXCEEDED,
        ErrorCode.MAX_TOKENS_EXCEEDED,
        ErrorCode.MAX_COST_EXCEEDED,
        ErrorCode.MAX_ANALYSIS_TIME_EXCEEDED,
        ErrorCode.INTROSPECTION_DISABLED,
    }
)
#: Distinct documents whose parsed form and validation are remembered, and their text
#: in all: persisted and GraphiQL-made operations are few, and the bounds keep hostile
#: unique texts from growing memory.
DOCUMENT_CACHE_ENTRIES = 1024
DOCUMENT_CACHE_CHARS = 16 * 1024 * 1024

ExtensionFactory = Callable[[], SchemaExtension]


# --- codes on strawberry's validation rules ------------------------------------------


class _CodedContext:
    """A validation context whose reported errors carry ``code``: strawberry's limiters
    report plain errors, and a client should be able to tell a limit from a typo."""

    def __init__(self, context: ValidationContext, code: str) -> None:
        self._context = context
        self._code = code

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {**(error.extensions or {}), "code": self._code}
        self._context.report_error(error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def coded(rule: type[ASTValidationRule], code: str) -> type[ASTValidationRule]:
    class Coded(rule):  # type: ignore[valid-type, misc]
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(_CodedContext(context, code))

    Coded.__name__ = f"Coded{rule.__name__}"
    return Coded


# --- depth ---------------------------------------------------------------------------


def depth_limit(max_depth: int, budget_s: float) -> type[ASTValidationRule]:
    """A validation rule refusing operations deeper than ``max_depth``; fragments are
    walked once each (``gateway/security/complexity.py``), within the analysis
    budget."""

    class DepthLimit(ASTValidationRule):
        context: ValidationContext

        def enter_operation_definition(
            self, node: OperationDefinitionNode, *_args: object
        ) -> VisitorAction:
            context = self.context
            try:
                walk = Complexity(context.schema, context.document, Budget(budget_s))
                depth = walk.depth(node, max_depth)
            except AnalysisTooLong as too_long:
                context.report_error(too_long)
                return SKIP
            if depth > max_depth:
                name = node.name.value if node.name else "anonymous"
                context.report_error(
                    GraphQLError(
                        f"'{name}' exceeds maximum operation depth of {max_depth}",
                        [node],
                        extensions={"code": ErrorCode.MAX_DEPTH_EXCEEDED, "maxDepth": max_depth},
                    )
                )
            return SKIP

    return DepthLimit


def aliases_limit(max_aliases: int, budget_s: float) -> type[ASTValidationRule]:
    """A validation rule refusing documents with more than ``max_aliases`` aliased
    fields, counted through fragments without expanding them."""

    class AliasesLimit(ASTValidationRule):
        context: ValidationContext

        def enter_document(self, node: DocumentNode, *_args: object) -> VisitorAction:
            context = self.context
            operations = [d for d in node.definitions if isinstance(d, OperationDefinitionNode)]
            try:
                walk = Complexity(context.schema, node, Budget(budget_s))
                aliases = walk.aliases(operations, max_aliases)
            except AnalysisTooLong as too_long:
                context.report_error(too_long)
                return SKIP
            if aliases > max_aliases:
                context.report_error(
                    GraphQLError(
                        f"more than {max_aliases} aliases found; at most {max_aliases} "
                        "are served in one document",
                        extensions={
                            "code": ErrorCode.MAX_ALIASES_EXCEEDED,
                            "maxAliases": max_aliases,
                        },
                    )
                )
            return None

    return AliasesLimit


# --- estimated cost ------------------------------------------------------------------


def estimated_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    budget: Budget | None = None,
    bound: int = UNBOUNDED,
) -> int:
    """Objects the operation may resolve (``gateway/security/complexity.py``), or
    ``bound + 1`` as soon as it is known to pass ``bound``."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    walk = Complexity(schema, document, budget or Budget(float("inf")), variables)
    return walk.cost(operation, bound)


class BeforeExecution(SchemaExtension):
    """Refusals that need the variables or the caller, so they run after validation and
    before any resolver: the estimated cost, and (in production) ``_service`` for anyone
    but the federation router."""

    def __init__(self, max_cost: int, budget_s: float, guard_service: bool) -> None:
        self.max_cost = max_cost
        self.budget_s = budget_s
        self.guard_service = guard_service

    def on_execute(self) -> Iterator[None]:
        refusal = self._refusal()
        if refusal is not None:
            # strawberry skips execution when an extension has set the result
            self.execution_context.result = GraphQLExecutionResult(data=None, errors=[refusal])
        yield

    def _refusal(self) -> GraphQLError | None:
        context = self.execution_context
        document = context.graphql_document
        if document is None:
            return None
        schema = context.schema._schema
        try:
            cost = estimated_cost(
                schema,
                document,
                context.operation_name,
                context.variables,
                Budget(self.budget_s),
                bound=self.max_cost,
            )
        except AnalysisTooLong as too_long:
            return too_long
        if cost > self.max_cost:
            return GraphQLError(
                f"the operation may resolve more than {self.max_cost} objects, the most "
                "served in one request: ask for fewer items, or split it",
                extensions={"code": ErrorCode.MAX_COST_EXCEEDED, "maxCost": self.max_cost},
            )
        if self.guard_service and _asks_service(document, context.operation_name):
            caller = context.context
            role = caller.principal.role if isinstance(caller, MosaicContext) else "anonymous"
            if role not in ("service", "open"):
                return GraphQLError(  # the SDL is the schema introspection would show
                    "_service (the schema) answers only the federation router (role service)",
                    extensions={"code": ErrorCode.INTROSPECTION_DISABLED},
                )
        return None


def _asks_service(document: DocumentNode, operation_name: str | None) -> bool:
    operation = get_operation_ast(document, operation_name)
    return operation is not None and any(
        isinstance(s, FieldNode) and s.name.value == "_service"
        for s in operation.selection_set.selections
    )


# --- production ----------------------------------------------------------------------


def _unexpected(error: GraphQLError) -> bool:
    return (error.extensions or {}).get("code") == ErrorCode.INTERNAL_SERVER_ERROR


class MaskUnexpectedErrors(MaskErrors):
    """In production an unexpected error (a bug in Mosaic, never a coded one: a source
    down, a refusal, bad input) says only that it happened; the log has the details."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_unexpected)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": ErrorCode.INTERNAL_SERVER_ERROR}
        return masked


#: What a client is told in production when a source failed: the code and the source
#: say it all; the source's own words (raw bytes, internal URLs) stay in the log, with
#: the request id, where ``resolvers/graphql/schema.py`` wrote them before this runs.
NEUTRAL_UPSTREAM_MESSAGES = {
    ErrorCode.SOURCE_TIMEOUT: "did not answer in time",
    ErrorCode.SOURCE_UNAVAILABLE: "cannot be reached",
    ErrorCode.SOURCE_RATE_LIMITED: "is limiting the gateway's requests; try again later",
    ErrorCode.SOURCE_ERROR: "answered with an error",
    ErrorCode.SOURCE_BAD_RESPONSE: "answered with something the gateway cannot read",
    ErrorCode.SOURCE_AUTH_FAILED: "refused the gateway's credentials",
    ErrorCode.CIRCUIT_OPEN: "has been failing; the gateway is not asking it for a few seconds",
}
#: extensions of a source's error a client may see (``retryAfter``: when to ask again)
UPSTREAM_EXTENSIONS = ("code", "source", "retryAfter")


def _from_a_source(error: GraphQLError) -> bool:
    return (error.extensions or {}).get("code") in NEUTRAL_UPSTREAM_MESSAGES


class NeutralUpstreamErrors(MaskErrors):
    """In production a source's failure says which source and what kind of failure,
    in the gateway's words, never the source's."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_from_a_source)

    def on_operation(self) -> Iterator[None]:
        """Also the errors of lists a source left short, which
        ``resolvers/graphql/partial.py`` adds to the result after this extension has
        seen it."""
        yield from super().on_operation()
        context = self.execution_context.context
        if isinstance(context, MosaicContext) and context.partial_errors:
            context.partial_errors = self._process_errors(context.partial_errors)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        extensions = error.extensions or {}
        source = extensions.get("source", "a source")
        neutral = super().anonymise_error(error)
        neutral.message = f"{source}: {NEUTRAL_UPSTREAM_MESSAGES[extensions['code']]}"
        neutral.extensions = {k: extensions[k] for k in UPSTREAM_EXTENSIONS if k in extensions}
        return neutral


def quiet(executor: type[Executor[Any]]) -> type[Executor[Any]]:
    """The executor, without "Did you mean ...?" in the errors of variables that do not
    coerce (validation gets the same from ``ValidateOffLoop``): in production they would
    spell out enum values and input fields that introspection no longer shows."""

    class Quiet(executor):  # type: ignore[valid-type, misc]
        @classmethod
        def build(cls, *args: Any, **kwargs: Any) -> list[GraphQLError] | Executor[Any]:
            built: list[GraphQLError] | Executor[Any] = super().build(
                *args, **{**kwargs, "hide_suggestions": True}
            )
            return built

    Quiet.__name__ = f"Quiet{executor.__name__}"
    return Quiet


def documents() -> Documents:
    """The parse and validation cache with its worker thread, one per gateway."""
    return Documents(DOCUMENT_CACHE_ENTRIES, DOCUMENT_CACHE_CHARS)


def parse_extension(settings: Settings, known: Documents) -> ExtensionFactory:
    """Parsing off the event loop, within the token limit; first among the extensions,
    so every other one sees the parsed document."""
    return lambda: ParseOffLoop(known, settings.limits.max_tokens)


def extensions(settings: Settings, known: Documents) -> list[ExtensionFactory]:
    """The schema extensions that enforce the limits (and production's restrictions)."""
    production = settings.env == "production"
    budget_s = settings.limits.max_analysis_ms / 1000
    # the rule classes are made once, so the validation cache can rely on them
    limit_rules = [
        depth_limit(settings.limits.max_depth, budget_s),
        aliases_limit(settings.limits.max_aliases, budget_s),
    ]
    factories: list[ExtensionFactory] = [
        lambda: AddValidationRules(limit_rules),
        lambda: BeforeExecution(settings.limits.max_cost, budget_s, guard_service=production),
    ]
    if production:
        no_introspection = [
            coded(NoSchemaIntrospectionCustomRule, ErrorCode.INTROSPECTION_DISABLED)
        ]
        factories += [
            lambda: AddValidationRules(no_introspection),
            MaskUnexpectedErrors,
            NeutralUpstreamErrors,
        ]
    # Last, so it sees every rule added above: a document already validated against
    # them is not walked again (validation was the largest CPU cost of a request).
    factories.append(lambda: ValidateOffLoop(known, hide_suggestions=production))
    return factories
