"""``mosaic sources check``: is each configured system what Mosaic needs?

A platform engineer points ``MOSAIC_*_URL`` and the credentials at the retailer's real
systems and runs this before the first query: each adapter connects with its
credentials and checks everything it uses of its system (NAV pages and the fields the
mapping names, REST endpoints, HubSpot properties). The report says per source what is
fine and what is missing, so a wrong URL, a refused password, an unpublished page or a
missing field is found here, in one line each, not in a user's first query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from adapters.checks import Finding
from adapters.errors import MosaicError
from gateway.process.runtime import SOURCE_NAMES, open_sources
from gateway.settings import Settings

#: exit status when every finding is fine, and when at least one is not
OK, PROBLEM = 0, 1


async def check(settings: Settings) -> list[Finding]:
    """Every source's findings, the sources checked in parallel; a check that fails
    outright is one finding that says why (never a traceback)."""
    sources, sessions = open_sources(settings)
    try:
        checks = {
            "crm": sources.crm.check,
            "erp": sources.erp.check,
            "pos": sources.pos.check,
            "wms": sources.wms.check,
        }
        found = await asyncio.gather(*(_guarded(name, checks[name]) for name in SOURCE_NAMES))
    finally:
        for session in sessions:
            await session.close()
    return [finding for findings in found for finding in findings]


async def _guarded(source: str, run: Callable[[], Awaitable[list[Finding]]]) -> list[Finding]:
    try:
        return await run()
    except MosaicError as error:
        return [Finding(source, "connection", False, error.message)]


def report(findings: Sequence[Finding], urls: dict[str, str]) -> str:
    """One block per source: where it is, then one line per finding."""
    lines: list[str] = []
    for source in SOURCE_NAMES:
        own = [f for f in findings if f.source == source]
        bad = sum(not f.ok for f in own)
        verdict = "ok" if not bad else f"{bad} problem{'s' if bad > 1 else ''}"
        lines.append(f"{source} ({urls[source]}): {verdict}")
        lines += [
            f"  {'ok ' if f.ok else 'BAD'} {f.what}" + (f": {f.detail}" if f.detail else "")
            for f in own
        ]
    return "\n".join(lines)


def run(settings: Settings) -> int:
    findings = asyncio.run(check(settings))
    print(report(findings, settings.source_urls()))
    return OK if all(f.ok for f in findings) else PROBLEM
