"""GraphQL over HTTP as the graphql-over-http spec has it: which media type a response
is encoded in, and which status code goes with it.

``application/graphql-response+json`` lets the status code speak: 4xx when the request
was refused before execution (a document that does not parse or validate, an operation
that cannot be found, variables that do not coerce; the body then has no ``data``),
200 once it executed, even with field errors (a partial answer is an answer).
``application/json``, the legacy type, answers every well-formed request with 200: its
clients cannot tell a gateway's 400 from a proxy's. Either way a request that is not
well-formed GraphQL over HTTP (not JSON, a ``query`` that is no string, ...) is a 400,
and a mutation over GET a 405.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

import orjson
from cross_web import HTTPException
from graphql import GraphQLError, OperationDefinitionNode
from starlette.responses import JSONResponse, Response
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from adapters.errors import ErrorCode
from gateway.security.limits import LIMIT_CODES

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"

#: Accept ranges we answer, and the media type each gets. A wildcard gets the legacy
#: type, which every client understands; ``multipart/mixed`` is how a client asks for
#: incremental delivery (@defer): such responses are framed by the view itself, and a
#: result without deferred parts comes back as plain JSON.
SERVED = {
    GRAPHQL_RESPONSE: GRAPHQL_RESPONSE,
    JSON: JSON,
    "multipart/mixed": JSON,
    "text/event-stream": JSON,  # a subscription over SSE, framed by the view itself
    "application/*": JSON,
    "*/*": JSON,
}

#: Codes of request errors: raised before execution, they leave no ``data``.
REQUEST_ERROR_CODES = (
    frozenset(
        {
            ErrorCode.GRAPHQL_PARSE_FAILED,
            ErrorCode.GRAPHQL_VALIDATION_FAILED,
            ErrorCode.BAD_USER_INPUT,
            ErrorCode.OPERATION_RESOLUTION_FAILURE,
        }
    )
    | LIMIT_CODES  # query limits and production's refusals (gateway/security/limits.py)
)

#: ``extensions.code`` of the refusals that happen before GraphQL runs, by HTTP status:
#: the gateway's part of the error tree (``adapters/errors.py`` points here). Every
#: answer the gateway gives is JSON with one of these codes, unknown paths and a bug
#: included; none is plain text.
HTTP_CODES = {
    400: ErrorCode.BAD_REQUEST,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    406: ErrorCode.NOT_ACCEPTABLE,
    408: ErrorCode.REQUEST_TIMEOUT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    500: ErrorCode.INTERNAL_SERVER_ERROR,
}
#: a JSON string, escapes included: what may hold brackets that are not nesting
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST_PAIR = re.compile(r"\[\]|\{\}")


def negotiate(accept: str | None) -> str | None:
    """The media type to answer in: the served range with the highest quality, the
    first listed among equals; None when the client accepts nothing we serve (406).
    Without an Accept header: ``application/graphql-response+json``, as the spec asks
    of servers since its legacy watershed (2025-01-01)."""
    if accept is None or not accept.strip():
        return GRAPHQL_RESPONSE
    chosen, best = None, 0.0
    for media_range, quality in _ranges(accept):
        served = SERVED.get(media_range)
        if served and quality > best:
            chosen, best = served, quality
    return chosen


def _ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for part in accept.split(","):
        media_range, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
        ranges.append((media_range.lower(), quality))
    return ranges


def content_type(media: str) -> str:
    return f"{media}; charset=utf-8"


def refused_before_execution(result: ExecutionResult) -> bool:
    """A request error: no data at all, and no error belongs to a field."""
    errors = result.errors or []
    return result.data is None and bool(errors) and not any(e.path for e in errors)


def status_for(media: str, result: ExecutionResult) -> int:
    if media != GRAPHQL_RESPONSE or not refused_before_execution(result):
        return 200
    codes = {(e.extensions or {}).get("code") for e in result.errors or ()}
    return 400 if codes <= REQUEST_ERROR_CODES else 500


def coded(
    status: int,
    message: str,
    *,
    media: str = JSON,
    headers: Mapping[str, str] | None = None,
    code: str | None = None,
) -> JSONResponse:
    """A refusal as GraphQL over HTTP has errors: JSON, one error, a code."""
    body = error_body(message, code or HTTP_CODES.get(status, ErrorCode.BAD_REQUEST))
    return JSONResponse(body, status, dict(headers or {}), media_type=content_type(media))


def error_body(message: str, code: str) -> dict[str, object]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def decode_json(data: str | bytes, max_depth: int) -> object:
    """A request's JSON: UTF-8 (RFC 8259), nested at most ``max_depth`` deep. Malformed
    bytes and deep nesting are the client's errors (400), never the parser's crash;
    orjson stops at 1,024 levels by itself, so even the depth check's input is bounded."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise HTTPException(
                400, f"the body is not valid UTF-8 (byte {error.start} cannot be decoded)"
            ) from error
    try:
        value = orjson.loads(data)  # other JSONDecodeErrors: strawberry's 400 for bad JSON
    except orjson.JSONDecodeError as error:
        if error.msg.startswith("depth limit"):
            raise _deeper(max_depth) from error
        raise
    if _nests_deeper(data, max_depth):
        raise _deeper(max_depth)
    return value


def _deeper(max_depth: int) -> HTTPException:
    """Made where it is raised: an exception held in a local of the frame it is raised
    from is a reference cycle (exception, traceback, frame), which keeps the frame's
    request body alive until the collector's next scan rather than freeing it at once."""
    return HTTPException(400, f"the JSON nests deeper than {max_depth} levels")


_JSON_KINDS = {bool: "true or false", int: "a number", float: "a number", str: "a string"}
_JSON_KINDS[type(None)] = "null"


def json_object(value: object) -> object:
    """``value`` if it is a JSON object or a list of objects, else the client's 400."""
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, dict) for item in items):
        kind = "a list of other values" if isinstance(value, list) else _JSON_KINDS[type(value)]
        raise HTTPException(400, f"expected a JSON object (or a list of them), not {kind}")
    return value


def _nests_deeper(text: str, limit: int) -> bool:
    """Whether JSON already known to be well-formed nests deeper than ``limit``: its
    strings dropped, its brackets kept, one level of innermost pairs removed per pass.
    Each pass is one scan in C, so even 100,000 siblings cost a pass, not a Python loop
    over every value."""
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    for _ in range(limit):
        if not brackets:
            return False
        brackets = _INNERMOST_PAIR.sub("", brackets)
    return bool(brackets)


def refusal(error: HTTPException, method: str, media: str) -> Response:
    """The GraphQL response to a request refused before GraphQL ran: an error with a
    code. A mutation over GET is a 405 (the spec's MUST; POST is the method to use); an
    operation that cannot be determined is a request error like a validation failure."""
    status, headers = error.status_code, {}
    cause = error.__cause__
    if isinstance(cause, InvalidOperationTypeError) and (
        method == "GET" and cause.operation_type == OperationType.MUTATION
    ):
        status, headers = 405, {"Allow": "POST"}
    code = HTTP_CODES.get(status, ErrorCode.BAD_REQUEST)
    if isinstance(cause, CannotGetOperationTypeError):
        code = ErrorCode.OPERATION_RESOLUTION_FAILURE
        status = 400 if media == GRAPHQL_RESPONSE else 200
    return coded(status, error.reason, media=media, headers=headers, code=code)


def not_acceptable() -> Response:
    message = f"this endpoint answers in {GRAPHQL_RESPONSE} or {JSON}; say so in Accept"
    return coded(406, message)


class OperationChoice(SchemaExtension):
    """GraphQL's GetOperation(): a document with several operations and no
    ``operationName`` is a request error. Strawberry would run the first one."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        named = context._provided_operation_name  # what the client sent, not the default
        if document is not None and named is None:
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            if len(operations) > 1:
                # set before validation runs, so strawberry skips it and refuses the request
                context.pre_execution_errors = [
                    GraphQLError(
                        "the document has several operations: name one in operationName",
                        extensions={"code": ErrorCode.OPERATION_RESOLUTION_FAILURE},
                    )
                ]
        yield
