"""The load balancer step: the stack's one ALB, created or changed in place.

Which live load balancer the stack keeps is chosen before any step (`choose`), because the
target groups need it: one tagged for the stack's load balancer with the wanted scheme,
the one with the wanted name first. A scheme change is make-before-break: the new load
balancer gets its listeners, rules and target groups, DNS moves, and the old one goes in
cleanup. A fixed `load-balancer-name` held by our old load balancer of the other scheme
cannot wait for that: the old one goes first, with a warning.

The LCU reservation (`minimum-load-balancer-capacity`) is read and changed only when the
stack asks for one. AWS takes it only once the load balancer is active, so for a load
balancer still provisioning (one made in this deploy) it waits: the deploy is marked
incomplete and the next reconcile makes the reservation, as LBC requeues for it.
"""

from __future__ import annotations

import logging

from controller.aws.clients import AwsClients
from controller.aws.errors import AwsError
from controller.aws.live import LiveLoadBalancer, LiveStack
from controller.aws.load_balancers import CapacityReservations, LoadBalancers
from controller.aws.steps.run import DeployRun
from controller.aws.tags import carries_stack_tags
from controller.aws.warnings import (
    CAPACITY_RESERVATION_FAILED,
    CUSTOMER_OWNED_IPV4_POOL_UNCHANGED,
    LOAD_BALANCER_REPLACED,
)
from controller.model.stack import LOAD_BALANCER_RESOURCE_ID, TAG_RESOURCE

log = logging.getLogger(__name__)


class LoadBalancerStep:
    name = "load balancer"
    # Its target groups and security groups stay in use until it is gone.
    gates_teardown = True

    def __init__(self, clients: AwsClients, cluster: str) -> None:
        self._api = LoadBalancers(clients)
        self._capacity = CapacityReservations(clients)
        self._cluster = cluster

    def choose(self, run: DeployRun) -> None:
        """Record the live load balancer the stack keeps (None: one is made) and those that
        go in cleanup."""
        keeper, replaced = self._pair(run)
        if keeper is None:
            keeper, replaced = self._claim_name(run, replaced)
        run.load_balancer, run.replaced = keeper, replaced

    def apply(self, run: DeployRun) -> None:
        stack = run.stack
        subnets = run.placement.subnet_ids
        tags = run.tags(LOAD_BALANCER_RESOURCE_ID)
        if run.load_balancer is None:
            run.load_balancer = self._api.create(
                stack.load_balancer, subnets, run.security_groups, tags
            )
            run.created_load_balancer = True
        else:
            self._api.update(
                stack.load_balancer, run.load_balancer, subnets, run.security_groups, tags
            )
            self._check_customer_owned_pool(run, run.load_balancer)
        if stack.load_balancer.minimum_load_balancer_capacity is not None:
            self._reserve(run, stack.load_balancer.minimum_load_balancer_capacity.capacity_units)

    def _check_customer_owned_pool(self, run: DeployRun, live: LiveLoadBalancer) -> None:
        """AWS fixes the pool when the load balancer is made; like LBC, we do not replace the
        load balancer for a different one, but say so."""
        wanted = run.stack.load_balancer.customer_owned_ipv4_pool
        have = live.data.get("CustomerOwnedIpv4Pool") or None
        if wanted != have:
            run.warn(
                CUSTOMER_OWNED_IPV4_POOL_UNCHANGED,
                f"load balancer {run.stack.load_balancer.name} keeps customer-owned IPv4 pool "
                f"{have or 'none'} (customer-owned-ipv4-pool: {wanted or 'not set'}): the pool "
                "is fixed when a load balancer is made; re-create the Ingress to change it",
            )

    def _reserve(self, run: DeployRun, units: int) -> None:
        """Make the LCU reservation `units` (0: none), once the load balancer is active."""
        balancer = run.balancer
        name = run.stack.load_balancer.name
        state = (balancer.data.get("State") or {}).get("Code")
        if run.created_load_balancer or state == "provisioning":
            if units:
                log.info("load balancer %s is provisioning: its LCU reservation waits", name)
                run.complete = False
            return
        current = self._capacity.current(balancer.arn)
        for failure in current.failed:
            run.warn(
                CAPACITY_RESERVATION_FAILED,
                f"load balancer {name}: the LCU reservation of {current.units} failed in {failure}",
            )
        if current.units == (units or None):
            return
        if current.pending:
            # AWS refuses a change while the last one provisions (CapacityReservationPending).
            log.info("load balancer %s: LCU reservation pending; changed later", name)
            run.complete = False
        elif units:
            self._capacity.reserve(balancer.arn, units)
        else:
            self._capacity.reset(balancer.arn)

    def cleanup(self, run: DeployRun) -> None:
        for old in run.replaced:
            self._api.delete(old.arn)

    def teardown(self, stack_id: str, live: LiveStack) -> None:
        """Its listeners and rules go with it, as in LBC."""
        for lb in live.load_balancers:
            self._api.delete(lb.arn)

    def _pair(self, run: DeployRun) -> tuple[LiveLoadBalancer | None, list[LiveLoadBalancer]]:
        mine = [
            lb
            for lb in run.live.load_balancers
            if lb.tags.get(TAG_RESOURCE) == LOAD_BALANCER_RESOURCE_ID
        ]
        others = [lb for lb in run.live.load_balancers if lb not in mine]
        wanted = run.stack.load_balancer
        fits = sorted(
            (
                lb
                for lb in mine
                if lb.data.get("Scheme") == wanted.scheme
                and lb.data.get("Type", "application") == "application"
            ),
            key=lambda lb: (
                lb.data.get("LoadBalancerName") != wanted.name,
                str(lb.data.get("CreatedTime", "")),
                lb.arn,
            ),
        )
        keeper = fits[0] if fits else None
        return keeper, [lb for lb in mine + others if lb is not keeper]

    def _claim_name(
        self, run: DeployRun, replaced: list[LiveLoadBalancer]
    ) -> tuple[LiveLoadBalancer | None, list[LiveLoadBalancer]]:
        """Before creating: is the name taken? Names are unique on AWS (moto lets a second
        one be made) and the tag lookup can miss a load balancer made moments ago."""
        wanted = run.stack.load_balancer
        existing = self._api.find_by_name(wanted.name)
        if existing is None:
            return None, replaced
        rest = [lb for lb in replaced if lb.arn != existing.arn]
        if not carries_stack_tags(existing.tags, self._cluster, run.stack.id):
            raise AwsError(
                f"load balancer {wanted.name}",
                "DuplicateLoadBalancerName",
                "a load balancer with this name exists and is not tagged for cluster "
                f"{self._cluster!r} stack {run.stack.id!r}; set another load-balancer-name",
                retryable=False,
            )
        if existing.data.get("Scheme") == wanted.scheme:
            return existing, rest
        run.warn(
            LOAD_BALANCER_REPLACED,
            f"load balancer {wanted.name} replaced in place (scheme {existing.data.get('Scheme')}"
            f" -> {wanted.scheme}): its name is fixed, so the old one was deleted first",
        )
        self._api.delete(existing.arn)
        return None, rest
