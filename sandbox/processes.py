"""Small helpers for the sandbox's child processes: free ports, dying with the parent, and
whether a server answers yet."""

from __future__ import annotations

import ctypes
import signal
import socket
import ssl
import urllib.request


def free_port() -> int:
    """A port nobody listens on at 127.0.0.1 right now (never a fixed one: another
    controller or sandbox may be running on this machine)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def die_with_parent() -> None:
    """`preexec_fn` of a child: the kernel sends it SIGTERM when the thread that started it
    dies (PR_SET_PDEATHSIG), so a killed test run leaves no server behind."""
    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def answers(url: str, context: ssl.SSLContext | None = None) -> bool:
    """True once `url` answers with a success (an error status or no connection: False)."""
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return bool(response.status < 400)
    except OSError:  # refused, timed out, or an HTTP error status (HTTPError is an OSError)
        return False
