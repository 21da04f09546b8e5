"""The CRM adapter against the simulated HubSpot CRM, over real HTTP.

Reads use the session's shared CRM. Writes, the rate limit, the hang and the wrong
shapes use servers of this module's own, so nothing here changes what other tests see.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from adapters.config import SourceConfig
from adapters.crm import CONSENT_PURPOSES, CrmAdapter
from adapters.errors import (
    BadUpstreamResponse,
    EmailTaken,
    UpstreamAuthFailed,
    UpstreamFault,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from adapters.records import Address, Consent, CustomerFragment
from adapters.transport.resilience import GuardConfig
from legacy.common.runner import ServerThread
from legacy.crm.server import create_app
from legacy.world import CONSENT_PURPOSES as WORLD_CONSENT_PURPOSES
from legacy.world import Address as WorldAddress
from legacy.world import CrmContact, World
from tests.conftest import CRM_TOKEN
from tests.contracts.checks import checks
from tests.simulators import call_count, clear_calls, reset_knobs, set_knobs

BATCH_READ = "POST /crm/v3/objects/contacts/batch/read"
SEARCH = "POST /crm/v3/objects/contacts/search"
NO_RETRIES = GuardConfig(retries=0)


def crm(session: aiohttp.ClientSession, url: str, **config: Any) -> CrmAdapter:
    return CrmAdapter(session, SourceConfig(url=url, **{"token": CRM_TOKEN, **config}))


def _own_server(app: Starlette) -> Iterator[ServerThread]:
    server = ServerThread(app).start()
    yield server
    server.server.force_exit = True  # do not wait for a request left hanging on purpose
    server.stop()


@pytest.fixture(scope="module")
def own_crm(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """A CRM of this module's own, for writes and faults that would disturb other tests."""
    path = tmp_path_factory.mktemp("crm-own") / "crm.sqlite"
    yield from _own_server(create_app(world, path, token=CRM_TOKEN, middleware=checks("crm")))


@pytest.fixture(scope="module")
def limited_crm(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    path = tmp_path_factory.mktemp("crm-limited") / "crm.sqlite"
    yield from _own_server(
        create_app(world, path, token=CRM_TOKEN, rate_limit_per_10s=2, middleware=checks("crm"))
    )


SHARED_PHONE = "+31612345678"
#: one number, as people write it, and as stored on three contacts
STORED_PHONES = {"7001": "+31 6 2345 6789", "7002": "06-23456780", "7003": "0031 (0)6 2345 6781"}
MOMENT = datetime(2026, 1, 1, tzinfo=UTC)


def _phone_contact(contact_id: str, phone: str, updated_at: datetime = MOMENT) -> CrmContact:
    return CrmContact(
        id=contact_id,
        first_name="Sam",
        last_name=f"Number{contact_id}",
        email=f"sam{contact_id}@example.nl",
        phone=phone,
        address=WorldAddress("Dorpsstraat 1", "Utrecht", "3511 AB"),
        erp_customer_no=None,
        loyalty_card=None,
        consents=[],
        segments=[],
        created_at=MOMENT,
        updated_at=updated_at,
    )


def _crm_of(contacts: list[CrmContact], folder: Path) -> Iterator[ServerThread]:
    world = World(seed=0, size="small", crm_contacts=contacts)
    yield from _own_server(create_app(world, folder / "crm.sqlite", middleware=checks("crm")))


@pytest.fixture(scope="module")
def crowded_crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """A CRM where 150 contacts share one phone number: more than a search page."""
    contacts = [
        _phone_contact(str(5000 + n), SHARED_PHONE, MOMENT + timedelta(minutes=n))
        for n in range(150)
    ]
    yield from _crm_of(contacts, tmp_path_factory.mktemp("crm-crowded"))


@pytest.fixture(scope="module")
def untidy_crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """A CRM whose phone numbers were typed in by people, each their own way."""
    contacts = [_phone_contact(i, phone) for i, phone in STORED_PHONES.items()]
    yield from _crm_of(contacts, tmp_path_factory.mktemp("crm-untidy"))


@pytest.fixture(scope="module")
def unprepared_crm(
    world: World, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    """A portal whose administrator created only some of the custom properties."""
    path = tmp_path_factory.mktemp("crm-unprepared") / "crm.sqlite"
    app = create_app(
        world,
        path,
        token=CRM_TOKEN,
        custom_properties=["erp_customer_number"],
        middleware=checks("crm"),
    )
    yield from _own_server(app)


def _wrong_shape_app(contact: Any) -> Starlette:
    async def batch_read(request: Request) -> JSONResponse:
        return JSONResponse({"status": "COMPLETE", "results": [contact]})

    return Starlette(
        routes=[Route("/crm/v3/objects/contacts/batch/read", batch_read, methods=["POST"])]
    )


def _expected(contact: CrmContact) -> CustomerFragment:
    """What the world's contact must come back as."""
    return CustomerFragment(
        source="crm",
        record_id=contact.id,
        first_name=contact.first_name,
        last_name=contact.last_name,
        email=contact.email,
        phone=contact.phone,
        address=Address(
            contact.address.street,
            contact.address.city,
            contact.address.postal_code,
            contact.address.country,
        ),
        updated_at=contact.updated_at,
        erp_customer_no=contact.erp_customer_no,
        loyalty_card=contact.loyalty_card,
        consents=tuple(Consent(c.purpose, c.granted, c.valid_until) for c in contact.consents),
        segments=tuple(contact.segments),
    )


# --- reads --------------------------------------------------------------------------


async def test_contacts_maps_every_field(
    crm_server: ServerThread, session: aiohttp.ClientSession, world: World
) -> None:
    contacts = world.crm_contacts[:20]
    found = await crm(session, crm_server.url).contacts([c.id for c in contacts])
    assert found == {c.id: _expected(c) for c in contacts}


async def test_contacts_makes_one_call_for_a_batch(
    crm_server: ServerThread, session: aiohttp.ClientSession, world: World
) -> None:
    clear_calls(crm_server.url)
    await crm(session, crm_server.url).contacts([c.id for c in world.crm_contacts[:60]])
    assert call_count(crm_server.url) == {BATCH_READ: 1}


async def test_unknown_ids_are_absent(
    crm_server: ServerThread, session: aiohttp.ClientSession, world: World
) -> None:
    known = world.crm_contacts[0].id
    found = await crm(session, crm_server.url).contacts([known, "999999", "not-a-number"])
    assert set(found) == {known}


async def test_duplicate_ids_are_asked_once(
    crm_server: ServerThread, session: aiohttp.ClientSession, world: World
) -> None:
    a, b, c = (contact.id for contact in world.crm_contacts[:3])
    clear_calls(crm_server.url)
    found = await crm(session, crm_server.url, max_batch=3).contacts([a, a, b, a, b, c, c])
    assert set(found) == {a, b, c}
    assert call_count(crm_server.url) == {BATCH_READ: 1}


async def test_contacts_are_read_in_chunks_of_max_batch(
    crm_server: ServerThread, session: aiohttp.ClientSession, world: World
) -> None:
    ids = [c.id for c in world.crm_contacts[:5]]
    clear_calls(crm_server.url)
    found = await crm(session, crm_server.url, max_batch=2).contacts(ids)
    assert set(found) == set(ids)
    assert call_count(crm_server.url) == {BATCH_READ: 3}


async def test_chunks_never_exceed_hubspots_limit_of_100(
    crm_server: ServerThread, session: aiohttp.ClientSession, world: World
) -> None:
    ids = [c.id for c in world.crm_contacts[:150]]
    clear_calls(crm_server.url)
    found = await crm(session, crm_server.url, max_batch=500).contacts(ids)
    assert len(found) == 150
    assert call_count(crm_server.url) == {BATCH_READ: 2}


async def test_contacts_by_loyalty_card_in_one_call(
    crm_server: ServerThread, session: aiohttp.ClientSession, world: World
) -> None:
    carded = [c for c in world.crm_contacts if c.loyalty_card][:30]
    clear_calls(crm_server.url)
    found = await crm(session, crm_server.url).contacts_by(
        "loyalty_card", [c.loyalty_card or "" for c in carded]
    )
    assert {card: f.record_id for card, f in found.items()} == {
        c.loyalty_card: c.id for c in carded
    }
    assert call_count(crm_server.url) == {BATCH_READ: 1}


async def test_contacts_by_email_ignores_case_and_keys_by_normalised_email(
    crm_server: ServerThread, session: aiohttp.ClientSession, world: World
) -> None:
    contacts = world.crm_contacts[:10]
    asked = [f"  {c.email.upper()} " for c in contacts]
    clear_calls(crm_server.url)
    found = await crm(session, crm_server.url).contacts_by("email", asked)
    assert {email: f.record_id for email, f in found.items()} == {
        c.email.lower(): c.id for c in contacts
    }
    assert call_count(crm_server.url) == {BATCH_READ: 1}


async def test_contacts_by_erp_customer_no_in_one_call(
    crm_server: ServerThread, session: aiohttp.ClientSession, world: World
) -> None:
    linked = [c for c in world.crm_contacts if c.erp_customer_no][:25]
    clear_calls(crm_server.url)
    found = await crm(session, crm_server.url).contacts_by(
        "erp_customer_no", [c.erp_customer_no or "" for c in linked]
    )
    assert {no: f.record_id for no, f in found.items()} == {c.erp_customer_no: c.id for c in linked}
    assert call_count(crm_server.url) == {BATCH_READ: 1}


async def test_contacts_by_phone_searches_once_and_matches_however_written(
    crm_server: ServerThread, session: aiohttp.ClientSession, world: World
) -> None:
    contact = next(c for c in world.crm_contacts if c.phone)
    phone = contact.phone or ""
    written = f"{phone[:3]} {phone[3:4]} {phone[4:8]}-{phone[8:]}"
    clear_calls(crm_server.url)
    found = await crm(session, crm_server.url).contacts_by("phone", [written, "+31000000000"])
    assert {key: f.record_id for key, f in found.items()} == {written: contact.id}
    assert call_count(crm_server.url) == {SEARCH: 1}


async def test_a_phone_is_found_whatever_format_it_was_stored_or_asked_in(
    untidy_crm: ServerThread, session: aiohttp.ClientSession
) -> None:
    """HubSpot compares text as stored, so the adapter searches its calculated
    searchable phone (the national number's digits), one call for all the numbers."""
    asked = ["+31623456789", "06 2345 6780", "+31 (0)6-23456781", "+31699999999"]
    clear_calls(untidy_crm.url)
    found = await crm(session, untidy_crm.url).contacts_by("phone", asked)
    assert {key: f.record_id for key, f in found.items()} == {
        "+31623456789": "7001",
        "06 2345 6780": "7002",
        "+31 (0)6-23456781": "7003",
    }
    assert call_count(untidy_crm.url) == {SEARCH: 1}


async def test_what_is_no_phone_number_is_not_asked_for(
    crm_server: ServerThread, session: aiohttp.ClientSession
) -> None:
    clear_calls(crm_server.url)
    assert await crm(session, crm_server.url).contacts_by("phone", ["not a number", ""]) == {}
    assert call_count(crm_server.url) == {}


async def test_searches_ask_at_most_100_values_per_call(
    crm_server: ServerThread, session: aiohttp.ClientSession, world: World
) -> None:
    phones = [c.phone for c in world.crm_contacts if c.phone][:150]
    clear_calls(crm_server.url)
    found = await crm(session, crm_server.url, max_batch=500).contacts_by("phone", phones)
    assert set(found) == set(phones)
    assert call_count(crm_server.url) == {SEARCH: 2}


async def test_unknown_lookup_values_are_absent(
    crm_server: ServerThread, session: aiohttp.ClientSession, world: World
) -> None:
    card = next(c.loyalty_card for c in world.crm_contacts if c.loyalty_card) or ""
    found = await crm(session, crm_server.url).contacts_by(
        "loyalty_card", [card, "0000000000000", ""]
    )
    assert set(found) == {card}


async def test_a_search_answer_of_several_pages_is_followed(
    crowded_crm: ServerThread, session: aiohttp.ClientSession
) -> None:
    clear_calls(crowded_crm.url)
    found = await crm(session, crowded_crm.url).contacts_by("phone", [SHARED_PHONE])
    assert call_count(crowded_crm.url) == {SEARCH: 2}  # 150 results, pages of 100
    assert found[SHARED_PHONE].record_id == "5149"  # the most recently updated, on page 2


def test_the_adapter_knows_every_consent_purpose_of_the_portal() -> None:
    assert CONSENT_PURPOSES == WORLD_CONSENT_PURPOSES


# --- writes -------------------------------------------------------------------------


async def test_an_updated_contact_reads_back_as_written(
    own_crm: ServerThread, session: aiohttp.ClientSession, world: World
) -> None:
    """HubSpot's PATCH answers only what was written, so the adapter answers nothing
    and whoever needs the contact reads it (the resolvers do, with fresh loaders)."""
    adapter = crm(session, own_crm.url)
    contact = world.crm_contacts[1]
    before = datetime.now(UTC)
    await adapter.update_contact(contact.id, {"firstname": "Renamed", "consent_analytics": "false"})
    updated = (await adapter.contacts([contact.id]))[contact.id]
    assert updated.first_name == "Renamed"
    assert Consent("analytics", False, contact.consents[2].valid_until) in updated.consents
    assert updated.updated_at is not None
    assert updated.updated_at >= before - timedelta(seconds=1)


async def test_deleted_contact_is_no_longer_found(
    own_crm: ServerThread, session: aiohttp.ClientSession, world: World
) -> None:
    adapter = crm(session, own_crm.url)
    contact = world.crm_contacts[2]
    await adapter.delete_contact(contact.id)
    assert await adapter.contacts([contact.id]) == {}
    assert await adapter.contacts_by("email", [contact.email]) == {}


async def test_deleting_twice_or_an_unknown_contact_is_fine(
    own_crm: ServerThread, session: aiohttp.ClientSession, world: World
) -> None:
    adapter = crm(session, own_crm.url)
    await adapter.delete_contact(world.crm_contacts[3].id)
    await adapter.delete_contact(world.crm_contacts[3].id)
    await adapter.delete_contact("999999")


# --- credentials --------------------------------------------------------------------------


async def test_the_private_app_token_goes_as_hubspots_documentation_says(
    crm_server: ServerThread, session: aiohttp.ClientSession, world: World
) -> None:
    """HubSpot's OpenAPI file describes private apps as an API-key header named
    ``private-app``; HubSpot's documentation says a private app sends its token as
    ``Authorization: Bearer``. Mosaic follows the documentation, and so does the
    simulated portal, which answers nothing else."""
    adapter = crm(session, crm_server.url)
    assert adapter.client.headers["Authorization"] == f"Bearer {CRM_TOKEN}"
    assert "private-app" not in {name.lower() for name in adapter.client.headers}
    assert await adapter.contacts([world.crm_contacts[0].id])


def test_the_tokens_are_secrets_and_have_no_default_outside_the_demo() -> None:
    from adapters.config import CrmConfig, SourceConfig
    from gateway.settings import Settings

    assert Settings().crm.token is None
    assert Settings().wms.token is None
    configured = Settings(crm_token="pat-eu1-secret", wms_token="wms-secret")
    assert "pat-eu1-secret" not in repr(configured)
    assert "wms-secret" not in repr(configured)
    crm = configured.adapter_config(CrmConfig, configured.crm)
    assert crm.token is not None
    assert crm.token.get_secret_value() == "pat-eu1-secret"
    assert "wms-secret" not in repr(configured.adapter_config(SourceConfig, configured.wms))


# --- mosaic sources check ---------------------------------------------------------------


async def test_check_finds_every_property_and_endpoint_of_a_prepared_portal(
    crm_server: ServerThread, session: aiohttp.ClientSession
) -> None:
    findings = await crm(session, crm_server.url).check()
    assert [f for f in findings if not f.ok] == []
    checked = {f.what for f in findings}
    assert {
        "GET /crm/v3/properties/contacts",
        "property loyalty_card_number",
        "property consent_email_marketing_valid_until",
        "property hs_searchable_calculated_phone_number",
        "POST /crm/v3/objects/contacts/batch/read",
        "POST /crm/v3/objects/contacts/search",
        "PATCH /crm/v3/objects/contacts/{id}",
    } <= checked


async def test_check_names_each_custom_property_the_portal_lacks(
    unprepared_crm: ServerThread, session: aiohttp.ClientSession
) -> None:
    findings = await crm(session, unprepared_crm.url).check()
    missing = {f.what: f.detail for f in findings if not f.ok}
    assert "property loyalty_card_number" in missing
    assert "property consent_analytics" in missing
    assert "property erp_customer_number" not in missing
    assert "Connect your HubSpot" in missing["property loyalty_card_number"]


async def test_check_with_a_refused_token_says_so_and_nothing_more(
    crm_server: ServerThread, session: aiohttp.ClientSession
) -> None:
    (finding,) = await crm(session, crm_server.url, token="revoked").check()
    assert (finding.source, finding.what, finding.ok) == ("crm", "credentials", False)
    assert "401" in finding.detail
    assert "revoked" not in finding.detail


# --- failures -----------------------------------------------------------------------


async def test_hubspots_error_body_is_read_into_the_error(
    own_crm: ServerThread, session: aiohttp.ClientSession
) -> None:
    """A refusal says HubSpot's category, message and correlation id. (This used to be
    shown with HubSpot's 409 on a taken e-mail address, whose words name the other
    contact: those never reach a client now, see the tests below.)"""
    with pytest.raises(UpstreamFault) as refused:
        await crm(session, own_crm.url).update_contact("999999999", {"phone": "+31600000000"})
    extensions = refused.value.extensions
    assert extensions["status"] == 404
    assert extensions["upstreamCategory"] == "OBJECT_NOT_FOUND"
    assert extensions["correlationId"]
    assert "999999999 does not exist" in refused.value.message


async def test_another_contacts_email_is_email_taken_without_whose_it_is(
    own_crm: ServerThread, session: aiohttp.ClientSession, world: World
) -> None:
    """Issue 15, finding 4: HubSpot's 409 says "Contact already exists. Existing ID:
    1033"; passed on, it mapped e-mail addresses to customer ids."""
    a, b = world.crm_contacts[30:32]
    with pytest.raises(EmailTaken) as refused:
        await crm(session, own_crm.url).update_contact(a.id, {"email": b.email})
    assert refused.value.extensions == {"code": "EMAIL_TAKEN"}
    assert b.id not in refused.value.message


async def test_any_other_taken_unique_value_is_a_conflict_in_neutral_words(
    own_crm: ServerThread, session: aiohttp.ClientSession, world: World
) -> None:
    a, b = world.crm_contacts[32], next(c for c in world.crm_contacts[33:] if c.loyalty_card)
    with pytest.raises(UpstreamFault) as refused:
        await crm(session, own_crm.url).update_contact(
            a.id, {"loyalty_card_number": b.loyalty_card or ""}
        )
    assert refused.value.extensions["status"] == 409
    assert refused.value.extensions["upstreamCategory"] == "CONFLICT"
    assert refused.value.extensions["correlationId"]
    assert b.id not in refused.value.message
    assert "Existing" not in refused.value.message


async def test_refused_credentials_are_auth_failed_asked_once_and_open_the_breaker(
    crm_server: ServerThread, session: aiohttp.ClientSession, world: World
) -> None:
    """DESIGN, Errors: SOURCE_AUTH_FAILED when the source refuses the gateway's own
    credentials; asking again cannot mend a setting, so it is not retried, and every
    caller would meet the same refusal, so it counts against the source's breaker."""
    adapter = crm(
        session,
        crm_server.url,
        token="not-the-token",
        guard=GuardConfig(retries=2, failure_threshold=1),
    )
    clear_calls(crm_server.url)
    with pytest.raises(UpstreamAuthFailed) as caught:
        await adapter.contacts([world.crm_contacts[0].id])
    assert caught.value.extensions["code"] == "SOURCE_AUTH_FAILED"
    assert caught.value.extensions["source"] == "crm"
    assert caught.value.extensions["upstreamCategory"] == "INVALID_AUTHENTICATION"
    assert caught.value.extensions["correlationId"]  # to quote to HubSpot's support
    assert "not-the-token" not in str(caught.value.extensions) + caught.value.message
    assert sum(call_count(crm_server.url).values()) == 1
    assert adapter.client.guard.breaker.state == "open"


async def test_hubspots_429_is_rate_limited_with_its_policy_and_correlation_id(
    limited_crm: ServerThread, session: aiohttp.ClientSession, world: World
) -> None:
    """HubSpot's 429 has no Retry-After; its policyName says which limit was met
    (waiting it out: tests/test_resilience_rate_limits.py)."""
    adapter = crm(session, limited_crm.url, timeout_s=0.2)  # too short to wait a 429 out
    ids = [world.crm_contacts[0].id]
    answers = await asyncio.gather(
        *(adapter.contacts(ids) for _ in range(4)), return_exceptions=True
    )
    refused = [a for a in answers if isinstance(a, UpstreamRateLimited)]
    assert len(refused) == 2  # two per ten seconds pass
    assert refused[0].extensions["code"] == "SOURCE_RATE_LIMITED"
    assert refused[0].extensions["retryAfter"] is None
    assert refused[0].extensions["upstreamCategory"] == "RATE_LIMITS"
    assert refused[0].extensions["upstreamCode"] == "TEN_SECONDLY_ROLLING"
    assert refused[0].extensions["correlationId"]


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("garbage", BadUpstreamResponse),
        ("html", BadUpstreamResponse),
        ("error500", UpstreamFault),
    ],
)
async def test_a_faulty_answer_becomes_our_error(
    crm_server: ServerThread,
    session: aiohttp.ClientSession,
    world: World,
    fault: str,
    error: type[Exception],
) -> None:
    set_knobs(crm_server.url, fault=fault)
    try:
        with pytest.raises(error):
            await crm(session, crm_server.url, guard=NO_RETRIES).contacts(
                [world.crm_contacts[0].id]
            )
    finally:
        reset_knobs(crm_server.url)


async def test_a_hanging_crm_times_out(
    own_crm: ServerThread, session: aiohttp.ClientSession, world: World
) -> None:
    set_knobs(own_crm.url, fault="hang")
    try:
        with pytest.raises(UpstreamTimeout):
            await crm(session, own_crm.url, timeout_s=0.2, guard=NO_RETRIES).contacts(
                [world.crm_contacts[0].id]
            )
    finally:
        reset_knobs(own_crm.url)


@pytest.mark.parametrize(
    "contact",
    [
        {"id": "1", "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z"},
        {"id": "1", "properties": ["email"], "updatedAt": "2026-01-01T00:00:00Z"},
        {"id": "1", "properties": {"email": 42}, "updatedAt": "2026-01-01T00:00:00Z"},
        {"id": "1", "properties": {}, "updatedAt": "yesterday"},
        "1",
    ],
    ids=["no-properties", "properties-not-object", "value-not-string", "bad-time", "not-object"],
)
async def test_a_contact_of_the_wrong_shape_is_a_bad_response(
    session: aiohttp.ClientSession, contact: Any
) -> None:
    server = ServerThread(_wrong_shape_app(contact)).start()
    try:
        with pytest.raises(BadUpstreamResponse):
            await crm(session, server.url).contacts(["1"])
    finally:
        server.stop()
