"""A gateway that dies after one saga step, for the crash tests (tests/test_sagas.py).

``python -m tests.crashing_gateway PORT KIND:STEP[:unlogged]`` serves the gateway of the
``MOSAIC_*`` settings, as ``mosaic serve`` does, with an ``after_step`` passed in that
exits the process (status :data:`CRASH_EXIT`, no clean-up) right after that step is
logged, or with ``:unlogged`` right after it is done but before it is logged: the worst
moment. Production settings know nothing of it.
"""

from __future__ import annotations

import logging
import os
import sys

import uvicorn

from gateway.app import create_app
from gateway.http import server
from gateway.settings import load
from resolvers.commerce.sagas import AfterStep

CRASH_EXIT = 70


def crash_after(wanted: str) -> AfterStep:
    """An ``after_step`` that kills the process at ``wanted`` (``place_order:hold:S1``)."""

    def after_step(kind: str, step: str, logged: bool) -> None:
        if f"{kind}:{step}" + ("" if logged else ":unlogged") == wanted:
            logging.getLogger("mosaic.sagas").warning("test: exiting after %s", wanted)
            os._exit(CRASH_EXIT)

    return after_step


def main(port: int, wanted: str) -> None:
    app = create_app(load(), after_step=crash_after(wanted))
    uvicorn.run(app, host="127.0.0.1", port=port, http=server.IMPORT_PATH, log_level="warning")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
