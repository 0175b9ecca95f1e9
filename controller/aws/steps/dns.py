"""The DNS step: each rule host's alias records point at the load balancer (Route 53).

Last on apply, so records point at a load balancer that already routes; first on teardown,
so no record points at one that is going. The records themselves are kept by a `DnsHook`
(`controller/aws/route53.py`), which also reports hosts it found owned by someone else.
"""

from __future__ import annotations

from typing import Protocol

from controller.aws.live import LiveStack
from controller.aws.steps.run import DeployRun
from controller.aws.warnings import DeployWarning
from controller.model.stack import Stack


class DnsHook(Protocol):
    """Route 53 alias records for a stack (implemented in `controller/aws/route53.py`)."""

    def sync(
        self, stack: Stack, alias_dns_name: str, alias_zone_id: str
    ) -> tuple[DeployWarning, ...]:
        """Point the stack's records at the load balancer; returns warnings."""
        ...

    def delete(self, stack_id: str) -> tuple[DeployWarning, ...]:
        """Remove the records we own for the stack; returns warnings."""
        ...

    def contested(self, stack_id: str) -> bool:
        """Whether the stack's last sync left a host another stack of this cluster holds."""
        ...


class DnsStep:
    name = "DNS"
    # Records are removed before the load balancer they point at goes.
    gates_teardown = True

    def __init__(self, dns: DnsHook) -> None:
        self._dns = dns

    def apply(self, run: DeployRun) -> None:
        balancer = run.balancer.data
        dns_name = str(balancer["DNSName"]).lower()
        run.warnings += self._dns.sync(run.stack, dns_name, str(balancer["CanonicalHostedZoneId"]))
        run.complete = not self._dns.contested(run.stack.id)

    def cleanup(self, run: DeployRun) -> None:
        return None  # `sync` removes the records of hosts the stack no longer has

    def teardown(self, stack_id: str, live: LiveStack) -> None:
        self._dns.delete(stack_id)
