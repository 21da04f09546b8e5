"""Every error Mosaic reports and every code it answers with, drawn as one tree.

graphql-core copies an original exception's ``extensions`` onto the GraphQLError it
wraps, so raising one of these anywhere in a resolver is enough for the client to see
``extensions.code`` (and ``extensions.source`` for upstream failures). The module sits in
the lowest layer that every other layer imports, so adapters, resolvers and the gateway
all raise the same types and write the same codes.

    MosaicError                        an error in a response's ``errors``: ErrorCode
    ├── UpstreamError                  a legacy system failed us        (source set)
    │   ├── UpstreamTimeout            SOURCE_TIMEOUT
    │   ├── UpstreamUnavailable        SOURCE_UNAVAILABLE
    │   ├── UpstreamRateLimited        SOURCE_RATE_LIMITED
    │   ├── UpstreamFault              SOURCE_ERROR (5xx, SOAP fault)
    │   ├── BadUpstreamResponse        SOURCE_BAD_RESPONSE (garbage, wrong shape)
    │   ├── UpstreamAuthFailed         SOURCE_AUTH_FAILED (our credentials refused)
    │   └── CircuitOpen                CIRCUIT_OPEN
    ├── BadUserInput                   BAD_USER_INPUT
    │   └── UnsendableValue            BAD_USER_INPUT: a source's protocol cannot carry it
    ├── Unauthenticated                UNAUTHENTICATED
    ├── Forbidden                      FORBIDDEN
    ├── ConsentRequired                CONSENT_REQUIRED
    ├── EmailTaken                     EMAIL_TAKEN: another customer has that address
    ├── ErasureIncomplete              ERASURE_INCOMPLETE: an erasure under way
    ├── ConfigurationError             CONFIGURATION_INVALID: the settings cannot run
    │                                  safely (stops start-up; no client sees it)
    └── PersistedQueryError            refused before GraphQL runs
    (gateway/security/persisted.py
                                       answers them with their HTTP status)
        ├── PersistedQueryNotFound     PERSISTED_QUERY_NOT_FOUND
        ├── PersistedQueryNotSupported PERSISTED_QUERY_NOT_SUPPORTED
        ├── PersistedQueryNotInList    PERSISTED_QUERY_NOT_IN_LIST
        └── BadPersistedQuery          BAD_REQUEST
    Refused                            a write refused for a reason the client must
                                       hear: its payload's ``errors`` (PayloadCode)

The gateway's part of the tree answers before any of these are raised: refusals before
GraphQL runs, by HTTP status (``gateway/http/graphql_http.py``: HTTP_CODES, e.g.
BAD_REQUEST, REQUEST_TIMEOUT) or by rate (RATE_LIMITED), graphql-core's own errors by
the phase that raised them (``resolvers/graphql/schema.py``: error_code), and the query
limits (``gateway/security/limits.py``: LIMIT_CODES, e.g. MAX_COST_EXCEEDED). Their
codes are :class:`ErrorCode`'s too: every code a client can meet is one of
:class:`ErrorCode` or :class:`PayloadCode` (``tests/test_error_codes.py`` holds the
source to it).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, ClassVar

#: What names a place on the network in a text: a URL, or an IPv4 address (with a
#: port). A source's own words may hold its internal addresses (an ERP's fault text, an
#: HTTP library's message); no message a client sees names one.
_ADDRESS = re.compile(
    r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]*[^\s'\"<>.,;:!?)\]]"
    r"|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"
)


def without_addresses(text: str) -> str:
    """``text`` with every URL and IP address replaced by ``<address>``."""
    return _ADDRESS.sub("<address>", text)


class ErrorCode(StrEnum):
    """``extensions.code`` of an error in a response's ``errors``: every one there is."""

    # a legacy system failed us (UpstreamError; ``extensions.source`` names it)
    SOURCE_TIMEOUT = "SOURCE_TIMEOUT"
    SOURCE_UNAVAILABLE = "SOURCE_UNAVAILABLE"
    SOURCE_RATE_LIMITED = "SOURCE_RATE_LIMITED"
    SOURCE_ERROR = "SOURCE_ERROR"
    SOURCE_BAD_RESPONSE = "SOURCE_BAD_RESPONSE"
    SOURCE_AUTH_FAILED = "SOURCE_AUTH_FAILED"
    CIRCUIT_OPEN = "CIRCUIT_OPEN"
    # the caller: who they are, what they may read, what they sent
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    CONSENT_REQUIRED = "CONSENT_REQUIRED"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    ERASURE_INCOMPLETE = "ERASURE_INCOMPLETE"
    # a bug in Mosaic (its details masked in production), or settings that cannot run
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    CONFIGURATION_INVALID = "CONFIGURATION_INVALID"
    # graphql-core's own errors, by the phase that raised them
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    OPERATION_RESOLUTION_FAILURE = "OPERATION_RESOLUTION_FAILURE"
    # the query limits (gateway/security/limits.py)
    MAX_DEPTH_EXCEEDED = "MAX_DEPTH_EXCEEDED"
    MAX_ALIASES_EXCEEDED = "MAX_ALIASES_EXCEEDED"
    MAX_TOKENS_EXCEEDED = "MAX_TOKENS_EXCEEDED"
    MAX_COST_EXCEEDED = "MAX_COST_EXCEEDED"
    MAX_ANALYSIS_TIME_EXCEEDED = "MAX_ANALYSIS_TIME_EXCEEDED"
    INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"
    # refused before GraphQL runs: by HTTP status (gateway/http/graphql_http.py:
    # HTTP_CODES), by rate (gateway/security/ratelimit.py), persisted operations
    # (gateway/security/persisted.py)
    BAD_REQUEST = "BAD_REQUEST"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    RATE_LIMITED = "RATE_LIMITED"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
    PERSISTED_QUERY_NOT_IN_LIST = "PERSISTED_QUERY_NOT_IN_LIST"


class PayloadCode(StrEnum):
    """Why a write was refused, in its payload's ``errors`` (``UserError.code``, the
    GraphQL enum ``UserErrorCode``): refusals a client is meant to show, not failures."""

    # the input
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    INVALID_POSTAL_CODE = "INVALID_POSTAL_CODE"
    UNKNOWN_CUSTOMER = "UNKNOWN_CUSTOMER"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    UNKNOWN_SKU = "UNKNOWN_SKU"
    UNKNOWN_LOCATION = "UNKNOWN_LOCATION"
    # what the systems hold
    NOT_IN_CRM = "NOT_IN_CRM"
    NO_ERP_ACCOUNT = "NO_ERP_ACCOUNT"
    NOT_SOLD = "NOT_SOLD"
    NOT_DELIVERED_THERE = "NOT_DELIVERED_THERE"
    STORE_CLOSED = "STORE_CLOSED"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    NOT_IN_ORDER = "NOT_IN_ORDER"
    NOT_RETURNABLE = "NOT_RETURNABLE"
    NOT_CANCELLABLE = "NOT_CANCELLABLE"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    ERASURE_INCOMPLETE = "ERASURE_INCOMPLETE"
    # the write itself (resolvers/commerce/sagas.py)
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    IN_PROGRESS = "IN_PROGRESS"
    INTERRUPTED = "INTERRUPTED"


class MosaicError(Exception):
    """Base of every error a client may see; ``code`` becomes ``extensions.code``."""

    code: ClassVar[ErrorCode | PayloadCode] = ErrorCode.INTERNAL_SERVER_ERROR

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = {"code": self.code, **extensions}


class Refused(Exception):
    """A write refused for a reason the client must hear (too little stock): a saga
    refused is undone, and the client gets ``code`` and ``message`` in the payload's
    ``errors``, not in the response's."""

    def __init__(self, code: PayloadCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class UpstreamError(MosaicError):
    """A legacy system did not give us a usable answer; names the system in ``source``."""

    code = ErrorCode.SOURCE_ERROR

    def __init__(self, source: str, message: str, **extensions: Any) -> None:
        super().__init__(f"{source}: {without_addresses(message)}", source=source, **extensions)
        self.source = source


class UpstreamTimeout(UpstreamError):
    code = ErrorCode.SOURCE_TIMEOUT


class UpstreamUnavailable(UpstreamError):
    """Connection refused or dropped: the system is not there."""

    code = ErrorCode.SOURCE_UNAVAILABLE


class UpstreamRateLimited(UpstreamError):
    code = ErrorCode.SOURCE_RATE_LIMITED


class UpstreamFault(UpstreamError):
    """The system answered with an error of its own (HTTP 5xx, SOAP fault)."""

    code = ErrorCode.SOURCE_ERROR


class BadUpstreamResponse(UpstreamError):
    """The system answered, but with something we cannot read (garbage, wrong shape)."""

    code = ErrorCode.SOURCE_BAD_RESPONSE


class UpstreamAuthFailed(UpstreamError):
    """The system refused the gateway's own credentials (HTTP 401 or 403): a setting is
    wrong or a token was revoked, so asking again cannot help, and every caller would
    meet the same refusal."""

    code = ErrorCode.SOURCE_AUTH_FAILED


class CircuitOpen(UpstreamError):
    code = ErrorCode.CIRCUIT_OPEN


class BadUserInput(MosaicError):
    code = ErrorCode.BAD_USER_INPUT


class UnsendableValue(BadUserInput):
    """A value the adapter refused to put on the wire (a NUL in a SOAP request: XML
    cannot carry it), found before anything was sent. The client's value is at fault,
    not the source: nothing reached it, so this never counts towards its circuit
    breaker or retries. The schema refuses such values first
    (``resolvers.graphql.inputs``); this is the last line, for what slips past."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source} cannot take this value: {without_addresses(message)}")
        self.source = source


class ErasureIncomplete(MosaicError):
    """An erasure of the customer has begun and is not finished: some of their records
    are still held (``extensions.pending``: the steps left, each system and record)."""

    code = ErrorCode.ERASURE_INCOMPLETE


class Unauthenticated(MosaicError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(MosaicError):
    code = ErrorCode.FORBIDDEN


class ConsentRequired(MosaicError):
    code = ErrorCode.CONSENT_REQUIRED


class EmailTaken(MosaicError):
    """A write refused because the e-mail address is another customer's (HubSpot's 409:
    its e-mail is unique per contact). Whose it is is never said: "Existing ID: 1001"
    would let anyone map e-mail addresses to customer ids."""

    code = PayloadCode.EMAIL_TAKEN


class ConfigurationError(MosaicError):
    """The settings cannot run safely (production without authentication); the message
    says what to set. Raised at start-up, which it stops: no client ever sees it."""

    code = ErrorCode.CONFIGURATION_INVALID


class PersistedQueryError(MosaicError):
    """A persisted-operation request answered without running anything, with
    ``status`` (gateway/security/persisted.py)."""

    code = ErrorCode.BAD_REQUEST
    status: ClassVar[int] = 400


class PersistedQueryNotFound(PersistedQueryError):
    """The hash is not known (yet): Apollo's client then sends the document with it. It
    recognises the message, not the code: both as Apollo spells them, with a 200."""

    code = ErrorCode.PERSISTED_QUERY_NOT_FOUND
    status = 200

    def __init__(self) -> None:
        super().__init__("PersistedQueryNotFound")


class PersistedQueryNotSupported(PersistedQueryError):
    """Automatic persisted queries are switched off (``MOSAIC_PERSISTED_QUERIES``)."""

    code = ErrorCode.PERSISTED_QUERY_NOT_SUPPORTED
    status = 200

    def __init__(self) -> None:
        super().__init__("PersistedQueryNotSupported")


class PersistedQueryNotInList(PersistedQueryError):
    """Only trusted documents run, and this is not one of them."""

    code = ErrorCode.PERSISTED_QUERY_NOT_IN_LIST


class BadPersistedQuery(PersistedQueryError):
    """The ``persistedQuery`` extension is malformed, or its hash not the document's."""
