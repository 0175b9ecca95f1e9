"""Fuzzing the controller through the real API server: hypothesis draws batches of Ingresses,
valid and not, and the running controller must neither crash, nor touch a neighbour's AWS
resources or DNS records, nor reject an Ingress without saying which field is wrong.

Set-up: two namespaces with the Services the strategies name (`tests.e2e.fuzzing.SERVICES`),
and, directly in moto, the neighbours' resources (`fuzzing.Foreign`): ALBs with listeners,
rules, target groups with targets and security groups, untagged or tagged for another
cluster, names our own resources would take, and Route 53 records at hosts the strategies
also draw. Everything AWS describes about them is snapshotted before the controller starts.

Each hypothesis example is one batch of `BATCH` Ingresses created at once, as a burst of
kubectl applies would (the draws are in `fuzzing.py`). `EXAMPLES` examples run,
derandomized (hypothesis's fixed seed for this test), so every run draws the same Ingresses;
their names carry a counter, and group names the batch number (`fuzzing.GROUPS`). The first
example is hypothesis's simplest: `BATCH` identical valid Ingresses in one group. Per batch:
- what the API server refuses (400/422) is counted and set aside;
- every accepted Ingress of our class must end with a status hostname or a Warning Event
  from the controller. Every error a `FailedBuildModel` message joins (and every
  `BackendNotFound` or `UnsupportedAnnotation` warning) must start with a field that
  exists on the Ingress or its Service (`fuzzing.fields_named`); a
  `FailedDeployModel` message must name the AWS resource and error code (`<resource>:
  <Code>: <why>`), and the code must be one the draws provoke on purpose (`PROVOKED`); a
  DNS warning (`DNSRecordSkipped`, `DNSRecordNotOwned`) must name a host of the batch, and
  the other deploy warnings must carry their own reasons (`controller.aws.warnings`);
- Ingresses of other classes must get nothing from us (no Event, finalizer or status);
- the controller process must still run, and its log hold no traceback and no ERROR line
  but the AWS failures it reports and retries by design (checked while waiting, too);
- the batch is deleted (finalizers released) before the next.
At the end the neighbours' snapshot must be unchanged and the summary line is printed:
`fuzz: generated=... api-refused=... accepted=... not-ours=... deployed=...
rejected-with-warning=... deploy-failed=... dns-skipped=...`, then Warnings by the field
they name and deploy failures by code. `scenario.finish()` scans for leaks, and the
neighbours are removed (they carry no tag of this cluster, so the leak scan of later tests
never sees them either way).

Shrinking is off (`phases`): each step would be another batch through the real control
plane. A failure prints the offending Ingresses and messages instead, and the fixed seed
replays it. Three batches of 36 take 40 to 70 s on two cores. `FUZZ_EXAMPLES=24` hunts
longer (about 6 minutes); `FUZZ_DEBUG=1` prints every Ingress and refusal and turns on the
controller's AWS call log.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from kubernetes import client

from controller.aws.warnings import DNS_RECORD_NOT_OWNED, DNS_RECORD_SKIPPED, REASONS
from controller.model.stack import BACKEND_NOT_FOUND, UNSUPPORTED_ANNOTATION
from sandbox.controller_process import ControllerProcess
from tests.e2e.fuzzing import (
    SERVICES,
    Draft,
    Foreign,
    World,
    annotation_values,
    batches,
    check_covers_every_annotation,
    field_kind,
    fields_named,
)
from tests.e2e.harness import Controller, Scenario, Target, wait_until

BATCH = 36
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))  # more for a longer hunt
OUTCOME_TIMEOUT = 90.0  # per batch, for every Ingress to show a hostname or a Warning
QUIET_SECONDS = 3.0  # no new Event or status for this long: the batch has settled
COMPONENT = "alb-ingress-controller"
# The one ERROR line the controller logs by design: an AWS failure it reports as an Event
# and retries (`controller.kube.reconciler`).
EXPECTED_ERROR = re.compile(
    r" ERROR controller\.kube\.reconciler: group \S+: .* \(retry in \d+s\)$"
)
DEPLOY_MESSAGE = re.compile(r"^[^:]+: (?P<code>[A-Za-z][A-Za-z0-9.]*): \S")
# The AWS failures the draws provoke on purpose; any other is a request the controller
# should not have made (the builder let through something AWS refuses).
PROVOKED = {
    "DuplicateLoadBalancerName": "a neighbour's ALB name, the one fuzz-b would get, or an "
    "explicit load-balancer-name another group of the batch holds",
    "InvalidGroup.Duplicate": "the managed security group name of fuzz-c, taken",
    "TargetGroupNotFound": "an action forwarding to a target group that does not exist",
    "SubnetNotFound": "subnets naming one that does not exist",
    "InvalidGroup.NotFound": "security-groups naming one that does not exist",
    "CertificateNotFound": "an HTTPS listener for hosts no certificate covers",
    "WAFNonexistentItemException": "a WAFv2 web ACL (ARN or name) the sandbox does not have",
    "InvalidPrefixListID.NotFound": "security-group-prefix-lists naming a list that does not exist",
    "TrustStoreNotFound": "mutual-authentication verifying against a trust store not there",
}
# Deploy warnings that are not about DNS but share its Event reason (README, Events).
DNS_REASONS = {DNS_RECORD_SKIPPED, DNS_RECORD_NOT_OWNED}
BUILD_WARNING_REASONS = (BACKEND_NOT_FOUND, UNSUPPORTED_ANNOTATION)
DNS_HOST = re.compile(r"^(?P<host>[*a-z0-9.-]+)(?::| \()")
_names = itertools.count()


@dataclass
class Tally:
    generated: int = 0
    refused: Counter[int] = field(default_factory=Counter)  # by HTTP status
    accepted: int = 0
    not_ours: int = 0
    deployed: int = 0
    rejected: int = 0
    deploy_failed: int = 0
    dns_skipped: int = 0
    by_field: Counter[str] = field(default_factory=Counter)
    deploy_codes: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        fields = ", ".join(f"{f}={n}" for f, n in sorted(self.by_field.items()))
        codes = ", ".join(f"{c}={n}" for c, n in sorted(self.deploy_codes.items()))
        return (
            f"fuzz: generated={self.generated} api-refused={sum(self.refused.values())} "
            f"({', '.join(f'{s}: {n}' for s, n in sorted(self.refused.items()))}) "
            f"accepted={self.accepted} not-ours={self.not_ours} deployed={self.deployed} "
            f"rejected-with-warning={self.rejected} deploy-failed={self.deploy_failed} "
            f"dns-skipped={self.dns_skipped}; Warnings by field named: {fields}; "
            f"deploy failures by code: {codes}"
        )


@dataclass
class Created:
    draft: Draft
    name: str
    uid: str
    batch: int

    @property
    def body(self) -> dict[str, Any]:
        return self.draft.body(self.name, self.batch)

    @property
    def key(self) -> str:
        return f"{self.draft.namespace}/{self.name}"


def test_fuzzed_ingresses(target: Target, controller: Controller, scenario: Scenario) -> None:
    if target.sandbox is None:
        pytest.skip("seeds the neighbours directly in the local sandbox's moto")
    assert isinstance(controller, ControllerProcess)  # the sandbox's controller: a process
    aws = target.sandbox.aws
    namespaces = (scenario.namespace("fuzz"), scenario.namespace("fuzz2"))
    services = _make_services(scenario, namespaces)
    foreign = Foreign(scenario.aws("elbv2"), scenario.aws("ec2"), scenario.aws("route53"))
    try:
        foreign.seed(
            cluster=target.cluster_name,
            vpc_id=aws.vpc_id,
            subnets=[s.id for s in aws.public_subnets],
            instance_id=next(iter(target.sandbox.nodes.values())).instance_id,
            public_zone=aws.public_zone_id,
            private_zone=aws.private_zone_id,
            suffix=scenario.suffix,
            batches=EXAMPLES + 1,  # and a replay of a failing one
        )
        before = foreign.snapshot()
        world = World(
            namespaces=namespaces,
            public_subnets=tuple(s.id for s in aws.public_subnets),
            subnet_names=tuple(
                f"{target.cluster_name}-public-{s.zone}" for s in aws.public_subnets
            ),
            certificate_arn=aws.certificate_arn,
            foreign_sg_ids=tuple(foreign.security_groups[:2]),
            foreign_sg_names=tuple(foreign.lb_names),  # their groups' Name tags
            foreign_lb_names=tuple(foreign.lb_names),
        )  # fmt: skip
        check_covers_every_annotation(annotation_values(world))
        if os.environ.get("FUZZ_DEBUG"):
            controller.env = {**controller.env, "AWS_DEBUG": "true"}
        controller.start()
        tally = Tally()

        @settings(
            derandomize=True,
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=(Phase.explicit, Phase.generate),
            suppress_health_check=list(HealthCheck),
        )
        @given(batch=batches(world, BATCH))
        def run(batch: list[Draft]) -> None:
            _run_batch(scenario, controller, services, batch, tally)

        run()
        print(tally.line())
        after = foreign.snapshot()
        changed = {k: (before[k], after.get(k)) for k in before if after.get(k) != before[k]}
        assert not changed, f"the controller changed a neighbour's resources: {changed}"
        _assert_healthy(controller)
        scenario.finish()
    finally:
        foreign.delete()


def _make_services(
    scenario: Scenario, namespaces: tuple[str, ...]
) -> dict[str, dict[str, dict[str, Any]]]:
    """The Services of `fuzzing.SERVICES` in each namespace, as the API server stored them."""
    made: dict[str, dict[str, dict[str, Any]]] = {}
    for namespace in namespaces:
        for name, (kind, ports, marks) in SERVICES.items():
            scenario.core.create_namespaced_service(
                namespace,
                {
                    "metadata": {"name": name, "annotations": marks},
                    "spec": {"type": kind, "selector": {"app": name}, "ports": ports},
                },
            )
            stored = scenario.core.read_namespaced_service(name, namespace)
            made.setdefault(namespace, {})[name] = _plain(scenario, stored)
    return made


def _run_batch(
    scenario: Scenario,
    controller: Controller,
    services: dict[str, dict[str, dict[str, Any]]],
    batch: list[Draft],
    tally: Tally,
) -> None:
    example = next(_names)
    created: list[Created] = []
    for index, draft in enumerate(batch):
        tally.generated += 1
        name = f"f{example}-{index}"
        try:
            stored = scenario.net.create_namespaced_ingress(
                draft.namespace, draft.body(name, example)
            )
        except client.ApiException as error:
            assert error.status in (400, 422), f"API server: {error.status} {error.body}"
            tally.refused[error.status] += 1
            if os.environ.get("FUZZ_DEBUG"):
                print("refused:", json.loads(error.body or "{}").get("message"))
            continue
        if os.environ.get("FUZZ_DEBUG"):
            print("accepted:", json.dumps(draft.body(name, example)))
        scenario.ingresses.add((draft.namespace, name))
        created.append(Created(draft, name, stored.metadata.uid, example))
    tally.accepted += len(created)
    try:
        _check_outcomes(scenario, controller, services, created, tally)
        _assert_healthy(controller)
    finally:
        scenario.delete_ingresses(timeout=60)


def _plain(scenario: Scenario, obj: Any) -> dict[str, Any]:
    """A client model as the API's JSON (camelCase keys), as the controller reads it."""
    plain: dict[str, Any] = scenario.target.api.sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]
    return plain


def _state(
    scenario: Scenario, namespaces: set[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, list[Any]]]:
    """Ingress bodies by uid, and the controller's Events by the uid of their Ingress."""
    bodies: dict[str, dict[str, Any]] = {}
    events: dict[str, list[Any]] = {}
    for namespace in sorted(namespaces):
        for ingress in scenario.net.list_namespaced_ingress(namespace).items:
            bodies[ingress.metadata.uid] = _plain(scenario, ingress)
        for event in scenario.core.list_namespaced_event(namespace).items:
            if event.involved_object.kind == "Ingress":
                events.setdefault(event.involved_object.uid, []).append(event)
    return bodies, events


def _hostname(body: dict[str, Any]) -> str | None:
    entries = ((body.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return entries[0].get("hostname") if entries else None


def _ours(events: list[Any]) -> list[Any]:
    return [e for e in events if e.source and e.source.component == COMPONENT]


def _check_outcomes(
    scenario: Scenario,
    controller: Controller,
    services: dict[str, dict[str, dict[str, Any]]],
    created: list[Created],
    tally: Tally,
) -> None:
    namespaces = {c.draft.namespace for c in created}
    _wait_settled(scenario, controller, namespaces, [c for c in created if c.draft.ours])
    bodies, events = _quiet(scenario, namespaces)
    hosts = {
        str(rule["host"]).lower()
        for item in created
        for rule in item.draft.spec.get("rules") or ()
        if rule.get("host")
    }
    problems: list[str] = []
    for item in created:
        body, mine = bodies[item.uid], _ours(events.get(item.uid, []))
        if not item.draft.ours:
            tally.not_ours += 1
            problems.extend(_not_ours_problems(item, body, mine))
            continue
        problems.extend(_warning_problems(item, body, mine, services, hosts=hosts, tally=tally))
        _count_outcome({e.reason for e in mine if e.type == "Warning"}, body, tally)
    assert not problems, "\n".join(problems)


def _unsettled(
    ours: list[Created], bodies: dict[str, dict[str, Any]], events: dict[str, list[Any]]
) -> list[Created]:
    """Those of `ours` with neither a hostname nor a Warning of ours yet."""
    return [
        c
        for c in ours
        if not _hostname(bodies[c.uid])
        and not any(e.type == "Warning" for e in _ours(events.get(c.uid, [])))
    ]


def _wait_settled(
    scenario: Scenario, controller: Controller, namespaces: set[str], ours: list[Created]
) -> None:
    """Wait for a hostname or a Warning on each of `ours`; fail at once if the controller
    crashes."""

    def settled() -> tuple[dict[str, dict[str, Any]], dict[str, list[Any]]] | None:
        crash = _crash(controller)
        if crash is not None:
            raise ControllerCrashError(crash)
        bodies, events = _state(scenario, namespaces)
        return None if _unsettled(ours, bodies, events) else (bodies, events)

    try:
        wait_until(settled, "a hostname or a Warning on every Ingress", OUTCOME_TIMEOUT)
    except ControllerCrashError as crash:
        raise AssertionError(str(crash)) from None
    except AssertionError:
        bodies, events = _state(scenario, namespaces)
        stuck = [c.body for c in _unsettled(ours, bodies, events)]
        raise AssertionError(f"{len(stuck)} Ingresses got neither, e.g. {stuck[:3]}") from None


def _not_ours_problems(item: Created, body: dict[str, Any], mine: list[Any]) -> list[str]:
    """An Ingress not ours must have no Event of ours, no hostname, no finalizer."""
    if mine or _hostname(body) or (body["metadata"].get("finalizers") or []):
        return [f"{item.key} is not ours but got {[e.reason for e in mine]}, "
                f"status {body.get('status')}, finalizers "
                f"{body['metadata'].get('finalizers')}"]  # fmt: skip
    return []


def _warning_problems(
    item: Created,
    body: dict[str, Any],
    mine: list[Any],
    services: dict[str, dict[str, dict[str, Any]]],
    *,
    hosts: set[str],
    tally: Tally,
) -> list[str]:
    """What is wrong with each of our Warning Events on one Ingress (counting them)."""
    problems = []
    for event in mine:
        if event.type != "Warning":
            continue
        problem = _check_warning(event, body, services[item.draft.namespace], hosts, tally)
        if problem:
            problems.append(f"{item.key}: {problem}\n  Ingress: {item.body}")
    return problems


def _count_outcome(reasons: set[str], body: dict[str, Any], tally: Tally) -> None:
    """Count one Ingress of ours as rejected, deployed or failed, and as DNS-skipped."""
    if "FailedBuildModel" in reasons:
        tally.rejected += 1
    elif _hostname(body):
        tally.deployed += 1
    elif "FailedDeployModel" in reasons:
        tally.deploy_failed += 1
    if DNS_REASONS & reasons:
        tally.dns_skipped += 1


def _quiet(
    scenario: Scenario, namespaces: set[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, list[Any]]]:
    """The state once neither Events nor Ingresses have changed for `QUIET_SECONDS` (groups
    fill up Ingress by Ingress, so early outcomes may still change), at most 30 s."""
    deadline = time.monotonic() + 30
    last: tuple[Any, ...] = ()
    since = time.monotonic()
    while True:
        bodies, events = _state(scenario, namespaces)
        seen = (
            sorted((u, b["metadata"]["resourceVersion"]) for u, b in bodies.items()),
            sorted((u, e.metadata.name, e.count) for u, es in events.items() for e in es),
        )
        now = time.monotonic()
        if seen != last:
            last, since = seen, now
        elif now - since >= QUIET_SECONDS or now > deadline:
            return bodies, events
        time.sleep(0.5)


def _check_warning(
    event: Any,
    body: dict[str, Any],
    services: dict[str, dict[str, Any]],
    hosts: set[str],
    tally: Tally,
) -> str | None:
    """What is wrong with one of our Warning Events, if anything; counts it. `hosts`: the
    rule hosts of the batch (a group's DNS warnings go to all of its members)."""
    message = str(event.message)
    if event.reason in ("FailedBuildModel", *BUILD_WARNING_REASONS):
        return _check_build_warning(event.reason, message, body, services, tally)
    if event.reason == "FailedDeployModel":
        return _check_deploy_warning(message, tally)
    if event.reason in DNS_REASONS:
        return _check_dns_warning(event.reason, message, hosts)
    if event.reason in REASONS:  # the other deploy warnings
        return None
    return f"unexpected Warning {event.reason}: {message!r}"


def _check_build_warning(
    reason: str,
    message: str,
    body: dict[str, Any],
    services: dict[str, dict[str, Any]],
    tally: Tally,
) -> str | None:
    """A FailedBuildModel, or a warning the builder worked around (a missing backend, an
    annotation not read), must name fields of the Ingress (or its Services); counts them."""
    named = fields_named(message, body, services)
    if named is None:
        return f"{reason} names no field of the Ingress: {message!r}"
    tally.by_field.update(field_kind(f) for f in named)
    return None


def _check_deploy_warning(message: str, tally: Tally) -> str | None:
    """A FailedDeployModel must name the resource and an error code the draws provoke."""
    match = DEPLOY_MESSAGE.match(message)
    if match is None:
        return f"FailedDeployModel does not name the resource and code: {message!r}"
    if match["code"] not in PROVOKED:
        return f"FailedDeployModel for a failure the draws do not provoke: {message!r}"
    tally.deploy_codes[match["code"]] += 1
    return None


def _check_dns_warning(reason: str, message: str, hosts: set[str]) -> str | None:
    """A DNS warning must name a rule host of the batch."""
    match = DNS_HOST.match(message)
    if match is None or match["host"] not in hosts:
        return f"{reason} names no host of the batch: {message!r}"
    return None


class ControllerCrashError(Exception):
    """Raised out of a wait (which would retry an AssertionError) as soon as it shows."""


def _crash(controller: Controller) -> str | None:
    """How the controller has crashed, if it has: exited, or logged a traceback or an
    ERROR line other than an AWS failure it reports and retries."""
    assert isinstance(controller, ControllerProcess) and controller.proc is not None
    code = controller.proc.poll()
    if code is not None:
        return f"the controller exited with status {code}"
    log = controller.logs()
    if "Traceback" in log:
        start = log.index("Traceback")
        return f"the controller logged a traceback: {log[max(0, start - 300) : start + 3000]}"
    unexpected = [
        line for line in log.splitlines() if " ERROR " in line and not EXPECTED_ERROR.search(line)
    ]
    if unexpected:
        return f"the controller logged unexpected ERROR lines: {unexpected[:5]}"
    return None


def _assert_healthy(controller: Controller) -> None:
    crash = _crash(controller)
    assert crash is None, crash
