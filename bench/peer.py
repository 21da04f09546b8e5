"""The peer as a process: GraphQL Mesh + Hive Gateway (``bench/peer/``) composed over the
same simulated systems Mosaic runs against, and started the way it is deployed.

Its npm packages are pinned in ``bench/peer/package-lock.json`` and installed here, by the
bench's own setup (``npm ci``), once per lockfile: a stamp in ``node_modules`` remembers
which lockfile was installed. The supergraph is composed for each run into
``bench/peer/build/`` (ignored by git), because the systems' ports are chosen per run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from adapters.config import SQUARE_VERSION
from bench import cluster

PEER_DIR = Path(__file__).resolve().parent / "peer"
BUILD = PEER_DIR / "build"
SUPERGRAPH = BUILD / "supergraph.graphql"
STAMP = PEER_DIR / "node_modules" / ".mosaic-bench-lockfile"
NAME = "hive"
#: How long the peer's response cache keeps a whole answer, by the freshest-bound type in
#: it: Mosaic's freshness table (gateway/caching/policy.py): stock 5 s, prices and
#: promotions 60 s, the product master 10 min.
RESPONSE_CACHE_TTL_MS = {
    "default": 600_000,
    "StockLevel": 5_000,
    "Money": 60_000,
    "Promotion": 60_000,
}


class PeerUnavailable(RuntimeError):
    """What the peer needs is missing, with what to do about it."""


def _lockfile_digest() -> str:
    return hashlib.sha256((PEER_DIR / "package-lock.json").read_bytes()).hexdigest()


def install() -> None:
    """``npm ci`` of the pinned packages, unless this very lockfile is installed."""
    if STAMP.exists() and STAMP.read_text() == _lockfile_digest():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise PeerUnavailable("the peer needs Node.js and npm (apt-get install nodejs npm)")
    run = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(PEER_DIR)],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise PeerUnavailable(f"npm ci in {PEER_DIR} failed:\n{run.stderr[-3000:]}")
    STAMP.write_text(_lockfile_digest())


def _bin(name: str) -> str:
    return str(PEER_DIR / "node_modules" / ".bin" / name)


def compose(systems: Mapping[str, cluster.Process], work_dir: Path) -> Path:
    """The supergraph over ``systems``, composed by Mesh from contracts/ (mesh.config.mjs)."""
    BUILD.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PEER_ERP_URL": systems["erp"].url,
        "PEER_POS_URL": systems["pos"].url,
        "PEER_POS_TOKEN": cluster.TOKENS["pos"],
        "PEER_SQUARE_VERSION": SQUARE_VERSION,
        "PEER_WMS_URL": systems["wms"].url,
        "PEER_WMS_TOKEN": cluster.TOKENS["wms"],
    }
    log = work_dir / "mesh-compose.log"
    with log.open("wb") as out:
        run = subprocess.run(
            [_bin("mesh-compose"), "-o", str(SUPERGRAPH)],
            cwd=PEER_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if run.returncode != 0 or not SUPERGRAPH.exists():
        tail = log.read_text(errors="replace")[-3000:]
        raise PeerUnavailable(f"mesh-compose failed ({run.returncode}):\n{tail}")
    return SUPERGRAPH


@contextmanager
def gateway(
    variant: str, cached: bool, stores: int, work_dir: Path, cores: frozenset[int] | None
) -> Iterator[cluster.Process]:
    """Hive Gateway over the composed supergraph, one process (``--fork 1``): JIT on, the
    one-round Query.products resolver (told the merchant's number of ``stores``, as a
    retailer configures it, to size its Square chunks), its response cache when
    ``cached``."""
    port = cluster.free_port()
    env = {
        **os.environ,
        "NODE_ENV": "production",
        "PEER_RESPONSE_CACHE": "true" if cached else "false",
        "PEER_POS_STORES": str(stores),
        "PEER_RESPONSE_CACHE_TTL_MS": ",".join(
            f"{k}={v}" for k, v in RESPONSE_CACHE_TTL_MS.items()
        ),
    }
    argv = [
        _bin("hive-gateway"), "supergraph", str(SUPERGRAPH),
        "--host", "127.0.0.1", "--port", str(port), "--fork", "1",
    ]  # fmt: skip
    process = cluster.start(
        f"gateway-{variant}", argv, port, work_dir, env=env, cores=cores, cwd=PEER_DIR
    )
    try:
        cluster.wait_for(process, "/readiness", timeout_s=120)
        yield process
    finally:
        cluster.stop(process)
