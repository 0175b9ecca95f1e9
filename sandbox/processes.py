"""Small helpers for the sandbox's child processes: free ports, and dying with the parent."""

from __future__ import annotations

import ctypes
import signal
import socket


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
