"""GDPR: where a person's data lives (the right of access); erasing it is
``resolvers/privacy/erasure.py``.

``dataSubjectReport(customerId)`` asks every system live, as the golden record does
(the CRM contact, the ERP customer account, the POS profile and loyalty account), and
lists each record with every personal value it holds, and how many orders each system
keeps under it. Nothing is kept between requests, so the report is as current as the
systems are. A system that cannot be asked is named (``unreachable``, and an error with
its source on the field): the report is incomplete for it.

An erasure of the person changes what there is to find: once the CRM contact is gone,
the customer id leads nowhere, so the report also starts from the records the erasure's
plan names (the saga log keeps their ids). While the erasure is unfinished, the report
lists what is still held where and says so (``ERASURE_INCOMPLETE`` with the steps left);
after it, what the products' APIs cannot erase (a Square loyalty account) is listed,
marked not erasable, with what the retailer must do. A record that holds no personal
value any more (the anonymised ERP account, kept for its invoices) is not listed; its
orders are still counted.

Both are audited (``gateway/security/audit.py``) with purposes ``gdpr-access`` and
``gdpr-erasure``; the customer themself, service agents and services may call them.
"""

from __future__ import annotations

from dataclasses import asdict, fields, is_dataclass
from datetime import UTC, datetime
from typing import Any

import strawberry

from adapters.records import Address, Consent, CustomerFragment, LoyaltyAccount
from resolvers.golden.identity import PREFERENCE, Identity, start_keys_of_id
from resolvers.graphql.context import Info
from resolvers.graphql.types.vocabulary import RecordKind, SourceSystem
from resolvers.loading.ready import settle
from resolvers.privacy.authz import ALLOW, DENY, Guard, guarded, own
from resolvers.privacy.erasure import (
    ANONYMISED_NAME,
    RETAILER_ACTION,
    erasure_of,
    erasure_steps,
    incomplete,
    unfinished,
)

#: record attributes that identify the record, not the person (shown as the record id)
NOT_PERSONAL = frozenset(
    {"source", "record_id", "updated_at", "account_id", "customer_id", "has_profile"}
)
#: a Square customer profile's personal values; the rest of the record is its account's
PROFILE = frozenset({"given_name", "family_name", "email", "card_number"})


@strawberry.type(description="One personal value a system holds.")
class HeldField:
    name: str = strawberry.field(description="What the value is, in the system's record.")
    value: str = strawberry.field(description="The value, as text.")


@strawberry.type(description="A record about the customer in one system, and what it holds.")
class HeldRecord:
    system: SourceSystem = strawberry.field(description="The system holding it.")
    record_id: str = strawberry.field(description="Its id in that system.")
    kind: RecordKind = strawberry.field(description="What kind of record it is.")
    fields: list[HeldField] = strawberry.field(description="Every personal value it holds.")
    erasable: bool = strawberry.field(
        default=True,
        description="False where the system's API offers no way to erase the record "
        "(a Square loyalty account): retailerAction says what to do.",
    )
    retailer_action: str | None = strawberry.field(
        default=None, description="What the retailer must do about a record not erasable."
    )


@strawberry.type(description="How many orders a system keeps under the customer's record.")
class HeldOrders:
    system: SourceSystem = strawberry.field(description="The system keeping them.")
    count: int = strawberry.field(description="How many orders.")


@strawberry.type(description="Where a customer's personal data lives, asked live.")
class DataSubjectReport:
    customer_id: strawberry.ID = strawberry.field(description="Whom the report is about.")
    generated_at: datetime = strawberry.field(description="When the systems were asked.")
    records: list[HeldRecord] = strawberry.field(
        description="Every record about the customer, system by system."
    )
    orders: list[HeldOrders] = strawberry.field(
        description="The orders each system keeps under the customer's record."
    )
    unreachable: list[SourceSystem] = strawberry.field(
        description="Systems that could not be asked: the report is incomplete for them."
    )


def subject_or_agent() -> Guard:
    """Who may ask for a report or an erasure: the customer themself, service agents
    (on the customer's request), and services."""
    return guarded(default=DENY, customer=own(lambda a: a["customer_id"]), service_agent=ALLOW)


# --- the report ----------------------------------------------------------------------


async def report(info: Info, customer_id: str) -> DataSubjectReport:
    commerce = info.context.commerce
    saga = await erasure_of(commerce.sagas, customer_id) if commerce else None
    known = start_keys_of_id(customer_id)
    if saga is not None:  # the erasure's plan still knows the records' ids
        planned = {"erp_no": saga.plan.get("erp"), "pos_customer": saga.plan.get("pos")}
        known.update({k: v for k, v in planned.items() if v and k not in known})
    identity = Identity(info.context.loaders, known)
    found = await identity.complete()
    for failure in identity.unasked(*PREFERENCE):  # the report is incomplete for it
        info.context.report(info, failure)
    if saga is not None and saga.state != "SUCCEEDED":
        left = unfinished(erasure_steps(saga))
        if left:
            info.context.report(info, incomplete(left))
    held = [
        record
        for record in (
            _held(SourceSystem.CRM, found.crm, RecordKind.CONTACT),
            _held(SourceSystem.ERP, found.erp, RecordKind.CUSTOMER_ACCOUNT),
            *_square(found.pos),
        )
        if record is not None
    ]
    loaders = info.context.loaders
    erp_orders, pos_orders = await settle(
        info,
        loaders.erp_orders_of.load(found.erp.record_id) if found.erp else _none(),
        loaders.pos_orders_of.load(found.pos.customer_id) if found.pos else _none(),
    )
    orders = [
        HeldOrders(system=SourceSystem(system), count=len(listed))
        for system, listed in (("erp", erp_orders), ("pos", pos_orders))
        if listed
    ]
    unreachable = set(identity.failures)
    unreachable.update(s for s, got in (("erp", erp_orders), ("pos", pos_orders)) if got is None)
    reads = info.context.personal_reads
    for record in held:
        for held_field in record.fields:
            reads.add(
                customer_id, f"{record.system.value}.{held_field.name}", purpose="gdpr-access"
            )
    return DataSubjectReport(
        customer_id=strawberry.ID(customer_id),
        generated_at=datetime.now(UTC),
        records=held,
        orders=orders,
        unreachable=[SourceSystem(s) for s in sorted(unreachable)],
    )


def _square(account: LoyaltyAccount | None) -> list[HeldRecord | None]:
    """Square's two records: the customer profile (erasable: DeleteCustomer) and the
    loyalty account (not: Square has no API to delete one)."""
    if account is None:
        return []
    values = _values(account)
    profile = [v for v in values if v.name in PROFILE]
    kept = [v for v in values if v.name not in PROFILE]
    return [
        HeldRecord(
            system=SourceSystem.POS,
            record_id=account.customer_id,
            kind=RecordKind.CUSTOMER_PROFILE,
            fields=profile,
        )
        if account.has_profile
        else None,
        HeldRecord(
            system=SourceSystem.POS,
            record_id=account.account_id,
            kind=RecordKind.LOYALTY_ACCOUNT,
            fields=kept,
            erasable=False,
            retailer_action=RETAILER_ACTION,
        ),
    ]


async def _none() -> list[object]:
    return []


def _held(
    system: SourceSystem, record: CustomerFragment | None, kind: RecordKind
) -> HeldRecord | None:
    """A CRM or ERP record; an anonymised one (a name that is no person's, and nothing
    else) holds no personal value and is not listed."""
    if record is None or record.full_name == ANONYMISED_NAME:
        return None
    return HeldRecord(system=system, record_id=record.record_id, kind=kind, fields=_values(record))


def _values(record: CustomerFragment | LoyaltyAccount) -> list[HeldField]:
    return [
        HeldField(name=name, value=value)
        for attribute in fields(record)
        if attribute.name not in NOT_PERSONAL
        for name, value in _flattened(attribute.name, getattr(record, attribute.name))
    ]


def _flattened(name: str, value: Any) -> list[tuple[str, str]]:
    """A record attribute as named text values; empty ones are not held."""
    if value is None or value == "" or value == ():
        return []
    if isinstance(value, Address):
        return [
            pair
            for part, text in asdict(value).items()
            for pair in _flattened(f"{name}.{part}", text)
        ]
    if isinstance(value, tuple) and all(isinstance(c, Consent) for c in value):
        return [(f"consent.{c.purpose}", _consent_text(c)) for c in value]
    if isinstance(value, tuple):
        return [(name, ", ".join(str(v) for v in value))]
    assert not is_dataclass(value), f"{name}: flatten {type(value).__name__} explicitly"
    return [(name, str(value))]


def _consent_text(consent: Consent) -> str:
    state = "granted" if consent.granted else "refused"
    return f"{state} until {consent.valid_until}" if consent.valid_until else state
