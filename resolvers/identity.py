"""Finding every fragment of one person by following what each fragment knows.

The CRM keeps the other systems' ids where it learned them; the POS knows its loyalty
card and customer id; every fragment may carry an e-mail address. Starting from
whatever the client gave (an id, an e-mail, a card), each round looks up every missing
fragment by the most reliable key known so far, all systems in parallel, and learns new
keys from what it found. Explicit cross-references are tried before e-mail, because an
e-mail can be shared or mistyped and a cross-reference was recorded on purpose.

Nothing is stored between requests: the record is assembled live, every time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from adapters.errors import UpstreamError
from adapters.records import CustomerFragment, LoyaltyAccount
from resolvers import ids
from resolvers.loaders import Loaders
from resolvers.survivorship import Fragments, normalise_email

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


#: a customer id's prefix -> the key it gives the search
ID_KEYS: dict[str, str] = {"crm": "crm_id", "erp": "erp_no", "pos": "pos_customer"}


def start_keys_of_id(global_id: str) -> dict[str, str]:
    """Where the search for a customer starts when the client (or a federation router)
    gives its id: the fragment that id names."""
    prefix, local = ids.split(global_id, ids.CUSTOMER_PREFIXES, "customer")
    return {ID_KEYS[prefix]: local}


T = TypeVar("T")


class Identity:
    """The fragments of one person, found round by round; fields await what they need."""

    def __init__(self, loaders: Loaders, known: dict[str, str]) -> None:
        self._loaders = loaders
        self.known: dict[str, str] = dict(known)
        self.fragments = Fragments()
        self.failures: dict[str, UpstreamError] = {}
        self._tried: set[str] = set()
        loop = asyncio.get_running_loop()
        self._first_round = loop.create_future()
        self._key_futures: dict[str, asyncio.Future[str | None]] = {
            "erp_no": loop.create_future(),
            "pos_customer": loop.create_future(),
        }
        self._settled: dict[str, asyncio.Future[None]] = {
            system: loop.create_future() for system in PREFERENCE
        }
        self.done: asyncio.Task[None] = asyncio.ensure_future(self._link())

    async def found(self) -> bool:
        """True once any fragment is found; False when every lookup has missed."""
        await asyncio.wait({self._first_round, self.done}, return_when=asyncio.FIRST_COMPLETED)
        if self._first_round.done() and self._first_round.result():
            return True
        await self.done
        return self._any()

    async def key(self, name: str) -> str | None:
        """A key (``erp_no``, ``pos_customer``) as soon as it is known, or None at the end."""
        return await self._key_futures[name]

    async def complete(self) -> Fragments:
        await self.done
        return self.fragments

    async def settled(self, *systems: str) -> Fragments:
        """The fragments once these systems are settled: found, failed, or with nothing
        left to ask them. A field waits only for the systems it reads, so a slow ERP
        holds up the order history, not the name the CRM already gave."""
        waiting = [self._settled[s] for s in systems if not self._settled[s].done()]
        if waiting:  # most fields ask after the systems they read have settled
            await asyncio.wait(waiting)
        return self.fragments

    async def first(self, order: Sequence[str], pick: Callable[[Fragments], T | None]) -> T | None:
        """``pick`` from the fragments, in the order of trust ``order``, as soon as the
        answer can no longer change: when every system before the one that gave it is
        settled. The CRM's value needs only the CRM; the POS's waits for the CRM too."""
        for i in range(len(order)):
            trusted = order[: i + 1]
            found = await self.settled(*trusted)
            value = pick(
                Fragments(**{s: getattr(found, s) if s in trusted else None for s in PREFERENCE})
            )
            if value is not None:
                return value
        return None

    def _any(self) -> bool:
        f = self.fragments
        return f.crm is not None or f.erp is not None or f.pos is not None

    async def _link(self) -> None:
        """Follow keys as soon as each answer arrives: the CRM's cross-reference to the
        ERP is followed the moment the CRM answers, not when the slowest system of the
        same round has answered too (or timed out)."""
        pending: dict[asyncio.Future[Any], str] = {}
        try:
            while True:
                for name in self._next_lookups(set(pending.values())):
                    pending[asyncio.ensure_future(self._run(name))] = name
                if not pending:
                    break
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for future in done:
                    self._absorb(pending.pop(future), future.exception() or future.result())
                self._settle_keys(final=False)
                if not self._first_round.done() and self._any():
                    self._first_round.set_result(True)
        finally:
            self._settle_keys(final=True)
            for future in self._settled.values():
                if not future.done():
                    future.set_result(None)
            if not self._first_round.done():
                self._first_round.set_result(self._any())

    def _next_lookups(self, in_flight: set[str]) -> list[str]:
        """One lookup per system still missing, by its best untried key; none for a
        system already being asked, found, or failed."""
        busy = {LOOKUPS[name] for name in in_flight}
        wanted = []
        for system, preference in PREFERENCE.items():
            if (
                getattr(self.fragments, system) is not None
                or system in self.failures
                or system in busy
            ):
                continue
            for lookup in preference:
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

    def _settle_keys(self, final: bool) -> None:
        for name, future in self._key_futures.items():
            if not future.done() and (name in self.known or final):
                future.set_result(self.known.get(name))
