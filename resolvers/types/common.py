"""Small shared types: channels, money, coordinates, addresses."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum

import strawberry

from adapters import records
from resolvers.inputs import POSTAL_CODE, text


@strawberry.enum(description="Where a shopper meets the retailer.")
class Channel(Enum):
    WEB = "WEB"
    APP = "APP"
    STORE = "STORE"


@strawberry.type(description="An amount in major units (euros, not cents) and its currency.")
class Money:
    amount: Decimal
    currency: str = strawberry.field(description="ISO 4217 code, e.g. EUR.")

    @classmethod
    def of(cls, money: records.Money | None) -> Money | None:
        return cls(amount=money.amount, currency=money.currency) if money else None


@strawberry.type
class Coordinates:
    lat: float
    lon: float


@strawberry.type
class Address:
    street: str | None
    city: str | None
    postal_code: str | None
    country: str | None

    @classmethod
    def of(cls, address: records.Address | None) -> Address | None:
        if address is None:
            return None
        return cls(
            street=address.street,
            city=address.city,
            postal_code=address.postal_code,
            country=address.country,
        )


@strawberry.input(description="A coordinate pair, WGS 84.")
class PointInput:
    lat: float
    lon: float


@strawberry.input(one_of=True, description="A place: a Dutch postal code or coordinates.")
class NearInput:
    postal_code: str | None = text(POSTAL_CODE, default=strawberry.UNSET)
    point: PointInput | None = strawberry.UNSET


def _utc(value: datetime) -> str:
    """An instant as ISO 8601 in UTC with ``Z``, whatever zone it was made in (a
    pickup's store time, a system's offset); a naive one is taken to be UTC already."""
    moment = value if value.tzinfo is None else value.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat() + "Z"


def _instant(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO 8601 string")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("DateTime must say its offset (Z for UTC)")
    return moment.astimezone(UTC)


#: Every DateTime Mosaic answers is in UTC, written with Z (DESIGN: Time).
DateTime = strawberry.scalar(
    name="DateTime",
    description="An instant, ISO 8601 in UTC with Z (2026-11-01T12:00:00Z).",
    serialize=_utc,
    parse_value=_instant,
)


def asked_channel(argument: Channel | None, context_channel: str) -> str:
    """The channel a field answers for: its argument if given, else the request's."""
    return argument.value if argument is not None else context_channel
