"""Finding every fragment of one person by following what each fragment knows.

The CRM keeps the other systems' ids where it learned them; the POS knows its loyalty
card and customer id; every fragment may carry an e-mail address. Starting from
whatever the client gave (an id, an e-mail, a card), every system that key can reach
is asked at once; after that, each system a field wants is looked up by the most
reliable key known so far, the moment that key is learned. Explicit cross-references
are tried before e-mail, because an e-mail can be shared or mistyped and a
cross-reference was recorded on purpose.

Nothing is stored between requests: the record is assembled live, every time.
"""

from __future__ import annotations

import asyncio
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import Any, Protocol, TypeVar

from adapters.errors import UpstreamError
from adapters.records import CustomerFragment, LoyaltyAccount
from resolvers.golden.survivorship import Fragments, normalise_email
from resolvers.graphql import ids
from resolvers.loading.loaders import Loaders

#: lookup name -> (system it asks, how the key is normalised)
LOOKUPS: dict[str, str] = {
    "crm_id": "crm",
    "crm_card": "crm",
    "crm_erp_no": "crm",
    "crm_email": "crm",
    "erp_no": "erp",
    "erp_email": "erp",
    "pos_card": "pos",
    "pos_customer": "pos",
    "pos_email": "pos",
}

#: per system, its lookups from most to least reliable key
PREFERENCE: dict[str, tuple[str, ...]] = {
    "crm": ("crm_id", "crm_card", "crm_erp_no", "crm_email"),
    "erp": ("erp_no", "erp_email"),
    "pos": ("pos_card", "pos_customer", "pos_email"),
}

#: the key each lookup needs
KEY_OF: dict[str, str] = {
    "crm_id": "crm_id",
    "crm_card": "card",
    "crm_erp_no": "erp_no",
    "crm_email": "email",
    "erp_no": "erp_no",
    "erp_email": "email",
    "pos_card": "card",
    "pos_customer": "pos_customer",
    "pos_email": "email",
}


#: the keys fields wait for (``Identity.key``) -> the systems that can tell each, asked
#: in this order: the CRM keeps the cross-reference to the ERP customer number
KEY_SOURCES: dict[str, tuple[str, ...]] = {"erp_no": ("crm", "erp"), "pos_customer": ("pos",)}

#: a customer id's prefix -> the key it gives the search
ID_KEYS: dict[str, str] = {"crm": "crm_id", "erp": "erp_no", "pos": "pos_customer"}


def start_keys_of_id(global_id: str) -> dict[str, str]:
    """Where the search for a customer starts when the client (or a federation router)
    gives its id: the fragment that id names."""
    prefix, local = ids.split(global_id, ids.CUSTOMER_PREFIXES, "customer")
    return {ID_KEYS[prefix]: local}


T = TypeVar("T")


class Identity:
    """The fragments of one person, looked up on demand; fields await what they need.

    The first round asks every system the client's key can reach: whoever answers first
    tells whether the person exists. After that a system is asked only once a field
    wants it (``settled``, ``first``, ``key``, ``complete``): a till that shows a
    customer's name, loyalty and consents never calls the ERP. Where a wanted system
    cannot be asked by any key known yet, the others are asked for keys (bridges), so
    laziness never loses a fragment the eager search would have found.

    Driven by the lookups' completion callbacks rather than a task of its own, so
    nothing is left running when a request ends with systems nobody wanted.
    """

    def __init__(self, loaders: Loaders, known: dict[str, str]) -> None:
        self._loaders = loaders
        self.known: dict[str, str] = dict(known)
        self.fragments = Fragments()
        self.failures: dict[str, UpstreamError] = {}
        self._tried: set[str] = set()
        self._in_flight: set[str] = set()
        self._wanted: set[str] = set()
        self._error: BaseException | None = None
        loop = asyncio.get_running_loop()
        self._first_round: asyncio.Future[bool] = loop.create_future()
        self._learned: dict[str, asyncio.Future[None]] = {
            name: loop.create_future() for name in KEY_SOURCES
        }
        self._settled: dict[str, asyncio.Future[None]] = {
            system: loop.create_future() for system in PREFERENCE
        }
        self._start(self._next_lookups(PREFERENCE))
        self._advance()

    async def found(self) -> bool:
        """True once any fragment is found; False when every first lookup has missed."""
        found = await self._first_round
        self._raise_error()
        return found

    async def key(self, name: str) -> str | None:
        """A key (``erp_no``, ``pos_customer``) as soon as it is known, or None once the
        systems that could tell it are settled. The CRM's cross-reference is waited for
        before the key's own system is asked."""
        learned = self._learned[name]
        for system in KEY_SOURCES[name]:
            if learned.done():
                break
            self._want(system)
            await asyncio.wait({learned, self._settled[system]}, return_when=FIRST_COMPLETED)
        self._raise_error()
        return self.known.get(name)

    async def complete(self) -> Fragments:
        return await self.settled(*PREFERENCE)

    async def settled(self, *systems: str) -> Fragments:
        """The fragments once these systems are settled: found, failed, or with nothing
        left to ask them. A field waits only for the systems it reads, so a slow ERP
        holds up the order history, not the name the CRM already gave."""
        self._want(*systems)
        waiting = [self._settled[s] for s in systems if not self._settled[s].done()]
        if waiting:  # most fields ask after the systems they read have settled
            await asyncio.wait(waiting)
        self._raise_error()
        return self.fragments

    async def first(
        self,
        order: Sequence[str],
        pick: Callable[[Fragments], T | None],
        missed: Callable[[UpstreamError], None] | None = None,
    ) -> T | None:
        """``pick`` from the fragments, in the order of trust ``order``, as soon as the
        answer can no longer change: when every system before the one that gave it is
        settled. The CRM's value needs only the CRM; the POS is asked only without it.
        ``missed`` hears the failure of each more trusted system that could not be
        asked (its value might have been another): the value is then a fallback."""
        for i in range(len(order)):
            trusted = order[: i + 1]
            found = await self.settled(*trusted)
            value = pick(
                Fragments(**{s: getattr(found, s) if s in trusted else None for s in PREFERENCE})
            )
            if value is not None:
                self._tell_unasked(order[:i], missed)
                return value
        self._tell_unasked(order, missed)
        return None

    def unasked(self, *systems: str) -> list[UpstreamError]:
        """The failures of those of ``systems`` that found nothing: what they hold about
        the person is unknown, so whatever is assembled without them may be short."""
        return [
            failure
            for system in systems
            if (failure := self.failures.get(system)) is not None
            and getattr(self.fragments, system) is None
        ]

    def unlearned(self, name: str) -> list[UpstreamError]:
        """Why a key (``erp_no``, ``pos_customer``) is not known, if a system that could
        have told it failed; empty when the systems answered and simply do not know it."""
        if name in self.known:
            return []
        return self.unasked(*KEY_SOURCES[name])

    def _tell_unasked(
        self, systems: Sequence[str], missed: Callable[[UpstreamError], None] | None
    ) -> None:
        if missed is not None:
            for failure in self.unasked(*systems):
                missed(failure)

    def _any(self) -> bool:
        f = self.fragments
        return f.crm is not None or f.erp is not None or f.pos is not None

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _want(self, *systems: str) -> None:
        new = set(systems) - self._wanted
        if new:
            self._wanted |= new
            self._advance()

    def _advance(self) -> None:
        """Ask the wanted systems by their best untried keys. With nothing left in
        flight: bridge through the systems nobody wanted yet if a wanted one is stuck,
        else settle the wanted ones: nothing could change them any more."""
        self._start(self._next_lookups(self._wanted))
        if self._in_flight:
            return
        stuck = [s for s in self._wanted if not self._settled[s].done()]
        if stuck:
            bridges = self._next_lookups(set(PREFERENCE) - self._wanted)
            if bridges:
                self._wanted.update(LOOKUPS[name] for name in bridges)
                self._start(bridges)
                return
        for system in stuck:
            self._settle(system)
        if not self._first_round.done():
            self._first_round.set_result(self._any())

    def _start(self, lookups: list[str]) -> None:
        for name in lookups:
            self._in_flight.add(name)
            asyncio.ensure_future(self._run(name)).add_done_callback(partial(self._arrived, name))

    def _arrived(self, lookup: str, future: asyncio.Future[Any]) -> None:
        """Follow keys as soon as each answer arrives: the CRM's cross-reference to the
        ERP is followed the moment the CRM answers, not when the slowest system of the
        same round has answered too (or timed out)."""
        self._in_flight.discard(lookup)
        if self._error is not None:
            return
        try:
            if not future.cancelled():  # cancelled: the request is going away
                self._absorb(lookup, future.exception() or future.result())
        except Exception as exc:  # a bug, not a source's failure: every waiter sees it
            self._error = exc
            if not self._first_round.done():
                self._first_round.set_result(False)
            for waiter in (*self._settled.values(), *self._learned.values()):
                if not waiter.done():
                    waiter.set_result(None)
            return
        if not self._first_round.done() and self._any():
            self._first_round.set_result(True)
        self._advance()

    def _next_lookups(self, systems: Iterable[str]) -> list[str]:
        """One lookup per given system still missing, by its best untried key; none for
        a system already being asked, found, failed or settled."""
        busy = {LOOKUPS[name] for name in self._in_flight}
        wanted = []
        for system in systems:
            if self._settled[system].done() or system in busy:
                continue
            for lookup in PREFERENCE[system]:
                if lookup not in self._tried and KEY_OF[lookup] in self.known:
                    wanted.append(lookup)
                    break
        self._tried.update(wanted)
        return wanted

    def _run(self, lookup: str) -> Awaitable[Any]:
        key = self.known[KEY_OF[lookup]]
        loaders = self._loaders
        table: dict[str, Callable[[], Awaitable[Any]]] = {
            "crm_id": lambda: loaders.crm_contact.load(key),
            "crm_card": lambda: loaders.crm_by_card.load(key),
            "crm_erp_no": lambda: loaders.crm_by_erp_no.load(key),
            "crm_email": lambda: loaders.crm_by_email.load(key),
            "erp_no": lambda: loaders.erp_customer.load(key),
            "erp_email": lambda: loaders.erp_customer_by_email.load(key),
            "pos_card": lambda: loaders.pos_by_card.load(key),
            "pos_customer": lambda: loaders.pos_by_customer.load(key),
            "pos_email": lambda: loaders.pos_by_email.load(key),
        }
        return table[lookup]()

    def _absorb(self, lookup: str, result: object) -> None:
        system = LOOKUPS[lookup]
        if isinstance(result, UpstreamError):
            self.failures[system] = result
            self._settle(system)
            return
        if isinstance(result, BaseException):
            raise result
        if result is None:
            return
        f = self.fragments
        if isinstance(result, LoyaltyAccount):
            self.fragments = Fragments(crm=f.crm, erp=f.erp, pos=result)
            self._learn(
                card=result.card_number,
                pos_customer=result.customer_id,
                email=normalise_email(result.email),
            )
        elif isinstance(result, CustomerFragment) and system == "crm":
            self.fragments = Fragments(crm=result, erp=f.erp, pos=f.pos)
            self._learn(
                crm_id=result.record_id,
                erp_no=result.erp_customer_no,
                card=result.loyalty_card,
                email=normalise_email(result.email),
            )
        elif isinstance(result, CustomerFragment):
            self.fragments = Fragments(crm=f.crm, erp=result, pos=f.pos)
            self._learn(erp_no=result.record_id, email=normalise_email(result.email))
        self._settle(system)

    def _settle(self, system: str) -> None:
        if not self._settled[system].done():
            self._settled[system].set_result(None)

    def _learn(self, **keys: str | None) -> None:
        for name, value in keys.items():
            if value and name not in self.known:
                self.known[name] = value
                if name in self._learned:
                    self._learned[name].set_result(None)


class PersonalRecord(Protocol):
    """What a type holding one person's data gives the checks
    (resolvers/privacy/authz.py) and the context's ``customers`` gives back: the
    person's fragments and how the request reached them."""

    identity: Identity
    via: str
