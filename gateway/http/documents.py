"""Parsing and validating GraphQL documents away from the event loop, and remembering
them.

A document seen before (the same text) is neither parsed nor validated again: its
parsed form and its validation errors come from a bounded cache, on the event loop, in
microseconds. A document enters the cache on its second sighting: clients send the same
few documents again and again, while a flood of unique texts (a fuzzer, an attacker)
would otherwise fill it with parsed trees, some 450 objects each, which every full
garbage collection then walks (measured in the fuzz run: 1,024 kept trees made each
gen2 pass walk ~550K objects and stall the event loop for a second on a busy machine).
A text seen once leaves only its hash behind.

A new document is parsed and validated on a worker thread, so that while a large or
hostile document takes its milliseconds there, the event loop goes on serving everyone
else (``/healthz`` included). One thread: the work holds the GIL, so more
threads would only take more turns from the event loop.

A document that does not parse is stood in for by a one-field query carrying its parse
error as a pre-execution error: strawberry then answers that error as it answers any
request error, and never parses the text a second time on the event loop.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, parse, validate
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from adapters.errors import ErrorCode

#: what graphql-core's parser says when it stops at the token limit
TOKEN_LIMIT_MESSAGE = "Document contains more than"
#: refusals that say nothing lasting about the document (the machine was busy): not kept
NOT_KEPT = frozenset({ErrorCode.MAX_ANALYSIS_TIME_EXCEEDED})
#: rules strawberry adds to every validation (strawberry.schema.schema.validate_document)
STRAWBERRY_RULES: tuple[type[ASTValidationRule], ...] = (
    MaybeNullValidationRule,
    OneOfInputValidationRule,
)
#: what stands in for a document that does not parse (see the module's docstring)
STAND_IN = parse("{ __typename }")

T = TypeVar("T")


class Documents:
    """Parsed documents and their validation errors by text, least recently used out
    first, within ``max_entries`` and ``max_chars`` of text (so hostile unique texts
    cannot grow memory); and the one worker thread that makes them."""

    def __init__(self, max_entries: int, max_chars: int) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._parsed: OrderedDict[str, DocumentNode | GraphQLError] = OrderedDict()
        self._validated: dict[str, list[GraphQLError]] = {}
        self._chars = 0
        #: hashes of texts seen once, not kept yet (ints: nothing for the collector)
        self._seen_once: OrderedDict[int, None] = OrderedDict()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mosaic-documents")

    async def off_loop(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, lambda: work(*args, **kwargs))

    async def parsed(self, text: str, max_tokens: int) -> DocumentNode | GraphQLError:
        """The document, or why it does not parse (coded)."""
        known = self._parsed.get(text)
        if known is not None:
            self._parsed.move_to_end(text)
            return known
        result = await self.off_loop(_parse, text, max_tokens)
        self._keep(text, result)
        return result

    async def errors(
        self,
        text: str,
        schema: GraphQLSchema,
        document: DocumentNode,
        rules: Sequence[type[ASTValidationRule]],
        hide_suggestions: bool,
    ) -> list[GraphQLError]:
        """The document's validation errors (none: valid). The rules are the same for
        every request of one gateway, so the text alone is the key."""
        known = self._validated.get(text)
        if known is not None:
            return known
        errors = await self.off_loop(
            validate,
            schema,
            document,
            (*rules, *STRAWBERRY_RULES),
            hide_suggestions=hide_suggestions,
        )
        if text in self._parsed and not any(_code(e) in NOT_KEPT for e in errors):
            self._validated[text] = errors
        return errors

    def kept(self, text: str) -> bool:
        """Whether ``text``'s parsed form is in memory."""
        return text in self._parsed

    def _keep(self, text: str, result: DocumentNode | GraphQLError) -> None:
        if len(text) > self.max_chars or not self._seen_before(text):
            return
        self._parsed[text] = result
        self._chars += len(text)
        while len(self._parsed) > self.max_entries or self._chars > self.max_chars:
            old, _ = self._parsed.popitem(last=False)
            self._validated.pop(old, None)
            self._chars -= len(old)

    def _seen_before(self, text: str) -> bool:
        """True on a text's second sighting (among the last ``4 * max_entries`` texts
        seen once); on its first, remembers its hash and says False."""
        key = hash(text)
        if key in self._seen_once:
            del self._seen_once[key]
            return True
        self._seen_once[key] = None
        if len(self._seen_once) > 4 * self.max_entries:
            self._seen_once.popitem(last=False)
        return False

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)


def _parse(text: str, max_tokens: int) -> DocumentNode | GraphQLError:
    try:
        return parse(text, max_tokens=max_tokens)
    except GraphQLError as error:
        limited = TOKEN_LIMIT_MESSAGE in error.message
        code = ErrorCode.MAX_TOKENS_EXCEEDED if limited else ErrorCode.GRAPHQL_PARSE_FAILED
        error.extensions = {"code": code, **({"maxTokens": max_tokens} if limited else {})}
        return error


def _code(error: GraphQLError) -> object:
    return (error.extensions or {}).get("code")


class ParseOffLoop(SchemaExtension):
    """Parsing: from the cache, else on the worker thread; within ``max_tokens``."""

    def __init__(self, documents: Documents, max_tokens: int) -> None:
        self.documents = documents
        self.max_tokens = max_tokens

    async def on_parse(self) -> AsyncIterator[None]:
        context = self.execution_context
        if context.query and context.graphql_document is None:
            parsed = await self.documents.parsed(context.query, self.max_tokens)
            if isinstance(parsed, GraphQLError):
                context.graphql_document = STAND_IN
                context.pre_execution_errors = [parsed]
            else:
                context.graphql_document = parsed
        yield


class ValidateOffLoop(SchemaExtension):
    """Validation with every rule the extensions added: from the cache, else on the
    worker thread. A refusal made before it (a parse error, several operations and no
    operationName) stays, and the document is not validated. ``hide_suggestions``:
    no "Did you mean ...?" in any message (production: they spell out the schema)."""

    def __init__(self, documents: Documents, hide_suggestions: bool) -> None:
        self.documents = documents
        self.hide_suggestions = hide_suggestions

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        if not context.pre_execution_errors and context.graphql_document is not None:
            context.pre_execution_errors = await self.documents.errors(
                context.query or "",
                context.schema._schema,
                context.graphql_document,
                context.validation_rules,
                self.hide_suggestions,
            )
        yield
