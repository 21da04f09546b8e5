"""Which contract check sits next to which simulated system."""

from __future__ import annotations

from starlette.middleware import Middleware

from tests.contracts import SUITE, Departures
from tests.contracts.openapi import OpenApiCheck, contract
from tests.contracts.soap import erp_checks

#: Square documents only ``200`` per operation and answers its errors (4xx, 5xx) with
#: the same response object, ``errors`` set: such answers are held to that schema.
ERRORS_AS: dict[str, str] = {"pos": "200"}


def checks(source: str, departures: Departures = SUITE) -> list[Middleware]:
    """The middleware to pass to ``source``'s ``create_app``: its contract check. Every
    simulated system has a description in ``contracts/<source>/``; one missing is an
    error, never a system left unchecked."""
    if source == "erp":  # NAV's page WSDLs: tests/contracts/soap.py
        return erp_checks(departures=departures)
    found = contract(source, ERRORS_AS.get(source))
    if found is None:
        raise LookupError(f"contracts/{source}/ holds no OpenAPI description")
    return [Middleware(OpenApiCheck, contract=found, departures=departures)]
