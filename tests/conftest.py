"""Real servers for the whole test session: the four simulated systems, small size.

Each runs on uvicorn in a thread on a free loopback port, with its own SQLite file,
exactly as the adapters would meet the real systems; nothing is mocked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from legacy.common.knobs import Knobs
from legacy.common.runner import ServerThread
from legacy.world import World, build_world

SEED = 42
SIZE = "small"
CRM_TOKEN = "test-crm-token"


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

    yield from _run(create_app(world, data_dir / "crm.sqlite", Knobs(), token=CRM_TOKEN))


@pytest.fixture(scope="session")
def erp_server(world: World, data_dir: Path) -> Iterator[ServerThread]:
    from legacy.erp.server import create_app

    yield from _run(create_app(world, data_dir / "erp.sqlite", Knobs()))


@pytest.fixture(scope="session")
def pos_server(world: World, data_dir: Path) -> Iterator[ServerThread]:
    from legacy.pos.server import create_app

    yield from _run(create_app(world, data_dir / "pos.sqlite", Knobs()))


@pytest.fixture(scope="session")
def wms_server(world: World, data_dir: Path) -> Iterator[ServerThread]:
    from legacy.wms.server import create_app

    yield from _run(create_app(world, data_dir / "wms.sqlite", Knobs()))
