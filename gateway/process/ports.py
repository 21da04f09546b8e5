"""Claiming a listening port before anything is started on the strength of it.

`mosaic demo` used to pick its simulated systems' ports first and bind its own last:
with the port taken it seeded four systems, announced itself, and only then failed
(and a system could even be handed the demo's own port). A claimed port is bound at
once and held, not yet listening, until the server takes the socket over: nobody else
can bind it meanwhile, the kernel never hands it out as a free port, and connections
are refused, not queued, until the server really serves.
"""

from __future__ import annotations

import errno
import socket


class PortTaken(Exception):
    """The port cannot be had; the message says which and what to do."""


def claim(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (not listening yet: uvicorn's ``sockets=`` starts
    that, after ``for_serving``), or PortTaken.

    Bound without SO_REUSEADDR, the port is ours alone: Linux lets nobody else bind it,
    with or without that option. Only when that fails is SO_REUSEADDR tried, which
    succeeds where nothing listens and what holds the port are the closed connections
    of a server just stopped (TIME_WAIT): a demo restarted at once is not refused."""
    for reuse in (False, True):
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, int(reuse))
        try:
            sock.bind((host, port))
        except OSError as error:
            sock.close()
            if error.errno != errno.EADDRINUSE:
                raise PortTaken(f"cannot listen on {host}:{port}: {error.strerror}") from None
        else:
            return sock
    raise PortTaken(
        f"port {port} on {host} is taken by another program; choose another with --port"
    )


def for_serving(sock: socket.socket) -> socket.socket:
    """Just before the server listens: SO_REUSEADDR, which its connections inherit, so
    those it leaves in TIME_WAIT when it stops do not keep the next start off the port."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing is bound to now (the kernel's pick, never a claimed one)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
