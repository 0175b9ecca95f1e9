"""Leader election on a coordination.k8s.io Lease, so two replicas run one active controller.

Why not kopf peering: it pauses a whole operator, watches included, so a standby starts
cold; here every replica keeps its watch cache warm and only the leader reconciles, so a
takeover costs one lease duration, not a full resync.

Why our own elector, not the `kubernetes` client's `leaderelection`: its thread died on the
first `MaxRetryError` when the API server was unreachable for 3 s, without calling
`on_lost`, so the process kept reconciling while a standby took over (two writers); a 403
on the Lease was retried every 2 s with nothing in the log; with the API server down at
start-up it died at once. This one has client-go's LeaseLock semantics and cannot die
quietly:
- a candidate takes the Lease when it is free, released, or unchanged for a whole lease
  duration as measured on *its own* clock since it last saw the record change (no clock
  comparison across machines), and writes with the record's resourceVersion (optimistic);
- the leader renews every `retry` seconds; every failed attempt is logged with its reason
  (status and message: a 403 names the missing RBAC verb);
- `may_write()` is true only while the last renewal is younger than `renew_deadline`
  (monotonic clock, so a SIGSTOPped leader finds it false the moment it resumes). The AWS
  layer asks it before every call, so a leader that cannot renew stops writing at once,
  `renew_deadline` (10 s) before a standby may take over (15 s);
- past the renew deadline `on_lost` runs (the process exits non-zero and the Deployment
  restarts it), also when the loop itself fails unexpectedly.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s

logger = logging.getLogger(__name__)

LEASE_NAME = "alb-ingress-controller-leader"
OURS, THEIRS, FAILED = "ours", "theirs", "failed"


def _now_iso() -> str:
    return (
        datetime.datetime.now(datetime.UTC)
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )


def _reason(error: Exception) -> str:
    """One line saying why a Lease call failed."""
    if isinstance(error, k8s.ApiException):
        hint = " (RBAC: the Role must allow get, update and create on this Lease)" if (
            error.status == 403
        ) else ""  # fmt: skip
        return f"HTTP {error.status} {error.reason}{hint}"
    return f"{type(error).__name__}: {error}"


@dataclass
class LeaseRecord:
    holder: str
    duration: int
    transitions: int
    resource_version: str


class LeaderElector:
    """Run `run()` in a thread; `may_write()` from any thread."""

    def __init__(
        self,
        api: Any,
        namespace: str,
        identity: str,
        *,
        on_started: Callable[[], None],
        on_lost: Callable[[], None],
        name: str = LEASE_NAME,
        lease_seconds: float = 15.0,
        renew_deadline: float = 10.0,
        retry_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        leases: Any = None,  # a CoordinationV1Api (tests pass a fake)
    ) -> None:
        assert renew_deadline < lease_seconds, "a leader must stop before others may take over"
        self._leases: Any = leases or k8s.CoordinationV1Api(api)
        self.namespace, self.identity, self.name = namespace, identity, name
        self._on_started, self._on_lost = on_started, on_lost
        self.lease_seconds, self.renew_deadline = lease_seconds, renew_deadline
        self.retry_seconds = retry_seconds
        self._clock, self._sleep = clock, sleep
        self._renewed_at: float | None = None  # our last successful write as leader
        self._observed: tuple[str, float] | None = None  # (resourceVersion, when first seen)
        self._stop = threading.Event()
        # Each attempt must end well within the renew deadline, even on a dead connection.
        self._timeout = max(1.0, min(retry_seconds * 2, renew_deadline / 3))

    # --- state ---------------------------------------------------------------------------

    def may_write(self) -> bool:
        renewed = self._renewed_at
        return renewed is not None and self._clock() - renewed < self.renew_deadline

    def stop(self) -> None:
        self._stop.set()

    # --- the loop ------------------------------------------------------------------------

    def run(self) -> None:
        try:
            self._acquire()
            if self._stop.is_set():
                return
            logger.info("%s acquired the leader lease %s/%s", self.identity, self.namespace,
                        self.name)  # fmt: skip
            self._on_started()
            self._renew()
        except Exception:
            logger.exception("leader election failed unexpectedly; stopping")
        if not self._stop.is_set():
            self._on_lost()

    def _acquire(self) -> None:
        while not self._stop.is_set():
            if self._try() == OURS:
                return
            self._sleep(self.retry_seconds)

    def _renew(self) -> None:
        while not self._stop.is_set():
            self._sleep(self.retry_seconds)
            result = self._try()
            if result == OURS:
                continue
            if result == THEIRS:
                self._renewed_at = None
                logger.error(
                    "%s lost the leader lease %s/%s to another replica; stopping writes and "
                    "exiting", self.identity, self.namespace, self.name,
                )  # fmt: skip
                return
            if not self.may_write():
                logger.error(
                    "%s could not renew the leader lease %s/%s for %.0fs (deadline %.0fs); "
                    "stopping writes and exiting so the Deployment restarts this replica",
                    self.identity, self.namespace, self.name,
                    self._clock() - (self._renewed_at or 0), self.renew_deadline,
                )  # fmt: skip
                return

    def _try(self) -> str:
        """One attempt to take or keep the Lease: OURS, THEIRS (another replica holds it)
        or FAILED (the API said no or did not answer; logged)."""
        started = self._clock()
        try:
            lease = self._read()
            if lease is None:
                self._create()
            else:
                record = self._record(lease)
                if (
                    record.holder
                    and record.holder != self.identity
                    and not self._expired(record, started)
                ):
                    return THEIRS
                self._update(lease, record)
        except Exception as error:
            logger.warning("leader lease %s/%s: %s", self.namespace, self.name, _reason(error))
            return FAILED
        self._renewed_at = started  # the write was accepted after this instant
        return OURS

    def _expired(self, record: LeaseRecord, now: float) -> bool:
        """Unchanged for a whole lease duration since we first saw this version."""
        if self._observed is None or self._observed[0] != record.resource_version:
            self._observed = (record.resource_version, now)
            return False
        return now - self._observed[1] > record.duration

    # --- API calls -----------------------------------------------------------------------

    def _read(self) -> Any | None:
        try:
            return self._leases.read_namespaced_lease(
                self.name, self.namespace, _request_timeout=self._timeout
            )
        except k8s.ApiException as error:
            if error.status == 404:
                return None
            raise

    @staticmethod
    def _record(lease: Any) -> LeaseRecord:
        spec = lease.spec
        return LeaseRecord(
            holder=(spec.holder_identity if spec else None) or "",
            duration=int((spec.lease_duration_seconds if spec else None) or 15),
            transitions=int((spec.lease_transitions if spec else None) or 0),
            resource_version=str(lease.metadata.resource_version),
        )

    def _spec(self, transitions: int, acquired: bool) -> dict[str, Any]:
        now = _now_iso()
        spec: dict[str, Any] = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.lease_seconds),
            "renewTime": now,
            "leaseTransitions": transitions,
        }
        if acquired:
            spec["acquireTime"] = now
        return spec

    def _create(self) -> None:
        body = {"metadata": {"name": self.name, "namespace": self.namespace},
                "spec": self._spec(0, acquired=True)}  # fmt: skip
        self._leases.create_namespaced_lease(self.namespace, body, _request_timeout=self._timeout)

    def _update(self, lease: Any, record: LeaseRecord) -> None:
        taking = record.holder != self.identity
        spec = self._spec(record.transitions + (1 if taking else 0), acquired=taking)
        if not taking and lease.spec is not None and lease.spec.acquire_time is not None:
            spec["acquireTime"] = lease.spec.acquire_time.isoformat().replace("+00:00", "Z")
        body = {
            "metadata": {"name": self.name, "namespace": self.namespace,
                         "resourceVersion": record.resource_version},
            "spec": spec,
        }  # fmt: skip
        self._leases.replace_namespaced_lease(
            self.name, self.namespace, body, _request_timeout=self._timeout
        )


def start_election(
    api: Any,
    namespace: str,
    identity: str,
    *,
    on_started: Callable[[], None],
    on_lost: Callable[[], None],
) -> LeaderElector:
    """Run the election in a daemon thread; callbacks run in that thread."""
    elector = LeaderElector(api, namespace, identity, on_started=on_started, on_lost=on_lost)
    threading.Thread(target=elector.run, name="leader-election", daemon=True).start()
    return elector
