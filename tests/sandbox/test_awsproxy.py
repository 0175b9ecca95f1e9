"""The AWS-at-scale proxy, driven by real boto3 clients through a real moto server.

Topics, in order: naming each call (every protocol the controller uses), forwarding, token
buckets and AWS's throttling replies as botocore classifies them, retries, counts, fault
injection, the JSON control API, latency, and profile validation. All at latency_scale=0
except the latency test; token-bucket time is stepped with a fake clock, not slept.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from botocore.retries.standard import (
    ExponentialBackoff,
    RetryEventAdapter,
    ThrottlingErrorDetector,
)
from moto.server import ThreadedMotoServer
from pydantic import ValidationError

from sandbox.awsproxy import (
    NO_BUCKETS,
    NO_LATENCY,
    ROUTE53_2024_BUCKETS,
    AwsProxyThread,
    BucketProfile,
    BucketRule,
    BucketSpec,
    Call,
    FaultRule,
    LatencyProfile,
    LatencyRule,
    fault_mix,
    identify,
    start_moto_with_proxy,
)
from sandbox.awsproxy.buckets import BucketSet
from sandbox.awsproxy.faults import FaultInjector

NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})
SERVICES = ("elbv2", "ec2", "route53", "acm", "resourcegroupstaggingapi")


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def client(service: str, url: str, config: Config = NO_RETRIES) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto imports each service's backend on its first call (about a second for elbv2);
    # pay that once here so the tests' timings and read timeouts measure the proxy.
    client("elbv2", url).describe_load_balancers()
    client("ec2", url).describe_vpcs()
    client("route53", url).list_hosted_zones()
    client("acm", url).list_certificates()
    client("resourcegroupstaggingapi", url).get_resources()
    yield url
    server.stop()


@pytest.fixture(scope="module")
def vpc_id(moto_url: str) -> str:
    """A VPC made straight in moto, so target groups have somewhere to live."""
    return str(client("ec2", moto_url).create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def proxy(moto_url: str, clock: FakeClock) -> Iterator[AwsProxyThread]:
    """Default buckets, no latency, a frozen clock: buckets never refill unless told."""
    with AwsProxyThread(moto_url, latency_scale=0, clock=clock) as running:
        yield running


@pytest.fixture
def unlimited(moto_url: str) -> Iterator[AwsProxyThread]:
    """No buckets, no latency: for tests about naming and forwarding."""
    with AwsProxyThread(moto_url, latency_scale=0, buckets=NO_BUCKETS) as running:
        yield running


def make_proxy(moto_url: str, **kwargs: Any) -> AwsProxyThread:
    kwargs.setdefault("latency_scale", 0)
    return AwsProxyThread(moto_url, **kwargs)


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def make_vpc_subnets(ec2: Any) -> list[str]:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]


# -- naming calls ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "method", "operation"),
    [
        ("elbv2", "describe_load_balancers", "DescribeLoadBalancers"),
        ("elbv2", "describe_target_groups", "DescribeTargetGroups"),
        ("ec2", "describe_vpcs", "DescribeVpcs"),
        ("ec2", "describe_security_groups", "DescribeSecurityGroups"),
        ("route53", "list_hosted_zones", "ListHostedZones"),
        ("acm", "list_certificates", "ListCertificates"),
        ("resourcegroupstaggingapi", "get_resources", "GetResources"),
    ],
)
def test_each_protocol_names_service_and_operation(
    proxy: AwsProxyThread, service: str, method: str, operation: str
) -> None:
    getattr(client(service, proxy.url), method)()

    stats = proxy.stats()
    assert [(o.service, o.operation) for o in stats.operations] == [(service, operation)]
    assert stats.calls == 1
    assert stats.read_calls == 1
    assert stats.mutating_calls == 0


def test_route53_rest_paths_name_each_operation(unlimited: AwsProxyThread) -> None:
    r53 = client("route53", unlimited.url)
    zone = r53.create_hosted_zone(Name="names.example.com", CallerReference="names")
    zone_id = zone["HostedZone"]["Id"]
    r53.get_hosted_zone(Id=zone_id)
    r53.list_resource_record_sets(HostedZoneId=zone_id)
    change = r53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": "a.names.example.com",
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "10.0.0.1"}],
                    },
                }
            ]
        },
    )
    r53.get_change(Id=change["ChangeInfo"]["Id"])
    r53.list_hosted_zones_by_name(DNSName="names.example.com")

    ops = {o.operation: o for o in unlimited.stats().by_service("route53")}
    assert set(ops) == {
        "CreateHostedZone",
        "GetHostedZone",
        "ListResourceRecordSets",
        "ChangeResourceRecordSets",
        "GetChange",
        "ListHostedZonesByName",
    }
    assert ops["ChangeResourceRecordSets"].mutating
    assert ops["CreateHostedZone"].mutating
    assert not ops["ListResourceRecordSets"].mutating
    assert not ops["GetChange"].mutating


def test_identify_reads_wire_details_without_a_client() -> None:
    auth = "AWS4-HMAC-SHA256 Credential=k/20260101/eu-west-1/{}/aws4_request, Signature=x"
    form = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
    classic = identify(
        "POST",
        "/",
        "",
        {**form, "authorization": auth.format("elasticloadbalancing")},
        b"Action=DescribeLoadBalancers&Version=2012-06-01",
    )
    assert classic == Call("elb", "DescribeLoadBalancers", "query", "eu-west-1")
    v2 = identify(
        "POST",
        "/",
        "",
        {**form, "authorization": auth.format("elasticloadbalancing")},
        b"Action=CreateRule&Version=2015-12-01",
    )
    assert v2 == Call("elbv2", "CreateRule", "query", "eu-west-1")
    assert v2.mutating
    rpc = identify(
        "POST", "/service/ResourceGroupsTaggingAPI_20170126/operation/GetResources", "", {}, b""
    )
    assert (rpc.service, rpc.operation) == ("resourcegroupstaggingapi", "GetResources")
    unknown = identify("GET", "/", "", {}, b"")
    assert (unknown.service, unknown.operation) == ("unknown", "unknown")
    r53 = identify(
        "POST",
        "/2013-04-01/hostedzone/Z1/rrset/",
        "",
        {"authorization": auth.format("route53")},
        b"<x/>",
    )
    assert (r53.service, r53.operation, r53.protocol) == (
        "route53",
        "ChangeResourceRecordSets",
        "rest-xml",
    )


# -- forwarding ------------------------------------------------------------------------------


def test_create_then_describe_a_load_balancer_through_the_proxy(
    unlimited: AwsProxyThread, moto_url: str
) -> None:
    subnets = make_vpc_subnets(client("ec2", unlimited.url))
    elbv2 = client("elbv2", unlimited.url)
    created = elbv2.create_load_balancer(Name="through-proxy", Subnets=subnets)
    arn = created["LoadBalancers"][0]["LoadBalancerArn"]

    via_proxy = elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]
    direct = client("elbv2", moto_url).describe_load_balancers(LoadBalancerArns=[arn])
    assert [lb["LoadBalancerName"] for lb in via_proxy] == ["through-proxy"]
    assert direct["LoadBalancers"][0]["DNSName"] == via_proxy[0]["DNSName"]
    stats = unlimited.stats()
    assert stats.calls_of("elbv2", "CreateLoadBalancer") == 1
    assert stats.calls_of("elbv2", "DescribeLoadBalancers") == 1
    assert stats.calls_of("ec2", "CreateSubnet") == 2
    assert stats.mutating_calls == 4  # CreateVpc, 2 x CreateSubnet, CreateLoadBalancer


# -- token buckets and AWS's throttling replies ----------------------------------------------


def test_elbv2_describe_bucket_allows_40_then_throttles_and_refills_10_per_second(
    proxy: AwsProxyThread, clock: FakeClock
) -> None:
    elbv2 = client("elbv2", proxy.url)
    for _ in range(40):
        elbv2.describe_load_balancers()
    with pytest.raises(ClientError) as exc:
        elbv2.describe_load_balancers()
    assert error_of(exc) == ("Throttling", 400)
    assert exc.value.response["Error"]["Message"] == "Rate exceeded"
    assert dict(exc.value.response["Error"])["Type"] == "Sender"

    clock.advance(0.1)  # one token at 10 per s
    elbv2.describe_load_balancers()
    with pytest.raises(ClientError):
        elbv2.describe_load_balancers()

    clock.advance(60)  # refill stops at the bucket's capacity
    for _ in range(40):
        elbv2.describe_load_balancers()
    with pytest.raises(ClientError):
        elbv2.describe_load_balancers()

    op = proxy.stats().get("elbv2", "DescribeLoadBalancers")
    assert op is not None
    assert (op.calls, op.throttled) == (84, 3)


def test_buckets_are_separate_for_reads_mutations_and_registration(
    proxy: AwsProxyThread, vpc_id: str
) -> None:
    elbv2 = client("elbv2", proxy.url)
    for _ in range(40):
        elbv2.describe_load_balancers()
    with pytest.raises(ClientError):
        elbv2.describe_target_groups()
    # The mutating bucket is untouched by reads: a create still goes through.
    tg = elbv2.create_target_group(
        Name="separate-buckets", Protocol="HTTP", Port=80, VpcId=vpc_id, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    # So does a registration: its bucket is its own.
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": "10.9.0.10", "Port": 80}])
    assert proxy.stats().throttled == 1
    assert proxy.stats().buckets == {
        "elbv2.describe": 0,
        "elbv2.mutate": 19,
        "elbv2.register": 19,
    }


def test_route53_allows_five_per_second_per_account(
    proxy: AwsProxyThread, clock: FakeClock
) -> None:
    r53 = client("route53", proxy.url)
    for _ in range(5):
        r53.list_hosted_zones()
    with pytest.raises(ClientError) as exc:
        r53.get_hosted_zone_count()  # any operation: the bucket is per account
    assert error_of(exc) == ("Throttling", 400)
    clock.advance(0.2)
    r53.list_hosted_zones()


TINY = BucketProfile(
    buckets=(BucketSpec(name="tiny", capacity=2, refill_per_s=0),),
    rules=(BucketRule(service="*", per_operation=("tiny",)),),
)


@pytest.mark.parametrize(
    ("service", "method", "code", "status"),
    [
        ("elbv2", "describe_load_balancers", "Throttling", 400),
        ("ec2", "describe_vpcs", "RequestLimitExceeded", 503),
        ("route53", "list_hosted_zones", "Throttling", 400),
        ("acm", "list_certificates", "ThrottlingException", 400),
        ("resourcegroupstaggingapi", "get_resources", "ThrottlingException", 400),
    ],
)
def test_throttling_reply_is_what_botocore_classifies_as_throttling(
    moto_url: str,
    monkeypatch: pytest.MonkeyPatch,
    *,
    service: str,
    method: str,
    code: str,
    status: int,
) -> None:
    verdicts: list[bool] = []
    detector = ThrottlingErrorDetector(RetryEventAdapter())

    def classify(**kwargs: Any) -> None:
        verdicts.append(detector.is_throttling_error(**kwargs))

    with make_proxy(moto_url, buckets=TINY) as proxy:
        api = client(service, proxy.url)
        api.meta.events.register("needs-retry", classify)
        getattr(api, method)()
        getattr(api, method)()
        with pytest.raises(ClientError) as exc:
            getattr(api, method)()

        assert error_of(exc) == (code, status)
        assert verdicts == [False, False, True]
        # Standard retry mode retries it (and the bucket stays empty, so all attempts fail);
        # botocore's backoff sleep is cut to zero to keep the test fast.
        monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
        retrying = client(service, proxy.url, Config(retries={"mode": "standard"}))
        with pytest.raises(ClientError) as again:
            getattr(retrying, method)()
        assert again.value.response["ResponseMetadata"]["RetryAttempts"] == 2
        stats = proxy.stats()
        assert stats.throttled == 4
        assert stats.calls == 6


def test_adaptive_retry_mode_gets_through_a_small_bucket(moto_url: str) -> None:
    narrow = BucketProfile(
        buckets=(BucketSpec(name="narrow", capacity=1, refill_per_s=50),),
        rules=(BucketRule(service="elbv2", buckets=("narrow",)),),
    )
    with make_proxy(moto_url, buckets=narrow) as proxy:
        adaptive = client(
            "elbv2", proxy.url, Config(retries={"mode": "adaptive", "total_max_attempts": 10})
        )
        for _ in range(4):
            adaptive.describe_load_balancers()
        op = proxy.stats().get("elbv2", "DescribeLoadBalancers")
        assert op is not None
        assert op.throttled > 0
        assert op.calls == 4 + op.throttled


def test_route53_2024_profile_has_account_and_per_action_buckets() -> None:
    clock = FakeClock()
    buckets = BucketSet(clock)
    list_zones = Call("route53", "ListHostedZones", "rest-xml")
    get_change = Call("route53", "GetChange", "rest-xml")
    taken = [buckets.try_take(ROUTE53_2024_BUCKETS.buckets_for(list_zones)) for _ in range(11)]
    assert taken == [True] * 10 + [False]  # the per-action bucket (10) runs out first
    assert buckets.try_take(ROUTE53_2024_BUCKETS.buckets_for(get_change))
    assert buckets.levels()["route53.account"] == 39  # 50 - 11 granted; refused took none


# -- counts ----------------------------------------------------------------------------------


def test_stats_count_by_operation_with_throttled_and_totals(
    proxy: AwsProxyThread,
) -> None:
    r53 = client("route53", proxy.url)
    for _ in range(7):
        with contextlib.suppress(ClientError):
            r53.list_hosted_zones()
    client("acm", proxy.url).list_certificates()
    stats = proxy.stats()
    zones = stats.get("route53", "ListHostedZones")
    assert zones is not None
    assert (zones.calls, zones.throttled, zones.faults) == (7, 2, 0)
    assert (stats.calls, stats.throttled, stats.read_calls, stats.mutating_calls) == (8, 2, 8, 0)
    assert stats.buckets["route53"] == 0

    proxy.reset_stats()
    assert proxy.stats().calls == 0


# -- fault injection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "method", "action", "code", "status"),
    [
        ("elbv2", "describe_load_balancers", "internal", "InternalFailure", 500),
        ("elbv2", "describe_load_balancers", "unavailable", "ServiceUnavailable", 503),
        ("ec2", "describe_vpcs", "internal", "InternalError", 500),
        ("ec2", "describe_vpcs", "unavailable", "Unavailable", 503),
        ("route53", "list_hosted_zones", "internal", "InternalFailure", 500),
        ("acm", "list_certificates", "unavailable", "ServiceUnavailable", 503),
    ],
)
def test_injected_5xx_has_the_service_error_format(
    proxy: AwsProxyThread, *, service: str, method: str, action: str, code: str, status: int
) -> None:
    proxy.add_fault(FaultRule(action=action, service=service, next_n=1))
    api = client(service, proxy.url)
    with pytest.raises(ClientError) as exc:
        getattr(api, method)()
    assert error_of(exc) == (code, status)
    getattr(api, method)()  # next_n=1: only the first
    assert proxy.stats().faults == 1


def test_injected_reset_and_timeout(proxy: AwsProxyThread) -> None:
    quick = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=0.3)
    elbv2 = client("elbv2", proxy.url, quick)
    proxy.add_fault(FaultRule(action="reset", service="elbv2", next_n=1))
    with pytest.raises(ConnectionClosedError):
        elbv2.describe_load_balancers()
    proxy.clear_faults()
    proxy.add_fault(FaultRule(action="timeout", service="elbv2", next_n=1, delay_s=2))
    started = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        elbv2.describe_load_balancers()
    assert time.monotonic() - started < 1.5
    elbv2.describe_load_balancers()
    assert proxy.stats().faults == 2


def test_reset_after_upstream_applies_the_call_but_loses_the_reply(
    proxy: AwsProxyThread, moto_url: str, vpc_id: str
) -> None:
    proxy.add_fault(
        FaultRule(
            action="reset",
            service="elbv2",
            operations=("CreateTargetGroup",),
            next_n=1,
            after_upstream=True,
        )
    )
    with pytest.raises(ConnectionClosedError):
        client("elbv2", proxy.url).create_target_group(
            Name="lost-reply", Protocol="HTTP", Port=80, VpcId=vpc_id
        )
    found = client("elbv2", moto_url).describe_target_groups(Names=["lost-reply"])
    assert len(found["TargetGroups"]) == 1


def test_every_nth_and_operation_globs(proxy: AwsProxyThread) -> None:
    proxy.add_fault(
        FaultRule(action="internal", service="elbv2", operations=("DescribeTarget*",), every_nth=3)
    )
    elbv2 = client("elbv2", proxy.url)
    outcomes = []
    for _ in range(6):
        try:
            elbv2.describe_target_groups()
            outcomes.append("ok")
        except ClientError:
            outcomes.append("fail")
    elbv2.describe_load_balancers()  # not matched by the glob
    assert outcomes == ["ok", "ok", "fail", "ok", "ok", "fail"]
    assert proxy.stats().faults == 2


def test_probability_faults_repeat_with_the_same_seed(moto_url: str) -> None:
    def pattern(seed: int) -> list[bool]:
        with make_proxy(moto_url, seed=seed, buckets=NO_BUCKETS) as proxy:
            proxy.add_fault(FaultRule(action="unavailable", service="acm", probability=0.5))
            acm = client("acm", proxy.url)
            failed = []
            for _ in range(16):
                try:
                    acm.list_certificates()
                    failed.append(False)
                except ClientError:
                    failed.append(True)
            return failed

    first = pattern(7)
    assert first == pattern(7)
    assert 0 < sum(first) < 16
    assert first != pattern(8)


def test_standard_retries_recover_from_a_transient_503(proxy: AwsProxyThread) -> None:
    proxy.add_fault(FaultRule(action="unavailable", service="elbv2", next_n=1))
    retrying = client("elbv2", proxy.url, Config(retries={"mode": "standard"}))
    response = retrying.describe_load_balancers()
    assert response["ResponseMetadata"]["RetryAttempts"] == 1


# -- the JSON control API --------------------------------------------------------------------


def http(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_control_api_stats_faults_reset_and_settings(proxy: AwsProxyThread) -> None:
    base = f"{proxy.url}/__proxy"
    elbv2 = client("elbv2", proxy.url)
    elbv2.describe_load_balancers()

    status, stats = http("GET", f"{base}/stats")
    assert status == 200
    assert stats["calls"] == 1
    assert stats["operations"] == [
        {
            "service": "elbv2",
            "operation": "DescribeLoadBalancers",
            "mutating": False,
            "calls": 1,
            "throttled": 0,
            "faults": 0,
        }
    ]
    assert stats["buckets"] == {"elbv2.describe": 39.0}

    status, _ = http("POST", f"{base}/faults", {"action": "internal", "service": "elbv2"})
    assert status == 201
    assert http("GET", f"{base}/faults")[1][0]["action"] == "internal"
    with pytest.raises(ClientError):
        elbv2.describe_load_balancers()
    assert http("DELETE", f"{base}/faults") == (200, [])
    elbv2.describe_load_balancers()

    status, reply = http("POST", f"{base}/faults", {"action": "internal", "every_nth": 0})
    assert status == 400
    assert "every_nth" in reply["error"]

    assert http("POST", f"{base}/reset", {"buckets": True})[0] == 200
    status, stats = http("GET", f"{base}/stats")
    assert (stats["calls"], stats["buckets"]) == (0, {})

    assert http("PUT", f"{base}/settings", {"throttling": False}) == (
        200,
        {"latency_scale": 0.0, "throttling": False},
    )
    for _ in range(45):
        elbv2.describe_load_balancers()
    assert http("GET", f"{base}/stats")[1]["throttled"] == 0
    assert http("PUT", f"{base}/settings", {"latency_scale": -1})[0] == 400


# -- latency ---------------------------------------------------------------------------------


def test_latency_by_operation_class_and_scale(moto_url: str) -> None:
    profile = LatencyProfile(
        rules=(
            LatencyRule(service="elbv2", kind="read", min_ms=300, max_ms=300),
            LatencyRule(service="*", min_ms=0, max_ms=0),
        )
    )
    with start_moto_with_proxy(latency=profile, buckets=NO_BUCKETS) as (_, proxy):
        elbv2 = client("elbv2", proxy.url)
        acm = client("acm", proxy.url)

        def timed(call: Any) -> float:
            started = time.monotonic()
            call()
            return time.monotonic() - started

        # Lower bounds are exact (the proxy sleeps at least that long); upper bounds only
        # show the rule did not apply, or was scaled, with room for a loaded machine.
        assert timed(elbv2.describe_load_balancers) >= 0.3
        assert timed(acm.list_certificates) < 0.3
        proxy.set_latency_scale(0.2)
        assert 0.06 <= timed(elbv2.describe_load_balancers) < 0.3


# -- profile validation ----------------------------------------------------------------------


def test_profiles_and_fault_rules_reject_bad_input_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="unknown bucket"):
        BucketProfile(rules=(BucketRule(service="elbv2", buckets=("missing",)),))
    with pytest.raises(ValidationError, match="names no bucket"):
        BucketRule(service="elbv2")
    with pytest.raises(ValidationError, match="max_ms < min_ms"):
        LatencyRule(min_ms=10, max_ms=5)
    with pytest.raises(ValidationError, match="at most one"):
        FaultRule(action="internal", every_nth=2, next_n=1)
    with pytest.raises(ValidationError, match="after_upstream"):
        FaultRule(action="internal", after_upstream=True)
    with pytest.raises(ValueError, match="latency_scale"):
        AwsProxyThread("http://127.0.0.1:1", latency_scale=-1)
    assert NO_LATENCY.range_ms(Call("elbv2", "DescribeLoadBalancers", "query")) == (0.0, 0.0)


def test_a_fault_mix_hits_its_rate_of_each_service_evenly_over_five_kinds() -> None:
    injector = FaultInjector(seed=7)
    for rule in fault_mix(0.2, services=("elbv2", "route53")):
        injector.add(rule)
    calls = 20_000
    fired: dict[tuple[str, str, bool], int] = {}
    for i in range(calls):
        service = ("elbv2", "route53")[i % 2]
        picked = injector.pick(Call(service, "CreateRule", "query", "eu-west-1"))
        if picked is not None:
            kind = (picked.service, picked.action, picked.after_upstream)
            fired[kind] = fired.get(kind, 0) + 1
    per_service = calls / 2
    for service in ("elbv2", "route53"):
        hits = sum(n for (s, _, _), n in fired.items() if s == service)
        assert 0.18 < hits / per_service < 0.22, (service, hits)
    assert len(fired) == 10  # five kinds for each service
    assert all(0.03 < n / per_service < 0.05 for n in fired.values()), fired


# -- the call log ------------------------------------------------------------------------------


def test_the_journal_keeps_calls_in_order_with_the_targets_of_registrations(
    unlimited: AwsProxyThread, vpc_id: str
) -> None:
    elbv2 = client("elbv2", unlimited.url)
    start = unlimited.journal()[-1].seq if unlimited.journal() else 0
    arn = elbv2.create_target_group(
        Name="journal", Protocol="HTTP", Port=80, VpcId=vpc_id, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    targets = [{"Id": "10.9.0.5", "Port": 80}, {"Id": "10.9.0.6", "Port": 80}]
    elbv2.register_targets(TargetGroupArn=arn, Targets=targets)
    elbv2.deregister_targets(TargetGroupArn=arn, Targets=targets[:1])
    elbv2.describe_target_health(TargetGroupArn=arn)
    entries = unlimited.journal(since=start)
    assert [e.operation for e in entries] == [
        "CreateTargetGroup", "RegisterTargets", "DeregisterTargets", "DescribeTargetHealth",
    ]  # fmt: skip
    assert [e.seq for e in entries] == sorted(e.seq for e in entries)
    assert entries[1].targets() == ["10.9.0.5", "10.9.0.6"]
    assert entries[2].targets() == ["10.9.0.5"]
    assert entries[1].params["TargetGroupArn"] == [arn]
    assert entries[3].params == {}  # reads keep no parameters
    assert all(e.status == 200 for e in entries)
    assert entries[0].at <= entries[3].at
    # Over the control API too.
    with urllib.request.urlopen(f"{unlimited.url}/__proxy/journal?since={entries[2].seq}") as r:
        assert [e["operation"] for e in json.loads(r.read())] == ["DescribeTargetHealth"]
