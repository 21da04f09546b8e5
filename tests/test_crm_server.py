"""The simulated CRM speaks HubSpot's CRM v3 contacts API, over real HTTP.

Reads use the session's shared CRM; writes use a CRM of this module's own.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from legacy.common.runner import ServerThread
from legacy.crm.server import create_app
from legacy.world import CrmContact, World, build_world
from tests.conftest import CRM_TOKEN
from tests.contracts.checks import checks
from tests.timing import ManualClock

CONTACTS = "/crm/v3/objects/contacts"
SEARCHABLE = "hs_searchable_calculated_phone_number"


def call(
    url: str, method: str, path: str, body: Any = None, token: str | None = CRM_TOKEN
) -> tuple[int, dict[str, str], Any]:
    """Status, headers and decoded JSON body (None when empty) of one request."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, head, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, head, raw = error.code, dict(error.headers), error.read()
    return status, head, json.loads(raw) if raw else None


def search(url: str, *filter_groups: list[dict[str, Any]], **extra: Any) -> Any:
    """A search with every part HubSpot's OpenAPI file requires (``extra`` overrides)."""
    body = {
        "filterGroups": [{"filters": g} for g in filter_groups],
        "sorts": [],
        "properties": [],
        "limit": 10,
        "after": "0",
        **extra,
    }
    status, _, answer = call(url, "POST", f"{CONTACTS}/search", body)
    assert status == 200, answer
    return answer


def ids_of(answer: Any) -> set[str]:
    return {r["id"] for r in answer["results"]}


@pytest.fixture(scope="module")
def own_crm(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    path = tmp_path_factory.mktemp("crm-server") / "crm.sqlite"
    server = ServerThread(
        create_app(world, path, token=CRM_TOKEN, middleware=checks("crm"))
    ).start()
    yield server
    server.stop()


def _with(world: World, predicate: Any) -> CrmContact:
    return next(c for c in world.crm_contacts if predicate(c))


# --- batch read ---------------------------------------------------------------------


def test_batch_read_answers_each_contact_once_with_the_asked_properties(
    crm_server: ServerThread, world: World
) -> None:
    a, b = world.crm_contacts[:2]
    body = {
        "inputs": [{"id": a.id}, {"id": b.id}, {"id": a.id}],
        "properties": ["email", "zip"],
        "propertiesWithHistory": [],
    }
    status, _, answer = call(crm_server.url, "POST", f"{CONTACTS}/batch/read", body)
    assert status == 200
    assert answer["status"] == "COMPLETE"
    assert [r["id"] for r in answer["results"]] == [a.id, b.id]
    assert answer["results"][0]["properties"] == {
        "email": a.email,
        "zip": a.address.postal_code,
    }
    assert set(answer["results"][0]) == {"id", "properties", "createdAt", "updatedAt", "archived"}


def test_batch_read_names_missing_ids_in_a_207(crm_server: ServerThread, world: World) -> None:
    known = world.crm_contacts[0].id
    body = {
        "inputs": [{"id": known}, {"id": "999999"}],
        "properties": ["email"],
        "propertiesWithHistory": [],
    }
    status, _, answer = call(crm_server.url, "POST", f"{CONTACTS}/batch/read", body)
    assert status == 207
    assert ids_of(answer) == {known}
    assert answer["numErrors"] == 1
    assert answer["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert answer["errors"][0]["context"] == {"ids": ["999999"]}


def test_batch_read_by_email_ignores_case(crm_server: ServerThread, world: World) -> None:
    contact = world.crm_contacts[5]
    body = {
        "inputs": [{"id": contact.email.upper()}],
        "idProperty": "email",
        "properties": [],
        "propertiesWithHistory": [],
    }
    _, _, answer = call(crm_server.url, "POST", f"{CONTACTS}/batch/read", body)
    assert ids_of(answer) == {contact.id}


def test_batch_read_by_loyalty_card(crm_server: ServerThread, world: World) -> None:
    contact = _with(world, lambda c: c.loyalty_card)
    body = {
        "inputs": [{"id": contact.loyalty_card}],
        "idProperty": "loyalty_card_number",
        "properties": ["firstname"],
        "propertiesWithHistory": [],
    }
    _, _, answer = call(crm_server.url, "POST", f"{CONTACTS}/batch/read", body)
    assert answer["results"][0]["properties"] == {
        "firstname": contact.first_name,
        "loyalty_card_number": contact.loyalty_card,
    }


@pytest.mark.off_contract_requests
def test_batch_read_refuses_a_property_that_is_not_unique(crm_server: ServerThread) -> None:
    body = {
        "inputs": [{"id": "Utrecht"}],
        "idProperty": "city",
        "properties": [],
        "propertiesWithHistory": [],
    }
    status, _, answer = call(crm_server.url, "POST", f"{CONTACTS}/batch/read", body)
    assert status == 400
    assert answer["category"] == "VALIDATION_ERROR"


@pytest.mark.off_contract_requests
def test_batch_read_refuses_more_than_100_inputs(crm_server: ServerThread) -> None:
    body = {
        "inputs": [{"id": str(n)} for n in range(101)],
        "properties": [],
        "propertiesWithHistory": [],
    }
    status, _, answer = call(crm_server.url, "POST", f"{CONTACTS}/batch/read", body)
    assert status == 400
    assert answer["category"] == "VALIDATION_ERROR"


def test_unset_properties_are_answered_as_null(crm_server: ServerThread, world: World) -> None:
    contact = _with(world, lambda c: c.erp_customer_no is None)
    body = {
        "inputs": [{"id": contact.id}],
        "properties": ["erp_customer_number", "no_such"],
        "propertiesWithHistory": [],
    }
    _, _, answer = call(crm_server.url, "POST", f"{CONTACTS}/batch/read", body)
    assert answer["results"][0]["properties"] == {"erp_customer_number": None}


# --- search -------------------------------------------------------------------------


def test_search_in_finds_any_of_the_values_case_insensitively(
    crm_server: ServerThread, world: World
) -> None:
    a, b = world.crm_contacts[:2]
    answer = search(
        crm_server.url,
        [{"propertyName": "email", "operator": "IN", "values": [a.email.upper(), b.email]}],
    )
    assert answer["total"] == 2
    assert ids_of(answer) == {a.id, b.id}


def test_search_groups_are_alternatives_and_filters_all_apply(
    crm_server: ServerThread, world: World
) -> None:
    a, b = world.crm_contacts[:2]
    answer = search(
        crm_server.url,
        [
            {"propertyName": "email", "operator": "EQ", "value": a.email},
            {"propertyName": "firstname", "operator": "EQ", "value": a.first_name},
        ],
        [
            {"propertyName": "email", "operator": "EQ", "value": b.email},
            {"propertyName": "firstname", "operator": "NEQ", "value": b.first_name},
        ],
    )
    assert ids_of(answer) == {a.id}


def test_search_contains_token_matches_one_option_of_a_multi_checkbox(
    crm_server: ServerThread, world: World
) -> None:
    answer = search(
        crm_server.url,
        [{"propertyName": "segments", "operator": "CONTAINS_TOKEN", "value": "outdoor"}],
        limit=100,
    )
    expected = {c.id for c in world.crm_contacts if "outdoor" in c.segments}
    assert answer["total"] == len(expected)
    assert ids_of(answer) <= expected


def test_search_compares_a_phone_as_stored_as_hubspot_does(
    crm_server: ServerThread, world: World
) -> None:
    """HubSpot compares the text as stored: a number written another way is not found
    by ``phone`` (before issue 14 the simulation compared digits only)."""
    contact = _with(world, lambda c: c.phone)
    phone = contact.phone or ""
    written = f"{phone[:3]} ({phone[3:4]}) {phone[4:8]} {phone[8:]}"
    as_stored = search(
        crm_server.url, [{"propertyName": "phone", "operator": "EQ", "value": phone}]
    )
    otherwise = search(
        crm_server.url, [{"propertyName": "phone", "operator": "EQ", "value": written}]
    )
    assert ids_of(as_stored) == {contact.id}
    assert ids_of(otherwise) == set()


@pytest.mark.parametrize(
    "stored", ["+31 6 1234 5678", "06-12345678", "0031612345678", "+31612345678", "(06) 1234 5678"]
)
def test_the_searchable_phone_finds_a_number_however_it_was_stored(
    own_crm: ServerThread, world: World, stored: str
) -> None:
    """HubSpot's calculated ``hs_searchable_calculated_phone_number`` is the national
    number's digits, so one search value finds every way of writing the number."""
    contact = world.crm_contacts[20]
    call(own_crm.url, "PATCH", f"{CONTACTS}/{contact.id}", {"properties": {"phone": stored}})
    answer = search(
        own_crm.url,
        [{"propertyName": SEARCHABLE, "operator": "EQ", "value": "612345678"}],
        properties=["phone", SEARCHABLE],
    )
    assert ids_of(answer) == {contact.id}
    assert answer["results"][0]["properties"] == {"phone": stored, SEARCHABLE: "612345678"}


@pytest.mark.off_contract_requests
def test_a_search_sorted_by_a_property_answers_in_its_order(
    crm_server: ServerThread, world: World
) -> None:
    """Sorts as HubSpot's documentation writes them, ``{propertyName, direction}``; its
    OpenAPI file types them as strings (which HubSpot ignores), so this request is off
    that file on purpose. Mosaic itself sends no sorts."""
    filters = [{"propertyName": "country", "operator": "EQ", "value": "NL"}]
    sorts = [{"propertyName": "lastname", "direction": "DESCENDING"}]
    answer = search(crm_server.url, filters, sorts=sorts, properties=["lastname"], limit=50)
    names = [r["properties"]["lastname"] for r in answer["results"]]
    expected = sorted((c.last_name for c in world.crm_contacts), reverse=True)[:50]
    assert names == expected


def test_search_pages_with_after_until_every_match_is_seen(
    crm_server: ServerThread, world: World
) -> None:
    filters = [{"propertyName": "country", "operator": "EQ", "value": "NL"}]
    seen: list[str] = []
    after = None
    while True:
        answer = search(crm_server.url, filters, limit=100, after=after or "0")
        seen += [r["id"] for r in answer["results"]]
        after = answer.get("paging", {}).get("next", {}).get("after")
        if after is None:
            break
    assert answer["total"] == len(world.crm_contacts)
    assert sorted(seen) == sorted(c.id for c in world.crm_contacts)


@pytest.mark.parametrize(
    "body",
    [
        {"limit": 201},
        {"query": "Jansen"},
        {"sorts": [{"propertyName": "zip"}, {"propertyName": "city"}]},
        {"filterGroups": [{"filters": [{"propertyName": "nope", "operator": "EQ", "value": "x"}]}]},
        {"filterGroups": [{"filters": [{"propertyName": "zip", "operator": "LT", "value": "x"}]}]},
        {"filterGroups": [{"filters": [{"propertyName": "zip", "operator": "IN", "value": "x"}]}]},
        {"filterGroups": [{"filters": []}] * 6},
    ],
    ids=[
        "limit",
        "query",
        "two-sorts",
        "unknown-property",
        "range-operator",
        "in-without-values",
        "groups",
    ],
)
@pytest.mark.off_contract_requests
def test_search_refuses_a_request_hubspot_would_refuse(
    crm_server: ServerThread, body: dict[str, Any]
) -> None:
    status, _, answer = call(crm_server.url, "POST", f"{CONTACTS}/search", body)
    assert status == 400
    assert answer["category"] == "VALIDATION_ERROR"


# --- get and list ---------------------------------------------------------------------


def test_get_answers_the_asked_properties(crm_server: ServerThread, world: World) -> None:
    contact = world.crm_contacts[0]
    status, _, answer = call(
        crm_server.url, "GET", f"{CONTACTS}/{contact.id}?properties=email,city&properties=zip"
    )
    assert status == 200
    assert answer["properties"] == {
        "email": contact.email,
        "city": contact.address.city,
        "zip": contact.address.postal_code,
    }


def test_get_of_an_unknown_contact_is_hubspots_404(crm_server: ServerThread) -> None:
    status, _, answer = call(crm_server.url, "GET", f"{CONTACTS}/999999")
    assert status == 404
    assert answer["status"] == "error"
    assert answer["category"] == "OBJECT_NOT_FOUND"
    assert answer["correlationId"]


def test_list_pages_through_every_contact(crm_server: ServerThread, world: World) -> None:
    seen: list[str] = []
    path = f"{CONTACTS}?limit=100"
    while path:
        _, _, answer = call(crm_server.url, "GET", path)
        seen += [r["id"] for r in answer["results"]]
        after = answer.get("paging", {}).get("next", {}).get("after")
        path = f"{CONTACTS}?limit=100&after={after}" if after else ""
    assert seen == [c.id for c in world.crm_contacts]


# --- writes ---------------------------------------------------------------------------


def test_patch_overwrites_clears_and_stamps_the_change(own_crm: ServerThread, world: World) -> None:
    """HubSpot answers what was written and its own stamps, not the whole contact."""
    contact = world.crm_contacts[10]
    changes = {"city": "Zwolle", "phone": "", "hs_object_id": "1", "no_such_property": "x"}
    status, _, answer = call(
        own_crm.url, "PATCH", f"{CONTACTS}/{contact.id}", {"properties": changes}
    )
    assert status == 200
    assert answer["id"] == contact.id
    assert set(answer["properties"]) == {
        "city",
        "phone",
        "createdate",
        "lastmodifieddate",
        "hs_object_id",
    }
    assert answer["properties"]["city"] == "Zwolle"
    assert answer["properties"]["phone"] is None
    assert answer["properties"]["hs_object_id"] == contact.id
    assert answer["properties"]["lastmodifieddate"] == answer["updatedAt"]
    assert answer["updatedAt"] > contact.updated_at.isoformat()
    reread = call(own_crm.url, "GET", f"{CONTACTS}/{contact.id}?properties=phone,{SEARCHABLE}")
    assert reread[2]["properties"] == {"phone": None, SEARCHABLE: None}


def test_patch_refuses_a_unique_value_of_another_contact(
    own_crm: ServerThread, world: World
) -> None:
    a, b = world.crm_contacts[11:13]
    body = {"properties": {"email": b.email.upper()}}
    status, _, answer = call(own_crm.url, "PATCH", f"{CONTACTS}/{a.id}", body)
    assert status == 409
    assert answer["category"] == "CONFLICT"


def test_a_patched_value_is_found_by_search_at_once(own_crm: ServerThread, world: World) -> None:
    contact = world.crm_contacts[13]
    body = {"properties": {"segments": "outdoor;new_segment"}}
    call(own_crm.url, "PATCH", f"{CONTACTS}/{contact.id}", body)
    answer = search(
        own_crm.url,
        [{"propertyName": "segments", "operator": "CONTAINS_TOKEN", "value": "new_segment"}],
    )
    assert ids_of(answer) == {contact.id}


def test_delete_archives_a_contact_out_of_every_read(own_crm: ServerThread, world: World) -> None:
    contact = world.crm_contacts[14]
    status, _, _ = call(own_crm.url, "DELETE", f"{CONTACTS}/{contact.id}")
    assert status == 204
    assert call(own_crm.url, "GET", f"{CONTACTS}/{contact.id}")[0] == 404
    body = {
        "inputs": [{"id": contact.email}],
        "idProperty": "email",
        "properties": [],
        "propertiesWithHistory": [],
    }
    assert call(own_crm.url, "POST", f"{CONTACTS}/batch/read", body)[2]["results"] == []
    email_filter = [{"propertyName": "email", "operator": "EQ", "value": contact.email}]
    assert search(own_crm.url, email_filter)["total"] == 0
    assert call(own_crm.url, "PATCH", f"{CONTACTS}/{contact.id}", {"properties": {}})[0] == 404


def test_delete_of_an_unknown_contact_is_404(own_crm: ServerThread) -> None:
    assert call(own_crm.url, "DELETE", f"{CONTACTS}/999999")[0] == 404


def test_writes_survive_a_restart(world: World, tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite"
    contact = world.crm_contacts[0]
    first = ServerThread(create_app(world, path, middleware=checks("crm"))).start()
    call(first.url, "PATCH", f"{CONTACTS}/{contact.id}", {"properties": {"city": "Elst"}})
    first.stop()
    second = ServerThread(create_app(world, path, middleware=checks("crm"))).start()
    try:
        answer = call(second.url, "GET", f"{CONTACTS}/{contact.id}?properties=city")[2]
    finally:
        second.stop()
    assert answer["properties"] == {"city": "Elst"}


@pytest.mark.slow  # builds the default-size world
def test_the_default_world_loads_in_under_3_seconds(tmp_path: Path) -> None:
    world = build_world(42, "default")
    started = time.perf_counter()
    create_app(world, tmp_path / "crm.sqlite")
    assert time.perf_counter() - started < 3


# --- access ---------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_without_the_right_token_the_answer_is_401(
    crm_server: ServerThread, token: str | None
) -> None:
    status, _, answer = call(crm_server.url, "GET", f"{CONTACTS}/1001", token=token)
    assert status == 401
    assert answer["category"] == "INVALID_AUTHENTICATION"


def test_the_admin_endpoints_need_no_token(crm_server: ServerThread) -> None:
    assert call(crm_server.url, "GET", "/__admin/knobs", token=None)[0] == 200


def test_past_the_ten_second_window_the_answer_is_hubspots_429_without_retry_after(
    world: World, tmp_path: Path
) -> None:
    """HubSpot's documented 429: ``errorType`` RATE_LIMIT, the policy, a correlation id,
    and no ``Retry-After``; the X-HubSpot-RateLimit headers say the window."""
    clock = ManualClock(0.0)
    app = create_app(
        world,
        tmp_path / "crm.sqlite",
        rate_limit_per_10s=5,
        clock=clock,
        middleware=checks("crm"),
    )
    server = ServerThread(app).start()
    try:
        answers = [call(server.url, "GET", f"{CONTACTS}?limit=1") for _ in range(6)]
        clock.now = 9.9
        still = call(server.url, "GET", f"{CONTACTS}?limit=1")[0]
        clock.now = 10.1  # the first request left the rolling window
        again = call(server.url, "GET", f"{CONTACTS}?limit=1")
    finally:
        server.stop()
    assert [status for status, _, _ in answers] == [200] * 5 + [429]
    _, headers, body = answers[-1]
    assert "retry-after" not in {h.lower() for h in headers}
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["correlationId"]
    assert headers["x-hubspot-ratelimit-interval-milliseconds"] == "10000"
    assert answers[0][1]["x-hubspot-ratelimit-remaining"] == "4"
    assert still == 429
    assert again[0] == 200


def test_search_has_its_own_limit_per_second_and_not_the_ten_second_one(
    world: World, tmp_path: Path
) -> None:
    """The OpenAPI file exempts search from the ten-secondly limit; HubSpot limits it
    per second instead."""
    clock = ManualClock(0.0)
    app = create_app(
        world,
        tmp_path / "crm.sqlite",
        rate_limit_per_10s=1,
        search_rate_limit_per_s=2,
        clock=clock,
    )
    server = ServerThread(app).start()
    body = {"filterGroups": [], "sorts": [], "properties": [], "limit": 1, "after": "0"}
    try:
        searches = [call(server.url, "POST", f"{CONTACTS}/search", body) for _ in range(3)]
        clock.now = 1.5
        later = call(server.url, "POST", f"{CONTACTS}/search", body)[0]
    finally:
        server.stop()
    assert [status for status, _, _ in searches] == [200, 200, 429]
    assert searches[-1][2]["policyName"] == "SECONDLY"
    assert later == 200


# --- the properties API -----------------------------------------------------------------


def test_the_properties_api_lists_the_portals_contact_properties(crm_server: ServerThread) -> None:
    status, _, answer = call(crm_server.url, "GET", "/crm/v3/properties/contacts")
    assert status == 200
    by_name = {p["name"]: p for p in answer["results"]}
    assert {"email", "phone", SEARCHABLE, "loyalty_card_number", "consent_analytics"} <= set(
        by_name
    )
    assert by_name["loyalty_card_number"]["hasUniqueValue"] is True
    assert by_name["consent_analytics"]["type"] == "enumeration"
    assert by_name[SEARCHABLE]["calculated"] is True


def test_a_portal_without_a_custom_property_neither_lists_nor_answers_it(
    world: World, tmp_path: Path
) -> None:
    app = create_app(
        world,
        tmp_path / "crm.sqlite",
        custom_properties=["erp_customer_number"],
        middleware=checks("crm"),
    )
    server = ServerThread(app).start()
    contact = _with(world, lambda c: c.loyalty_card)
    try:
        listed = call(server.url, "GET", "/crm/v3/properties/contacts")[2]
        read = call(server.url, "GET", f"{CONTACTS}/{contact.id}?properties=loyalty_card_number")
    finally:
        server.stop()
    assert "loyalty_card_number" not in {p["name"] for p in listed["results"]}
    assert read[2]["properties"] == {}
