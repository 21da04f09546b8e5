"""What `mosaic serve` and `mosaic demo` add to uvicorn's HTTP protocol: a deadline for
a request's headers and a bound on open connections per client address.

An ASGI app is called only once a request's headers are complete, so a client that
trickles them (a byte every half second), or opens a connection and sends nothing,
is invisible to it and would hold the connection for ever: uvicorn has no such
deadline (its keep-alive timer is cancelled by every byte that arrives). Here the
headers must be complete within ``header_timeout_s`` of the connection opening, or of
the first byte of a later request on it; otherwise the client gets a coded 408 and the
connection is closed. A client address may hold at most ``max_connections_per_client``
connections at once; one more gets a coded 429 and is closed. The body's own deadline
is the app's (``gateway/http/body.py``), whatever server runs it. A refused connection
lingers (:class:`LingeringTransport`), but no more than ``max_lingering_connections``
at once: a client opening connections faster than it is refused must not make the
server hold a descriptor for each of them (3,000 opened at once held 3,017).

Behind a proxy every connection comes from the proxy: set
``MOSAIC_MAX_CONNECTIONS_PER_CLIENT=0`` there and let the proxy count (nginx's
``limit_conn``, docker/nginx.conf). The limits come from the settings when the first
connection arrives. Counts are per process: with ``--workers N`` a client may hold N
times as many.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, ClassVar

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from adapters.errors import ErrorCode
from gateway.http.graphql_http import HTTP_CODES, error_body
from gateway.settings import Settings

#: the class's import path, for uvicorn's ``http`` option (``mosaic serve``'s workers)
IMPORT_PATH = "gateway.http.server:GuardedHttpProtocol"
REASONS = {408: b"Request Timeout", 429: b"Too Many Requests"}
#: how long a closed connection still reads (and drops) what its client sends
LINGER_S = 2.0


class Lingering:
    """How many refused connections of one server linger now, and how many may."""

    def __init__(self, most: int) -> None:
        self.most = most
        self.now = 0


class LingeringTransport:
    """A connection's transport that closes as careful servers do (nginx's "lingering
    close"): the answer is sent and the writing side shut (the client reads it to its
    end), while whatever the client is still sending (the rest of a body refused with
    408) is read and dropped for up to ``LINGER_S``. Closed at once instead, a socket
    with unread data answers the client's next bytes with a reset, and the client may
    lose the answer it was sent; so a refused client saw "connection reset", not 408.
    Past ``lingering.most`` connections lingering at once, it is closed at once."""

    def __init__(
        self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop, lingering: Lingering
    ) -> None:
        self._transport = transport
        self._loop = loop
        self._lingering = lingering
        self._counted = False
        self.lingering = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def is_closing(self) -> bool:
        return self.lingering or self._transport.is_closing()

    def close(self) -> None:
        if self.lingering or self._transport.is_closing():
            return
        self.lingering = True
        if not self._transport.can_write_eof() or self._lingering.now >= self._lingering.most:
            self._transport.close()
            return
        self._lingering.now += 1
        self._counted = True
        self._transport.write_eof()
        self._transport.resume_reading()  # drained, not left for a reset
        self._loop.call_later(LINGER_S, self.closed_by_client)

    def closed_by_client(self) -> None:
        """Closed: the client has read its answer and is done, or its time is up."""
        if self._counted:
            self._counted = False
            self._lingering.now -= 1
        self._transport.close()


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline and a per-client bound."""

    #: None: read from the settings (MOSAIC_HEADER_TIMEOUT_S, ..._CONNECTIONS_PER_CLIENT,
    #: ..._LINGERING_CONNECTIONS)
    header_timeout_s: ClassVar[float | None] = None
    max_connections_per_client: ClassVar[int | None] = None
    lingering: ClassVar[Lingering | None] = None
    open_by_client: ClassVar[Counter[str]] = Counter()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._counted_as: str | None = None

    @classmethod
    def _limits(cls) -> tuple[float, int, Lingering]:
        if (
            cls.header_timeout_s is None
            or cls.max_connections_per_client is None
            or cls.lingering is None
        ):
            settings = Settings()
            cls.header_timeout_s = settings.server.header_timeout_s
            cls.max_connections_per_client = settings.server.max_connections_per_client
            cls.lingering = Lingering(settings.server.max_lingering_connections)
        return cls.header_timeout_s, cls.max_connections_per_client, cls.lingering

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        header_timeout_s, most, lingering = self._limits()
        self.transport = self._closing = LingeringTransport(transport, self.loop, lingering)  # type: ignore[assignment]
        address = self.client[0] if self.client else None
        if address is not None and most:
            if self.open_by_client[address] >= most:
                message = f"{most} connections from your address are open already; close one"
                self._refuse(429, message, ErrorCode.RATE_LIMITED)
                return
            self.open_by_client[address] += 1
            self._counted_as = address
        self._arm(header_timeout_s)

    def data_received(self, data: bytes) -> None:
        if not self._closing.lingering:  # else: what a refused client still sends
            super().data_received(data)

    def eof_received(self) -> None:
        if self._closing.lingering:  # the client has read its answer and is done
            self._closing.closed_by_client()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_deadline is None:  # a later request on a kept-alive connection
            self._arm(self._limits()[0])

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def handle_websocket_upgrade(self) -> None:
        self._release()  # a WebSocket is another protocol's connection from here on
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._release()
        super().connection_lost(exc)

    def _arm(self, seconds: float) -> None:
        self._header_deadline = self.loop.call_later(seconds, self._headers_too_slow, seconds)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _release(self) -> None:
        if self._counted_as is not None:
            self.open_by_client[self._counted_as] -= 1
            if self.open_by_client[self._counted_as] <= 0:
                del self.open_by_client[self._counted_as]
            self._counted_as = None

    def _headers_too_slow(self, seconds: float) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self._refuse(408, f"the request's headers did not arrive within {seconds:g} s")

    def _refuse(self, status: int, message: str, code: str | None = None) -> None:
        """A coded JSON answer written straight to the socket (there is no request for
        the app to answer), and the connection closed."""
        body = orjson.dumps(error_body(message, code or HTTP_CODES[status]))
        head = (
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n"
        ) % (status, REASONS[status], len(body))
        self.transport.write(head + body)
        self.transport.close()
