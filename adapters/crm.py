"""The CRM adapter: HubSpot CRM v3 contacts in, ``CustomerFragment`` out.

HubSpot keeps every value as a string property: booleans as ``"true"``, dates as ISO
text, multi-checkboxes ``;``-joined. :data:`FIELDS` and :func:`to_fragment` are the one
place where those property names and encodings meet Mosaic's record fields; every call
asks for exactly the properties they read. The calls are the ones
``contracts/crm/*.oas.json`` describe, with the bodies they require.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any, Literal
from urllib.parse import quote

import aiohttp
import phonenumbers

from adapters.checks import Finding
from adapters.config import CrmConfig, SourceConfig
from adapters.errors import BadUpstreamResponse, EmailTaken, UpstreamError, UpstreamFault
from adapters.normalise import email_key
from adapters.records import Address, Consent, CustomerFragment
from adapters.transport.batching import in_chunks, unique
from adapters.transport.rest import JsonClient, probe

CONTACTS = "/crm/v3/objects/contacts"
BATCH_READ = f"{CONTACTS}/batch/read"
SEARCH = f"{CONTACTS}/search"
GDPR_DELETE = f"{CONTACTS}/gdpr-delete"
CONTACT_PROPERTIES = "/crm/v3/properties/contacts"
HUBSPOT_MAX_INPUTS = 100  # HubSpot's limit for batch inputs and for the values of IN
#: HubSpot's calculated form of ``phone`` for search: the national number's digits, so a
#: number is found however it was written (``+31 6 1234 5678``, ``06-12345678``)
SEARCHABLE_PHONE = "hs_searchable_calculated_phone_number"

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

#: the custom properties of our portal that identify one contact: HubSpot looks a
#: contact up by one (batch/read's idProperty) only when it requires unique values
UNIQUE_CUSTOM_PROPERTIES = (FIELDS["erp_customer_no"], FIELDS["loyalty_card"])

LookupField = Literal["email", "loyalty_card", "erp_customer_no", "phone"]


def _folded(value: str) -> str:
    """How HubSpot compares text: case-insensitively."""
    return value.strip().casefold()


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


def _match(
    fragments: Iterable[CustomerFragment],
    keys_by_form: Mapping[str, Sequence[str]],
    form_of: Callable[[CustomerFragment], str | None],
) -> dict[str, CustomerFragment]:
    """Each asked key's contact: the one whose form of the looked-up value is the key's;
    where several share it, the most recently updated one."""
    found: dict[str, CustomerFragment] = {}
    for fragment in sorted(fragments, key=_recency, reverse=True):
        for key in keys_by_form.get(form_of(fragment) or "", ()):
            found.setdefault(key, fragment)
    return found


class CrmAdapter:
    """Reads and writes contacts in the CRM, the customer master.

    Lookups by a property (:meth:`contacts_by`) use two HubSpot operations on purpose:

    - e-mail, loyalty card and ERP customer number are *unique* properties in our portal,
      so they go through ``batch/read`` with ``idProperty``: one call per 100 keys, at
      most one contact per key (no paging, no ambiguity), read from the record store
      itself, where HubSpot's search index trails writes by seconds (a card linked a
      moment ago must be found) and search has a lower rate limit of its own;
    - a phone number is not unique, and HubSpot compares text as it was stored, so it
      goes through ``search`` on HubSpot's calculated
      ``hs_searchable_calculated_phone_number`` (the national number's digits, however
      the number was written) with the ``IN`` operator: one call per 100 numbers plus
      one per further page of results; where several contacts share a number, the most
      recently updated one answers.
    """

    def __init__(self, session: aiohttp.ClientSession, config: SourceConfig) -> None:
        self.client = JsonClient("crm", session, config)
        self.batch_size = min(config.max_batch, HUBSPOT_MAX_INPUTS)
        self.phone_region = config.phone_region if isinstance(config, CrmConfig) else "NL"

    async def contacts(self, ids: Sequence[str]) -> dict[str, CustomerFragment]:
        """Contacts by CRM id; unknown and archived ids are absent."""
        found = await in_chunks(ids, self.batch_size, partial(self._batch_read, None))
        return {fragment.record_id: fragment for fragment in found}

    async def contacts_by(
        self, prop: LookupField, values: Sequence[str]
    ) -> dict[str, CustomerFragment]:
        """Contacts by e-mail, loyalty card, ERP customer number or phone, keyed by the
        value asked (e-mails normalised: stripped, lower-case); misses are absent."""
        if prop == "phone":
            return await self._contacts_by_phone(values)
        asked = [email_key(v) for v in values] if prop == "email" else list(values)
        keys_by_form: dict[str, list[str]] = {}
        for value in unique(asked):
            if form := _folded(value):
                keys_by_form.setdefault(form, []).append(value)
        fetch = partial(self._batch_read, FIELDS[prop])
        found = await in_chunks(keys_by_form, self.batch_size, fetch)
        return _match(found, keys_by_form, lambda f: _folded(getattr(f, prop) or ""))

    async def _contacts_by_phone(self, values: Sequence[str]) -> dict[str, CustomerFragment]:
        """Numbers are compared as numbers (E.164, a number without a country code taken
        to be from ``phone_region``); HubSpot is asked by their searchable form."""
        keys_by_number: dict[str, list[str]] = {}
        searchable: dict[str, str] = {}
        for value in unique(values):
            number = self._number(value)
            if number is not None:
                keys_by_number.setdefault(number.e164, []).append(value)
                searchable[number.e164] = number.national
        found = await in_chunks(
            sorted(set(searchable.values())), self.batch_size, self._search_phones
        )
        return _match(found, keys_by_number, lambda f: self._e164(f.phone))

    def _number(self, text: str) -> _Number | None:
        try:
            number = phonenumbers.parse(text, self.phone_region)
        except phonenumbers.NumberParseException:
            return None
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return _Number(e164, str(number.national_number))

    def _e164(self, text: str | None) -> str | None:
        number = self._number(text) if text else None
        return number.e164 if number else None

    async def update_contact(self, contact_id: str, properties: dict[str, str]) -> None:
        """Overwrite HubSpot properties of one contact (``""`` clears one). HubSpot's
        answer tells only what was written, so whoever needs the contact reads it.

        HubSpot refuses a value of a unique property that another contact holds with a
        409 naming that contact ("Contact already exists. Existing ID: 1001"). Its words
        never reach a client: an e-mail address is :class:`EmailTaken`, anything else a
        conflict in neutral words."""
        try:
            await self.client.patch(
                f"{CONTACTS}/{quote(contact_id, safe='')}", {"properties": properties}
            )
        except UpstreamFault as exc:
            if exc.extensions.get("status") != 409:
                raise
            if FIELDS["email"] in properties:
                raise EmailTaken("this e-mail address belongs to another customer") from exc
            said = {k: v for k, v in exc.extensions.items() if k not in ("code", "source")}
            raise UpstreamFault(
                "crm", "HTTP 409: a unique value belongs to another contact", **said
            ) from exc

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

    async def check(self) -> list[Finding]:
        """Whether the portal has what Mosaic uses: the token is accepted, the contact
        properties Mosaic reads exist (the custom ones created as ``Connect your
        HubSpot`` says, the lookup keys requiring unique values), and reads, search and
        writes are allowed. Nothing is written: the write scope is probed with a PATCH
        of a contact that cannot exist (HubSpot ids start at 1)."""
        listing = await probe(
            "crm", f"GET {CONTACT_PROPERTIES}", self.client.get, CONTACT_PROPERTIES
        )
        if not listing.finding.ok:
            return [listing.finding]
        try:
            defined = self.client.parse(
                "properties", lambda: {raw["name"]: raw for raw in listing.answer["results"]}
            )
        except UpstreamError as exc:
            return [Finding("crm", listing.finding.what, False, exc.message)]
        findings = [listing.finding]
        findings += [_property_finding(n, defined.get(n)) for n in (*PROPERTIES, SEARCHABLE_PHONE)]
        nothing = {**_search_body([], ["hs_object_id"]), "filterGroups": [], "limit": 1}
        findings += [
            (
                await probe(
                    "crm",
                    f"POST {BATCH_READ}",
                    self.client.post,
                    BATCH_READ,
                    _batch_body(["0"], None),
                )
            ).finding,
            (await probe("crm", f"POST {SEARCH}", self.client.post, SEARCH, nothing)).finding,
            (
                await probe(
                    "crm",
                    f"PATCH {CONTACTS}/{{id}}",
                    self.client.patch,
                    f"{CONTACTS}/0",
                    {"properties": {}},
                    absent_ok=True,
                )
            ).finding,
        ]
        return findings

    async def _batch_read(
        self, id_property: str | None, keys: Sequence[str]
    ) -> list[CustomerFragment]:
        """One ``batch/read``: by internal id, or by a unique property's values."""
        answer = await self.client.post(BATCH_READ, _batch_body(keys, id_property))
        return self.client.parse("contact batch", partial(_results, answer))

    async def _search_phones(self, numbers: Sequence[str]) -> list[CustomerFragment]:
        """Every contact whose searchable phone is one of ``numbers``, following the
        pages."""
        body = _search_body(numbers, PROPERTIES)
        found: list[CustomerFragment] = []
        while True:
            answer = await self.client.post(SEARCH, body)
            page, following = self.client.parse("contact search", partial(_search_page, answer))
            found.extend(page)
            if following is None:
                return found
            if following == body["after"]:
                raise BadUpstreamResponse("crm", f"search paging stuck at after={following}")
            body = {**body, "after": following}


@dataclass(frozen=True, slots=True)
class _Number:
    e164: str  # +31612345678
    national: str  # 612345678: what HubSpot's searchable phone holds


def _batch_body(keys: Sequence[str], id_property: str | None) -> dict[str, Any]:
    """``BatchReadInputSimplePublicObjectId``: every property it requires."""
    body: dict[str, Any] = {
        "inputs": [{"id": key} for key in keys],
        "properties": list(PROPERTIES),
        "propertiesWithHistory": [],
    }
    if id_property:
        body["idProperty"] = id_property
    return body


def _search_body(numbers: Sequence[str], properties: Sequence[str]) -> dict[str, Any]:
    """``PublicObjectSearchRequest`` with every part it requires: the first page
    (``after`` "0") of 100, in HubSpot's own order (no ``sorts``: the adapter orders)."""
    return {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": SEARCHABLE_PHONE, "operator": "IN", "values": list(numbers)}
                ]
            }
        ],
        "properties": list(properties),
        "sorts": [],
        "limit": HUBSPOT_MAX_INPUTS,
        "after": "0",
    }


def _property_finding(name: str, definition: Mapping[str, Any] | None) -> Finding:
    what = f"property {name}"
    if definition is None:
        hint = (
            "HubSpot calculates it; your portal does not offer it"
            if name == SEARCHABLE_PHONE
            else "create it as contracts/crm/README.md (Connect your HubSpot) says"
        )
        return Finding("crm", what, False, f"missing: {hint}")
    if name in UNIQUE_CUSTOM_PROPERTIES and not definition.get("hasUniqueValue"):
        return Finding(
            "crm", what, False, "exists, but does not require unique values: lookups need it"
        )
    return Finding("crm", what, True, str(definition.get("type", "")))
