"""Who is asking, and what personal data their request read.

The gateway turns a bearer token or an API key into a :class:`Principal`
(``gateway/security/auth.py``) and puts it into the request's context; every field that
holds personal data checks it (``resolvers/privacy/authz.py``) and notes what it let
through in the request's :class:`PersonalReads`, which the gateway writes to the audit
log when the request ends (``gateway/security/audit.py``). This module imports nothing
else of the schema, so the context can hold both without an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from resolvers.golden.identity import Identity

Role = Literal["customer", "store_employee", "service_agent", "marketing", "partner", "service"]
#: the roles a token may carry
ROLES: frozenset[str] = frozenset(get_args(Role))
#: who is asking when nobody says: ``open`` when no authentication is configured
#: (development: everything allowed), ``anonymous`` when it is and no credential came
Mode = Literal["open", "anonymous"]

#: what a read is for, when the token does not say (the audit log's ``purpose``)
DEFAULT_PURPOSE: dict[str, str] = {
    "open": "development (open mode)",
    "anonymous": "public catalogue",
    "customer": "self-service",
    "store_employee": "in-store service",
    "service_agent": "customer service",
    "marketing": "marketing",
    "partner": "order fulfilment",
    "service": "system integration",
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request, from its token's claims or its API key."""

    role: Role | Mode
    subject: str | None = None  # the token's ``sub``, or ``partner:<name>`` for an API key
    channel: str | None = None  # WEB, APP or STORE: the channel the token was issued for
    store: str | None = None  # a store employee's store (``store:<id>``)
    customer: str | None = None  # the customer's own id, for role ``customer``
    partner: str | None = None  # the partner's name, for role ``partner``
    scopes: frozenset[str] = frozenset()
    purpose: str | None = None  # what the caller reads personal data for, if it says

    @property
    def who(self) -> str:
        return self.subject or self.role

    @property
    def reason(self) -> str:
        return self.purpose or DEFAULT_PURPOSE[self.role]


#: no authentication configured: every caller may read everything (development only)
OPEN = Principal(role="open", subject="open-mode")
#: authentication configured and no credential given: the public catalogue only
ANONYMOUS = Principal(role="anonymous")


@dataclass(frozen=True, slots=True)
class PersonalRead:
    """One field of one person's data that a request let through."""

    subject: Identity | str  # the person (their id once known)
    field: str
    purpose: str | None = None  # set where the operation has its own (a GDPR report)


@dataclass(slots=True)
class PersonalReads:
    """The personal data one request read, in the order it was read."""

    reads: list[PersonalRead] = field(default_factory=list)

    def add(self, subject: Identity | str, name: str, purpose: str | None = None) -> None:
        self.reads.append(PersonalRead(subject, name, purpose))
