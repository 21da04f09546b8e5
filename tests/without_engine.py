"""Run as ``python -m tests.without_engine`` (tests/test_executors.py does): every
reference operation through a gateway with ``MOSAIC_EXECUTOR=standard``, in a process
where importing the engine (resolvers/engine/) fails. Fresh simulated systems of the
test world, so the writes change nothing the session counts on. Prints, as JSON, each
operation's answer, the executor /readyz names, and whether the engine was loaded.

The import hook is put in place before anything of Mosaic is imported, so the
modules below are imported inside :func:`main`.
"""

from __future__ import annotations

import importlib.abc
import json
import sys
import tempfile
import urllib.request
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Any

ENGINE = "resolvers.engine"
#: the read operations first: the writes come last, so the reads see the seeded data
ORDER = (
    "Customer360",
    "ProductListing",
    "StockCheck",
    "CustomerPayments",
    "OrderPayments",
    "Recommendations",
    "ProductPage",
    "CategoryPage",
    "OrderHistory",
    "StoreTablet",
    "ReturnDesk",
    "ClickAndCollect",
    "ReturnInStore",
)


class NoEngine(importlib.abc.MetaPathFinder):
    """Makes importing the engine, or any module of it, fail."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if fullname == ENGINE or fullname.startswith(ENGINE + "."):
            raise ImportError(f"{fullname} may not be imported with MOSAIC_EXECUTOR=standard")
        return None


def main() -> None:
    sys.meta_path.insert(0, NoEngine())
    from legacy.examples import examples
    from legacy.world import build_world
    from tests.conftest import SEED, SIZE
    from tests.fresh import fresh_env
    from tests.gateway_client import run_reference

    variables = examples(SEED, SIZE)
    with (
        tempfile.TemporaryDirectory(prefix="mosaic-no-engine-") as folder,
        fresh_env(build_world(SEED, SIZE), Path(folder)) as env,
    ):
        answers = {name: run_reference(env["gateway"], name, variables[name]) for name in ORDER}
        with urllib.request.urlopen(env["gateway"] + "/readyz", timeout=10) as reply:
            executor = json.loads(reply.read())["executor"]
    loaded = any(m == ENGINE or m.startswith(ENGINE + ".") for m in sys.modules)
    print(json.dumps({"answers": answers, "executor": executor, "engine_loaded": loaded}))


if __name__ == "__main__":
    main()
