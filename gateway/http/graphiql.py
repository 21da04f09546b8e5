"""The GraphiQL page browsers get at GET /graphql, and the routes serving its assets.

Every asset is served by the gateway itself from ``gateway/http/static/graphiql/`` (no
CDN): the page must work offline and behind a firewall, and the browser then runs
exactly the code that was reviewed. ``vendor/`` is generated from the npm registry by
``tools/graphiql/`` (exact versions in its package-lock.json; licences in
``vendor/THIRD_PARTY_NOTICES.txt``); ``mosaic-graphiql.js`` is ours and starts GraphiQL.

The page itself carries only data: the ready operations, endpoint and headers as JSON in a
``<script type="application/json">`` element that the static start-up script reads. With
``tokens`` (one bearer token per role, as ``mosaic demo`` mints them) the script adds a
role picker to GraphiQL's toolbar that sets the Authorization header of every request;
the explorer plugin (a query builder over the schema) is bundled with the rest. Asset
URLs carry a content hash of the static folder, so they can be cached for a year and a
new build still reaches every browser at once.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from graphql import GraphQLError, OperationDefinitionNode, parse
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).with_name("static") / "graphiql"
STATIC_PREFIX = "/static/graphiql"
CONFIG_ELEMENT_ID = "mosaic-graphiql-config"
VERSIONED_CACHE = "public, max-age=31536000, immutable"
UNVERSIONED_CACHE = "no-cache"
DEFAULT_ROLE = "store_employee"
#: the tabs GraphiQL opens on, where present: a customer's whole picture, then a listing
FIRST_TABS = ("Customer360", "ProductListing")
KIND_ORDER = ("query", "subscription", "mutation")

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{static}/vendor/graphiql.css?v={version}">
<style>html, body, #graphiql {{ height: 100%; margin: 0; }}
.mosaic-role-initials {{ font-size: 0.8rem; font-weight: 600; letter-spacing: 0.02em; }}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL&hellip;</div>
<noscript>GraphiQL needs JavaScript. POST GraphQL requests to {endpoint} instead.</noscript>
<script type="application/json" id="{config_id}">{config}</script>
<script src="{static}/vendor/graphiql.js?v={version}"></script>
<script src="{static}/mosaic-graphiql.js?v={version}"></script>
</body>
</html>
"""


@dataclass(frozen=True)
class ReadyOperation:
    """One GraphiQL tab: an operation and variables that work against the running data."""

    name: str
    query: str
    variables: dict[str, Any]


def render_graphiql_page(
    operations: Sequence[ReadyOperation],
    *,
    endpoint: str = "/graphql",
    static_prefix: str = STATIC_PREFIX,
    title: str = "Mosaic GraphiQL",
    headers: Mapping[str, str] | None = None,
    tokens: Mapping[str, str] | None = None,
) -> str:
    """GraphiQL with one tab per operation (in :func:`in_tab_order`, the first active),
    posting to `endpoint`; `headers` go with every request and are shown in each tab's
    headers editor. `tokens` (role -> bearer token) fill a role picker in GraphiQL's
    toolbar, opened on store_employee where there is one (it can run the reference
    operations), else on the first role."""
    ready = [
        {"name": op.name, "query": op.query, "variables": _pretty(op.variables)}
        for op in in_tab_order(operations)
    ]
    roles = dict(tokens or {})
    role = DEFAULT_ROLE if DEFAULT_ROLE in roles else next(iter(roles), None)
    sent = dict(headers or {})
    if role is not None:
        sent["Authorization"] = f"Bearer {roles[role]}"
    config = {
        "endpoint": endpoint,
        "headers": sent,
        "tokens": roles,
        "role": role,
        "headersText": _pretty(dict(headers)) if headers else "",
        "operations": ready,
        "storageNamespace": f"mosaic-graphiql-{_digest(json.dumps(ready).encode())}",
    }
    return PAGE.format(
        title=html.escape(title),
        static=html.escape(static_prefix),
        endpoint=html.escape(endpoint),
        version=asset_version(),
        config_id=CONFIG_ELEMENT_ID,
        config=script_json(config),
    )


def in_tab_order(operations: Sequence[ReadyOperation]) -> list[ReadyOperation]:
    """The tabs as a newcomer meets them: the first a query that only reads (FIRST_TABS),
    the other queries, subscriptions, and the mutations last, so the first run never
    writes anything; otherwise in the order given."""

    def rank(item: tuple[int, ReadyOperation]) -> tuple[int, int, int]:
        index, operation = item
        first = (
            FIRST_TABS.index(operation.name) if operation.name in FIRST_TABS else len(FIRST_TABS)
        )
        return KIND_ORDER.index(_kind(operation.query)), first, index

    return [operation for _, operation in sorted(enumerate(operations), key=rank)]


def _kind(document: str) -> str:
    """The kind of a document's first operation (query where it cannot be read)."""
    try:
        parsed = parse(document)
    except GraphQLError:
        return "query"
    kinds = [
        d.operation.value for d in parsed.definitions if isinstance(d, OperationDefinitionNode)
    ]
    return kinds[0] if kinds else "query"


def script_json(data: Any) -> str:
    """JSON that is inert inside a <script> element: no `<` (so no `</script>` or `<!--`),
    `>` or `&` can appear in it, and JSON.parse reads the escapes back as the same text."""
    text = json.dumps(data, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@cache
def asset_version() -> str:
    """A hash of every static file, so a new build gets new asset URLs."""
    digest = hashlib.sha256()
    for path in sorted(p for p in STATIC_DIR.rglob("*") if p.is_file()):
        digest.update(path.relative_to(STATIC_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class _AssetFiles(StaticFiles):
    """StaticFiles that lets browsers keep an asset for a year when its URL carries the
    current version, and makes them revalidate (ETag) otherwise."""

    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("v", [])
        versioned = asked == [asset_version()]
        response.headers["Cache-Control"] = VERSIONED_CACHE if versioned else UNVERSIONED_CACHE
        return response


def static_routes() -> list[BaseRoute]:
    """The routes serving GraphiQL's assets under STATIC_PREFIX."""
    return [Mount(STATIC_PREFIX, app=_AssetFiles(directory=STATIC_DIR), name="graphiql-static")]


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]
