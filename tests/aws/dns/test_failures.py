"""Route 53 failures: error mapping, and interrupted syncs and deletes that the next call heals."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from controller.aws.dns.errors import DnsError, from_exception
from controller.aws.route53 import Route53Dns
from controller.aws.warnings import DeployWarning
from tests.aws.dns.conftest import ALB, ALB2, STACK_2048, World, make_stack
from tests.aws.dns.strict import client_error


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        ("Throttling", 400, True),
        ("PriorRequestNotComplete", 400, True),
        ("ServiceUnavailable", 503, True),
        ("InternalFailure", 500, True),
        ("SomethingNew", 502, True),
        ("InvalidChangeBatch", 400, False),
        ("InvalidInput", 400, False),
        ("AccessDenied", 403, False),
    ],
)
def test_route53_errors_say_whether_to_retry(code: str, status: int, retryable: bool) -> None:
    error = from_exception(
        client_error(code, "boom", "ChangeResourceRecordSets", status),
        action="changing records",
        zone="example.com",
        hosts=["b.example.com", "a.example.com"],
    )

    assert error.retryable is retryable
    assert error.code == code
    assert "hosted zone example.com" in str(error)
    assert "a.example.com, b.example.com" in str(error)


@pytest.mark.parametrize(
    ("message", "retryable"),
    [
        ("Tried to create resource record set [name='a.example.com.', type='A'] but it "
         "already exists", True),
        ("Tried to delete resource record set [name='a.example.com.', type='A'] but it was "
         "not found", True),
        ("RRSet of type CNAME with DNS name a.example.com. is not permitted as it conflicts "
         "with other records with the same DNS name", False),
    ],
)  # fmt: skip
def test_a_change_batch_refused_for_a_stale_read_is_retried(message: str, retryable: bool) -> None:
    """A CREATE whose reply was lost, retried by botocore, meets its own record: the next
    attempt reads the zone again. A record that cannot be made never will be."""
    error = from_exception(
        client_error("InvalidChangeBatch", message, "ChangeResourceRecordSets", 400),
        action="changing records",
        zone="example.com",
        hosts=["a.example.com"],
    )
    assert error.retryable is retryable


def test_a_lost_connection_is_retryable() -> None:
    error = from_exception(
        EndpointConnectionError(endpoint_url="https://route53.amazonaws.com"),
        action="listing hosted zones",
        zone="",
        hosts=[],
    )
    assert error.retryable


def _state(world: World) -> list[tuple[str, list[dict[str, Any]]]]:
    return [(label, world.records(label)) for label in sorted(world.zones)]


def _throttled() -> ClientError:
    return client_error("Throttling", "Rate exceeded", "ChangeResourceRecordSets")


# Each scenario: the stack before (None: nothing yet), then the step that gets interrupted.
START = make_stack(["a.example.com", "b.team.example.com"], dualstack=True)
STEPS: dict[str, tuple[list[Any], Any]] = {
    "create": ([], ("sync", START, ALB)),
    "rename-and-replace-alb": (
        [("sync", START, ALB)],
        ("sync", make_stack(["c.example.com", "b.team.example.com"]), ALB2),
    ),
    "delete": ([("sync", START, ALB)], ("delete", STACK_2048, None)),
}


def _run(dns: Route53Dns, step: Any) -> tuple[DeployWarning, ...]:
    kind, arg, alias = step
    return dns.sync(arg, *alias) if kind == "sync" else dns.delete(arg)


def _expected(world: World, scenario: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """The state an uninterrupted run ends in, computed in a separate moto world."""
    setup, step = STEPS[scenario]
    dns = world.dns()
    for earlier in setup:
        _run(dns, earlier)
    _run(dns, step)
    return _state(world)


@pytest.mark.parametrize("scenario", STEPS)
@pytest.mark.parametrize("call", [0, 1], ids=["first-zone", "second-zone"])
@pytest.mark.parametrize("when", ["before", "after"], ids=["refused", "answer-lost"])
@pytest.mark.parametrize("restart", [False, True], ids=["same-process", "restarted"])
def test_an_interrupted_change_is_healed_by_the_next_call(
    world: World, scenario: str, call: int, when: str, restart: bool
) -> None:
    world.add_zone("public", "example.com")
    world.add_zone("team", "team.example.com")
    setup, step = STEPS[scenario]
    dns = world.dns()
    for earlier in setup:
        _run(dns, earlier)
    world.strict.failures = [("none", None)] * call + [(when, _throttled())]

    with pytest.raises(DnsError) as raised:
        _run(dns, step)

    assert raised.value.retryable
    assert "Rate exceeded" in str(raised.value)
    world.strict.failures = []
    _run(world.dns() if restart else dns, step)
    healed = _state(world)
    assert world.strict.rejected == []

    # The same steps without the failure, from scratch, end in the same records.
    for label in world.zones:
        for rrset in world.records(label):
            world.strict.checker.change_resource_record_sets(
                HostedZoneId=world.zones[label],
                ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": rrset}]},
            )
    assert _expected(world, scenario) == healed


def test_a_refused_batch_changes_nothing_at_all(world: World) -> None:
    world.add_zone("public", "example.com")
    # Someone creates one of our hosts between our read and our write: Route 53 refuses the
    # whole batch, so the other host's records are not half-made either.
    world.strict.on_change = lambda: world.seed(
        "public", {"Name": "b.example.com", "Type": "A", "TTL": 60,
                   "ResourceRecords": [{"Value": "192.0.2.1"}]}
    )  # fmt: skip
    dns = world.dns()

    with pytest.raises(DnsError) as raised:
        dns.sync(make_stack(["a.example.com", "b.example.com"]), *ALB)

    assert raised.value.retryable  # soon: the next attempt reads the zone again
    assert "InvalidChangeBatch" in str(raised.value)
    assert "a.example.com, b.example.com" in str(raised.value)
    assert [r["Name"] for r in world.records("public")] == ["b.example.com."]

    world.strict.on_change = None
    warnings = dns.sync(make_stack(["a.example.com", "b.example.com"]), *ALB)

    assert any(w.message.startswith("b.example.com") for w in warnings)
    assert sorted(r["Name"] for r in world.records("public")) == [
        "_alb-a.a.example.com.",
        "a.example.com.",
        "b.example.com.",
    ]
    assert world.named("public", "b.example.com", "A")[0]["ResourceRecords"] == [
        {"Value": "192.0.2.1"}
    ]


def test_a_failing_read_names_the_zone_and_is_retryable(world: World) -> None:
    world.add_zone("public", "example.com")

    def throttle(**_: Any) -> None:
        raise client_error("Throttling", "Rate exceeded", "ListResourceRecordSets")

    world.client.meta.events.register("before-call.route53.ListResourceRecordSets", throttle)

    with pytest.raises(DnsError) as raised:
        world.dns().sync(make_stack(["a.example.com"]), *ALB)

    assert raised.value.retryable
    assert "example.com" in str(raised.value)
    assert world.counter.changes == 0


def test_one_failing_zone_does_not_stop_the_others(world: World) -> None:
    world.add_zone("public", "example.com")
    world.add_zone("team", "team.example.com")
    world.strict.failures = [("before", _throttled())]
    dns = world.dns()

    with pytest.raises(DnsError):
        dns.sync(make_stack(["a.example.com", "b.team.example.com"]), *ALB)

    assert len(world.strict.sent) == 1  # the refused zone's batch failed, the other's went
    made = [label for label in world.zones if world.records(label)]
    assert len(made) == 1
