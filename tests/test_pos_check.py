"""``PosAdapter.check()`` for ``mosaic sources check``: with the configured token, is the
token accepted, does it have the scopes Mosaic needs, does every endpoint Mosaic reads
answer, and are the POS settings sane. Against real simulated POSes on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from adapters.checks import Finding
from adapters.config import PosConfig
from adapters.pos import SCOPES, PosAdapter
from adapters.transport.resilience import GuardConfig
from legacy.common.runner import ServerThread
from legacy.pos.server import create_app
from legacy.world import TIER_THRESHOLDS, World
from tests.contracts.checks import checks

READS = {
    "GET /v2/locations",
    "POST /v2/customers/search",
    "POST /v2/customers/bulk-retrieve",
    "POST /v2/loyalty/accounts/search",
    "POST /v2/orders/search",
    "POST /v2/orders/batch-retrieve",
    "POST /v2/inventory/counts/batch-retrieve",
}


@pytest.fixture(scope="module")
def narrow_pos(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A POS whose token may read but not write inventory or delete customers."""
    path = tmp_path_factory.mktemp("pos-narrow") / "pos.sqlite"
    scopes = [s for s in SCOPES if s not in ("INVENTORY_WRITE", "CUSTOMERS_WRITE")]
    app = create_app(world, path, middleware=checks("pos"), token="narrow", scopes=scopes)
    server = ServerThread(app).start()
    yield server.url
    server.stop()


async def findings(session: aiohttp.ClientSession, url: str, **config: Any) -> list[Finding]:
    settings = {"guard": GuardConfig(retries=0), **config}
    return await PosAdapter(session, PosConfig(url=url, **settings)).check()


def by_what(found: list[Finding]) -> dict[str, Finding]:
    return {f.what: f for f in found}


async def test_against_a_good_pos_everything_mosaic_uses_is_fine(
    session: aiohttp.ClientSession, pos_server: ServerThread
) -> None:
    found = by_what(await findings(session, pos_server.url, tier_thresholds=TIER_THRESHOLDS))
    assert all(f.source == "pos" for f in found.values())
    assert [what for what, f in found.items() if not f.ok] == []
    assert READS | {f"scope {s}" for s in SCOPES} | {"credentials", "settings"} <= set(found)
    assert "SILVER from 3000" in found["settings"].detail


async def test_a_wrong_token_is_reported_as_the_credentials_and_nothing_else_is_tried(
    session: aiohttp.ClientSession, narrow_pos: str
) -> None:
    found = by_what(await findings(session, narrow_pos, token="not-it"))
    assert set(found) == {"settings", "credentials"}
    assert not found["credentials"].ok
    assert "not-it" not in found["credentials"].detail


async def test_a_token_without_the_write_scopes_is_reported_per_scope(
    session: aiohttp.ClientSession, narrow_pos: str
) -> None:
    found = by_what(await findings(session, narrow_pos, token="narrow"))
    missing = sorted(what for what, f in found.items() if not f.ok)
    assert missing == ["scope CUSTOMERS_WRITE", "scope INVENTORY_WRITE"]
    assert all(found[read].ok for read in READS)


async def test_without_tier_thresholds_the_settings_say_tiers_are_null(
    session: aiohttp.ClientSession, pos_server: ServerThread
) -> None:
    found = by_what(await findings(session, pos_server.url))
    assert found["settings"].ok
    assert "no tier thresholds" in found["settings"].detail


async def test_a_pos_that_is_not_there_fails_its_credentials_check(
    session: aiohttp.ClientSession,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    found = by_what(await findings(session, f"http://127.0.0.1:{port}"))
    assert not found["credentials"].ok
