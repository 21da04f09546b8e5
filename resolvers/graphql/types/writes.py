"""The inputs and answers of the omnichannel writes (placing orders, returns, profile)."""

from __future__ import annotations

import strawberry

from adapters.errors import PayloadCode
from resolvers.graphql.inputs import (
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
from resolvers.graphql.types.common import Channel
from resolvers.graphql.types.customer import Consent, Customer
from resolvers.graphql.types.order import Order, Return
from resolvers.graphql.types.payment import Payment
from resolvers.graphql.types.vocabulary import OrderStatus, RefusalReason

# the payload codes (adapters/errors.py) made the GraphQL enum UserErrorCode, in place
strawberry.enum(PayloadCode, name="UserErrorCode", description="Why a write was refused.")


@strawberry.type(
    description="Why a write was refused, for the client to show: a code "
    "(UNKNOWN_SKU, INSUFFICIENT_STOCK, STORE_CLOSED, ...) and a sentence."
)
class UserError:
    code: PayloadCode = strawberry.field(
        description="What kind of refusal, for the client to act on. Writes gain refusals: "
        "a client shows the message of a code it does not know."
    )
    message: str = strawberry.field(description="A sentence for a person to read.")
    field: list[str] | None = strawberry.field(
        default=None, description="The input field the refusal is about, as a path."
    )
    reason: RefusalReason | None = strawberry.field(
        default=None,
        description="Why, where a code has several reasons: NOT_RETURNABLE's NOT_FULFILLED "
        "(not shipped or collected), NOT_PAID, ALREADY_RETURNED, MORE_THAN_BOUGHT.",
    )


@strawberry.input(description="Pieces of one product.")
class OrderLineInput:
    sku: strawberry.ID = text(SKU)
    quantity: int = strawberry.field(description="How many pieces.")


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
    channel: Channel = strawberry.field(description="The channel it is placed in.")
    idempotency_key: str = text(
        IDEMPOTENCY_KEY,
        description="Chosen by the client, unique per order: the same key again places no "
        "second order and answers the first.",
    )
    lines: list[OrderLineInput] = strawberry.field(description="What to order.")
    pickup_location_id: strawberry.ID | None = text(LOCATION_ID, default=None)
    delivery_address: AddressInput | None = strawberry.field(
        default=None, description="Where to deliver (in the Netherlands)."
    )


@strawberry.type(description="What placeOrder did: the order, or why not.")
class PlaceOrderPayload:
    order: Order | None = strawberry.field(description="The order placed; null when refused.")
    errors: list[UserError] = strawberry.field(description="Why it was refused, if it was.")


@strawberry.input(
    description="Lines of an order (online or in store) coming back, at a store "
    "(`locationId`) or by post (no location)."
)
class RegisterReturnInput:
    order_id: strawberry.ID = text(ORDER_ID)
    idempotency_key: str = text(IDEMPOTENCY_KEY)
    lines: list[OrderLineInput] = strawberry.field(description="What comes back.")
    location_id: strawberry.ID | None = text(LOCATION_ID, default=None)
    reason: str | None = text(
        RETURN_REASON, description="The ERP's return reason code.", default=None
    )


@strawberry.type(description="What registerReturn did: the return, or why not.")
class ReturnPayload:
    return_: Return | None = strawberry.field(
        name="return", description="The return registered; null when refused."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused, if it was.")


@strawberry.input(
    description="Fields to change; each goes to the system that owns it (the CRM for "
    "name, contact and address). Fields left out stay as they are."
)
class UpdateCustomerInput:
    customer_id: strawberry.ID = text(CUSTOMER_ID)
    name: str | None = text(NAME, default=strawberry.UNSET)
    email: str | None = text(EMAIL, default=strawberry.UNSET)
    phone: str | None = text(PHONE, default=strawberry.UNSET)
    address: AddressInput | None = strawberry.field(
        default=strawberry.UNSET, description="The new postal address; null clears it."
    )


@strawberry.type(description="What updateCustomer did: the customer as now, or why not.")
class UpdateCustomerPayload:
    customer: Customer | None = strawberry.field(description="The customer as they are now.")
    errors: list[UserError] = strawberry.field(description="Why it was refused, if it was.")


@strawberry.type(description="What setConsent did: the consent as now kept, or why not.")
class SetConsentPayload:
    consent: Consent | None = strawberry.field(description="The consent as now kept.")
    customer: Customer | None = strawberry.field(description="The customer it is about.")
    errors: list[UserError] = strawberry.field(description="Why it was refused, if it was.")


@strawberry.type(description="An online order cancelled before anything of it shipped.")
class Cancellation:
    order_id: strawberry.ID = strawberry.field(
        description="The order cancelled; the ERP deletes it (NAV has no cancelled status)."
    )
    status: OrderStatus = strawberry.field(description="CANCELLED.")
    released: int = strawberry.field(
        description="The holds released: each store's or warehouse's goods held for it."
    )
    refund_payment: Payment | None = strawberry.field(
        description="What was paid, refunded against its payment by its method: PENDING "
        "until the ERP pays it out; null when nothing was paid."
    )


@strawberry.type(description="What cancelOrder did: the cancellation, or why not.")
class CancelOrderPayload:
    cancellation: Cancellation | None = strawberry.field(
        description="The cancellation; null when refused."
    )
    errors: list[UserError] = strawberry.field(description="Why it was refused, if it was.")
