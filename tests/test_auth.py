"""Authentication at the door: bearer tokens (HS256 with the shared secret, RS256 with
keys from a JWKS URL) and partners' API keys. A credential that does not hold is refused
with HTTP 401 and ``UNAUTHENTICATED`` before anything else runs; no credential is the
anonymous caller, who reads the public catalogue. Without any authentication configured
the gateway runs open, says so, and production refuses to start that way.

The identity provider's JWKS is served by a real HTTP server on loopback, as an
identity provider would publish it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from adapters.errors import ConfigurationError
from gateway.app import create_app
from gateway.cli import main
from gateway.settings import Settings
from legacy.common.runner import ServerThread
from tests.auth_tokens import API_KEYS, PARTNER_KEY, SECRET
from tests.conftest import _gateway
from tests.gateway_client import graphql, post
from tests.simulators import call_count, clear_calls

AUDIENCE = "mosaic-gateway"
ISSUER = "https://id.example.test"
KID = "test-key-1"
PUBLIC_QUERY = "{ locations(limit: 1) { id } }"
PRIVATE_QUERY = '{ customer(by: {loyaltyCard: "2610000002096"}) { id } }'


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(rsa_key: rsa.RSAPrivateKey) -> Iterator[str]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    keys = {"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}

    async def published(request: Any) -> JSONResponse:
        return JSONResponse(keys)

    server = ServerThread(Starlette(routes=[Route("/jwks.json", published)])).start()
    yield f"{server.url}/jwks.json"
    server.stop()


@pytest.fixture(scope="module")
def url(systems: dict[str, str], jwks_url: str) -> Iterator[str]:
    yield from _gateway(
        systems,
        cache=False,
        jwt_secret=SECRET,
        jwks_url=jwks_url,
        jwt_audience=AUDIENCE,
        jwt_issuer=ISSUER,
        api_keys=API_KEYS,
    )


def claims(**more: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": "agent-1",
        "role": "service_agent",
        "aud": AUDIENCE,
        "iss": ISSUER,
        "iat": now,
        "exp": now + 600,
        **more,
    }


def hs256(**more: Any) -> str:
    return jwt.encode(claims(**more), SECRET, algorithm="HS256")


def rs256(key: rsa.RSAPrivateKey, kid: str = KID, **more: Any) -> str:
    return jwt.encode(claims(**more), key, algorithm="RS256", headers={"kid": kid})


def ask(url: str, query: str, credential: str | None = None, **headers: str) -> Any:
    if credential is not None:
        headers["Authorization"] = f"Bearer {credential}"
    return post(url, json.dumps({"query": query}).encode(), headers=headers)


# --- accepted ------------------------------------------------------------------------


def test_an_hs256_token_signed_with_the_shared_secret_is_accepted(url: str) -> None:
    status, result = ask(url, PRIVATE_QUERY, hs256())
    assert status == 200
    assert "errors" not in result
    assert result["data"]["customer"]["id"]


def test_an_rs256_token_signed_with_a_key_from_the_jwks_is_accepted(
    url: str, rsa_key: rsa.RSAPrivateKey
) -> None:
    status, result = ask(url, PRIVATE_QUERY, rs256(rsa_key))
    assert status == 200
    assert "errors" not in result


def test_a_partners_api_key_is_accepted_with_its_scopes(url: str) -> None:
    status, result = ask(url, PUBLIC_QUERY, **{"X-API-Key": PARTNER_KEY})
    assert status == 200
    assert "errors" not in result


def test_mosaic_token_mints_a_token_the_gateway_accepts(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOSAIC_JWT_SECRET", SECRET)
    monkeypatch.setenv("MOSAIC_JWT_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("MOSAIC_JWT_ISSUER", ISSUER)
    args = ["token", "--role", "store_employee", "--store", "store:S001", "--ttl", "60"]
    assert main(args) == 0
    minted = capsys.readouterr().out.strip()
    decoded = jwt.decode(minted, SECRET, algorithms=["HS256"], audience=AUDIENCE)
    assert decoded["role"] == "store_employee"
    assert decoded["store"] == "store:S001"
    assert decoded["exp"] - decoded["iat"] == 60
    status, result = ask(url, PRIVATE_QUERY, minted)
    assert (status, "errors" in result) == (200, False)


def test_mosaic_token_without_a_secret_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MOSAIC_JWT_SECRET", raising=False)
    assert main(["token", "--role", "service"]) == 2
    assert "MOSAIC_JWT_SECRET" in capsys.readouterr().err


# --- refused with 401 ----------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _none_alg(payload: dict[str, Any]) -> str:
    header = {"alg": "none", "typ": "JWT"}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}."


def _hmac_signed(payload: dict[str, Any], key: bytes) -> str:
    """The algorithm-confusion attack: HS256 keyed with the (public) RSA key, as a
    verifier that took the key for the token's own ``alg`` would accept it."""
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


REFUSED: dict[str, Any] = {
    "expired": lambda key: hs256(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
    "signed with another secret": lambda key: jwt.encode(
        claims(), "another-secret-that-is-long-enough-too", algorithm="HS256"
    ),
    "alg none": lambda key: _none_alg(claims()),
    "wrong audience": lambda key: hs256(aud="another-service"),
    "wrong issuer": lambda key: hs256(iss="https://evil.example.test"),
    "rs256 with an unknown key id": lambda key: rs256(key, kid="not-published"),
    "rs256 signed by another key": lambda key: rs256(
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ),
    "hs256 signed with the public key": lambda key: _hmac_signed(
        claims(),
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    ),
    "tampered claims": lambda key: ".".join(
        [hs256().split(".")[0], hs256(role="service").split(".")[1], hs256().split(".")[2]]
    ),
    "unknown role": lambda key: hs256(role="admin"),
    "customer without a customer claim": lambda key: hs256(role="customer"),
    "without exp": lambda key: jwt.encode(
        {k: v for k, v in claims().items() if k != "exp"}, SECRET, algorithm="HS256"
    ),
    "not a token": lambda key: "not-a-token",
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_token_that_does_not_hold_is_refused_with_401(
    case: str, url: str, systems: dict[str, str], rsa_key: rsa.RSAPrivateKey
) -> None:
    for system in systems.values():
        clear_calls(system)
    started = time.monotonic()
    status, result = ask(url, PRIVATE_QUERY, REFUSED[case](rsa_key))
    assert status == 401, result
    assert [e["extensions"]["code"] for e in result["errors"]] == ["UNAUTHENTICATED"]
    assert "data" not in result
    assert time.monotonic() - started < 1.0
    assert sum(sum(call_count(system).values()) for system in systems.values()) == 0


def test_the_401_names_the_bearer_scheme(url: str) -> None:
    request = urllib.request.Request(
        url + "/graphql",
        data=json.dumps({"query": PUBLIC_QUERY}).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer nope"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    with refused.value as answer:
        assert answer.code == 401
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}, {"X-API-Key": "x"}],
)
def test_another_scheme_an_empty_token_or_an_unknown_api_key_is_refused_with_401(
    url: str, headers: dict[str, str]
) -> None:
    status, result = post(url, json.dumps({"query": PUBLIC_QUERY}).encode(), headers=headers)
    assert status == 401
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# --- no credential: the public catalogue ---------------------------------------------


def test_without_a_credential_the_catalogue_answers_and_customers_do_not(url: str) -> None:
    """Since issue 18 a field a caller may never read refuses the whole operation before
    it runs (resolvers/privacy/read_policy.py): the catalogue alone answers, and with a
    customer beside it nothing runs, with one error naming the field."""
    assert len(graphql(url, "{ locations(limit: 2) { id name } }")["data"]["locations"]) == 2
    result = graphql(url, "{ locations(limit: 2) { id name } " + PRIVATE_QUERY[1:])
    assert "data" not in result
    assert [e["extensions"]["code"] for e in result["errors"]] == ["UNAUTHENTICATED"]
    assert result["errors"][0]["extensions"]["fields"][0] == "Query.customer"


def test_the_tokens_channel_claim_is_the_asking_channel(url: str) -> None:
    query = '{ products(skus: ["10000"]) { promotions { code } } }'
    sent = {"Authorization": f"Bearer {hs256(channel='STORE')}", "X-Channel": "WEB"}
    by_token = graphql(url, query, headers=sent)
    assert "errors" not in by_token
    assert by_token == graphql(url, query, headers={"X-Channel": "STORE"})


# --- modes ---------------------------------------------------------------------------


def _readyz(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/readyz", timeout=10) as response:
        body: dict[str, Any] = json.loads(response.read())
        return body


def test_readyz_says_the_gateway_runs_open_when_nothing_is_configured(gateway_url: str) -> None:
    ready = _readyz(gateway_url)
    assert ready["mode"] == "open"
    assert "every caller" in ready["warning"]


def test_readyz_says_which_credentials_the_gateway_requires(url: str) -> None:
    ready = _readyz(url)
    assert ready["mode"] == "authenticated"
    assert ready["credentials"] == ["jwt-hs256", "jwt-rs256-jwks", "api-keys"]
    assert "warning" not in ready


def test_open_mode_ignores_tokens_and_reads_everything(gateway_url: str) -> None:
    status, result = ask(gateway_url, PRIVATE_QUERY, "whatever")
    assert status == 200
    assert result["data"]["customer"]["id"]


def test_production_refuses_to_start_without_authentication() -> None:
    with pytest.raises(ConfigurationError, match="MOSAIC_JWT_SECRET"):
        create_app(Settings(env="production"))


def test_mosaic_serve_in_production_without_authentication_exits_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("MOSAIC_JWT_SECRET", "MOSAIC_JWKS_URL", "MOSAIC_API_KEYS", "MOSAIC_API_KEYS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MOSAIC_ENV", "production")
    assert main(["serve"]) == 2
    assert "Refusing to start open" in capsys.readouterr().err


def test_production_starts_with_api_keys_from_a_file_and_admits_only_those_keys(
    systems: dict[str, str], tmp_path: Any
) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(API_KEYS))
    for url in _gateway(systems, cache=False, env="production", api_keys_file=keys):
        status, result = ask(url, PUBLIC_QUERY, **{"X-API-Key": PARTNER_KEY})
        assert status == 200
        assert "errors" not in result
        status, result = ask(url, PUBLIC_QUERY, **{"X-API-Key": "not-in-the-file"})
        assert status == 401
        assert [e["extensions"]["code"] for e in result["errors"]] == ["UNAUTHENTICATED"]


def test_a_token_for_an_rs256_key_is_not_accepted_when_no_jwks_is_configured(
    systems: dict[str, str], rsa_key: rsa.RSAPrivateKey
) -> None:
    for gateway in _gateway(systems, jwt_secret=SECRET):
        status, _ = ask(gateway, PUBLIC_QUERY, rs256(rsa_key))
        assert status == 401


# --- WebSocket clients: the credential in connection_init ------------------------------

STOCK_QUERY = '{ product(sku: "10000") { stock { onHand } } }'


async def over_websocket(url: str, init: dict[str, Any], times: int = 1) -> dict[str, Any]:
    """A query sent ``times`` over one graphql-transport-ws connection, after
    connection_init with ``init`` as its payload: the last result, or
    ``{"closed": code}`` when the gateway closes the socket."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            url.replace("http", "ws") + "/graphql", protocols=["graphql-transport-ws"]
        ) as ws,
    ):
        await ws.send_json({"type": "connection_init", "payload": init})
        acked = await ws.receive(timeout=10)
        if acked.type != aiohttp.WSMsgType.TEXT:
            return {"closed": ws.close_code}
        assert json.loads(acked.data)["type"] == "connection_ack"
        result: dict[str, Any] = {}
        for n in range(times):
            subscribe = {"id": str(n), "type": "subscribe", "payload": {"query": STOCK_QUERY}}
            await ws.send_json(subscribe)
            while (message := await ws.receive_json(timeout=10))["type"] != "complete":
                if message["type"] == "next":
                    result = message["payload"]
        return result


async def test_a_websocket_client_may_send_its_token_in_connection_init(url: str) -> None:
    init = {"Authorization": f"Bearer {hs256(role='service_agent')}"}
    result = await over_websocket(url, init)
    assert "errors" not in result
    assert result["data"]["product"]["stock"]


async def test_a_websocket_client_may_send_its_api_key_in_connection_init(url: str) -> None:
    result = await over_websocket(url, {"X-API-Key": PARTNER_KEY})
    assert "errors" not in result
    assert result["data"]["product"]["stock"]


async def test_a_websocket_client_without_a_credential_is_anonymous(url: str) -> None:
    result = await over_websocket(url, {})
    # refused before it runs since issue 18: stock is never an anonymous caller's
    assert result.get("data") is None
    assert [e["extensions"]["code"] for e in result["errors"]] == ["UNAUTHENTICATED"]


async def test_a_credential_in_connection_init_that_does_not_hold_closes_the_socket(
    url: str,
) -> None:
    assert await over_websocket(url, {"Authorization": "Bearer not-a-token"}) == {"closed": 4403}


async def test_each_operation_on_a_websocket_reads_its_sources_afresh(
    url: str, systems: dict[str, str]
) -> None:
    """One context serves a whole connection; its loaders must not serve the second
    query the first one's answers (the gateway's cross-request cache is off here)."""
    init = {"Authorization": f"Bearer {hs256(role='service_agent')}"}
    clear_calls(systems["wms"])
    result = await over_websocket(url, init, times=2)
    assert "errors" not in result
    assert call_count(systems["wms"])["POST /api/v1/stock/query"] == 2
