"""Authentication: who is asking, from a bearer token or a partner's API key.

- ``Authorization: Bearer <JWT>``: HS256 with the shared ``MOSAIC_JWT_SECRET`` (what
  ``mosaic token`` mints), RS256 with the keys published at ``MOSAIC_JWKS_URL`` (an
  identity provider's). The header's ``alg`` picks the key, and only that algorithm is
  accepted with it: ``alg: none`` and an HS256 token signed with a public key are
  refused. ``exp``, ``sub`` and ``role`` are required; ``aud`` and ``iss`` are checked
  when configured. Claims: ``role`` (customer, store_employee, service_agent,
  marketing, partner, service), ``channel``, ``store``, ``customer`` (the customer's
  own id, required for role customer), ``partner``, ``scopes`` (a list, or OAuth's
  space-separated ``scope``), ``purpose``.
- ``X-API-Key: <key>``: a partner's key from ``MOSAIC_API_KEYS`` (or its file), which
  names the partner and its scopes.

A bad credential is refused at the door with HTTP 401 and ``UNAUTHENTICATED``; no
credential is the ``anonymous`` caller, who sees the public catalogue only. With nothing
configured the gateway runs open (development): everyone is the ``open`` principal and
reads everything, said loudly at start-up and in ``/readyz``; ``MOSAIC_ENV=production``
refuses to start that way.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.errors import ConfigurationError, Unauthenticated
from gateway.settings import ApiKey, Settings
from resolvers.graphql.types.common import Channel
from resolvers.privacy.principal import ANONYMOUS, OPEN, ROLES, Principal

#: seconds of clock difference tolerated on exp / nbf / iat
LEEWAY_S = 30
#: how long keys fetched from the JWKS URL are used before it is asked again
JWKS_LIFESPAN_S = 300
JWKS_TIMEOUT_S = 5
PRINCIPAL = "mosaic.principal"  # the request state's key
WS_UNAUTHORIZED = 4401  # close code of a refused WebSocket (4000-4999: the application's)
OPEN_WARNING = (
    "no authentication configured: every caller may read every customer "
    "(development only; MOSAIC_ENV=production refuses to start like this)"
)


#: Production's floors for shared credentials. HS256 is HMAC-SHA256: a key shorter than
#: the hash (32 bytes, RFC 7518 section 3.2) can be searched offline from one token. An
#: API key of 24 random characters is some 140 bits; a shorter one can be guessed.
MIN_HS256_SECRET_BYTES = 32
MIN_API_KEY_CHARS = 24


def auth_configured(settings: Settings) -> bool:
    return bool(
        settings.auth.jwt_secret
        or settings.auth.jwks_url
        or settings.auth.api_keys
        or settings.auth.api_keys_file
    )


def check_mode(settings: Settings) -> None:
    """Production never runs open, nor with a credential that can be guessed."""
    if settings.env != "production":
        return
    if not auth_configured(settings):
        raise ConfigurationError(
            "MOSAIC_ENV=production needs authentication: set MOSAIC_JWT_SECRET, "
            "MOSAIC_JWKS_URL, MOSAIC_API_KEYS or MOSAIC_API_KEYS_FILE. Refusing to start "
            "open, where every caller could read every customer."
        )
    secret = (
        settings.auth.jwt_secret.get_secret_value().encode() if settings.auth.jwt_secret else None
    )
    if secret is not None and len(secret) < MIN_HS256_SECRET_BYTES:
        raise ConfigurationError(
            f"MOSAIC_JWT_SECRET is {len(secret)} bytes; production needs at least "
            f"{MIN_HS256_SECRET_BYTES} random bytes for HS256 (e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    short = [
        grant.partner
        for key, grant in load_api_keys(settings).items()
        if len(key) < MIN_API_KEY_CHARS
    ]
    if short:
        raise ConfigurationError(
            f"the API keys of {', '.join(sorted(short))} are shorter than "
            f"{MIN_API_KEY_CHARS} characters; production needs longer random keys"
        )


def describe(settings: Settings) -> dict[str, object]:
    """The mode, for /readyz and the start-up log."""
    if not auth_configured(settings):
        return {"mode": "open", "env": settings.env, "warning": OPEN_WARNING}
    credentials = [
        name
        for name, on in (
            ("jwt-hs256", settings.auth.jwt_secret),
            ("jwt-rs256-jwks", settings.auth.jwks_url),
            ("api-keys", settings.auth.api_keys or settings.auth.api_keys_file),
        )
        if on
    ]
    return {"mode": "authenticated", "env": settings.env, "credentials": credentials}


def load_api_keys(settings: Settings) -> dict[str, ApiKey]:
    keys = dict(settings.auth.api_keys)
    if settings.auth.api_keys_file:
        raw = json.loads(settings.auth.api_keys_file.read_text())
        keys.update({key: ApiKey.model_validate(grant) for key, grant in raw.items()})
    return keys


@dataclass(frozen=True, slots=True)
class Authenticator:
    configured: bool
    secret: str | None = None
    jwks: jwt.PyJWKClient | None = None
    audience: str | None = None
    issuer: str | None = None
    api_keys: Mapping[str, ApiKey] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        return cls(
            configured=auth_configured(settings),
            secret=settings.auth.jwt_secret.get_secret_value()
            if settings.auth.jwt_secret
            else None,
            jwks=jwt.PyJWKClient(
                settings.auth.jwks_url, lifespan=JWKS_LIFESPAN_S, timeout=JWKS_TIMEOUT_S
            )
            if settings.auth.jwks_url
            else None,
            audience=settings.auth.jwt_audience,
            issuer=settings.auth.jwt_issuer,
            api_keys=load_api_keys(settings),
        )

    async def principal(self, headers: Headers) -> Principal:
        """The caller; raises Unauthenticated for a credential that does not hold."""
        if not self.configured:
            return OPEN
        authorization = headers.get("authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("send the token as `Authorization: Bearer <token>`")
            return await self._from_token(token.strip())
        api_key = headers.get("x-api-key")
        if api_key is not None:
            return self._from_api_key(api_key)
        return ANONYMOUS

    async def _from_token(self, token: str) -> Principal:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            if algorithm == "HS256" and self.secret:
                key: Any = self.secret
            elif algorithm == "RS256" and self.jwks is not None:
                # PyJWKClient fetches with urllib (blocking); it caches the key set
                signing_key = await asyncio.to_thread(self.jwks.get_signing_key_from_jwt, token)
                key = signing_key.key
            else:
                raise Unauthenticated(f"tokens signed with {algorithm!r} are not accepted here")
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "sub", "role"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("the token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthenticated("the token is not for this audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthenticated("the token is not from the expected issuer") from exc
        except jwt.InvalidSignatureError as exc:
            raise Unauthenticated("the token's signature does not verify") from exc
        except jwt.PyJWKClientError as exc:
            raise Unauthenticated(f"no key to verify the token: {exc}") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"the token is not valid: {exc}") from exc
        return principal_of(claims)

    def _from_api_key(self, presented: str) -> Principal:
        for key, grant in (self.api_keys or {}).items():
            if hmac.compare_digest(key.encode(), presented.encode()):
                return Principal(
                    role="partner",
                    subject=f"partner:{grant.partner}",
                    partner=grant.partner,
                    scopes=frozenset(grant.scopes),
                )
        raise Unauthenticated("unknown API key")


def principal_of(claims: Mapping[str, Any]) -> Principal:
    """A verified token's claims as the caller; a claim of the wrong shape refuses it."""
    role = _claim(claims, "role")
    if role not in ROLES:
        raise Unauthenticated(f"unknown role {role!r}")
    channel = _claim(claims, "channel")
    if channel is not None and channel.upper() not in {c.value for c in Channel}:
        raise Unauthenticated(f"unknown channel {channel!r}")
    customer = _claim(claims, "customer")
    if role == "customer" and not customer:
        raise Unauthenticated("a customer's token needs the customer claim (their id)")
    scopes = claims.get("scopes", (claims.get("scope") or "").split())
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise Unauthenticated("scopes must be a list of strings")
    return Principal(
        role=role,  # type: ignore[arg-type]  # checked against ROLES above
        subject=_claim(claims, "sub"),
        channel=channel.upper() if channel else None,
        store=_claim(claims, "store"),
        customer=customer,
        partner=_claim(claims, "partner"),
        scopes=frozenset(scopes),
        purpose=_claim(claims, "purpose"),
    )


def _claim(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is not None and not isinstance(value, str):
        raise Unauthenticated(f"claim {name} must be a string")
    return value


def mint_token(
    secret: str,
    role: str,
    *,
    subject: str | None = None,
    customer: str | None = None,
    store: str | None = None,
    channel: str | None = None,
    partner: str | None = None,
    scopes: Iterable[str] = (),
    purpose: str | None = None,
    ttl_s: int = 3600,
    audience: str | None = None,
    issuer: str | None = None,
) -> str:
    """An HS256 token, as an identity provider would issue it (development and tests);
    claims the gateway would refuse (a customer's token without the customer) raise
    Unauthenticated instead: the rules are ``principal_of``'s, stated once."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(sorted(ROLES))}")
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject or customer or f"dev-{role}",
        "role": role,
        "iat": now,
        "exp": now + ttl_s,
    }
    optional = {
        "customer": customer,
        "store": store,
        "channel": channel,
        "partner": partner,
        "purpose": purpose,
        "aud": audience,
        "iss": issuer,
    }
    claims.update({name: value for name, value in optional.items() if value})
    if scopes:
        claims["scopes"] = list(scopes)
    principal_of(claims)
    return jwt.encode(claims, secret, algorithm="HS256")


def principal_from(request: HTTPConnection) -> Principal:
    """The caller AuthGate found; anonymous if the request did not pass the gate
    (fail closed: an unguarded route never sees more than the public catalogue)."""
    principal: Principal = request.scope.get("state", {}).get(PRINCIPAL, ANONYMOUS)
    return principal


class AuthGate:
    """ASGI middleware in front of /graphql: finds the caller, or refuses before anything
    else runs (no parsing, no upstream call): HTTP 401, or a WebSocket (subscriptions)
    closed at the handshake."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            try:
                principal = await self.authenticator.principal(Headers(scope=scope))
            except Unauthenticated as error:
                if scope["type"] == "http":
                    await unauthorized(error)(scope, receive, send)
                else:
                    await receive()  # websocket.connect
                    await send({"type": "websocket.close", "code": WS_UNAUTHORIZED})
                return
            scope.setdefault("state", {})[PRINCIPAL] = principal
        await self.app(scope, receive, send)


def unauthorized(error: Unauthenticated) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": error.message, "extensions": {"code": error.code}}]},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )
