"""The drift sweep on the real control plane: a change made in AWS by hand is found by one
account-wide read and repaired, and a quiet period costs a few reads for the whole cluster.

The controller runs with a short sweep period (`RESYNC_SECONDS`) and no full pass during
the test (`FULL_RESYNC_SECONDS`), so what repairs the edit can only be the sweep. Its calls
are counted by an AWS proxy of the test's own.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sandbox.awsproxy import NO_BUCKETS, NO_LATENCY, AwsProxyThread
from sandbox.controller_process import ControllerProcess
from tests.e2e.harness import Scenario, wait_until

SWEEP_SECONDS = 3
SWEEP_LINE = re.compile(r"drift sweep: (\d+) groups compared, (\d+) changed")


def _sweeps(controller: ControllerProcess) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in SWEEP_LINE.findall(controller.logs())]


def test_a_health_check_edited_by_hand_is_found_by_the_sweep_and_repaired(
    scenario: Scenario, tmp_path: Path
) -> None:
    if scenario.target.sandbox is None:
        pytest.skip("counts the controller's AWS calls through a proxy of the test's own")
    proxy = AwsProxyThread(
        scenario.target.aws_endpoint_url or "", buckets=NO_BUCKETS, latency=NO_LATENCY
    )
    proxy.start()
    env = {
        **scenario.target.controller_env,
        "AWS_ENDPOINT_URL": proxy.url,
        "RESYNC_SECONDS": str(SWEEP_SECONDS),
        "FULL_RESYNC_SECONDS": "3600",
    }
    controller = ControllerProcess(env, tmp_path / "drift-controller.log")
    scenario.controller = controller
    try:
        controller.start()
        ns = scenario.namespace("drift")
        for app in ("web", "api"):
            scenario.app(ns, app)
            scenario.ingress(ns, app, [(f"{app}.drift.example.com", "/", app)])
        hostname = scenario.hostname(ns, "web", timeout=60)
        scenario.hostname(ns, "api", timeout=60)
        [tg] = scenario.lb_view(hostname).target_groups
        path = tg["HealthCheckPath"]

        # Two sweeps after both deploys: the second has a baseline for each group.
        seen = len(_sweeps(controller))
        wait_until(lambda: len(_sweeps(controller)) >= seen + 2, "two drift sweeps", 30)
        quiet = proxy.journal()[-1].seq
        wait_until(lambda: len(_sweeps(controller)) >= seen + 3, "a third drift sweep", 30)
        reads = [e.operation for e in proxy.journal(since=quiet)]
        elbv2 = scenario.aws("elbv2")
        elbv2.modify_target_group(TargetGroupArn=tg["TargetGroupArn"], HealthCheckPath="/by-hand")

        def repaired() -> bool:
            [now] = elbv2.describe_target_groups(TargetGroupArns=[tg["TargetGroupArn"]])[
                "TargetGroups"
            ]
            return bool(now["HealthCheckPath"] == path)

        wait_until(repaired, "the sweep to find the edit and the drift check to repair it", 60)
        assert f"changed in AWS by someone else: {ns}/web" in controller.logs()
        assert f"{ns}/api" not in re.findall(r"someone else: (.*)", controller.logs())[0]
        # A quiet sweep: the tagging API and one page each of load balancers and target
        # groups, whatever the number of groups; nothing mutating.
        assert reads and set(reads) <= {"GetResources", "DescribeLoadBalancers",
                                        "DescribeTargetGroups"}, reads  # fmt: skip
        print(
            f"drift sweep: {len(reads)} reads in one quiet period for 2 groups "
            f"({', '.join(sorted(set(reads)))}); edit by hand repaired"
        )
        scenario.finish()
    finally:
        controller.stop()
        proxy.stop()
