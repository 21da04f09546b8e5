"""The ERP adapter signs in as the product wants: a NAV web service user's HTTP Basic
credentials, or a Business Central OAuth2 client-credentials token, fetched from a
token endpoint a stand-in serves here, kept, and renewed before it expires (by the
clock the test passes in). Refused credentials are SOURCE_AUTH_FAILED naming the ERP,
asked once, and count against the breaker; no secret shows in an error."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.config import ErpConfig
from adapters.erp.adapter import ErpAdapter
from adapters.erp.auth import RENEW_BEFORE_S
from adapters.errors import CircuitOpen, UpstreamAuthFailed
from adapters.transport.resilience import GuardConfig
from legacy.common.knobs import Knobs
from legacy.common.runner import ServerThread
from legacy.erp.server import create_app
from legacy.world import World
from tests.contracts.checks import checks
from tests.simulators import call_count, clear_calls
from tests.timing import ManualClock

CLIENT_ID, SECRET, SCOPE = (
    "mosaic-gateway",
    "client-s3cret",
    "https://api.businesscentral.dynamics.com/.default",
)
LIFETIME_S = 3599


@dataclass
class TokenEndpoint:
    """Entra ID's token endpoint as a test stand-in: client credentials in, a bearer
    token out (``expires_in`` seconds), 401 ``invalid_client`` for a wrong secret."""

    issued: set[str] = field(default_factory=set)
    asked: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def token(request: Request) -> Response:
            form = dict(parse_qsl((await request.body()).decode()))
            self.asked.append(form)
            if form.get("client_secret") != SECRET or form.get("client_id") != CLIENT_ID:
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            if form.get("grant_type") != "client_credentials":
                return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
            value = f"token-{len(self.issued) + 1}"
            self.issued.add(value)
            body = {"token_type": "Bearer", "expires_in": LIFETIME_S, "access_token": value}
            return JSONResponse(body)

        return Starlette(routes=[Route("/oauth2/v2.0/token", token, methods=["POST"])])

    def accepts(self, request: Request) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return scheme == "Bearer" and value in self.issued


@pytest.fixture(scope="module")
def endpoint() -> Iterator[tuple[TokenEndpoint, str]]:
    stand_in = TokenEndpoint()
    server = ServerThread(stand_in.app()).start()
    yield stand_in, f"{server.url}/oauth2/v2.0/token"
    server.stop()


@pytest.fixture(scope="module")
def business_central(
    world: World, endpoint: tuple[TokenEndpoint, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    stand_in, _ = endpoint
    path = tmp_path_factory.mktemp("bc") / "erp.sqlite"
    app = create_app(world, path, Knobs(), authorize=stand_in.accepts, middleware=checks("erp"))
    server = ServerThread(app).start()
    yield server.url
    server.stop()


def oauth(url: str, token_url: str, **changes: Any) -> ErpConfig:
    settings: dict[str, Any] = {
        "url": url,
        "token_url": token_url,
        "client_id": CLIENT_ID,
        "client_secret": SecretStr(SECRET),
        "scope": SCOPE,
        "guard": GuardConfig(retries=0),
        **changes,
    }
    return ErpConfig(**settings)


async def test_a_token_is_fetched_once_kept_and_renewed_before_it_expires(
    session: aiohttp.ClientSession, business_central: str, endpoint: tuple[TokenEndpoint, str]
) -> None:
    stand_in, token_url = endpoint
    clock = ManualClock(1000.0)
    erp = ErpAdapter(session, oauth(business_central, token_url), clock=clock)
    assert sorted(await erp.items(["10001"])) == ["10001"]
    await erp.customers(["C20000"])
    assert erp.credentials.fetches == 1
    assert stand_in.asked[-1] == {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "scope": SCOPE,
    }
    clock.now += LIFETIME_S - RENEW_BEFORE_S - 1  # still fresh enough
    await erp.items(["10002"])
    assert erp.credentials.fetches == 1
    clock.now += 2  # within a minute of expiring: renewed before it is sent
    await erp.items(["10003"])
    assert erp.credentials.fetches == 2


async def test_a_token_the_erp_refuses_is_dropped_and_the_next_call_gets_another(
    session: aiohttp.ClientSession, business_central: str, endpoint: tuple[TokenEndpoint, str]
) -> None:
    stand_in, token_url = endpoint
    erp = ErpAdapter(session, oauth(business_central, token_url), clock=ManualClock(1000.0))
    await erp.items(["10001"])
    stand_in.issued.clear()  # revoked
    with pytest.raises(UpstreamAuthFailed):
        await erp.items(["10002"])
    assert sorted(await erp.items(["10002"])) == ["10002"]
    assert erp.credentials.fetches == 2


async def test_calls_arriving_together_share_one_token_fetch_and_its_refusal(
    session: aiohttp.ClientSession, business_central: str, endpoint: tuple[TokenEndpoint, str]
) -> None:
    """Calls to two pages need a token at once (each to load its page's WSDL): one
    fetch serves both, and when the endpoint refuses the credentials, both hear it
    after that one refusal, not after one refusal each in turn."""
    _, token_url = endpoint
    wrong = oauth(business_central, token_url, client_secret=SecretStr("not-it"))
    refused = ErpAdapter(session, wrong, clock=ManualClock(1000.0))
    failed = await asyncio.gather(
        refused.items(["10001"]), refused.customers(["C20000"]), return_exceptions=True
    )
    assert [type(f) for f in failed] == [UpstreamAuthFailed] * 2
    assert refused.credentials.fetches == 1
    erp = ErpAdapter(session, oauth(business_central, token_url), clock=ManualClock(1000.0))
    items, customers = await asyncio.gather(erp.items(["10001"]), erp.customers(["C20000"]))
    assert (sorted(items), len(customers)) == (["10001"], 1)
    assert erp.credentials.fetches == 1


async def test_a_wrong_client_secret_is_source_auth_failed_without_the_secret(
    session: aiohttp.ClientSession, business_central: str, endpoint: tuple[TokenEndpoint, str]
) -> None:
    _, token_url = endpoint
    config = oauth(business_central, token_url, client_secret=SecretStr("not-it"))
    clear_calls(business_central)
    with pytest.raises(UpstreamAuthFailed) as refused:
        await ErpAdapter(session, config, clock=ManualClock(1000.0)).items(["10001"])
    assert refused.value.extensions == {"code": "SOURCE_AUTH_FAILED", "source": "erp"}
    assert "not-it" not in str(refused.value)
    assert "not-it" not in repr(config)
    assert sum(call_count(business_central).values()) == 0  # the ERP was never asked


# --- NAV web service user ------------------------------------------------------------


@pytest.fixture(scope="module")
def nav(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path: Path = tmp_path_factory.mktemp("nav") / "erp.sqlite"
    app = create_app(
        world, path, Knobs(), credentials=("MOSAIC", "pa55word"), middleware=checks("erp")
    )
    server = ServerThread(app).start()
    yield server.url
    server.stop()


async def test_a_web_service_user_signs_every_request_with_basic_credentials(
    session: aiohttp.ClientSession, nav: str
) -> None:
    config = ErpConfig(url=nav, username="MOSAIC", password=SecretStr("pa55word"))
    found = await ErpAdapter(session, config).customers(["C20000"])
    assert sorted(found) == ["C20000"]


async def test_refused_credentials_are_asked_once_and_open_the_breaker(
    session: aiohttp.ClientSession, nav: str
) -> None:
    guard = GuardConfig(retries=2, failure_threshold=2, open_s=60)
    config = ErpConfig(url=nav, username="MOSAIC", password=SecretStr("wrong"), guard=guard)
    erp = ErpAdapter(session, config)
    clear_calls(nav)
    for _ in range(2):
        with pytest.raises(UpstreamAuthFailed) as refused:
            await erp.items(["10001"])
        assert refused.value.source == "erp"
        assert "wrong" not in str(refused.value)
    assert sum(call_count(nav).values()) == 2  # once each: a refusal is not retried
    with pytest.raises(CircuitOpen):
        await erp.items(["10001"])
    assert sum(call_count(nav).values()) == 2
