"""The ``mosaic`` command: the demo, the gateway, one simulated system, examples, schema."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from gateway.process.ports import PortTaken, claim, for_serving, free_port
from gateway.settings import Settings, SettingsProblem, load, unknown_variables

SYSTEMS: dict[str, int] = {"crm": 8101, "erp": 8102, "pos": 8103, "wms": 8104}
#: the credentials `mosaic demo` starts its simulated systems with, and gives the gateway
DEMO_TOKENS = {"crm": "demo-crm-token", "pos": "demo-pos-token", "wms": "demo-wms-token"}
DEMO_ERP_USER = "MOSAIC"  # the simulated NAV's web service user (a password per run)


SIZE_HELP = "how much seeded data: small (quick to start) or default (the benchmark's)"
SEED_HELP = "seed of the seeded world; the same size and seed give the same data everywhere"


def demo_erp_credentials(password: str) -> tuple[str, ...]:
    """The simulated NAV's user and password as ``mosaic legacy erp`` options. The
    password is joined to its option: a random one may begin with ``-``, which argparse
    would take for an option of its own (the ERP then exits at start, 1 run in 64)."""
    return ("--username", DEMO_ERP_USER, f"--password={password}")


def build_parser() -> argparse.ArgumentParser:
    """Every command and its options, each with its help (docker/ and deploy/ check their
    commands with it; tests/test_cli.py checks every option says what it does)."""
    parser = argparse.ArgumentParser(prog="mosaic", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="simulated systems + gateway + GraphiQL")
    demo.add_argument(
        "--port", type=int, default=8000, help="the gateway's port on 127.0.0.1 (default 8000)"
    )
    demo.add_argument("--size", choices=("small", "default"), default="default", help=SIZE_HELP)
    demo.add_argument("--seed", type=int, default=42, help=SEED_HELP)
    demo.add_argument(
        "--auth",
        action="store_true",
        help="authentication on: tokens signed with MOSAIC_JWT_SECRET (else a secret of "
        "this run), one per role, picked in GraphiQL (default: open, for development, so "
        "curl needs no token)",
    )

    serve = commands.add_parser("serve", help="the gateway alone, against configured sources")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)"
    )
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes; on Linux each listens on its own SO_REUSEPORT socket, so the "
        "kernel spreads connections evenly over them (gateway/process/workers.py)",
    )

    legacy = commands.add_parser("legacy", help="run one simulated legacy system")
    legacy.add_argument("system", choices=sorted(SYSTEMS), help="which system to run")
    legacy.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)"
    )
    legacy.add_argument("--port", type=int, default=None, help="default: 8101..8104")
    legacy.add_argument("--size", choices=("small", "default"), default="default", help=SIZE_HELP)
    legacy.add_argument("--seed", type=int, default=42, help=SEED_HELP)
    legacy.add_argument("--db", type=Path, default=None, help="SQLite file (kept if it exists)")
    legacy.add_argument(
        "--latency-ms", type=float, default=0.0, help="added to every answer (a slow system)"
    )
    legacy.add_argument(
        "--jitter-ms", type=float, default=0.0, help="random extra latency, up to this much"
    )
    legacy.add_argument(
        "--error-rate", type=float, default=0.0, help="share of requests answered 500 (0..1)"
    )
    legacy.add_argument(
        "--token",
        default=None,
        help="bearer token the CRM (HubSpot private app), POS (Square access token) or WMS "
        "then requires of every request, answering 401 without it (default: open)",
    )
    legacy.add_argument("--username", help="the ERP's web service user (HTTP Basic)")
    legacy.add_argument("--password", help="that user's password; both or neither")

    ex = commands.add_parser("examples", help="working variables for the reference operations")
    ex.add_argument("--size", choices=("small", "default"), default="default", help=SIZE_HELP)
    ex.add_argument("--seed", type=int, default=42, help=SEED_HELP)
    ex.add_argument(
        "--output",
        type=Path,
        default=None,
        help="write them to this file (what MOSAIC_EXAMPLES_FILE names) instead of printing",
    )

    token = commands.add_parser(
        "token", help="mint a development bearer token (HS256 with MOSAIC_JWT_SECRET)"
    )
    token.add_argument("--role", required=True, choices=sorted(_roles()), help="who the caller is")
    token.add_argument(
        "--customer", help="the customer's own id, required for role customer (e.g. crm:1001)"
    )
    token.add_argument("--store", help="a store employee's store, e.g. store:LOC-001")
    token.add_argument(
        "--channel",
        choices=("WEB", "APP", "STORE"),
        help="the asking channel (default: the request's X-Channel header, else WEB)",
    )
    token.add_argument("--partner", help="the partner's name (role partner)")
    token.add_argument(
        "--scope",
        action="append",
        default=[],
        help="a scope granted, e.g. orders:read; repeat for more",
    )
    token.add_argument("--subject", help="sub claim (default: the customer, or dev-<role>)")
    token.add_argument("--purpose", help="what the reads are for (the audit log's purpose)")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    token.add_argument("--secret", help="default: MOSAIC_JWT_SECRET")

    schema = commands.add_parser("schema", help="the GraphQL contract")
    schema_commands = schema.add_subparsers(dest="schema_command", required=True)
    export = schema_commands.add_parser("export", help="print (or write) the schema SDL")
    export.add_argument(
        "--output", type=Path, default=None, help="write it to this file instead of printing"
    )
    check = schema_commands.add_parser(
        "check",
        help="compare the code's schema with the published contract; exit 0 identical, "
        "1 breaking, 2 dangerous, 3 safe changes only, 4 no contract to read",
    )
    check.add_argument(
        "--contract",
        type=Path,
        default=None,
        help="the published SDL (default: schema.graphql here, else the one beside the code)",
    )

    sources = commands.add_parser("sources", help="the configured legacy systems")
    sources_commands = sources.add_subparsers(dest="sources_command", required=True)
    sources_check = sources_commands.add_parser(
        "check",
        help="connect to each configured system with its credentials and check that every "
        "page, field and endpoint Mosaic uses is there; exit 0 all fine, 1 a problem",
    )
    sources_check.add_argument(
        "--env-file",
        type=Path,
        default=None,
        help="read MOSAIC_* settings from this file too (the demo writes its own as "
        "sources.env); the environment still wins",
    )

    config = commands.add_parser(
        "config",
        help="every setting: its MOSAIC_* variable, default, current value where set "
        "(secrets masked) and meaning, from the settings' model",
    )
    config.add_argument(
        "--env-file",
        type=Path,
        default=None,
        help="read MOSAIC_* settings from this file too (default: .env, if there); the "
        "environment still wins",
    )
    config.add_argument(
        "--markdown",
        action="store_true",
        help="the table of variables, defaults and meanings the README shows, instead",
    )

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {
        "demo": _demo,
        "serve": _serve,
        "legacy": _legacy,
        "examples": _examples,
        "token": _token,
        "schema": _schema,
        "sources": _sources,
        "config": _config,
    }[args.command]
    try:
        code = handler(args)
        sys.stdout.flush()  # inside the try: a reader gone away shows here, not at exit
    except SettingsProblem as problem:
        # a setting that cannot be right stops start-up with one line per setting
        for line in problem.lines:
            print(f"mosaic: {line}", file=sys.stderr)
        return 2
    except PortTaken as taken:
        print(f"mosaic {args.command}: {taken}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Ctrl-C before (or outside) a command's own signal handling: stopping is no error
        return 128 + signal.SIGINT
    except BrokenPipeError:
        # `mosaic examples | head`: the reader has what it wanted. Point stdout at
        # /dev/null so the interpreter's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return code


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
    extra: dict[str, Any] = {"token": args.token} if args.system in DEMO_TOKENS else {}
    if args.system == "erp" and (args.username or args.password):
        if not (args.username and args.password):
            print("mosaic: legacy erp needs --username and --password together", file=sys.stderr)
            return 2
        extra["credentials"] = (args.username, args.password)
    app = module.create_app(world, db, knobs, **extra)
    print(f"{args.system}: listening on http://{args.host}:{port}", flush=True)
    uvicorn.run(app, host=args.host, port=port, log_level="warning")
    return 0


def _sources(args: argparse.Namespace) -> int:
    from gateway import sources_check

    settings = _settings_with(args.env_file, "mosaic sources check")
    return 2 if settings is None else sources_check.run(settings)


def _settings_with(env_file: Path | None, command: str) -> Settings | None:
    """The settings, ``env_file``'s too (else ./.env's, if there), each unknown MOSAIC_*
    variable warned about; None, said in one line, when ``env_file`` is not there."""
    if env_file is not None and not env_file.is_file():
        print(f"{command}: no such file {env_file}", file=sys.stderr)
        return None
    settings = load(_env_file=env_file or ".env")
    for warning in unknown_variables(os.environ):
        print(f"mosaic: {warning}", file=sys.stderr)
    return settings


def _config(args: argparse.Namespace) -> int:
    from gateway.settings.listing import listing, markdown
    from gateway.settings.names import CONFIG_FILE

    if args.markdown:
        sys.stdout.write(markdown())
        return 0
    settings = _settings_with(args.env_file, "mosaic config")
    if settings is None:
        return 2
    sys.stdout.write(listing(settings, os.environ.get(CONFIG_FILE)))
    return 0


def _roles() -> frozenset[str]:
    from resolvers.privacy.principal import ROLES

    return ROLES


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from adapters.errors import ConfigurationError
    from gateway.http import server
    from gateway.process import workers
    from gateway.security.auth import check_mode

    try:
        check_mode(load())
    except ConfigurationError as error:
        print(f"mosaic serve: {error}", file=sys.stderr)
        return 2
    claim(args.host, args.port).close()  # taken: one line now, not a log after start-up

    options: dict[str, Any] = {
        "app": "gateway.app:create_app",
        "factory": True,
        "http": server.IMPORT_PATH,  # header deadline, connections per client
        "log_level": "info",
        "access_log": False,  # the gateway logs each request itself, as JSON with its id
    }
    if args.workers > 1 and workers.BALANCED:
        return workers.serve(args.host, args.port, args.workers, **options)
    uvicorn.run(host=args.host, port=args.port, workers=args.workers, **options)
    return 0


def _examples(args: argparse.Namespace) -> int:
    from legacy.examples import examples

    text = json.dumps(examples(args.seed, args.size), indent=2) + "\n"
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def _token(args: argparse.Namespace) -> int:
    from adapters.errors import Unauthenticated
    from gateway.security.auth import mint_token

    settings = load()
    configured = settings.auth.jwt_secret.get_secret_value() if settings.auth.jwt_secret else None
    secret = args.secret or configured
    if not secret:
        print("mosaic token: set MOSAIC_JWT_SECRET (or pass --secret)", file=sys.stderr)
        return 2
    try:
        token = mint_token(
            secret,
            args.role,
            subject=args.subject,
            customer=args.customer,
            store=args.store,
            channel=args.channel,
            partner=args.partner,
            scopes=args.scope,
            purpose=args.purpose,
            ttl_s=args.ttl,
            audience=settings.auth.jwt_audience,
            issuer=settings.auth.jwt_issuer,
        )
    except Unauthenticated as refused:  # a token the gateway would refuse is not minted
        print(
            f"mosaic token: not minted, the gateway would refuse it: {refused.message}",
            file=sys.stderr,
        )
        return 2
    print(token)
    return 0


def _demo_claims(seed: int, size: Any) -> dict[str, dict[str, Any]]:
    """The claims of a development token per role for the demo's GraphiQL: the store
    employee works in the first store, the customer is the one Customer360 shows."""
    from legacy.examples import showcase_card
    from legacy.world import build_world
    from resolvers.graphql import ids

    world = build_world(seed, size)
    card = showcase_card(world)
    customer = next(c for c in world.crm_contacts if c.loyalty_card == card)
    store = ids.location_id("STORE", next(s.id for s in world.stores if s.active))
    return {
        "store_employee": {"store": store, "channel": "STORE"},
        "customer": {"customer": ids.make("crm", customer.id), "channel": "APP"},
        "service_agent": {},
        "marketing": {},
        "partner": {"partner": "demo-partner", "scopes": ["orders:read"]},
        "service": {},
    }


def _schema(args: argparse.Namespace) -> int:
    if args.schema_command == "check":
        from gateway.schema_check import check

        return check(args.contract)
    from resolvers.graphql.schema import build_schema

    sdl = build_schema().as_str() + "\n"
    if args.output:
        args.output.write_text(sdl)
    else:
        sys.stdout.write(sdl)
    return 0


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _wait_for_systems(
    ports: dict[str, int], children: dict[str, subprocess.Popen[bytes]], timeout_s: float
) -> None:
    """Wait until every system listens, showing which are still seeding their data
    (the default size takes a few seconds each) and for how long."""
    started = time.monotonic()
    ready: set[str] = set()
    while len(ready) < len(ports):
        for name, port in ports.items():
            if children[name].poll() is not None:
                raise SystemExit(f"{name} exited early (code {children[name].returncode})")
            if name not in ready and _listening(port):
                ready.add(name)
        waited = time.monotonic() - started
        if waited > timeout_s:
            raise SystemExit(f"not listening after {timeout_s:.0f}s: {sorted(set(ports) - ready)}")
        status = "  ".join(f"{n} {'ready' if n in ready else 'seeding'}" for n in ports)
        print(f"\r  {status}  ({waited:4.1f} s)", end="", flush=True)
        time.sleep(0.2)
    print()


def _source_settings(settings: Settings) -> str:
    """The settings that reach the legacy systems, as ``MOSAIC_*`` lines of an env file
    (the demo's credentials are its own, made for this run)."""
    from gateway.settings.listing import variables

    given = variables(settings, SYSTEMS).items()
    return "".join(f"{name}={shlex.quote(value)}\n" for name, value in given)


def _demo(args: argparse.Namespace) -> int:
    """Four simulated systems as child processes on free ports, the gateway in this one;
    SIGINT or SIGTERM stops them all and removes their folder (gateway/demo.py).
    The gateway's port is claimed first, before anything starts: taken, the demo says so
    in one line; held, it is never one of the free ports the systems are given."""
    listener = claim("127.0.0.1", args.port)  # before the imports, too: a quick refusal
    import secrets

    import uvicorn

    from gateway.app import create_app
    from gateway.demo import Supervisor
    from gateway.http import server
    from gateway.security.auth import mint_token
    from legacy.erp.pages import INSTALLATION_FIELDS
    from legacy.examples import examples
    from legacy.world import TIER_THRESHOLDS

    configured = load()  # the operator's MOSAIC_* settings: a bad one stops us here
    # --auth signs with the operator's MOSAIC_JWT_SECRET, so `mosaic token` works with
    # the demo; without one, with a secret of this run (printed, for the same reason)
    own_secret = (
        configured.auth.jwt_secret.get_secret_value() if configured.auth.jwt_secret else None
    )
    secret = (own_secret or secrets.token_urlsafe(32)) if args.auth else None
    ports = {name: free_port() for name in SYSTEMS}
    erp_password = secrets.token_urlsafe(16)  # the simulated NAV's web service user's
    with listener, Supervisor(prefix="mosaic-demo-") as demo:
        workdir, children = demo.workdir, demo.children
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
                    *(("--token", DEMO_TOKENS[name]) if name in DEMO_TOKENS else ()),
                    *(demo_erp_credentials(erp_password) if name == "erp" else ()),
                ],
                # a terminal's Ctrl-C goes to its whole process group: the children stay
                # out of it, so they are stopped once, by the supervisor, not twice
                process_group=0,
            )
        examples_file = workdir / "examples.json"
        examples_file.write_text(json.dumps(examples(args.seed, args.size), indent=2))
        _wait_for_systems(ports, children, timeout_s=180)
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        claims = _demo_claims(args.seed, args.size) if secret else {}
        ttl = 7 * 24 * 3600  # a demo runs for a while
        tokens = (
            {role: mint_token(secret, role, ttl_s=ttl, **c) for role, c in claims.items()}
            if secret
            else {}
        )
        tokens_file = workdir / "tokens.json"
        tokens_file.write_text(json.dumps(tokens, indent=2))
        settings = load(
            crm_url=urls["crm"],
            erp_url=urls["erp"],
            pos_url=urls["pos"],
            wms_url=urls["wms"],
            crm_token=DEMO_TOKENS["crm"],
            pos_token=DEMO_TOKENS["pos"],
            wms_token=DEMO_TOKENS["wms"],
            erp_username=DEMO_ERP_USER,
            erp_password=SecretStr(erp_password),
            erp_fields=dict(INSTALLATION_FIELDS),
            pos_tier_thresholds=TIER_THRESHOLDS,
            examples_file=examples_file,
            jwt_secret=secret,
            graphiql_tokens=tokens,
            data_dir=workdir / "gateway",
        )
        sources_env = workdir / "sources.env"
        sources_env.write_text(_source_settings(settings))
        gateway = f"http://127.0.0.1:{args.port}"
        print("\nMosaic demo is up:")
        for name, url in urls.items():
            print(f"  {name.upper():4} {url}")
        print(f"  sources   mosaic sources check --env-file {sources_env}")
        print(f"  GraphiQL  {gateway}/graphql")
        print(f"  examples  {gateway}/examples (also in {examples_file})")
        if secret:
            print(f"  tokens    {tokens_file} (one per role; GraphiQL has a role picker)")
            print(f"  TOKEN={tokens['store_employee']}")
            mint = f"mosaic token --role customer --customer {claims['customer']['customer']}"
            if own_secret:
                print(f"  mint      {mint}  (signs with your MOSAIC_JWT_SECRET, as the demo)")
            else:
                print(f"  mint      MOSAIC_JWT_SECRET={secret} {mint}")
        else:
            print("  OPEN: no authentication, every caller reads everything")
        print("Ctrl-C stops everything.\n", flush=True)
        demo.serve(
            uvicorn.Config(
                create_app(settings),
                log_level="warning",
                http=server.IMPORT_PATH,  # header deadline, connections per client
            ),
            sockets=[for_serving(listener)],
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
