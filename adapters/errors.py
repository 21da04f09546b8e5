"""Every error Mosaic reports, drawn as one hierarchy with its GraphQL code.

graphql-core copies an original exception's ``extensions`` onto the GraphQLError it
wraps, so raising one of these anywhere in a resolver is enough for the client to see
``extensions.code`` (and ``extensions.source`` for upstream failures). The module sits in
the lowest layer that every other layer imports, so adapters, resolvers and the gateway
all raise the same types.

    MosaicError
    ├── UpstreamError                  a legacy system failed us        (source set)
    │   ├── UpstreamTimeout            SOURCE_TIMEOUT
    │   ├── UpstreamUnavailable        SOURCE_UNAVAILABLE
    │   ├── UpstreamRateLimited        SOURCE_RATE_LIMITED
    │   ├── UpstreamFault              SOURCE_ERROR (5xx, SOAP fault)
    │   ├── BadUpstreamResponse        SOURCE_BAD_RESPONSE (garbage, wrong shape)
    │   ├── UpstreamAuthFailed         SOURCE_AUTH_FAILED (our credentials refused)
    │   └── CircuitOpen                CIRCUIT_OPEN
    ├── BadUserInput                   BAD_USER_INPUT
    ├── Unauthenticated                UNAUTHENTICATED
    ├── Forbidden                      FORBIDDEN
    └── ConsentRequired                CONSENT_REQUIRED

The gateway's part of the tree: refusals before GraphQL runs, by HTTP status
(``gateway/graphql_http.py``: HTTP_CODES, e.g. BAD_REQUEST, REQUEST_TIMEOUT), and the
query limits (``gateway/limits.py``: LIMIT_CODES, e.g. MAX_COST_EXCEEDED).
"""

from __future__ import annotations

from typing import Any, ClassVar


class MosaicError(Exception):
    """Base of every error a client may see; ``code`` becomes ``extensions.code``."""

    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = {"code": self.code, **extensions}


class UpstreamError(MosaicError):
    """A legacy system did not give us a usable answer; names the system in ``source``."""

    code = "SOURCE_ERROR"

    def __init__(self, source: str, message: str, **extensions: Any) -> None:
        super().__init__(f"{source}: {message}", source=source, **extensions)
        self.source = source


class UpstreamTimeout(UpstreamError):
    code = "SOURCE_TIMEOUT"


class UpstreamUnavailable(UpstreamError):
    """Connection refused or dropped: the system is not there."""

    code = "SOURCE_UNAVAILABLE"


class UpstreamRateLimited(UpstreamError):
    code = "SOURCE_RATE_LIMITED"


class UpstreamFault(UpstreamError):
    """The system answered with an error of its own (HTTP 5xx, SOAP fault)."""

    code = "SOURCE_ERROR"


class BadUpstreamResponse(UpstreamError):
    """The system answered, but with something we cannot read (garbage, wrong shape)."""

    code = "SOURCE_BAD_RESPONSE"


class UpstreamAuthFailed(UpstreamError):
    """The system refused the gateway's own credentials (HTTP 401 or 403): a setting is
    wrong or a token was revoked, so asking again cannot help, and every caller would
    meet the same refusal."""

    code = "SOURCE_AUTH_FAILED"


class CircuitOpen(UpstreamError):
    code = "CIRCUIT_OPEN"


class BadUserInput(MosaicError):
    code = "BAD_USER_INPUT"


class Unauthenticated(MosaicError):
    code = "UNAUTHENTICATED"


class Forbidden(MosaicError):
    code = "FORBIDDEN"


class ConsentRequired(MosaicError):
    code = "CONSENT_REQUIRED"
