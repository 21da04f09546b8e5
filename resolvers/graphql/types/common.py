"""Small shared types: channels, money, coordinates, addresses."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated

import strawberry

from adapters import records
from resolvers.graphql.inputs import POSTAL_CODE, text


@strawberry.enum(description="Where a shopper meets the retailer.")
class Channel(Enum):
    WEB = "WEB"
    APP = "APP"
    STORE = "STORE"


@strawberry.type(description="An amount in major units (euros, not cents) and its currency.")
class Money:
    amount: Decimal = strawberry.field(
        description="In major units, as a decimal string (`12.50`): negative for a refund."
    )
    currency: str = strawberry.field(description="ISO 4217 code, e.g. EUR.")

    @classmethod
    def of(cls, money: records.Money | None) -> Money | None:
        return cls(amount=money.amount, currency=money.currency) if money else None


@strawberry.type(description="A place on the map, WGS 84.")
class Coordinates:
    lat: float = strawberry.field(description="Latitude, degrees north.")
    lon: float = strawberry.field(description="Longitude, degrees east.")


@strawberry.type(description="A postal address, as the system that holds it keeps it.")
class Address:
    street: str | None = strawberry.field(description="Street and house number.")
    city: str | None = strawberry.field(description="Town or city.")
    postal_code: str | None = strawberry.field(description="Postal code (`3511 AB`).")
    country: str | None = strawberry.field(description="ISO 3166 country code (`NL`).")

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
    lat: float = strawberry.field(description="Latitude, degrees north.")
    lon: float = strawberry.field(description="Longitude, degrees east.")


@strawberry.input(one_of=True, description="A place: a Dutch postal code or coordinates.")
class NearInput:
    postal_code: str | None = text(POSTAL_CODE, default=strawberry.UNSET)
    point: PointInput | None = strawberry.field(
        default=strawberry.UNSET, description="A point on the map."
    )


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


#: a field's ``channel`` argument: the asking channel unless given (DESIGN: Channel)
ChannelArgument = Annotated[
    Channel | None,
    strawberry.argument(
        description="The channel to answer for; default: the asking channel (the token's "
        "channel claim or X-Channel)."
    ),
]


def asked_channel(argument: Channel | None, context_channel: str) -> str:
    """The channel a field answers for: its argument if given, else the request's."""
    return argument.value if argument is not None else context_channel
