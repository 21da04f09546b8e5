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
    │   └── UnsendableValue            BAD_USER_INPUT: a source's protocol cannot carry it
    ├── Unauthenticated                UNAUTHENTICATED
    ├── Forbidden                      FORBIDDEN
    ├── ConsentRequired                CONSENT_REQUIRED
    ├── EmailTaken                     EMAIL_TAKEN: another customer has that address
    └── ErasureIncomplete              ERASURE_INCOMPLETE: an erasure under way

The gateway's part of the tree: refusals before GraphQL runs, by HTTP status
(``gateway/graphql_http.py``: HTTP_CODES, e.g. BAD_REQUEST, REQUEST_TIMEOUT), and the
query limits (``gateway/limits.py``: LIMIT_CODES, e.g. MAX_COST_EXCEEDED).
"""

from __future__ import annotations

import re
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
        super().__init__(f"{source}: {without_addresses(message)}", source=source, **extensions)
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


class UnsendableValue(BadUserInput):
    """A value the adapter refused to put on the wire (a NUL in a SOAP request: XML
    cannot carry it), found before anything was sent. The client's value is at fault,
    not the source: nothing reached it, so this never counts towards its circuit
    breaker or retries. The schema refuses such values first (``resolvers.inputs``);
    this is the last line, for what slips past."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source} cannot take this value: {without_addresses(message)}")
        self.source = source


class ErasureIncomplete(MosaicError):
    """An erasure of the customer has begun and is not finished: some of their records
    are still held (``extensions.pending``: the steps left, each system and record)."""

    code = "ERASURE_INCOMPLETE"


class Unauthenticated(MosaicError):
    code = "UNAUTHENTICATED"


class Forbidden(MosaicError):
    code = "FORBIDDEN"


class ConsentRequired(MosaicError):
    code = "CONSENT_REQUIRED"


class EmailTaken(MosaicError):
    """A write refused because the e-mail address is another customer's (HubSpot's 409:
    its e-mail is unique per contact). Whose it is is never said: "Existing ID: 1001"
    would let anyone map e-mail addresses to customer ids."""

    code = "EMAIL_TAKEN"
