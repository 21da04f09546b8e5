"""A property-based fuzz run against a real gateway: documents drawn from the schema
(hypothesis-graphql, valid and deliberately invalid ones), and raw requests no client
library would send (random bytes, broken UTF-8, JSON of every shape, deep nesting,
other methods, paths, media types). The properties, for every request:

- the answer is never a 5xx, and never takes longer than HANG_S;
- an answer from /graphql that is not a 2xx is JSON whose every error has a code;

and, for the run: the gateway's log holds no traceback, and /healthz, asked by another
client four times a second all along, always answers.

    python -m bench.fuzz --minutes 10      # result: bench/results/fuzz.json and .md

The run starts the four simulated systems and ``mosaic serve`` itself (bench/cluster.py),
with mutations drawn too, since the systems are its own. ``tests/test_fuzz.py`` runs
a short, bounded one (queries only) in the suite.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from urllib.parse import urlsplit

import hypothesis_graphql
import orjson
from graphql import ValueNode
from graphql import parse_value as parse_graphql_value
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes

#: an answer slower than this is a hang
HANG_S = 30.0
#: how often /healthz is asked during a run
HEALTHZ_EVERY_S = 0.25
#: failing requests kept in the result, to reproduce them
KEPT_FAILURES = 20
ROOT = Path(__file__).resolve().parent.parent
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")
PATHS = ("/graphql", "/graphql/", "/healthz", "/readyz", "/metrics", "/", "/graphql?query=")
MEDIA = (
    "application/json",
    "application/json; charset=latin-1",
    "application/graphql",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "",
)
ACCEPT = ("application/graphql-response+json", "application/json", "*/*", "text/html", "", "x/y")


def parse_value(json_text: str) -> ValueNode:
    """A JSON value as a GraphQL literal (object keys unquoted)."""
    return parse_graphql_value(re.sub(r'"(\w+)":', r"\1:", json_text))


#: values of the schema's own scalars, as GraphQL literals
CUSTOM_SCALARS = {
    "Date": st.dates().map(lambda d: nodes.String(d.isoformat())),
    "DateTime": st.datetimes().map(lambda d: nodes.String(d.isoformat() + "Z")),
    "Decimal": st.decimals(allow_nan=False, allow_infinity=False, places=2).map(
        lambda d: nodes.String(str(d))
    ),
    "_Any": st.sampled_from(
        [
            {},
            {"__typename": "Product"},
            {"__typename": "Product", "sku": "10000"},
            {"__typename": "Product", "sku": 1},
            {"__typename": "Customer", "id": "crm:1001"},
            {"__typename": "Customer", "email": "x"},
            {"__typename": "Query"},
            {"__typename": 1},
        ]
    ).map(lambda value: parse_value(json.dumps(value))),
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def shown(self) -> dict[str, Any]:
        return {**asdict(self), "body": self.body[:2000].decode("utf-8", "replace")}


@dataclass
class Tally:
    """What a run saw."""

    tried: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    server_errors: list[dict[str, Any]] = field(default_factory=list)
    uncoded: list[dict[str, Any]] = field(default_factory=list)
    hangs: list[dict[str, Any]] = field(default_factory=list)
    #: the server answered (a refusal) and hung up before the client had sent its body
    cut_off: int = 0
    slowest_s: float = 0.0
    slowest: dict[str, Any] = field(default_factory=dict)
    healthz_asked: int = 0
    healthz_failed: int = 0
    healthz_slowest_s: float = 0.0

    def failures(self) -> int:
        return len(self.server_errors) + len(self.uncoded) + len(self.hangs) + self.healthz_failed


# --- what is sent ----------------------------------------------------------------------


def _graphql_post(document: Any) -> Request:
    text = document if isinstance(document, str) else str(document)
    body = orjson.dumps({"query": text})
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    return Request("POST", "/graphql", headers, body)


def schema_requests(mutations: bool) -> st.SearchStrategy[Request]:
    """Documents from the schema: valid ones (every field, argument and input the
    schema has, with values of their types) and invalid ones (values of wrong types)."""
    from resolvers.graphql.schema import build_schema  # the served schema: schema.graphql has
    # federation directives graphql-core cannot build on its own

    schema = build_schema()._schema
    kinds = [hypothesis_graphql.queries] + ([hypothesis_graphql.mutations] if mutations else [])
    documents = st.one_of(
        *(
            make(schema, custom_scalars=CUSTOM_SCALARS, mode=mode)
            for make in kinds
            for mode in (hypothesis_graphql.Mode.POSITIVE, hypothesis_graphql.Mode.NEGATIVE)
        )
    )
    return documents.map(_graphql_post)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)


@st.composite
def _deep(draw: Callable[[Any], Any]) -> bytes:
    """JSON nested 1 to 100,000 deep, in variables or as the whole body."""
    depth: int = draw(st.sampled_from((2, 31, 33, 1_000, 1_025, 100_000)))
    if draw(st.booleans()):
        inner = b"[" * depth + b"]" * depth
    else:
        inner = b'{"a":' * depth + b"1" + b"}" * depth
    whole: bool = draw(st.booleans())
    return inner if whole else b'{"query": "{ __typename }", "variables": {"v": ' + inner + b"}}"


@st.composite
def _raw(draw: Callable[[Any], Any]) -> Request:
    body = draw(
        st.one_of(
            st.binary(max_size=512),
            _json.map(orjson.dumps),
            st.fixed_dictionaries(
                {},
                optional={
                    "query": st.text(max_size=200) | _json,
                    "variables": _json,
                    "operationName": st.text(max_size=20) | _json,
                    "extensions": _json,
                },
            ).map(orjson.dumps),
            _deep(),
            st.text(max_size=200).map(
                lambda t: b'{"query": "' + t.encode("utf-8", "replace") + b'\xff\xfe"}'
            ),
        )
    )
    headers = {
        "Content-Type": draw(st.sampled_from(MEDIA)),
        "Accept": draw(st.sampled_from(ACCEPT)),
    }
    return Request(draw(st.sampled_from(METHODS)), draw(st.sampled_from(PATHS)), headers, body)


def requests(mutations: bool) -> st.SearchStrategy[Request]:
    return st.one_of(schema_requests(mutations), _raw())


# --- sending and judging ---------------------------------------------------------------


def send(url: str, request: Request) -> tuple[int, bytes, float]:
    started = time.monotonic()
    data = request.body if request.method not in ("GET", "HEAD") else None
    prepared = urllib.request.Request(
        url + request.path, data=data, method=request.method, headers=request.headers
    )
    try:
        with urllib.request.urlopen(prepared, timeout=HANG_S) as answer:
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        with error:
            status, body = error.code, error.read()
    return status, body, time.monotonic() - started


def judge(tally: Tally, request: Request, status: int, body: bytes, seconds: float) -> None:
    tally.tried += 1
    tally.statuses[status] += 1
    if seconds > tally.slowest_s:
        tally.slowest_s, tally.slowest = seconds, {**request.shown(), "status": status}
    failure = {**request.shown(), "status": status, "answer": body[:500].decode("utf-8", "replace")}
    if status >= 500:
        _keep(tally.server_errors, failure)
    if not urlsplit(request.path).path.startswith("/graphql") or status < 300:
        return
    if request.method == "HEAD":
        return  # no body by HTTP's rules
    try:
        errors = orjson.loads(body)["errors"]
        codes = [e["extensions"]["code"] for e in errors]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        _keep(tally.uncoded, failure)
        return
    tally.codes.update(codes)


def _keep(kept: list[dict[str, Any]], failure: dict[str, Any]) -> None:
    if len(kept) < KEPT_FAILURES:
        kept.append(failure)


class _TimeUp(Exception):
    """Ends the generation loop: the run's time is over."""


def fuzz(url: str, seconds: float, *, mutations: bool, seed_value: int = 0) -> Tally:
    """Sends drawn requests to ``url`` for ``seconds`` while another client asks
    /healthz; the tally of what came back."""
    tally = Tally()
    until = time.monotonic() + seconds
    # the prober in a process of its own: a thread here would wait for the GIL while
    # hypothesis draws, and time the fuzzer instead of the gateway
    spawn = multiprocessing.get_context("spawn")
    done = spawn.Event()
    asked, failed, slowest = spawn.Value("i", 0), spawn.Value("i", 0), spawn.Value("d", 0.0)
    prober = spawn.Process(
        target=_probe_healthz, args=(url, asked, failed, slowest, done), daemon=True
    )
    prober.start()

    @seed(seed_value)
    @settings(
        database=None,
        max_examples=10**9,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(requests(mutations))
    def one(request: Request) -> None:
        if time.monotonic() > until:
            raise _TimeUp
        try:
            status, body, seconds_taken = send(url, request)
        except TimeoutError:
            _keep(tally.hangs, request.shown())
            return
        except urllib.error.URLError as error:
            if isinstance(error.reason, BrokenPipeError | ConnectionResetError):
                tally.cut_off += 1  # refused early (a 404, 405, 413) with the body unsent
                return
            _keep(tally.server_errors, {**request.shown(), "status": 0, "answer": repr(error)})
            return
        judge(tally, request, status, body, seconds_taken)

    try:
        with suppress(_TimeUp):
            one()
    finally:
        done.set()
        prober.join(timeout=HANG_S)
    tally.healthz_asked, tally.healthz_failed = asked.value, failed.value
    tally.healthz_slowest_s = slowest.value
    return tally


def _probe_healthz(url: str, asked: Any, failed: Any, slowest: Any, done: Any) -> None:
    """Asks /healthz every HEALTHZ_EVERY_S until ``done``; counts into the shared values."""
    while not done.wait(HEALTHZ_EVERY_S):
        started = time.monotonic()
        asked.value += 1
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=HANG_S) as answer:
                ok = answer.status == 200
        except OSError:
            ok = False
        failed.value += not ok
        slowest.value = max(slowest.value, time.monotonic() - started)


# --- the long run ------------------------------------------------------------------------


TRACEBACK = "Traceback (most recent call last)"


def tracebacks(log: str) -> list[str]:
    """Every traceback in the log, each with the lines before and after it."""
    lines = log.splitlines()
    return [
        "\n".join(lines[max(i - 3, 0) : i + 40])
        for i, line in enumerate(lines)
        if TRACEBACK in line
    ]


def report(tally: Tally, minutes: float, log_tracebacks: list[str]) -> dict[str, Any]:
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "minutes": minutes,
        "requests_tried": tally.tried,
        "statuses": dict(sorted(tally.statuses.items())),
        "answers_5xx": len(tally.server_errors),
        "uncoded_graphql_errors": len(tally.uncoded),
        "hangs": len(tally.hangs),
        "tracebacks_in_log": len(log_tracebacks),
        "cut_off_while_sending": tally.cut_off,
        "slowest_answer_s": round(tally.slowest_s, 3),
        "slowest_request": tally.slowest,
        "healthz": {
            "asked": tally.healthz_asked,
            "failed": tally.healthz_failed,
            "slowest_s": round(tally.healthz_slowest_s, 3),
        },
        "codes": dict(tally.codes.most_common()),
        "passed": tally.failures() == 0 and not log_tracebacks,
        "failures": {
            "5xx": tally.server_errors,
            "uncoded": tally.uncoded,
            "hangs": tally.hangs,
            "tracebacks": log_tracebacks[:KEPT_FAILURES],
        },
    }


def markdown(result: dict[str, Any]) -> str:
    statuses = ", ".join(f"{s}: {n:,}" for s, n in result["statuses"].items())
    healthz = result["healthz"]
    return "\n".join(
        [
            f"# Fuzz run, {result['when']}",
            "",
            f"`python -m bench.fuzz --minutes {result['minutes']:g}` against `mosaic serve` "
            "(development mode, open) in front of the four simulated systems.",
            "",
            "| figure | value |",
            "|---|---|",
            f"| requests tried | {result['requests_tried']:,} |",
            f"| statuses | {statuses} |",
            f"| answers with status 5xx | {result['answers_5xx']} |",
            f"| /graphql refusals without a coded error | {result['uncoded_graphql_errors']} |",
            f"| hangs (no answer within {HANG_S:g} s) | {result['hangs']} |",
            f"| tracebacks in the gateway's log | {result['tracebacks_in_log']} |",
            f"| slowest answer | {result['slowest_answer_s']} s |",
            "| connections the gateway closed while a refused request's body was still being"
            f" sent | {result['cut_off_while_sending']} |",
            f"| /healthz asked meanwhile, failed, slowest | {healthz['asked']:,}, "
            f"{healthz['failed']}, {healthz['slowest_s']} s |",
            f"| passed | {'yes' if result['passed'] else 'NO'} |",
            "",
            "Error codes seen: "
            + ", ".join(f"`{code}` {n:,}" for code, n in result["codes"].items()),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    from bench.cluster import Latency, gateway, simulated_systems

    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument(
        "--keep-log",
        type=Path,
        help="copy the gateway's log here (to read what was slow, e.g. with "
        "PYTHONASYNCIODEBUG=1 set, which logs every callback that held the loop over 0.1 s)",
    )
    args = parser.parse_args(argv)
    quiet = dict.fromkeys(("crm", "erp", "pos", "wms"), Latency(0.0, 0.0))
    with TemporaryDirectory(prefix="mosaic-fuzz-") as work:
        work_dir = Path(work)
        with (
            simulated_systems(quiet, "small", 42, work_dir, cores=None) as systems,
            gateway("fuzz", systems, {}, 1, work_dir, cores=None) as served,
        ):
            tally = fuzz(served.url, args.minutes * 60, mutations=True, seed_value=args.seed)
        log = served.log.read_text(errors="replace")
    if args.keep_log:
        args.keep_log.write_text(log)
    result = report(tally, args.minutes, tracebacks(log))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fuzz.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "fuzz.md").write_text(markdown(result))
    print(markdown(result))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
