"""``updateCustomer`` and ``setConsent``: each value written to the system that owns it.

The CRM is the customer master: name, e-mail, phone, address and consents live there
(DESIGN's table), so these are PATCHes of the CRM contact, one call each, and safe to
repeat (they set values; they add nothing). The other systems' copies (the ERP account's
name, the till's profile) are theirs to keep; the golden record prefers the CRM's values
and says so in its provenance. A customer the CRM does not know (a loyalty member who
never registered online) cannot be updated here: the CRM creates contacts through its
own sign-up, not through Mosaic.
"""

from __future__ import annotations

from datetime import date

from strawberry import UNSET

from adapters.errors import BadUserInput, PayloadCode
from resolvers.commerce.ordering import refusal
from resolvers.golden.identity import start_keys_of_id
from resolvers.golden.survivorship import normalise_email
from resolvers.graphql.context import Info
from resolvers.graphql.types.customer import Customer
from resolvers.graphql.types.writes import UpdateCustomerInput, UserError
from resolvers.loading.reads import READS
from resolvers.loading.sources import Sources

#: the CRM properties of an address (adapters.crm.FIELDS)
ADDRESS_PROPERTIES = {
    "street": "address",
    "city": "city",
    "postal_code": "zip",
    "country": "country",
}


async def crm_contact(
    info: Info, customer_id: str
) -> tuple[Customer | None, str | None, list[UserError]]:
    """The customer and their CRM contact id, or why there is none to write to."""
    try:
        known = start_keys_of_id(customer_id)
    except BadUserInput as error:
        return None, None, [refusal(PayloadCode.UNKNOWN_CUSTOMER, error.message, "customerId")]
    customer = await Customer.find(info.context.loaders, known)
    if customer is None:
        return (
            None,
            None,
            [refusal(PayloadCode.UNKNOWN_CUSTOMER, f"no customer {customer_id}", "customerId")],
        )
    fragments = await customer.identity.complete()
    contact_id = fragments.crm.record_id if fragments.crm else None
    if contact_id is None:
        message = "the CRM has no record of this customer to change"
        return customer, None, [refusal(PayloadCode.NOT_IN_CRM, message, "customerId")]
    return customer, contact_id, []


def contact_changes(request: UpdateCustomerInput) -> tuple[dict[str, str], list[UserError]]:
    """The CRM properties to set, and values that cannot be set. A field left out stays
    as it is; ``null`` clears it (but a name)."""
    changes: dict[str, str] = {}
    errors: list[UserError] = []
    if request.name is not UNSET:
        first, _, last = (request.name or "").strip().partition(" ")
        if not first:
            errors.append(refusal(PayloadCode.INVALID_INPUT, "a name cannot be empty", "name"))
        changes.update(firstname=first, lastname=last.strip())
    if request.email is not UNSET:
        email = normalise_email(request.email or "")
        if email and "@" not in email:
            message = f"{request.email!r} is no e-mail address"
            errors.append(refusal(PayloadCode.INVALID_INPUT, message, "email"))
        changes["email"] = email or ""
    if request.phone is not UNSET:
        changes["phone"] = (request.phone or "").strip()
    if request.address is not UNSET:
        address = request.address
        values: dict[str, str | None] = {
            "street": address.street if address else None,
            "city": address.city if address else None,
            "postal_code": address.postal_code if address else None,
            "country": address.country if address else None,
        }
        changes.update({ADDRESS_PROPERTIES[k]: (v or "").strip() for k, v in values.items()})
    if not changes and not errors:
        errors.append(refusal(PayloadCode.INVALID_INPUT, "nothing to change"))
    return changes, errors


def consent_changes(purpose: str, granted: bool, valid_until: date | None) -> dict[str, str]:
    """The CRM properties of one consent (``purpose``: one of ``adapters.crm.CONSENT_PURPOSES``, as
    the schema's ConsentPurpose lets through)."""
    return {
        f"consent_{purpose}": "true" if granted else "false",
        f"consent_{purpose}_valid_until": valid_until.isoformat() if valid_until else "",
    }


async def write_contact(
    info: Info, sources: Sources, contact_id: str, properties: dict[str, str]
) -> Customer | None:
    """PATCH the contact, and the customer as the systems now tell it (this request's
    loaders forget what they read before the write)."""
    await sources.crm.update_contact(contact_id, properties)
    loaders = info.context.loaders
    for name in READS:
        getattr(loaders, name).clear_all()
    return await Customer.find(loaders, {"crm_id": contact_id})
