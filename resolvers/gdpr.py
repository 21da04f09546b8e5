"""GDPR: where a person's data lives (the right of access), and erasing it.

``dataSubjectReport(customerId)`` asks every system live, as the golden record does
(the CRM contact, the ERP customer account, the POS profile and loyalty account), and
lists each record with every personal value it holds, and how many orders each system
keeps under it. Nothing is kept between requests, so the report is as current as the
systems are.

``eraseCustomer(customerId, idempotencyKey)`` deletes the CRM contact (HubSpot's GDPR
delete: nothing left in a recycle bin) and the POS customer profile (with the name,
contact and loyalty card number it holds), and anonymises the ERP customer account,
which stays because the invoices under it must be kept. The POS loyalty account stays
too: Square has no API to delete one, so the erasure reports it ``kept`` and the seller
deletes it in Square's Dashboard (contracts/pos/README.md); it holds the points and the
phone number it is mapped to, and no name. The records are found first, and nothing is
erased while a system does not answer (it may hold a record that would then be missed
for good). The three steps run in parallel; each is safe to repeat (a record already
gone counts as done). Before the first step the plan (which record in which system) is
written to the erasure log under the key, because after the CRM contact is gone the
other records could no longer be found from the customer id: a retry with the same key
after a failure carries out the same plan, and a repeat after success answers the
first result again and changes nothing. The log holds only ids, no personal data.

Why not the saga engine (``resolvers/sagas.py``) the other writes use: a saga undoes
its steps when one fails, and an erasure cannot be undone; it can only be finished.
The log is one SQLite file per gateway (``MOSAIC_DATA_DIR``): replicas do not share it,
which costs at most a second run of the same safe steps.

Both are audited (``gateway/audit.py``) with purposes ``gdpr-access`` and
``gdpr-erasure``; the customer themself, service agents and services may call them.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import asdict, fields, is_dataclass
from dataclasses import dataclass as plain_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import strawberry

from adapters.errors import BadUserInput, MosaicError
from adapters.records import Address, Consent, CustomerFragment, LoyaltyAccount
from resolvers import ids
from resolvers.authz import ALLOW, DENY, Guard, guarded, own
from resolvers.context import Info
from resolvers.identity import PREFERENCE, Identity, start_keys_of_id
from resolvers.ready import settle

#: what an erased person's ERP account is called from then on
ANONYMISED_NAME = "Erased customer"
#: a record the system offers no way to erase (a Square loyalty account): the seller's to do
KEPT = "kept: no delete in the system's API"
#: record attributes that identify the record, not the person (shown as the record id)
NOT_PERSONAL = frozenset({"source", "record_id", "updated_at", "account_id", "customer_id"})


@strawberry.type(description="One personal value a system holds.")
class HeldField:
    name: str
    value: str


@strawberry.type(description="A record about the customer in one system, and what it holds.")
class HeldRecord:
    system: str
    record_id: str
    kind: str
    fields: list[HeldField]


@strawberry.type(description="How many orders a system keeps under the customer's record.")
class HeldOrders:
    system: str
    count: int


@strawberry.type(description="Where a customer's personal data lives, asked live.")
class DataSubjectReport:
    customer_id: strawberry.ID
    generated_at: datetime
    records: list[HeldRecord]
    orders: list[HeldOrders]
    unreachable: list[str] = strawberry.field(
        description="Systems that could not be asked: the report is incomplete for them."
    )


@strawberry.type
class ErasureStep:
    system: str
    record_id: str
    action: str = strawberry.field(
        description="deleted, anonymised, already gone, or kept (a record the system offers "
        "no way to erase, such as a Square loyalty account: the seller deletes it)."
    )


@strawberry.type(description="What an erasure did, system by system.")
class Erasure:
    customer_id: strawberry.ID
    idempotency_key: str
    repeated: bool = strawberry.field(
        description="True when this key had already completed: nothing was done again."
    )
    completed_at: datetime
    steps: list[ErasureStep]


def subject_or_agent() -> Guard:
    """Who may ask for a report or an erasure: the customer themself, service agents
    (on the customer's request), and services."""
    return guarded(default=DENY, customer=own(lambda a: a["customer_id"]), service_agent=ALLOW)


# --- the report ----------------------------------------------------------------------


async def report(info: Info, customer_id: str) -> DataSubjectReport:
    identity = Identity(info.context.loaders, start_keys_of_id(customer_id))
    found = await identity.complete()
    for failure in identity.unasked(*PREFERENCE):  # the report is incomplete for it
        info.context.report(info, failure)
    held = [
        record
        for record in (
            _held("crm", found.crm, "contact"),
            _held("erp", found.erp, "customer account"),
            _held("pos", found.pos, "customer profile and loyalty account"),
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
        HeldOrders(system=system, count=len(listed))
        for system, listed in (("erp", erp_orders), ("pos", pos_orders))
        if listed
    ]
    unreachable = set(identity.failures)
    unreachable.update(s for s, got in (("erp", erp_orders), ("pos", pos_orders)) if got is None)
    reads = info.context.personal_reads
    for record in held:
        for held_field in record.fields:
            reads.add(customer_id, f"{record.system}.{held_field.name}", purpose="gdpr-access")
    return DataSubjectReport(
        customer_id=strawberry.ID(customer_id),
        generated_at=datetime.now(UTC),
        records=held,
        orders=orders,
        unreachable=sorted(unreachable),
    )


async def _none() -> list[object]:
    return []


def _held(
    system: str, record: CustomerFragment | LoyaltyAccount | None, kind: str
) -> HeldRecord | None:
    if record is None:
        return None
    record_id = record.customer_id if isinstance(record, LoyaltyAccount) else record.record_id
    if isinstance(record, CustomerFragment) and record.full_name == ANONYMISED_NAME:
        kind = f"{kind} (anonymised)"  # a name that is no person's, and nothing else
        return HeldRecord(system=system, record_id=record_id, kind=kind, fields=[])
    values = [
        (name, value)
        for attribute in fields(record)
        if attribute.name not in NOT_PERSONAL
        for name, value in _flattened(attribute.name, getattr(record, attribute.name))
    ]
    return HeldRecord(
        system=system,
        record_id=record_id,
        kind=kind,
        fields=[HeldField(name=name, value=value) for name, value in values],
    )


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


# --- erasure -------------------------------------------------------------------------


@plain_dataclass(frozen=True, slots=True)
class Plan:
    """The records to erase, found once, before anything is erased."""

    crm: str | None = None
    erp: str | None = None
    pos: str | None = None
    pos_account: str | None = None  # the loyalty account, which Square cannot delete


class ErasureLog:
    """Erasures by idempotency key, in a small SQLite file of the gateway's own: the
    plan when an erasure starts, its result when it completes. Ids only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        """Opened on the first erasure: a gateway that never erases writes no file."""
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            with self._db:
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS erasures (key TEXT PRIMARY KEY, "
                    "customer_id TEXT NOT NULL, plan TEXT NOT NULL, result TEXT, "
                    "started_at TEXT NOT NULL)"
                )
        return self._db

    def begin(self, key: str, customer_id: str, plan: Plan) -> tuple[Plan, dict[str, Any] | None]:
        """The key's plan (this one, unless the key came before) and its result, if it
        completed. The same key for another customer is the client's mistake."""
        with self.db:
            self.db.execute(
                "INSERT OR IGNORE INTO erasures (key, customer_id, plan, started_at) "
                "VALUES (?, ?, ?, ?)",
                (key, customer_id, json.dumps(asdict(plan)), datetime.now(UTC).isoformat()),
            )
        known, stored, result = self.db.execute(
            "SELECT customer_id, plan, result FROM erasures WHERE key = ?", (key,)
        ).fetchone()
        if known != customer_id:
            raise BadUserInput(f"idempotency key {key!r} was used to erase another customer")
        return Plan(**json.loads(stored)), json.loads(result) if result else None

    def seen(self, key: str) -> bool:
        row = self.db.execute("SELECT 1 FROM erasures WHERE key = ?", (key,)).fetchone()
        return row is not None

    def finish(self, key: str, result: dict[str, Any]) -> None:
        with self.db:
            self.db.execute(
                "UPDATE erasures SET result = ? WHERE key = ?", (json.dumps(result), key)
            )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


async def erase(info: Info, customer_id: str, key: str) -> Erasure:
    context = info.context
    if context.sources is None or context.erasures is None:
        raise MosaicError("erasure is not available in this gateway")
    if not key.strip():
        raise BadUserInput("idempotencyKey is empty")
    log = context.erasures
    plan = Plan()
    if not log.seen(key):  # find the records once; a retry must not look them up again
        identity = Identity(context.loaders, start_keys_of_id(customer_id))
        found = await identity.complete()
        if identity.failures:  # a system that did not answer may hold a record: not yet
            raise next(iter(identity.failures.values()))
        plan = Plan(
            crm=found.crm.record_id if found.crm else None,
            erp=found.erp.record_id if found.erp else None,
            pos=found.pos.customer_id if found.pos else None,
            pos_account=found.pos.account_id if found.pos else None,
        )
    plan, done = log.begin(key, customer_id, plan)
    context.personal_reads.add(customer_id, "eraseCustomer", purpose="gdpr-erasure")
    if done is None:
        done = {
            "completed_at": datetime.now(UTC).isoformat(),
            "steps": await _carry_out(info, plan),
        }
        log.finish(key, done)
        repeated = False
    else:
        repeated = True
    return Erasure(
        customer_id=strawberry.ID(customer_id),
        idempotency_key=key,
        repeated=repeated,
        completed_at=datetime.fromisoformat(done["completed_at"]),
        steps=[ErasureStep(**step) for step in done["steps"]],
    )


async def _carry_out(info: Info, plan: Plan) -> list[dict[str, str]]:
    """Every step of the plan, in parallel; any failure fails the erasure (after the
    others finished), and a retry with the same key repeats every step safely."""
    sources = info.context.sources
    assert sources is not None
    steps: list[tuple[str, str, str, Any]] = []
    if plan.crm:
        steps.append(("crm", plan.crm, "deleted", sources.crm.gdpr_delete(plan.crm)))
    if plan.pos:
        steps.append(("pos", plan.pos, "deleted", sources.pos.delete_customer(plan.pos)))
    if plan.erp:
        anonymise = sources.erp.anonymise_customer(plan.erp, ANONYMISED_NAME)
        steps.append(("erp", plan.erp, "anonymised", anonymise))
    outcomes = await asyncio.gather(*(s[3] for s in steps), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    done = [
        {
            "system": system,
            "record_id": ids.make(system, record_id),
            "action": action if changed else "already gone",
        }
        for (system, record_id, action, _), changed in zip(steps, outcomes, strict=True)
    ]
    if plan.pos_account:
        done.append(
            {"system": "pos", "record_id": ids.make("pos", plan.pos_account), "action": KEPT}
        )
    return done
