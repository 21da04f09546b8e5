"""What a REST source says when it refuses a request: its error body, read into a
message and extensions of our error.

Each product words a refusal its own way: HubSpot an object with ``category``,
``message`` and ``correlationId`` (its 429 ``errorType`` and ``policyName`` instead of a
category), Square a list ``errors[]`` of ``category``, ``code``, ``detail`` and ``field``,
the WMS ``{"error": {"code", "message"}}``. A reader turns one into
:class:`UpstreamSays`; the client puts it on the error it raises, so a client of the
gateway, a log line and an engineer reporting to the vendor all see the product's own
category, code and correlation id. Only the product's words are kept, cut short: never
a header, a token or the request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: the most of an upstream message we pass on
MESSAGE_LIMIT = 300


@dataclass(frozen=True, slots=True)
class UpstreamSays:
    message: str  # the product's own words
    extensions: dict[str, str] = field(default_factory=dict)  # upstreamCategory, ...


#: reads a decoded error body; None when it is not this product's shape
ErrorReader = Callable[[Any], UpstreamSays | None]


def _text(value: Any) -> str | None:
    return value[:MESSAGE_LIMIT] if isinstance(value, str) and value else None


def _extensions(**values: Any) -> dict[str, str]:
    return {name: text for name, value in values.items() if (text := _text(value))}


def hubspot_error(body: Any) -> UpstreamSays | None:
    """HubSpot's ``Error``: ``category``, ``message``, ``correlationId`` (and
    ``subCategory``); a 429 says ``errorType`` and ``policyName`` instead."""
    if not isinstance(body, Mapping) or not _text(body.get("message")):
        return None
    return UpstreamSays(
        body["message"][:MESSAGE_LIMIT],
        _extensions(
            upstreamCategory=body.get("category") or body.get("errorType"),
            upstreamCode=body.get("subCategory") or body.get("policyName"),
            correlationId=body.get("correlationId"),
        ),
    )


def square_error(body: Any) -> UpstreamSays | None:
    """Square's ``errors[]``; the first error speaks for the answer, the others are
    counted in the message."""
    errors = body.get("errors") if isinstance(body, Mapping) else None
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], Mapping):
        return None
    first = errors[0]
    words = _text(first.get("detail")) or _text(first.get("code")) or "error"
    if len(errors) > 1:
        words = f"{words} (and {len(errors) - 1} more)"
    return UpstreamSays(
        words,
        _extensions(
            upstreamCategory=first.get("category"),
            upstreamCode=first.get("code"),
            upstreamField=first.get("field"),
        ),
    )


def wms_error(body: Any) -> UpstreamSays | None:
    """The WMS's ``{"error": {"code", "message"}}``."""
    error = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(error, Mapping) or not _text(error.get("message")):
        return None
    return UpstreamSays(
        error["message"][:MESSAGE_LIMIT], _extensions(upstreamCode=error.get("code"))
    )


#: each source's product, by the name Mosaic gives the source
READERS: dict[str, ErrorReader] = {"crm": hubspot_error, "pos": square_error, "wms": wms_error}
