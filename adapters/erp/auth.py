"""How the ERP adapter signs its requests: a NAV web service user's HTTP Basic
credentials, or a Business Central OAuth2 access token (client credentials grant).

The token is fetched from the token endpoint once, kept, and fetched anew
``RENEW_BEFORE_S`` before it expires (by the clock passed in), so no request is sent
with a token about to lapse; requests arriving together share one fetch, and its
failure. A token the ERP refuses is dropped, so the next call fetches another.
Credentials never appear in an error or a log line: a refusal says which endpoint
refused, not what was sent.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import aiohttp

from adapters.config import ErpConfig
from adapters.errors import BadUpstreamResponse, UpstreamAuthFailed
from adapters.transport.exchange import exchange
from adapters.transport.single_flight import SingleFlight

SOURCE = "erp"
#: Renew a token this long before it expires.
RENEW_BEFORE_S = 60.0

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    renew_at: float  # by the clock


class Credentials:
    """The Authorization header of the ERP's requests, per the configuration."""

    def __init__(
        self, session: aiohttp.ClientSession, config: ErpConfig, clock: Clock = time.monotonic
    ) -> None:
        self.session = session
        self.config = config
        self.clock = clock
        self._token: _Token | None = None
        self._fetching: SingleFlight[None, _Token] = SingleFlight()
        self.fetches = 0  # token requests made (tests read it)

    async def headers(self, timeout_s: float) -> dict[str, str]:
        config = self.config
        if config.token_url:
            return {"Authorization": f"Bearer {await self._bearer(timeout_s)}"}
        if config.username and config.password:
            pair = f"{config.username}:{config.password.get_secret_value()}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        return {}

    def refused(self) -> None:
        """The ERP refused the credentials: fetch a new token next time."""
        self._token = None

    async def _bearer(self, timeout_s: float) -> str:
        token = self._token
        if token is not None and self.clock() < token.renew_at:
            return token.value
        token = self._token = await self._fetching(None, partial(self._fetch, timeout_s))
        return token.value

    async def _fetch(self, timeout_s: float) -> _Token:
        config = self.config
        assert config.token_url
        assert config.client_id
        assert config.client_secret
        form = {
            "grant_type": "client_credentials",
            "client_id": config.client_id,
            "client_secret": config.client_secret.get_secret_value(),
            **({"scope": config.scope} if config.scope else {}),
        }
        self.fetches += 1
        asked = self.clock()
        reply = await exchange(SOURCE, self.session, "POST", config.token_url, timeout_s, data=form)
        try:
            body = json.loads(reply.payload)
        except ValueError:
            body = None
        if reply.status in (400, 401) and isinstance(body, dict) and "error" in body:
            raise UpstreamAuthFailed(
                SOURCE, f"the token endpoint refused the client credentials ({body['error']})"
            )
        if reply.status != 200 or not isinstance(body, dict):
            raise BadUpstreamResponse(SOURCE, f"token endpoint answered HTTP {reply.status}")
        try:
            value = str(body["access_token"])
            lifetime = float(body.get("expires_in", 3600))
        except (KeyError, TypeError, ValueError) as exc:
            raise BadUpstreamResponse(SOURCE, "token endpoint answered no access token") from exc
        return _Token(value, asked + max(lifetime - RENEW_BEFORE_S, 0.0))
