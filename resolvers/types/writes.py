"""The inputs and answers of the omnichannel writes (placing orders, returns, profile)."""

from __future__ import annotations

import strawberry

from adapters.errors import PayloadCode
from resolvers import ids
from resolvers.context import Info
from resolvers.inputs import (
    CITY,
    COUNTRY,
    CUSTOMER_ID,
    EMAIL,
    IDEMPOTENCY_KEY,
    LOCATION_ID,
    NAME,
    ORDER_ID,
    PHONE,
    POSTAL_CODE,
    RETURN_REASON,
    SKU,
    STREET,
    text,
)
from resolvers.types.common import Channel, Money
from resolvers.types.customer import Consent, Customer
from resolvers.types.order import Order
from resolvers.types.payment import Payment

# the payload codes (adapters/errors.py) made the GraphQL enum UserErrorCode, in place
strawberry.enum(PayloadCode, name="UserErrorCode", description="Why a write was refused.")


@strawberry.type(
    description="Why a write was refused, for the client to show: a code "
    "(UNKNOWN_SKU, INSUFFICIENT_STOCK, STORE_CLOSED, ...) and a sentence."
)
class UserError:
    code: PayloadCode
    message: str
    field: list[str] | None = strawberry.field(
        default=None, description="The input field the refusal is about, as a path."
    )
    reason: str | None = strawberry.field(
        default=None,
        description="Why, where a code has several reasons: NOT_RETURNABLE's NOT_FULFILLED "
        "(not shipped or collected), NOT_PAID, ALREADY_RETURNED, MORE_THAN_BOUGHT.",
    )


@strawberry.input
class OrderLineInput:
    sku: strawberry.ID = text(SKU)
    quantity: int


@strawberry.input(description="A postal address; the postal code says where it is.")
class AddressInput:
    postal_code: str = text(POSTAL_CODE)
    street: str | None = text(STREET, default=None)
    city: str | None = text(CITY, default=None)
    country: str | None = text(COUNTRY, default="NL")


@strawberry.input(
    description="An order to place: pick it up in a store (`pickupLocationId`, click & "
    "collect) or have it delivered (`deliveryAddress`), one of the two."
)
class PlaceOrderInput:
    customer_id: strawberry.ID = text(CUSTOMER_ID)
    channel: Channel
    idempotency_key: str = text(
        IDEMPOTENCY_KEY,
        description="Chosen by the client, unique per order: the same key again places no "
        "second order and answers the first.",
    )
    lines: list[OrderLineInput]
    pickup_location_id: strawberry.ID | None = text(LOCATION_ID, default=None)
    delivery_address: AddressInput | None = None


@strawberry.type
class PlaceOrderPayload:
    order: Order | None
    errors: list[UserError]


@strawberry.input(
    description="Lines of an order (online or in store) coming back, at a store "
    "(`locationId`) or by post (no location)."
)
class RegisterReturnInput:
    order_id: strawberry.ID = text(ORDER_ID)
    idempotency_key: str = text(IDEMPOTENCY_KEY)
    lines: list[OrderLineInput]
    location_id: strawberry.ID | None = text(LOCATION_ID, default=None)
    reason: str | None = text(
        RETURN_REASON, description="The ERP's return reason code.", default=None
    )


@strawberry.type(description="A return: the ERP's return order with the refund it books.")
class Return:
    id: strawberry.ID
    status: str | None
    refund: Money | None = strawberry.field(
        description="What is paid back: what the customer paid for the lines (promotions "
        "taken off), at most what is left of what the order's payments took."
    )
    order_id: strawberry.Private[str]  # the global id of the order the goods came from
    refund_payment: Payment | None = strawberry.field(
        default=None,
        description="The refund as money moving: against the payment it refunds "
        "(refundOf), by that payment's method. A store receipt's is paid at the till "
        "(COMPLETED); an online order's is PENDING until the ERP posts the return order.",
    )

    @strawberry.field(description="The order the goods came from, as it is now.")
    async def order(self, info: Info) -> Order | None:
        prefix, local = ids.split(self.order_id, ids.ORDER_PREFIXES, "order")
        loaders = info.context.loaders
        record = await (loaders.erp_order if prefix == "erp" else loaders.pos_order).load(local)
        return (await Order.many(info, [record]))[0] if record else None


@strawberry.type
class ReturnPayload:
    return_: Return | None = strawberry.field(name="return")
    errors: list[UserError]


@strawberry.input(
    description="Fields to change; each goes to the system that owns it (the CRM for "
    "name, contact and address). Fields left out stay as they are."
)
class UpdateCustomerInput:
    customer_id: strawberry.ID = text(CUSTOMER_ID)
    name: str | None = text(NAME, default=strawberry.UNSET)
    email: str | None = text(EMAIL, default=strawberry.UNSET)
    phone: str | None = text(PHONE, default=strawberry.UNSET)
    address: AddressInput | None = strawberry.UNSET


@strawberry.type
class UpdateCustomerPayload:
    customer: Customer | None
    errors: list[UserError]


@strawberry.type
class SetConsentPayload:
    consent: Consent | None
    customer: Customer | None
    errors: list[UserError]


@strawberry.type(description="An online order cancelled before anything of it shipped.")
class Cancellation:
    order_id: strawberry.ID = strawberry.field(
        description="The order cancelled; the ERP deletes it (NAV has no cancelled status)."
    )
    status: str = strawberry.field(description="CANCELLED.")
    released: int = strawberry.field(
        description="The holds released: each store's or warehouse's goods held for it."
    )
    refund_payment: Payment | None = strawberry.field(
        description="What was paid, refunded against its payment by its method: PENDING "
        "until the ERP pays it out; null when nothing was paid."
    )


@strawberry.type
class CancelOrderPayload:
    cancellation: Cancellation | None
    errors: list[UserError]
