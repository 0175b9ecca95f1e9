"""Call counts by service and operation, as the benchmarks and fault tests read them.

``calls`` counts every request the proxy received for an operation, including the ones it
refused; ``throttled`` and ``faults`` are the refused/injected subsets, so
``calls - throttled - faults`` reached moto (a fault injected after upstream still did).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from sandbox.awsproxy.identify import Call, is_mutating


class OperationStats(BaseModel):
    """Counts for one (service, operation)."""

    model_config = ConfigDict(frozen=True)

    service: str
    operation: str
    mutating: bool
    calls: int
    throttled: int
    faults: int


class ProxyStats(BaseModel):
    """A snapshot: per-operation counts (sorted) and totals."""

    model_config = ConfigDict(frozen=True)

    operations: tuple[OperationStats, ...]
    calls: int
    throttled: int
    faults: int
    mutating_calls: int
    read_calls: int
    buckets: dict[str, float] = {}

    def get(self, service: str, operation: str) -> OperationStats | None:
        return next(
            (o for o in self.operations if o.service == service and o.operation == operation),
            None,
        )

    def calls_of(self, service: str, operation: str) -> int:
        found = self.get(service, operation)
        return found.calls if found is not None else 0

    def by_service(self, service: str) -> tuple[OperationStats, ...]:
        return tuple(o for o in self.operations if o.service == service)


@dataclass
class _Counts:
    calls: int = 0
    throttled: int = 0
    faults: int = 0


class StatsRecorder:
    """Mutable counters, owned by the proxy's event loop."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], _Counts] = {}

    def call(self, call: Call) -> None:
        self._entry(call).calls += 1

    def throttled(self, call: Call) -> None:
        self._entry(call).throttled += 1

    def fault(self, call: Call) -> None:
        self._entry(call).faults += 1

    def reset(self) -> None:
        self._counts.clear()

    def snapshot(self, buckets: dict[str, float] | None = None) -> ProxyStats:
        ops = tuple(
            OperationStats(
                service=service,
                operation=operation,
                mutating=is_mutating(operation),
                calls=c.calls,
                throttled=c.throttled,
                faults=c.faults,
            )
            for (service, operation), c in sorted(self._counts.items())
        )
        return ProxyStats(
            operations=ops,
            calls=sum(o.calls for o in ops),
            throttled=sum(o.throttled for o in ops),
            faults=sum(o.faults for o in ops),
            mutating_calls=sum(o.calls for o in ops if o.mutating),
            read_calls=sum(o.calls for o in ops if not o.mutating),
            buckets=buckets or {},
        )

    def _entry(self, call: Call) -> _Counts:
        key = (call.service, call.operation)
        entry = self._counts.get(key)
        if entry is None:
            entry = self._counts[key] = _Counts()
        return entry
