"""The deploy, one kind of AWS resource per step, in the order AWS changes are made.

`ORDER` is the order a newcomer needs to know: security groups -> target groups -> targets
-> load balancer -> protection (WAF, Shield) -> listeners and rules -> DNS. Targets follow
their target groups at once, so they keep up with the endpoints even while a listener or
rule change fails (LBC's TargetGroupBindings register targets apart from the listeners
too). A deploy applies every step forward, then cleans up in reverse (DNS has moved before
a replaced load balancer goes, rules have moved before an old target group goes); a
teardown runs in reverse (DNS first, then our Shield protection, then the load balancer
with its listeners and rules, then target groups and security groups). Each step is in its
own module with its apply, cleanup and teardown side by side (`run.Step`); the raw AWS
calls are in the service modules one level up.
"""

from __future__ import annotations

from controller.aws.steps.balancer import LoadBalancerStep
from controller.aws.steps.dns import DnsHook, DnsStep
from controller.aws.steps.protection import ALL_ADD_ONS, AddOns, ProtectionStep
from controller.aws.steps.routing import ListenersStep, listener_certificates
from controller.aws.steps.run import DeployRun, Step
from controller.aws.steps.security import SHARED_BACKEND, BackendGroup, SecurityGroupsStep
from controller.aws.steps.targeting import TargetGroupsStep, TargetsStep

ORDER = (
    SecurityGroupsStep,
    TargetGroupsStep,
    TargetsStep,
    LoadBalancerStep,
    ProtectionStep,
    ListenersStep,
    DnsStep,
)

__all__ = [
    "ALL_ADD_ONS",
    "ORDER",
    "SHARED_BACKEND",
    "AddOns",
    "BackendGroup",
    "DeployRun",
    "DnsHook",
    "DnsStep",
    "ListenersStep",
    "LoadBalancerStep",
    "ProtectionStep",
    "SecurityGroupsStep",
    "Step",
    "TargetGroupsStep",
    "TargetsStep",
    "listener_certificates",
]
