"""The ``mosaic`` command: the demo, the gateway, one simulated system, examples, schema."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SYSTEMS: dict[str, int] = {"crm": 8101, "erp": 8102, "pos": 8103, "wms": 8104}
DEMO_CRM_TOKEN = "demo-crm-token"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mosaic", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="simulated systems + gateway + GraphiQL")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--size", choices=("small", "default"), default="default")
    demo.add_argument("--seed", type=int, default=42)

    serve = commands.add_parser("serve", help="the gateway alone, against configured sources")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)

    legacy = commands.add_parser("legacy", help="run one simulated legacy system")
    legacy.add_argument("system", choices=sorted(SYSTEMS))
    legacy.add_argument("--host", default="127.0.0.1")
    legacy.add_argument("--port", type=int, default=None, help="default: 8101..8104")
    legacy.add_argument("--size", choices=("small", "default"), default="default")
    legacy.add_argument("--seed", type=int, default=42)
    legacy.add_argument("--db", type=Path, default=None, help="SQLite file (kept if it exists)")
    legacy.add_argument("--latency-ms", type=float, default=0.0)
    legacy.add_argument("--jitter-ms", type=float, default=0.0)
    legacy.add_argument("--error-rate", type=float, default=0.0)
    legacy.add_argument(
        "--token",
        default=os.environ.get("MOSAIC_CRM_TOKEN", DEMO_CRM_TOKEN),
        help="bearer token the CRM requires",
    )

    ex = commands.add_parser("examples", help="working variables for the reference operations")
    ex.add_argument("--size", choices=("small", "default"), default="default")
    ex.add_argument("--seed", type=int, default=42)

    schema = commands.add_parser("schema", help="the GraphQL contract")
    schema_commands = schema.add_subparsers(dest="schema_command", required=True)
    export = schema_commands.add_parser("export", help="print (or write) the schema SDL")
    export.add_argument("--output", type=Path, default=None)

    args = parser.parse_args(argv)
    handler = {
        "demo": _demo,
        "serve": _serve,
        "legacy": _legacy,
        "examples": _examples,
        "schema": _schema,
    }[args.command]
    return handler(args)


def _legacy(args: argparse.Namespace) -> int:
    import uvicorn

    from legacy.common.knobs import Knobs
    from legacy.world import build_world

    port = args.port if args.port is not None else SYSTEMS[args.system]
    db = args.db or Path(tempfile.mkdtemp(prefix=f"mosaic-{args.system}-")) / "data.sqlite"
    print(f"{args.system}: seeding {args.size} world (seed {args.seed}) into {db}", flush=True)
    world = build_world(args.seed, args.size)
    knobs = Knobs(latency_ms=args.latency_ms, jitter_ms=args.jitter_ms, error_rate=args.error_rate)
    module = importlib.import_module(f"legacy.{args.system}.server")
    extra: dict[str, Any] = {"token": args.token} if args.system == "crm" else {}
    app = module.create_app(world, db, knobs, **extra)
    print(f"{args.system}: listening on http://{args.host}:{port}", flush=True)
    uvicorn.run(app, host=args.host, port=port, log_level="warning")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run(
        "gateway.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
    )
    return 0


def _examples(args: argparse.Namespace) -> int:
    from legacy.examples import examples

    print(json.dumps(examples(args.seed, args.size), indent=2))
    return 0


def _schema(args: argparse.Namespace) -> int:
    from resolvers.schema import build_schema

    sdl = build_schema().as_str() + "\n"
    if args.output:
        args.output.write_text(sdl)
    else:
        sys.stdout.write(sdl)
    return 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"a simulated system exited early (code {process.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port} after {timeout_s}s")


def _demo(args: argparse.Namespace) -> int:
    """Four simulated systems as child processes on free ports, the gateway in this one."""
    import uvicorn

    from gateway.app import create_app
    from gateway.settings import Settings
    from legacy.examples import examples

    workdir = Path(tempfile.mkdtemp(prefix="mosaic-demo-"))
    ports = {name: _free_port() for name in SYSTEMS}
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, port in ports.items():
            children[name] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gateway.cli",
                    "legacy",
                    name,
                    "--port",
                    str(port),
                    "--size",
                    args.size,
                    "--seed",
                    str(args.seed),
                    "--db",
                    str(workdir / f"{name}.sqlite"),
                    "--token",
                    DEMO_CRM_TOKEN,
                ]
            )
        examples_file = workdir / "examples.json"
        examples_file.write_text(json.dumps(examples(args.seed, args.size), indent=2))
        for name, port in ports.items():
            _wait_listening(port, children[name], timeout_s=120)
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        settings = Settings(
            crm_url=urls["crm"],
            erp_url=urls["erp"],
            pos_url=urls["pos"],
            wms_url=urls["wms"],
            crm_token=DEMO_CRM_TOKEN,
            examples_file=examples_file,
        )
        print("\nMosaic demo is up:")
        for name, url in urls.items():
            print(f"  {name.upper():4} {url}")
        print(f"  GraphiQL  http://127.0.0.1:{args.port}/graphql")
        print(f"  examples  {examples_file}\nCtrl-C stops everything.\n", flush=True)
        uvicorn.run(create_app(settings), host="127.0.0.1", port=args.port, log_level="warning")
    finally:
        for child in children.values():
            child.send_signal(signal.SIGINT)
        for child in children.values():
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
