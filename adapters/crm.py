"""The CRM adapter: HubSpot CRM v3 contacts in, ``CustomerFragment`` out.

HubSpot keeps every value as a string property: booleans as ``"true"``, dates as ISO
text, multi-checkboxes ``;``-joined. :data:`FIELDS` and :func:`to_fragment` are the one
place where those property names and encodings meet Mosaic's record fields; every call
asks for exactly the properties they read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from functools import partial
from typing import Any, Literal
from urllib.parse import quote

import aiohttp

from adapters.batching import in_chunks, unique
from adapters.config import SourceConfig
from adapters.errors import BadUpstreamResponse, UpstreamFault
from adapters.normalise import email_key
from adapters.records import Address, Consent, CustomerFragment
from adapters.rest import JsonClient

CONTACTS = "/crm/v3/objects/contacts"
BATCH_READ = f"{CONTACTS}/batch/read"
SEARCH = f"{CONTACTS}/search"
GDPR_DELETE = f"{CONTACTS}/gdpr-delete"
HUBSPOT_MAX_INPUTS = 100  # HubSpot's limit for batch inputs and for a search page

#: record field -> HubSpot property of our portal
FIELDS: dict[str, str] = {
    "first_name": "firstname",
    "last_name": "lastname",
    "email": "email",
    "phone": "phone",
    "street": "address",
    "city": "city",
    "postal_code": "zip",
    "country": "country",
    "erp_customer_no": "erp_customer_number",
    "loyalty_card": "loyalty_card_number",
    "segments": "segments",
}
#: the consent purposes our portal keeps, each as ``consent_<purpose>`` ("true"/"false")
#: and ``consent_<purpose>_valid_until`` (ISO date); a new purpose is a new pair of
#: properties in the portal, so it is added here too
CONSENT_PURPOSES = ("email_marketing", "personalisation", "analytics")
MULTI_VALUE_SEPARATOR = ";"  # HubSpot's multi-checkbox encoding


def _consent_properties(purpose: str) -> tuple[str, str]:
    return f"consent_{purpose}", f"consent_{purpose}_valid_until"


PROPERTIES: tuple[str, ...] = (
    *FIELDS.values(),
    *(name for purpose in CONSENT_PURPOSES for name in _consent_properties(purpose)),
)

LookupField = Literal["email", "loyalty_card", "erp_customer_no", "phone"]


def _folded(value: str) -> str:
    return value.strip().casefold()


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


#: how an asked value and a contact's value are compared, per lookup field: HubSpot
#: matches text case-insensitively, and a phone number is its digits however written
_MATCH_FORMS: dict[LookupField, Callable[[str], str]] = {
    "email": _folded,
    "loyalty_card": _folded,
    "erp_customer_no": _folded,
    "phone": _digits,
}


def to_fragment(contact: Mapping[str, Any]) -> CustomerFragment:
    """One HubSpot contact object as our record; a missing or mistyped part raises
    (``JsonClient.parse`` reports it as a bad answer)."""
    properties = contact["properties"]
    if not isinstance(properties, Mapping):
        raise TypeError(f"properties is {type(properties).__name__}, not an object")

    def text(name: str) -> str | None:
        value = properties.get(name)
        if value is not None and not isinstance(value, str):
            raise TypeError(f"property {name} is {type(value).__name__}, not a string")
        return value or None  # HubSpot clears a value to "" or null

    def field(name: str) -> str | None:
        return text(FIELDS[name])

    return CustomerFragment(
        source="crm",
        record_id=str(contact["id"]),
        first_name=field("first_name"),
        last_name=field("last_name"),
        email=field("email"),
        phone=field("phone"),
        address=_address(field("street"), field("city"), field("postal_code"), field("country")),
        updated_at=datetime.fromisoformat(contact["updatedAt"]),
        erp_customer_no=field("erp_customer_no"),
        loyalty_card=field("loyalty_card"),
        consents=tuple(
            consent
            for purpose in CONSENT_PURPOSES
            if (consent := _consent(purpose, text)) is not None
        ),
        segments=tuple(s for s in (field("segments") or "").split(MULTI_VALUE_SEPARATOR) if s),
    )


def _consent(purpose: str, text: Callable[[str], str | None]) -> Consent | None:
    """A purpose the CRM has no answer for is left out, not read as a refusal."""
    granted_name, until_name = _consent_properties(purpose)
    granted = text(granted_name)
    if granted is None:
        return None
    return Consent(purpose, granted == "true", _date(text(until_name)))


def _address(*parts: str | None) -> Address | None:
    return Address(*parts) if any(parts) else None


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _results(answer: Any) -> list[CustomerFragment]:
    return [to_fragment(contact) for contact in answer["results"]]


def _search_page(answer: Any) -> tuple[list[CustomerFragment], str | None]:
    """A search answer's contacts, and the cursor of the next page if there is one."""
    following = (answer.get("paging") or {}).get("next")
    after = None if following is None else str(following["after"])
    return _results(answer), after


def _recency(fragment: CustomerFragment) -> float:
    return fragment.updated_at.timestamp() if fragment.updated_at else float("-inf")


class CrmAdapter:
    """Reads and writes contacts in the CRM, the customer master.

    Lookups by a property (:meth:`contacts_by`) use two HubSpot operations on purpose:

    - e-mail, loyalty card and ERP customer number are *unique* properties in our portal,
      so they go through ``batch/read`` with ``idProperty``: one call per 100 keys, at
      most one contact per key (no paging, no ambiguity), read from the record store
      itself, where HubSpot's search index trails writes by seconds (a card linked a
      moment ago must be found) and search has a lower rate limit of its own;
    - a phone number is not unique, so it goes through ``search`` with the ``IN``
      operator, one call per 100 numbers plus one per further page of results; where
      several contacts share a number, the most recently updated one answers.
    """

    def __init__(self, session: aiohttp.ClientSession, config: SourceConfig) -> None:
        self.client = JsonClient("crm", session, config)
        self.batch_size = min(config.max_batch, HUBSPOT_MAX_INPUTS)

    async def contacts(self, ids: Sequence[str]) -> dict[str, CustomerFragment]:
        """Contacts by CRM id; unknown and archived ids are absent."""
        found = await in_chunks(ids, self.batch_size, partial(self._batch_read, None))
        return {fragment.record_id: fragment for fragment in found}

    async def contacts_by(
        self, prop: LookupField, values: Sequence[str]
    ) -> dict[str, CustomerFragment]:
        """Contacts by e-mail, loyalty card, ERP customer number or phone, keyed by the
        value asked (e-mails normalised: stripped, lower-case); misses are absent."""
        match = _MATCH_FORMS[prop]
        asked = [email_key(v) for v in values] if prop == "email" else list(values)
        keys_by_form: dict[str, list[str]] = {}
        for value in unique(asked):
            if form := match(value):
                keys_by_form.setdefault(form, []).append(value)
        property_name = FIELDS[prop]
        fetch = (
            partial(self._search_in, property_name)
            if prop == "phone"
            else partial(self._batch_read, property_name)
        )
        found: dict[str, CustomerFragment] = {}
        for fragment in sorted(
            await in_chunks(keys_by_form, self.batch_size, fetch), key=_recency, reverse=True
        ):
            for key in keys_by_form.get(match(getattr(fragment, prop) or ""), ()):
                found.setdefault(key, fragment)
        return found

    async def update_contact(self, contact_id: str, properties: dict[str, str]) -> CustomerFragment:
        """Overwrite HubSpot properties of one contact (``""`` clears one)."""
        answer = await self.client.patch(
            f"{CONTACTS}/{quote(contact_id, safe='')}", {"properties": properties}
        )
        return self.client.parse("contact", partial(to_fragment, answer))

    async def delete_contact(self, contact_id: str) -> None:
        """Archive one contact. A contact the CRM does not know is gone already, so
        deleting is safe to repeat (an erasure saga may)."""
        try:
            await self.client.delete(f"{CONTACTS}/{quote(contact_id, safe='')}")
        except UpstreamFault as exc:
            if exc.extensions.get("status") != 404:
                raise

    async def gdpr_delete(self, contact_id: str) -> bool:
        """Delete one contact for good (HubSpot's GDPR delete: unlike archiving, nothing
        stays in a recycle bin). False if the CRM did not know it (gone already), so an
        erasure may repeat it."""
        try:
            await self.client.post(GDPR_DELETE, {"objectId": contact_id})
        except UpstreamFault as exc:
            if exc.extensions.get("status") != 404:
                raise
            return False
        return True

    async def _batch_read(
        self, id_property: str | None, keys: Sequence[str]
    ) -> list[CustomerFragment]:
        """One ``batch/read``: by internal id, or by a unique property's values."""
        body: dict[str, Any] = {
            "inputs": [{"id": key} for key in keys],
            "properties": PROPERTIES,
            "propertiesWithHistory": [],
        }
        if id_property:
            body["idProperty"] = id_property
        answer = await self.client.post(BATCH_READ, body)
        return self.client.parse("contact batch", partial(_results, answer))

    async def _search_in(self, property_name: str, values: Sequence[str]) -> list[CustomerFragment]:
        """Every contact whose property is one of ``values``, following the pages."""
        body: dict[str, Any] = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": property_name, "operator": "IN", "values": list(values)}
                    ]
                }
            ],
            "properties": PROPERTIES,
            "limit": HUBSPOT_MAX_INPUTS,
        }
        found: list[CustomerFragment] = []
        after: str | None = None
        while True:
            answer = await self.client.post(
                SEARCH, body if after is None else {**body, "after": after}
            )
            page, following = self.client.parse("contact search", partial(_search_page, answer))
            found.extend(page)
            if following is None:
                return found
            if following == after:
                raise BadUpstreamResponse("crm", f"search paging stuck at after={after}")
            after = following
