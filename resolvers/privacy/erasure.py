"""``eraseCustomer``: a person erased from every system, as a saga that, once started,
is driven to completion.

The records are found first (the CRM contact, the ERP customer account, the POS
profile and its loyalty account), and nothing is erased while a system does not answer
(it may hold a record that would then be missed for good). The plan (which record in
which system: ids only, no personal data) goes into the saga log before the first step,
because after the CRM contact is gone the other records could no longer be found from
the customer id. The steps: HubSpot's GDPR delete of the contact (nothing left in a
recycle bin), Square's DeleteCustomer of the profile (name, contact, the card number in
its reference_id), and the ERP account anonymised (it stays: the invoices under it must
be kept). Each is safe to repeat (a record already gone counts as done).

An erasure cannot be undone, only finished, so every step is ``forward``
(``resolvers/commerce/sagas.py``): all are tried on every attempt, a system that fails
holds up only its own step, and the saga stays unfinished in the log, with each failing
step's error, until the sweep (every ``saga_sweep_s``, backing off to
``saga_max_backoff_s``; replicas claim a saga through the log's lease, so two never
sweep the same one) or the next start-up has done them all. Nobody has to send the key
again.

One person, one erasure: the saga is indexed in the log by every id of the person
(``crm:``, ``erp:``, ``pos:``, and the id asked), so an erasure asked for again under a
new key, by any of those ids, joins the one under way (or done) instead of starting one
that would find nothing left and "succeed" empty. Until it completes, ``eraseCustomer``
answers its progress (each step done, pending or failing) with ``ERASURE_INCOMPLETE``,
and the data-subject report lists what is still held where
(``resolvers/privacy/gdpr.py``).

What a product's API cannot erase is listed, not hidden: Square has no API to delete a
loyalty account, so it stays with its points and the phone number it is mapped to,
under a profile that is gone (nobody finds it by card any more: the card was the
profile's). The erasure lists it NOT_ERASABLE, with what the retailer must do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import strawberry

from adapters.errors import BadUserInput, ErasureIncomplete, MosaicError, PayloadCode
from resolvers.commerce.sagas import Json, Results, SagaEngine, SagaRecord, Step
from resolvers.golden.identity import Identity, start_keys_of_id
from resolvers.graphql import ids
from resolvers.graphql.context import Info
from resolvers.graphql.types.vocabulary import (
    ErasureAction,
    ErasureState,
    ErasureStepStatus,
    SourceSystem,
)
from resolvers.graphql.types.writes import UserError
from resolvers.loading.sources import Sources

KIND = "erase_customer"
#: the saga log's index of erasures by every id of the person erased
SUBJECT = "erasure_subject"
#: what an erased person's ERP account is called from then on
ANONYMISED_NAME = "Erased customer"
RETAILER_ACTION = (
    "Square has no API to delete a loyalty account: delete it in Square's Dashboard "
    "(Customers > Loyalty), or keep it if the points must be honoured; it holds the "
    "points and the phone number it is mapped to"
)


@dataclass(frozen=True, slots=True)
class Plan:
    """The records to erase, found once, before anything is erased."""

    crm: str | None = None
    erp: str | None = None
    pos: str | None = None
    pos_account: str | None = None  # the loyalty account, which Square cannot delete

    def ids(self) -> list[str]:
        """The person's global ids (the record ids the report and the index use)."""
        found = [("crm", self.crm), ("erp", self.erp), ("pos", self.pos)]
        return [ids.make(system, local) for system, local in found if local]


@strawberry.type(description="One record of an erasure, and where it stands.")
class ErasureStep:
    system: SourceSystem = strawberry.field(description="The system holding the record.")
    record_id: str = strawberry.field(description="The record, as `<system>:<its id>`.")
    action: ErasureAction = strawberry.field(
        description="DELETED, ANONYMISED or ALREADY_GONE once done; DELETE or ANONYMISE "
        "while pending; KEPT for a record the system offers no way to erase."
    )
    status: ErasureStepStatus = strawberry.field(
        description="DONE, PENDING (not tried yet, or to be tried again), FAILING (its "
        "system refused or did not answer on the last attempt: error says why), or "
        "NOT_ERASABLE (the system's API cannot erase it: retailerAction says what to do)."
    )
    error: str | None = strawberry.field(default=None, description="Why a step is FAILING.")
    retailer_action: str | None = strawberry.field(
        default=None, description="What the retailer must do for a NOT_ERASABLE record."
    )


@strawberry.type(description="An erasure, system by system, and how far it is.")
class Erasure:
    customer_id: strawberry.ID = strawberry.field(description="Whom it erases.")
    idempotency_key: str = strawberry.field(description="The key it was asked with.")
    repeated: bool = strawberry.field(
        description="True when this key had already completed: nothing was done again."
    )
    state: ErasureState = strawberry.field(
        description="COMPLETED, or IN_PROGRESS while a step is left: the gateway finishes "
        "it by itself, nobody has to ask again."
    )
    completed_at: datetime | None = strawberry.field(description="Null while in progress.")
    steps: list[ErasureStep] = strawberry.field(description="Each record and its step.")
    errors: list[UserError] = strawberry.field(
        description="ERASURE_INCOMPLETE while steps are left, naming them."
    )


#: each step: (plan field, system, what it does, what is done)
STEPS = (
    ("crm", SourceSystem.CRM, ErasureAction.DELETE, ErasureAction.DELETED),
    ("erp", SourceSystem.ERP, ErasureAction.ANONYMISE, ErasureAction.ANONYMISED),
    ("pos", SourceSystem.POS, ErasureAction.DELETE, ErasureAction.DELETED),
)


class EraseCustomer:
    """The saga: every record of the plan erased, each step forward only."""

    kind = KIND

    def __init__(self, sources: Sources) -> None:
        self.sources = sources

    def steps(self, plan: Json) -> Sequence[Step]:
        return [
            Step(field, self._erase(field), forward=True)
            for field, _, _, _ in STEPS
            if plan.get(field)
        ]

    def answer(self, plan: Json, results: Results) -> Json:
        return {"completed_at": datetime.now(UTC).isoformat(), "results": results}

    def _erase(self, field: str) -> Any:
        async def erase(plan: Json, results: Results) -> bool:
            record = plan[field]
            if field == "crm":
                return await self.sources.crm.gdpr_delete(record)
            if field == "pos":
                return await self.sources.pos.delete_customer(record)
            return await self.sources.erp.anonymise_customer(record, ANONYMISED_NAME)

        return erase


async def erasure_of(engine: SagaEngine, customer_id: str) -> SagaRecord | None:
    """The erasure saga of the person with this id, begun or done; None if none."""
    key = await engine.log.get_key(SUBJECT, customer_id)
    saga_id = await engine.log.get_key(KIND, key) if key else None
    return await engine.log.load(saga_id) if saga_id else None


async def erase(info: Info, customer_id: str, key: str) -> Erasure:
    context = info.context
    if context.commerce is None:
        raise MosaicError("erasure is not available in this gateway")
    if not key.strip() or len(key) > 200:
        raise BadUserInput("idempotencyKey must be 1 to 200 characters")
    engine = context.commerce.sagas
    context.personal_reads.add(customer_id, "eraseCustomer", purpose="gdpr-erasure")
    fingerprint = engine.fingerprint({"customer": customer_id})
    saga_id = await engine.log.get_key(KIND, key)
    used = await engine.log.load(saga_id) if saga_id else None
    if used is not None and used.fingerprint != fingerprint and used.state != "FAILED":
        raise BadUserInput(f"idempotency key {key!r} was used to erase another customer")
    if used is not None and used.state == "SUCCEEDED":
        return await _progress(engine, customer_id, key, repeated=True, saga=used)
    under_way = await erasure_of(engine, customer_id)
    if under_way is None:  # no erasure knows this id: find the person's records
        plan = await _plan(info, customer_id)
        joined = await _index(engine, [customer_id, *plan.ids()], key)
        if joined is None:
            with contextlib.suppress(MosaicError):  # a step failed: the sweep finishes it
                await engine.run(KIND, key, fingerprint, asdict(plan))
            return await _progress(engine, customer_id, key, repeated=False)
        under_way = await erasure_of(engine, joined)
    if under_way is not None and under_way.state != "SUCCEEDED":
        await engine.finish(under_way.id)  # due for another try: try now
    return await _progress(engine, customer_id, key, repeated=False, saga=under_way)


async def _plan(info: Info, customer_id: str) -> Plan:
    identity = Identity(info.context.loaders, start_keys_of_id(customer_id))
    found = await identity.complete()
    if identity.failures:  # a system that did not answer may hold a record: not yet
        raise next(iter(identity.failures.values()))
    return Plan(
        crm=found.crm.record_id if found.crm else None,
        erp=found.erp.record_id if found.erp else None,
        pos=found.pos.customer_id if found.pos else None,
        pos_account=found.pos.account_id if found.pos else None,
    )


async def _index(engine: SagaEngine, person: Sequence[str], key: str) -> str | None:
    """Index this erasure's key by every id of the person; the id of an erasure that
    another key began first, if one did (then this one joins it)."""
    for global_id in dict.fromkeys(person):
        holder = await engine.log.claim_key(SUBJECT, global_id, key)
        if holder != key:
            return global_id
    return None


async def _progress(
    engine: SagaEngine,
    customer_id: str,
    key: str,
    *,
    repeated: bool,
    saga: SagaRecord | None = None,
) -> Erasure:
    """Where the erasure stands, from its saga in the log."""
    if saga is None:
        saga_id = await engine.log.get_key(KIND, key)
        saga = await engine.log.load(saga_id) if saga_id else None
    if saga is None:
        raise MosaicError("the erasure could not be started; send it again")
    steps = erasure_steps(saga)
    done = saga.state == "SUCCEEDED" and saga.answer is not None
    left = unfinished(steps)
    return Erasure(
        customer_id=strawberry.ID(customer_id),
        idempotency_key=key,
        repeated=repeated,
        state=ErasureState.COMPLETED if done else ErasureState.IN_PROGRESS,
        completed_at=datetime.fromisoformat(saga.answer["completed_at"])
        if done and saga.answer
        else None,
        steps=steps,
        errors=[UserError(code=PayloadCode.ERASURE_INCOMPLETE, message=incomplete(left).message)]
        if left
        else [],
    )


def erasure_steps(saga: SagaRecord) -> list[ErasureStep]:
    """Each record of the plan and where its step stands; the loyalty account last."""
    plan, steps = saga.plan, []
    for field, system, pending, done in STEPS:
        record = plan.get(field)
        if not record:
            continue
        failing = saga.failing.get(field)
        if field in saga.results:
            action = done if saga.results[field] else ErasureAction.ALREADY_GONE
            status = ErasureStepStatus.DONE
        else:
            action = pending
            status = ErasureStepStatus.FAILING if failing else ErasureStepStatus.PENDING
        steps.append(
            ErasureStep(
                system=system,
                record_id=ids.make(system.value, record),
                action=action,
                status=status,
                error=f"{failing['code']}: {failing['message']}" if failing else None,
            )
        )
    if plan.get("pos_account"):
        steps.append(
            ErasureStep(
                system=SourceSystem.POS,
                record_id=ids.make("pos", plan["pos_account"]),
                action=ErasureAction.KEPT,
                status=ErasureStepStatus.NOT_ERASABLE,
                retailer_action=RETAILER_ACTION,
            )
        )
    return steps


def unfinished(steps: Sequence[ErasureStep]) -> list[ErasureStep]:
    """The steps still to do: pending, or failing (the sweep tries them again)."""
    return [s for s in steps if s.status in (ErasureStepStatus.PENDING, ErasureStepStatus.FAILING)]


def incomplete(left: Sequence[ErasureStep]) -> ErasureIncomplete:
    """The error that says an erasure is not finished, and what is left."""
    named = ", ".join(f"{s.record_id} ({s.status.name.lower()})" for s in left)
    return ErasureIncomplete(
        f"the erasure is not finished: {named} still to erase; the gateway goes on by itself",
        pending=[
            {
                "system": s.system.value,
                "recordId": s.record_id,
                "status": s.status.name,
                "error": s.error,
            }
            for s in left
        ],
    )
