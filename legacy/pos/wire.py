"""Square's request conventions in the simulated POS: its error body, the checks of a
request body against the limits Square publishes, and its opaque cursors.

Every refusal is Square's shape, ``{"errors": [{category, code, detail, field?}]}``,
with the status Square gives it, and the codes are Square's own (the spec's
``x-square-generic-error-codes`` and ``ErrorCode``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from typing import Any

from starlette.responses import JSONResponse, Response

Json = dict[str, Any]


class SquareError(Exception):
    """An error answered in Square's shape: ``{"errors": [...]}`` with an HTTP status."""

    def __init__(
        self,
        detail: str,
        *,
        code: str = "INVALID_VALUE",
        field: str | None = None,
        status: int = 400,
        category: str = "INVALID_REQUEST_ERROR",
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error: Json = {"category": category, "code": code, "detail": detail}
        if field:
            self.error["field"] = field

    def response(self) -> Response:
        return JSONResponse({"errors": [self.error]}, status_code=self.status)


def not_found(what: str, key: str) -> SquareError:
    return SquareError(f"{what} {key} not found", code="NOT_FOUND", status=404)


def missing(field: str) -> SquareError:
    return SquareError(f"{field} is required", code="MISSING_REQUIRED_PARAMETER", field=field)


def known(body: Json, fields: Iterable[str], where: str = "") -> Json:
    """``body`` when it holds only ``fields``: a field Square's request does not have
    (``include_customer``, ``card_numbers``, ``wait_s``) is refused, not ignored."""
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise SquareError(
            f"unknown field {where}{unknown[0]}",
            code="UNKNOWN_BODY_PARAMETER",
            field=f"{where}{unknown[0]}",
        )
    return body


def strings(body: Json, field: str, limit: int, *, required: bool = False) -> list[str] | None:
    """A list of ids from the body, de-duplicated in order; None when absent."""
    value = body.get(field)
    if value is None:
        if required:
            raise missing(field)
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SquareError(
            f"{field} must be an array of strings", code="EXPECTED_ARRAY", field=field
        )
    if len(value) > limit:
        raise SquareError(
            f"{field} may hold at most {limit} values", code="ARRAY_LENGTH_TOO_LONG", field=field
        )
    return list(dict.fromkeys(value))


def enums(body: Json, field: str, allowed: Iterable[str]) -> list[str] | None:
    values = strings(body, field, 100)
    if values is not None and not set(values) <= set(allowed):
        raise SquareError(f"{field} holds an unknown value", code="INVALID_ENUM_VALUE", field=field)
    return values


def text(body: Json, field: str, *, required: bool = False) -> str | None:
    value = body.get(field)
    if value is None:
        if required:
            raise missing(field)
        return None
    if not isinstance(value, str) or not value:
        raise SquareError(f"{field} must be a string", code="EXPECTED_STRING", field=field)
    return value


def obj(body: Json, field: str) -> Json:
    value = body.get(field) or {}
    if not isinstance(value, dict):
        raise SquareError(f"{field} must be an object", code="EXPECTED_OBJECT", field=field)
    return value


def limit(body: Json, default: int, maximum: int) -> int:
    value = body.get("limit", default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise SquareError("limit must be an integer", code="EXPECTED_INTEGER", field="limit")
    if not 1 <= value <= maximum:
        code = "VALUE_TOO_HIGH" if value > maximum else "VALUE_TOO_LOW"
        raise SquareError(f"limit must be between 1 and {maximum}", code=code, field="limit")
    return value


def offset(body: Json) -> int:
    """Where the page starts; the cursor is opaque to clients, an offset to us."""
    cursor = body.get("cursor")
    if not cursor:
        return 0
    try:
        kind, _, value = base64.urlsafe_b64decode(str(cursor).encode()).decode().partition(":")
        if kind != "offset":
            raise ValueError(kind)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise SquareError("invalid cursor", code="INVALID_CURSOR", field="cursor") from exc


def page(items: Sequence[Json], start: int, size: int, key: str) -> Json:
    """One page of ``items`` (which hold the page and one more, to see if more follow).
    Square leaves out a list that would be empty."""
    answer: Json = {key: list(items[:size])} if items else {}
    if len(items) > size:
        answer["cursor"] = base64.urlsafe_b64encode(f"offset:{start + size}".encode()).decode()
    return answer


def quantity(value: Any, field: str = "quantity") -> int:
    """A Square decimal-string quantity of whole pieces, at least one."""
    try:
        pieces = int(str(value))
    except ValueError as exc:
        raise SquareError(f"{field} {value!r} is not a whole number", field=field) from exc
    if pieces < 1:
        raise SquareError(f"{field} must be positive", code="VALUE_TOO_LOW", field=field)
    return pieces


def money(body: Json, field: str, currency: str) -> int:
    """An amount in minor units, in the seller's currency."""
    value = obj(body, field)
    amount = value.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise missing(f"{field}.amount")
    if value.get("currency") != currency:
        raise SquareError(
            f"this seller takes {currency}", code="CURRENCY_MISMATCH", field=f"{field}.currency"
        )
    return amount


def where_in(column: str, values: Sequence[str]) -> tuple[str, list[str]]:
    return f"{column} IN ({','.join('?' * len(values))})", list(values)


def where_all(filters: Iterable[tuple[str, Sequence[str] | None]]) -> tuple[str, list[Any]]:
    """A condition matching every (column, values) filter; None values: no filter."""
    conditions, args = ["1 = 1"], []
    for column, values in filters:
        if values is not None:
            clause, more = where_in(column, values)
            conditions.append(clause)
            args.extend(more)
    return " AND ".join(conditions), args
