"""The client factory: the call counter, the debug log, rate limits and error translation."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError

from controller.aws.clients import (
    DEFAULT_RATE_LIMITS,
    EVERY_RUN,
    UNLIMITED,
    AwsClients,
    CallCounter,
    CallKey,
    RateLimit,
    TokenBucket,
    WritesFencedError,
    bucket_of,
    is_mutating,
    redact,
)
from controller.aws.errors import AwsError, about, is_retryable
from tests.aws.conftest import SESSION, SLIM_SESSION, World


def test_every_call_is_counted_by_service_operation_and_error(
    world: World, clients: AwsClients
) -> None:
    seen: list[CallKey] = []
    clients.counter.subscribe(lambda record: seen.append(record.key))
    clients.elbv2.describe_load_balancers()
    with pytest.raises(ClientError):
        clients.elbv2.describe_load_balancers(Names=["nope"])
    clients.ec2.describe_subnets()
    counts = clients.counter.snapshot()
    assert counts[CallKey("elbv2", "DescribeLoadBalancers", "")] == 1
    assert counts[CallKey("elbv2", "DescribeLoadBalancers", "LoadBalancerNotFound")] == 1
    assert counts[CallKey("ec2", "DescribeSubnets", "")] == 1
    assert [(k.operation, k.error_code) for k in seen] == [
        ("DescribeLoadBalancers", ""),
        ("DescribeLoadBalancers", "LoadBalancerNotFound"),
        ("DescribeSubnets", ""),
    ]
    assert clients.counter.calls(1)[0].params == {"Names": ["nope"]}


def test_unsubscribe_stops_callbacks() -> None:
    counter = CallCounter()
    seen: list[str] = []
    stop = counter.subscribe(lambda r: seen.append(r.key.operation))
    counter.record(CallKey("elbv2", "CreateRule", ""), {})
    stop()
    counter.record(CallKey("elbv2", "DeleteRule", ""), {})
    assert seen == ["CreateRule"]
    assert counter.mutating() == ["CreateRule", "DeleteRule"]


def test_the_counter_is_thread_safe() -> None:
    counter = CallCounter()

    def work() -> None:
        for _ in range(500):
            counter.record(CallKey("ec2", "DescribeSubnets", ""), {})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter.snapshot()[CallKey("ec2", "DescribeSubnets", "")] == 2000


def test_debug_logs_each_call_with_its_parameters_but_no_secrets(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    clients = AwsClients("us-east-1", debug=True, session=SESSION)
    with caplog.at_level(logging.INFO, logger="controller.aws.clients"):
        clients.ec2.describe_subnets(SubnetIds=[])
    assert "ec2.DescribeSubnets" in caplog.text
    assert redact({"PrivateKey": "x", "ClientSecret": "y", "Name": "n"}) == {
        "PrivateKey": "***",
        "ClientSecret": "***",
        "Name": "n",
    }
    assert "testing" not in caplog.text  # the fake credentials


def test_operations_are_classified() -> None:
    assert not is_mutating("DescribeRules") and not is_mutating("ListCertificates")
    assert not is_mutating("GetResources") and is_mutating("SetRulePriorities")
    assert bucket_of("elbv2", "RegisterTargets") == "registration"
    assert bucket_of("elbv2", "DescribeTags") == "describe"
    assert bucket_of("route53", "ChangeResourceRecordSets") == "mutate"
    # At or below AWS's documented buckets.
    assert DEFAULT_RATE_LIMITS[("elbv2", "describe")] == RateLimit(10, 40)
    assert DEFAULT_RATE_LIMITS[("route53", "mutate")].rate <= 5


def test_token_bucket_allows_the_burst_then_paces() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(RateLimit(rate=10, burst=40), clock=lambda: now[0], sleep=sleep)
    for _ in range(40):
        bucket.take()
    assert slept == []
    bucket.take()
    bucket.take()
    assert slept == pytest.approx([0.1, 0.1])
    now[0] += 10  # refilled, but never beyond the burst
    for _ in range(40):
        bucket.take()
    assert len(slept) == 2


def test_rate_limits_apply_to_real_calls(world: World) -> None:
    slept: list[float] = []
    # A bucket of one token refilled every 2 s, on a clock that stands still but for sleeps.
    now = [0.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    clients = AwsClients(
        "us-east-1",
        session=SESSION,
        rate_limits={("ec2", "describe"): RateLimit(rate=0.5, burst=1)},
        clock=lambda: now[0],
        sleep=sleep,
    )
    clients.ec2.describe_subnets()
    clients.ec2.describe_subnets()
    clients.elbv2.describe_load_balancers()  # another bucket: no wait
    assert slept == [2.0]


def test_errors_name_the_resource_and_say_whether_to_retry() -> None:
    def fail(code: str, status: int = 400) -> None:
        with about("target group k8s-x"):
            response: Any = {
                "Error": {"Code": code, "Message": "nope"},
                "ResponseMetadata": {"HTTPStatusCode": status},
            }
            raise ClientError(response, "CreateTargetGroup")

    for code, status, retryable in [
        ("Throttling", 400, True),
        ("InternalFailure", 500, True),
        ("ServiceUnavailable", 503, True),
        ("ValidationError", 400, False),
        ("TooManyTargetGroups", 400, False),
    ]:
        with pytest.raises(AwsError) as raised:
            fail(code, status)
        assert raised.value.retryable is retryable
        assert raised.value.code == code
        assert str(raised.value).startswith("target group k8s-x: " + code)


def test_the_call_log_is_bounded_but_positions_stay_absolute() -> None:
    counter = CallCounter(keep=3)
    for n in range(5):
        counter.record(CallKey("elbv2", f"Op{n}", ""), {})
    assert counter.position() == 5
    assert [r.key.operation for r in counter.calls()] == ["Op2", "Op3", "Op4"]
    assert [r.key.operation for r in counter.calls(4)] == ["Op4"]
    assert sum(counter.snapshot().values()) == 5  # counts are never dropped


def test_a_fenced_replica_sends_no_mutating_call(world: World, clients: AwsClients) -> None:
    # The leader elector's may_write(): False once a leader could not renew its Lease in time.
    allowed = [True]
    clients.write_guard = lambda: allowed[0]
    clients.ec2.create_tags(Resources=[world.vpc_id], Tags=[{"Key": "a", "Value": "1"}])
    allowed[0] = False
    before = clients.counter.snapshot()
    with pytest.raises(WritesFencedError, match="ec2 CreateTags refused: not the leader"):
        clients.ec2.create_tags(Resources=[world.vpc_id], Tags=[{"Key": "b", "Value": "2"}])
    clients.ec2.describe_subnets()  # reads are not fenced
    after = clients.counter.snapshot()
    assert after - before == {CallKey("ec2", "DescribeSubnets", ""): 1}  # nothing else was sent
    # Read with the tests' own client: the controller's knows no DescribeTags of ec2.
    ec2 = SESSION.client("ec2")
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [world.vpc_id]}])
    assert "b" not in {t["Key"] for t in tags["Tags"]}


@pytest.mark.parametrize(
    ("code", "retryable"),
    [
        # A lost reply's retry meets its own result, or another writer got there first:
        # the next reconcile reads AWS again, so retry soon rather than in ten minutes.
        ("PriorityInUse", True),
        ("DuplicateListener", True),
        ("DuplicateLoadBalancerName", True),
        ("InvalidGroup.Duplicate", True),
        # A person must change something.
        ("ValidationError", False),
        ("TooManyRules", False),
        ("RulesPerSecurityGroupLimitExceeded", False),
    ],
)
def test_conflicts_with_aws_state_are_retried_and_mistakes_are_not(
    code: str, retryable: bool
) -> None:
    response: Any = {"Error": {"Code": code, "Message": "m"},
                     "ResponseMetadata": {"HTTPStatusCode": 400}}  # fmt: skip
    error = ClientError(response, "CreateRule")
    assert is_retryable(error) is retryable


def test_prepare_makes_the_clients_of_every_run_without_a_call() -> None:
    # `run` makes them before kopf lists the cluster, so that the model parse of each (ec2's
    # holds 23 MiB for a moment) does not add to the watches' working set later.
    clients = AwsClients("us-east-1", rate_limits=UNLIMITED, session=SLIM_SESSION)
    clients.prepare()
    assert sorted(clients._clients) == sorted(EVERY_RUN)
    assert clients.counter.snapshot() == {}
