"""Query limits, in every mode: what a hostile or careless request is refused before it
costs the legacy systems anything.

| limit | where | code |
|---|---|---|
| body size, deadline | ``gateway/body.py``: HTTP 413, 408 | PAYLOAD_TOO_LARGE, REQUEST_TIMEOUT |
| tokens | the parser stops counting past it | MAX_TOKENS_EXCEEDED |
| depth | validation (strawberry's QueryDepthLimiter) | MAX_DEPTH_EXCEEDED |
| aliases | validation (strawberry's MaxAliasesLimiter) | MAX_ALIASES_EXCEEDED |
| estimated cost | before execution, with the variables | MAX_COST_EXCEEDED |
| list arguments | the resolvers (``resolvers/query.py``: 500 keys) | BAD_USER_INPUT |

Batches (a JSON array of operations) are not enabled: strawberry refuses the array as a
request it cannot read (400). In production introspection is off (INTROSPECTION_DISABLED),
field suggestions are off, the federation ``_service`` field (the whole SDL) answers only
role ``service`` (the router), and unexpected errors are masked.

The defaults are far above what a real frontend sends: Customer360 is 6 deep, ~100
tokens, no aliases and costs ~900; ProductListing of 48 products ~1,800.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    VariableNode,
    get_named_type,
    get_operation_ast,
    value_from_ast_untyped,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from gateway.settings import Settings
from resolvers.context import MosaicContext

#: list size assumed for a list field without a size argument (a customer's consents,
#: an order's lines, a product's stock locations): a typical count, not the worst case
DEFAULT_LIST_SIZE = 5
#: arguments that say how many items a field returns: a list's length, or a number
SIZE_ARGUMENTS = ("skus", "ids", "last", "limit", "first")
#: codes of every refusal made here (a request error: no field ran)
LIMIT_CODES = frozenset(
    {
        "MAX_DEPTH_EXCEEDED",
        "MAX_ALIASES_EXCEEDED",
        "MAX_TOKENS_EXCEEDED",
        "MAX_COST_EXCEEDED",
        "INTROSPECTION_DISABLED",
    }
)
#: what graphql-core's parser says when it stops at the token limit
TOKEN_LIMIT_MESSAGE = "Document contains more than"

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


def _coded_rules(extension: AddValidationRules, code: str) -> ExtensionFactory:
    """A factory of the limiter with its rules coded. The rule classes are made once,
    here, so every request validates with the same rules and the validation cache can
    recognise a document it has already checked."""
    rules = [coded(rule, code) for rule in extension.validation_rules]
    return lambda: AddValidationRules(rules)


class TokenLimit(SchemaExtension):
    """strawberry's MaxTokensLimiter, with its refusal coded (the parser raises a plain
    syntax error)."""

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens

    def on_operation(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self.max_tokens
        yield

    def on_parse(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or ():
            if TOKEN_LIMIT_MESSAGE in error.message:
                error.extensions = {"code": "MAX_TOKENS_EXCEEDED", "maxTokens": self.max_tokens}


# --- estimated cost ------------------------------------------------------------------


class _Estimate:
    """Objects an operation may resolve: every field counts one, and a list field's
    selection counts once per item it may return (its size argument, or
    DEFAULT_LIST_SIZE), so nested lists multiply."""

    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any]
    ) -> None:
        self.schema = schema
        self.variables = dict(variables)
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def operation(self, operation: OperationDefinitionNode) -> int:
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if name not in self.variables and definition.default_value is not None:
                self.variables[name] = value_from_ast_untyped(definition.default_value)
        root = self.schema.get_root_type(operation.operation)
        return self.selections(root, operation.selection_set, frozenset()) if root else 0

    def selections(
        self, parent: GraphQLNamedType, selection_set: SelectionSetNode, seen: frozenset[str]
    ) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(parent, selection, seen)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                kind = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(kind or parent, selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:
                    kind = self.schema.get_type(fragment.type_condition.name.value)
                    total += self.selections(kind or parent, fragment.selection_set, seen | {name})
        return total

    def field(self, parent: GraphQLNamedType, node: FieldNode, seen: frozenset[str]) -> int:
        definition = (
            parent.fields.get(node.name.value) if isinstance(parent, GraphQLObjectType) else None
        )
        if definition is None or node.selection_set is None:
            return 1
        field_type = definition.type
        if isinstance(field_type, GraphQLNonNull):
            field_type = field_type.of_type
        size = self.size(definition.args, node) if isinstance(field_type, GraphQLList) else 1
        children = self.selections(get_named_type(field_type), node.selection_set, seen)
        return 1 + size * children

    def size(self, arguments: Mapping[str, Any], node: FieldNode) -> int:
        given = {a.name.value: a.value for a in node.arguments or ()}
        for name in SIZE_ARGUMENTS:
            if name in given:
                value_node = given[name]
                value = (
                    self.variables.get(value_node.name.value)
                    if isinstance(value_node, VariableNode)
                    else value_from_ast_untyped(value_node, self.variables)
                )
            elif name in arguments:
                value = arguments[name].default_value
            else:
                continue
            if isinstance(value, list):
                return len(value)
            if isinstance(value, int):
                return max(value, 0)
        return DEFAULT_LIST_SIZE


def estimated_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> int:
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    return _Estimate(schema, document, variables or {}).operation(operation)


class BeforeExecution(SchemaExtension):
    """Refusals that need the variables or the caller, so they run after validation and
    before any resolver: the estimated cost, and (in production) ``_service`` for anyone
    but the federation router."""

    def __init__(self, max_cost: int, guard_service: bool) -> None:
        self.max_cost = max_cost
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
        cost = estimated_cost(schema, document, context.operation_name, context.variables)
        if cost > self.max_cost:
            return GraphQLError(
                f"the operation may resolve about {cost} objects; at most {self.max_cost} "
                "are served in one request: ask for fewer items, or split it",
                extensions={"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": self.max_cost},
            )
        if self.guard_service and _asks_service(document, context.operation_name):
            caller = context.context
            role = caller.principal.role if isinstance(caller, MosaicContext) else "anonymous"
            if role not in ("service", "open"):
                return GraphQLError(  # the SDL is the schema introspection would show
                    "_service (the schema) answers only the federation router (role service)",
                    extensions={"code": "INTROSPECTION_DISABLED"},
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
    return (error.extensions or {}).get("code") == "INTERNAL_SERVER_ERROR"


class MaskUnexpectedErrors(MaskErrors):
    """In production an unexpected error (a bug in Mosaic, never a coded one: a source
    down, a refusal, bad input) says only that it happened; the log has the details."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_unexpected)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked


#: Distinct documents whose validation is remembered; persisted and GraphiQL-made
#: operations are few, and a bound keeps hostile unique texts from growing memory.
VALIDATION_CACHE_SIZE = 1024


def extensions(settings: Settings) -> list[ExtensionFactory]:
    """The schema extensions that enforce the limits (and production's restrictions)."""
    production = settings.env == "production"
    factories: list[ExtensionFactory] = [
        lambda: TokenLimit(settings.max_tokens),
        _coded_rules(QueryDepthLimiter(settings.max_depth), "MAX_DEPTH_EXCEEDED"),
        _coded_rules(MaxAliasesLimiter(settings.max_aliases), "MAX_ALIASES_EXCEEDED"),
        lambda: BeforeExecution(settings.max_cost, guard_service=production),
    ]
    if production:
        no_introspection = [coded(NoSchemaIntrospectionCustomRule, "INTROSPECTION_DISABLED")]
        factories += [lambda: AddValidationRules(no_introspection), MaskUnexpectedErrors]
    # Last, so it sees every rule added above: a document already validated against
    # them is not walked again (validation was the largest CPU cost of a request).
    factories.append(lambda: CachedValidation(maxsize=VALIDATION_CACHE_SIZE))
    return factories


class CachedParse(ParserCache):
    """strawberry's parser cache, leaving a document that does not parse (or is over
    the token limit) to strawberry's own parse, which reports it the usual way, with
    the limits' codes, instead of failing inside this hook."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        with suppress(GraphQLError):
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        yield


class CachedValidation(ValidationCache):
    """strawberry's validation cache, leaving a refusal made before validation (several
    operations and no operationName) in place rather than overwriting it."""

    def on_validate(self) -> Iterator[None]:
        if self.execution_context.pre_execution_errors:
            yield
        else:
            yield from super().on_validate()
