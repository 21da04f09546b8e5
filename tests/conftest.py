"""Real servers for the whole test session: the four simulated systems, small size.

Each runs on uvicorn in a thread on a free loopback port, with its own SQLite file,
exactly as the adapters would meet the real systems; nothing is mocked.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from legacy.common.knobs import Knobs
from legacy.common.runner import ServerThread
from legacy.erp.pages import INSTALLATION_FIELDS
from legacy.world import TIER_THRESHOLDS, World, build_world
from tests.contracts import SUITE
from tests.contracts.checks import checks

if TYPE_CHECKING:
    from gateway.settings import Settings

SEED = 42
SIZE = "small"
CRM_TOKEN = "test-crm-token"
WMS_TOKEN = "test-wms-token"
#: the POS settings every test gateway has: the world's loyalty tiers, and stock changes
#: polled often enough for a test to hear of one at once
POS_SETTINGS: dict[str, Any] = {"pos_tier_thresholds": TIER_THRESHOLDS, "pos_poll_interval_s": 0.05}
#: the executors (MOSAIC_EXECUTOR) whose answers must be the same; a module run again
#: under the standard executor is left out of the quick run (tests/test_executors.py
#: compares the two there)
EXECUTORS = ("fast", pytest.param("standard", marks=pytest.mark.slow))


@pytest.fixture(autouse=True)
def keeps_to_the_contracts(request: pytest.FixtureRequest) -> Iterator[None]:
    """DESIGN, "The real interfaces are the contract": every exchange a test makes with a
    simulated system, the gateway's requests and the system's answers, keeps to the
    product's published description (tests/contracts/). A test that sends a system
    something off the contract on purpose, to see it refused as the product refuses it,
    is marked ``off_contract_requests``; its answers are still checked."""
    yield
    found = SUITE.take()
    if request.node.get_closest_marker("off_contract_requests"):
        found = [d for d in found if d.direction != "request"]
    assert not found, "departures from the published interfaces:\n" + "\n".join(map(str, found))


@pytest.fixture(scope="session")
def world() -> World:
    return build_world(SEED, SIZE)


def _run(app: object) -> Iterator[ServerThread]:
    server = ServerThread(app).start()  # type: ignore[arg-type]
    yield server
    server.stop()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("legacy-data")


@pytest.fixture(scope="session")
def crm_server(world: World, data_dir: Path) -> Iterator[ServerThread]:
    from legacy.crm.server import create_app

    app = create_app(
        world, data_dir / "crm.sqlite", Knobs(), token=CRM_TOKEN, middleware=checks("crm")
    )
    yield from _run(app)


@pytest.fixture(scope="session")
def erp_server(world: World, data_dir: Path) -> Iterator[ServerThread]:
    from legacy.erp.server import create_app

    yield from _run(create_app(world, data_dir / "erp.sqlite", Knobs(), middleware=checks("erp")))


@pytest.fixture(scope="session")
def pos_server(world: World, data_dir: Path) -> Iterator[ServerThread]:
    from legacy.pos.server import create_app

    yield from _run(create_app(world, data_dir / "pos.sqlite", Knobs(), checks("pos")))


@pytest.fixture(scope="session")
def wms_server(world: World, data_dir: Path) -> Iterator[ServerThread]:
    from legacy.wms.server import create_app

    app = create_app(world, data_dir / "wms.sqlite", Knobs(), checks("wms"), token=WMS_TOKEN)
    yield from _run(app)


@pytest.fixture
def wms(wms_server: ServerThread) -> Iterator[str]:
    """The session's WMS with its call log cleared, its knobs put right afterwards."""
    from tests.simulators import clear_calls, reset_knobs

    clear_calls(wms_server.url)
    yield wms_server.url
    reset_knobs(wms_server.url)


@pytest.fixture(scope="session")
def systems(
    crm_server: ServerThread,
    erp_server: ServerThread,
    pos_server: ServerThread,
    wms_server: ServerThread,
) -> dict[str, str]:
    """Base URLs of the four simulated systems, by source name."""
    return {
        "crm": crm_server.url,
        "erp": erp_server.url,
        "pos": pos_server.url,
        "wms": wms_server.url,
    }


def gateway_settings(systems: dict[str, str], **settings: Any) -> Settings:
    """The gateway's settings for these systems, with its own data directory unless
    ``settings`` name one."""
    from gateway.settings import Settings

    if "data_dir" not in settings:
        settings["data_dir"] = Path(tempfile.mkdtemp(prefix="mosaic-gateway-"))
    return Settings(
        crm_url=systems["crm"],
        erp_url=systems["erp"],
        pos_url=systems["pos"],
        wms_url=systems["wms"],
        **{
            "crm_token": CRM_TOKEN,
            "wms_token": WMS_TOKEN,
            "erp_fields": dict(INSTALLATION_FIELDS),
            **POS_SETTINGS,
            **settings,
        },
    )


def _gateway(
    systems: dict[str, str], clock: Callable[[], float] = time.time, **settings: Any
) -> Iterator[str]:
    """A gateway for these systems on uvicorn; ``clock``: its caches' (tests.timing)."""
    from gateway.app import create_app

    app = create_app(gateway_settings(systems, **settings), clock=clock)
    server = ServerThread(app).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def gateway_url(systems: dict[str, str]) -> Iterator[str]:
    """The real gateway on uvicorn in front of the four simulated systems, with the
    cross-request cache off, so every request shows its own upstream calls."""
    yield from _gateway(systems, cache=False)


@pytest.fixture(scope="session")
def standard_gateway_url(systems: dict[str, str]) -> Iterator[str]:
    """The same gateway under ``MOSAIC_EXECUTOR=standard``: strawberry's own execution,
    without the engine (resolvers/engine/)."""
    yield from _gateway(systems, cache=False, executor="standard")


@pytest.fixture(params=EXECUTORS)
def each_executor_url(
    request: pytest.FixtureRequest, gateway_url: str, standard_gateway_url: str
) -> str:
    """The session's gateway (cache off) under each executor in turn: a test that takes
    it runs under both, and its expectations hold for both answers alike."""
    return gateway_url if request.param == "fast" else standard_gateway_url


@pytest.fixture(scope="session")
def cached_gateway_url(systems: dict[str, str]) -> Iterator[str]:
    """The gateway as deployed by default: cache, single flight and batching window on."""
    yield from _gateway(systems, cache=True, batch_window_ms=30.0)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server for the session (tests/redis_server.py)."""
    from tests.redis_server import redis_server

    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client session for a test that speaks to a system directly."""
    async with aiohttp.ClientSession() as http:
        yield http
