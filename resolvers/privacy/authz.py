"""Who may read what, declared next to each field.

A field states its policy in its ``extensions``, per role, where it is defined::

    @strawberry.field(extensions=[personal(store_employee=Mask(mask_email),
                                           marketing=NeedsConsent("email_marketing"))])
    async def email(self) -> str | None: ...

- :func:`guarded` — any field: a rule per role, a default for the roles not named.
- :func:`personal` — a field of a customer's personal data. Before its own rules, the
  caller must be *admitted* to that customer: a customer to their own record only, a
  store employee to a customer recognised by loyalty card, marketing to a customer who
  granted a consent some field lets it read by, service agents to anyone; partners and
  anonymous callers never. Admission is checked on every field
  of the customer, so no path (``order -> customer``, a federation ``_entities`` lookup,
  an alias, a fragment) shows what the direct path would refuse: the check is made where
  the data is, not where the query entered.

Open mode (no authentication configured) and the ``service`` role read everything.
A refused field is null with ``FORBIDDEN`` (``UNAUTHENTICATED`` for a caller without
credentials, ``CONSENT_REQUIRED`` for a missing consent); lists are non-null by
convention, so a refused list is empty, with the same error at its path. Every
personal field let through is noted for the audit log
(:mod:`resolvers.privacy.principal`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from inspect import isawaitable
from typing import Any, TypeVar

from strawberry.extensions import FieldExtension
from strawberry.types.base import StrawberryList
from strawberry.types.field import StrawberryField

from adapters.errors import ConsentRequired, Forbidden, MosaicError, Unauthenticated
from adapters.records import OrderRecord
from resolvers.golden.identity import Identity, PersonalRecord
from resolvers.golden.survivorship import Fragments
from resolvers.graphql import ids
from resolvers.graphql.context import Info
from resolvers.graphql.types.common import Address
from resolvers.privacy.principal import ROLES, Principal

#: roles that read everything, consent-gated fields included
FULL_ACCESS = frozenset({"open", "service"})
#: roles that see no stock levels (Product.stock, and the stockChanged subscription)
STOCK_DENIED = frozenset({"anonymous", "customer", "marketing"})
#: roles admitted to no person's data at all (``admitted`` says no to them, always)
NEVER_ADMITTED = frozenset({"partner", "anonymous"})
#: the ways a customer can be reached; a store employee needs the first
VIA_LOYALTY_CARD, VIA_ID, VIA_EMAIL, VIA_ORDER = "loyalty_card", "id", "email", "order"


# --- rules ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Allow:
    pass


@dataclass(frozen=True, slots=True)
class Deny:
    pass


@dataclass(frozen=True, slots=True)
class Mask:
    """Readable, with part of the value hidden (``j***@example.nl``)."""

    apply: Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class NeedsConsent:
    """Readable while the customer's consent for ``purpose`` is granted and valid."""

    purpose: str


@dataclass(frozen=True, slots=True)
class NeedsScope:
    """Readable with ``scope`` among the caller's scopes (a partner's API key)."""

    scope: str


@dataclass(frozen=True, slots=True)
class When:
    """Readable when ``test(info, arguments)`` holds; ``why`` says what it requires."""

    test: Callable[[Info, dict[str, Any]], bool]
    why: str


Rule = Allow | Deny | Mask | NeedsConsent | NeedsScope | When
ALLOW, DENY = Allow(), Deny()


def own(customer_id: Callable[[dict[str, Any]], object]) -> When:
    """For role customer: the field's ``customer_id(arguments)`` is the caller's own id
    (a customer acts on their own record only)."""
    return When(
        lambda info, args: str(customer_id(args)) == info.context.principal.customer,
        "for another customer",
    )


R = TypeVar("R", bound=PersonalRecord)


# --- the checks ----------------------------------------------------------------------


def global_ids(fragments: Fragments) -> list[str]:
    """Every id the person has in Mosaic, the golden id (CRM, else POS, else ERP) first."""
    found = [
        ("crm", fragments.crm.record_id if fragments.crm else None),
        ("pos", fragments.pos.customer_id if fragments.pos else None),
        ("erp", fragments.erp.record_id if fragments.erp else None),
    ]
    return [ids.make(system, local) for system, local in found if local]


async def admitted(principal: Principal, record: PersonalRecord) -> bool:
    """May the caller see this person at all (before any field's own rule)?"""
    role = principal.role
    if role in FULL_ACCESS or role == "service_agent":
        return True
    if role == "marketing":
        return await uses_a_consent(record, role)
    if role == "store_employee":
        return record.via == VIA_LOYALTY_CARD
    if role == "customer":
        return principal.customer in global_ids(await record.identity.complete())
    return False


async def has_consent(identity: Identity, purpose: str) -> bool:
    """Granted in the CRM and not expired; unknown (no CRM record, CRM down) is no."""
    crm = (await identity.settled("crm")).crm
    today = date.today()
    return crm is not None and any(
        c.purpose == purpose and c.granted and (c.valid_until is None or c.valid_until >= today)
        for c in crm.consents
    )


async def uses_a_consent(record: PersonalRecord, role: str) -> bool:
    """Has the person granted any consent ``role`` reads their data by? The CRM keeps
    consents: when it failed, that failure is the answer (not "nobody")."""
    for purpose in purposes(type(record), role):
        if await has_consent(record.identity, purpose):
            return True
    failure = record.identity.failures.get("crm")
    if failure is not None and (await record.identity.settled("crm")).crm is None:
        raise failure
    return False


@cache
def purposes(kind: type, role: str) -> tuple[str, ...]:
    """The consent purposes ``role`` may read some field of ``kind`` by, as its fields
    declare them (``NeedsConsent``): marketing reads a customer's name and e-mail by
    ``email_marketing``, their loyalty and orders by ``personalisation``."""
    found = {
        rule.purpose
        for field in kind.__strawberry_definition__.fields  # type: ignore[attr-defined]
        for guard in field.extensions
        if isinstance(guard, Guard) and isinstance(rule := guard.rules.get(role), NeedsConsent)
    }
    return tuple(sorted(found))


def made_through(principal: Principal, order: OrderRecord) -> bool:
    """Did this order come in through the calling partner? The ERP says whose an order
    is in a field its mapping names (``order_partner``; NAV codes are upper case, so
    without regard to case); an order without one is no partner's."""
    return bool(
        order.partner
        and principal.partner
        and order.partner.casefold() == principal.partner.casefold()
    )


def refusal(principal: Principal, what: str) -> MosaicError:
    if principal.role == "anonymous":
        return Unauthenticated(f"{what} is not public: send a bearer token or an API key")
    return Forbidden(f"{what} is not for role {principal.role}")


async def admit(info: Info, record: R | None, what: str) -> R | None:
    """A field's answer that is a person, where the caller may see them; else a refusal
    (the whole object null, not an object of null fields). Where telling "not there"
    from "not yours" would say who is a customer, the two answers are one: a customer
    asking about anyone but themself is refused alike whether that person exists or not,
    and a person marketing may use no consent of is null, exactly as nobody."""
    principal = info.context.principal
    if record is None and principal.role != "customer":
        return None
    if record is None or not await admitted(principal, record):
        if principal.role == "customer":
            raise Forbidden(f"{what} is not yours")
        if principal.role == "marketing":
            return None
        raise refusal(principal, what)
    return record


# --- the field extension -------------------------------------------------------------


class Guard(FieldExtension):
    """A field's policy, checked before its resolver runs (so a refused field never
    asks a source), and its mask applied to what the resolver gives."""

    def __init__(self, rules: dict[str, Rule], default: Rule, personal: bool) -> None:
        unknown = set(rules) - ROLES - {"anonymous"}
        if unknown:
            raise ValueError(f"no such role: {', '.join(sorted(unknown))}")
        self.rules = rules
        self.default = default
        self.personal = personal
        self.empty_list = False

    def apply(self, field: StrawberryField) -> None:
        self.empty_list = isinstance(field.type, StrawberryList)

    def rule_for(self, principal: Principal) -> Rule:
        if principal.role in FULL_ACCESS:
            return ALLOW
        return self.rules.get(principal.role, self.default)

    def never_for(self, principal: Principal) -> bool:
        """Whether the caller can never read this field, whatever the arguments and the
        data: its rule denies the role, asks a scope the caller lacks, or it is a person's
        field and the role is admitted to nobody (partners, callers without credentials).
        Such a field refuses the whole operation before it runs
        (``resolvers/privacy/read_policy.py``) rather than each of its items."""
        rule = self.rule_for(principal)
        if isinstance(rule, Deny):
            return True
        if isinstance(rule, NeedsScope) and rule.scope not in principal.scopes:
            return True
        return self.personal and principal.role in NEVER_ADMITTED

    def check(self, info: Info, kwargs: dict[str, Any]) -> None:
        """Refuse as this field would, by the caller and the arguments alone: for a path
        that reaches what the field finds another way (``node(id:)``), so that path
        never shows what this one refuses."""
        principal = info.context.principal
        self._check_now(self.rule_for(principal), principal, info, kwargs)

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        """For a resolver that answers now when it can (:mod:`resolvers.loading.ready`):
        the rules that need no source are checked here, so the field stays plain; a rule
        that must ask a source (admission to a person, a consent) makes it async."""
        principal = info.context.principal
        rule = self.rule_for(principal)
        if isinstance(rule, NeedsConsent) or (self.personal and principal.role not in FULL_ACCESS):
            return self.resolve_async(next_, source, info, **kwargs)
        try:
            self._check_now(rule, principal, info, kwargs)
        except MosaicError as error:
            return self._refused(info, error)
        return self._given(rule, source, info, next_(source, info, **kwargs))

    async def resolve_async(
        self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any
    ) -> Any:
        principal = info.context.principal
        rule = self.rule_for(principal)
        try:
            if (
                self.personal
                and principal.role not in FULL_ACCESS
                and not await admitted(principal, source)
            ):
                raise refusal(principal, f"this customer's {info.field_name}")
            self._check_now(rule, principal, info, kwargs)
            if isinstance(rule, NeedsConsent) and not await has_consent(
                source.identity, rule.purpose
            ):
                raise ConsentRequired(
                    f"{_what(info)} needs the customer's valid consent for {rule.purpose}",
                    purpose=rule.purpose,
                )
        except MosaicError as error:
            return self._refused(info, error)
        value = next_(source, info, **kwargs)
        return self._given(rule, source, info, await value if isawaitable(value) else value)

    def _check_now(
        self, rule: Rule, principal: Principal, info: Info, kwargs: dict[str, Any]
    ) -> None:
        """The rules decided by the caller and the arguments alone."""
        if isinstance(rule, Deny):
            raise refusal(principal, _what(info))
        if isinstance(rule, NeedsScope) and rule.scope not in principal.scopes:
            raise Forbidden(f"{_what(info)} needs scope {rule.scope}")
        if isinstance(rule, When) and not rule.test(info, kwargs):
            raise refusal(principal, f"{_what(info)} {rule.why}")

    def _refused(self, info: Info, error: MosaicError) -> list[Any]:
        """A refused list is empty, with the error at its path; anything else raises."""
        if not self.empty_list:
            raise error
        info.context.report(info, error)
        return []

    def _given(self, rule: Rule, source: Any, info: Info, value: Any) -> Any:
        """What the resolver gave (now, or an awaitable of it), masked by the rule; a
        personal field let through is noted for the audit log."""
        if self.personal:
            info.context.personal_reads.add(source.identity, info.field_name)
        if not isinstance(rule, Mask):
            return value
        if isawaitable(value):
            return _masked(rule, value)
        return None if value is None else rule.apply(value)


async def _masked(rule: Mask, value: Awaitable[Any]) -> Any:
    given = await value
    return None if given is None else rule.apply(given)


def _what(info: Info) -> str:
    return f"{info.path.typename}.{info.field_name}"


def guarded(*, default: Rule = ALLOW, **rules: Rule) -> Guard:
    """Any field's policy: ``rules`` per role; ``default`` for the roles not named (and
    for callers without credentials, as role ``anonymous``)."""
    return Guard(rules, default, personal=False)


def personal(**rules: Rule) -> Guard:
    """A field of one person's data (its type is a :class:`PersonalRecord`): the caller
    must be admitted to the person, then ``rules`` per role apply; roles not named read
    the field as it is."""
    return Guard(rules, ALLOW, personal=True)


# --- masks ---------------------------------------------------------------------------


def mask_email(email: str) -> str:
    """``jan.jansen@example.nl`` -> ``j***@example.nl``: enough to confirm it with the
    customer at the counter, not enough to write to them."""
    local, at, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if at and local else "***"


def mask_phone(phone: str) -> str:
    """``+31612341234`` -> ``+316****1234``: the country and kind, and the last four."""
    compact = phone.replace(" ", "")
    return f"{compact[:4]}****{compact[-4:]}" if len(compact) > 8 else "****"


def mask_address(address: Address) -> Address:
    """The town and the postal code's four digits (the area, not the house)."""
    postal_code = address.postal_code.replace(" ", "")[:4] if address.postal_code else None
    return Address(street=None, city=address.city, postal_code=postal_code, country=address.country)
