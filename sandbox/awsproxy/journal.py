"""The call log: every call the proxy received, in order, with when and how it went.

Counts (``stats``) say how many; some tests need which and in what order (a rollout
registers every new target before it deregisters an old one). The journal keeps, for each
call, a sequence number, the wall-clock time it arrived, its service and operation, the
HTTP status it was answered with, and, for mutating calls of the query protocols (elbv2,
ec2), its form parameters (``Targets.member.1.Id``, ...). It is bounded (the oldest go
first), so a benchmark of a million calls does not grow without end.
"""

from __future__ import annotations

import time
from collections import deque
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict

from sandbox.awsproxy.identify import Call

MAX_ENTRIES = 100_000


class JournalEntry(BaseModel):
    """One call."""

    model_config = ConfigDict(frozen=True)

    seq: int
    at: float  # time.time() when it arrived
    service: str
    operation: str
    status: int  # what the proxy answered (0: no answer, a reset or a timeout)
    params: dict[str, list[str]] = {}

    def targets(self) -> list[str]:
        """`Targets.member.N.Id` of a RegisterTargets or DeregisterTargets, in order."""
        found = [
            (int(key.split(".")[2]), values[0])
            for key, values in self.params.items()
            if key.startswith("Targets.member.") and key.endswith(".Id")
        ]
        return [target for _, target in sorted(found)]


class Journal:
    """The entries, on the proxy's event loop."""

    def __init__(self, size: int = MAX_ENTRIES) -> None:
        self._entries: deque[JournalEntry] = deque(maxlen=size)
        self._seq = 0

    def record(self, call: Call, body: bytes, status: int, at: float | None = None) -> None:
        self._seq += 1
        params: dict[str, list[str]] = {}
        if call.mutating and call.protocol in ("query", "ec2"):
            params = parse_qs(body.decode(errors="replace"), keep_blank_values=True)
        self._entries.append(
            JournalEntry(
                seq=self._seq,
                at=time.time() if at is None else at,
                service=call.service,
                operation=call.operation,
                status=status,
                params=params,
            )
        )

    def entries(self, since: int = 0) -> list[JournalEntry]:
        """The entries after sequence number `since`, oldest first."""
        return [e for e in self._entries if e.seq > since]

    def clear(self) -> None:
        self._entries.clear()
