"""The six scenarios of the benchmark issue, each returning its figures as plain numbers.
Scenario 7, the reliability soak, is `bench.soak.soak` (registered in `bench.__main__`).

Definitions the figures rest on (also in bench/README.md):
- "seconds to hostname/DNS": from the instant the last create call to the API server
  returned until every Ingress has `status.loadBalancer.ingress[0].hostname` / until every
  Ingress host has a Route 53 A alias record (read from moto directly, not via the proxy).
- "calls": requests that reached the proxy, throttled ones included (`ProxyStats`);
  "mutating" is every operation that is not Describe/List/Get/...
- "quiet": no request reached the proxy for `QUIET_SECONDS`.
- no-op: from a quiet point just after a drift sweep, one sweep period plus the quiet that
  ends it; reads are divided by the number of groups times the number of sweeps seen.
- restart: from the start of the new process until every group has logged the end of its
  first reconcile (`targets synced`, `targets trusted` or a deploy) and AWS is quiet; the
  figure is the time of the last AWS call or log line of that sync, whichever is later.
- target churn: each change of the set of ready addresses across the app's EndpointSlices
  (written by kube-controller-manager; timed when the harness's watch receives the event)
  is matched to the first Register/DeregisterTargets call that reaches the proxy after it.
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubernetes import client

from bench.env import BenchEnv, BenchError, status_kib
from bench.kube import ReadyAddressWatch, create_all, read_json
from bench.objects import VERSION_ANNOTATION, App, Fleet, create_ingresses, create_workloads
from bench.sizes import Size
from controller.manifests import load_manifests
from sandbox.awsproxy import ProxyStats
from sandbox.awsproxy.timed import TimedCall, TimedProxyThread
from sandbox.demo import EXAMPLE
from sandbox.waiting import WaitTimeoutError, wait_until

QUIET_SECONDS = 3.0
DEREGISTER = "DeregisterTargets"
REGISTRATION_OPS = ("RegisterTargets", DEREGISTER)
PODS_PER_NODE = 200  # of the 254 addresses of a Node's pod CIDR; the rest for rolls
NO_CHANGE_SECONDS = 10.0  # a step whose EndpointSlice addresses have not changed by then
_SYNCED = re.compile(r"^group (\S+): targets (?:synced|trusted)")
_SWEEP = re.compile(r"^drift sweep: ")
_DEPLOYING = re.compile(r"^deploying group (\S+) ")

Progress = Callable[[str], None]


def wait_quiet(proxy: TimedProxyThread, timeout: float, quiet: float = QUIET_SECONDS) -> float:
    """Wait until no call reached the proxy for `quiet` s; returns the last call's time."""

    def check() -> bool:
        return time.monotonic() - max(proxy.last_call_at(), started) >= quiet

    started = time.monotonic()
    wait_until(check, f"{quiet:.0f}s without AWS calls", timeout, interval=0.25)
    return proxy.last_call_at()


def calls_by_operation(stats: ProxyStats) -> dict[str, int]:
    return {f"{o.service}.{o.operation}": o.calls for o in stats.operations}


def throttled_by_operation(stats: ProxyStats) -> dict[str, int]:
    return {f"{o.service}.{o.operation}": o.throttled for o in stats.operations if o.throttled}


# --- 1 and 2: the 2048 example, then a no-op drift-check period ---------------------------


def create_2048_and_noop(size: Size, say: Progress) -> tuple[dict[str, Any], dict[str, Any]]:
    with BenchEnv(resync_seconds=size.resync_seconds) as env:
        proxy, controller = env.require()
        controller.start()
        wait_quiet(proxy, timeout=60)
        # First a copy in a namespace of its own with the proxy's latency off (its buckets
        # stay): the figure the incumbent was measured by on this sandbox (issue 11). Then it
        # is deleted and the example itself is timed with AWS's latency.
        copy = _renamed_2048("bare")
        bare = _create_2048(env, proxy, copy, latency_scale=0.0)
        say(f"  2048 without AWS latency: hostname {bare['seconds_to_hostname']:.2f}s")
        _delete_ingresses(env, proxy, copy)
        create_2048 = _create_2048(env, proxy, load_manifests([EXAMPLE]), latency_scale=1.0)
        create_2048["seconds_to_hostname_no_latency"] = bare["seconds_to_hostname"]
        create_2048["seconds_to_dns_no_latency"] = bare["seconds_to_dns"]
        say(
            f"  2048: hostname {create_2048['seconds_to_hostname']:.1f}s, DNS "
            f"{create_2048['seconds_to_dns']:.1f}s, {create_2048['calls']} calls"
        )

        groups = 1
        if size.noop_fleet is not None:
            fleet = size.noop_fleet
            apps = fleet.apps()
            create_workloads(env.api, apps, replicas=1, service_type="NodePort")
            create_ingresses(env.api, apps)
            wait_converged(env, fleet, apps, size.timeout_per_ingress * fleet.ingresses)
            groups += fleet.load_balancers
        noop = measure_noop(env, groups, size.resync_seconds, say)
        controller.stop()
        return create_2048, noop


def _renamed_2048(suffix: str) -> list[dict[str, Any]]:
    """The 2048 example moved to namespace `game-2048-<suffix>`, host `2048-<suffix>...`."""
    objects = load_manifests([EXAMPLE])
    for obj in objects:
        meta = obj["metadata"]
        if obj["kind"] == "Namespace":
            meta["name"] = f"{meta['name']}-{suffix}"
        elif "namespace" in meta:
            meta["namespace"] = f"{meta['namespace']}-{suffix}"
        for rule in obj.get("spec", {}).get("rules", []) if obj["kind"] == "Ingress" else []:
            head, _, rest = rule["host"].partition(".")
            rule["host"] = f"{head}-{suffix}.{rest}"
    return objects


def _create_2048(
    env: BenchEnv, proxy: TimedProxyThread, objects: list[dict[str, Any]], latency_scale: float
) -> dict[str, Any]:
    """Create `objects` (a copy of the 2048 example) and time its hostname and DNS record from
    the return of the Ingress's create call; the proxy's latency is scaled by `latency_scale`
    for the run."""
    proxy.reset_stats()
    proxy.refill_buckets()
    proxy.proxy.latency_scale = latency_scale
    try:
        create_all(env.api, objects)
        t0 = time.monotonic()
        hosts = {r["host"] for o in objects if o["kind"] == "Ingress" for r in o["spec"]["rules"]}
        namespaces = {o["metadata"]["namespace"] for o in objects if o["kind"] == "Ingress"}
        n_ingresses = sum(1 for o in objects if o["kind"] == "Ingress")
        wait_until(lambda: len(env.hostnames(namespaces)) == n_ingresses, "2048's hostname",
                   120, 0.02, alive=env.check_alive)  # fmt: skip
        t_host = time.monotonic() - t0
        wait_until(lambda: hosts <= set(env.alias_records()), "2048's DNS record", 120, 0.02,
                   alive=env.check_alive)  # fmt: skip
        t_dns = time.monotonic() - t0
        wait_quiet(proxy, timeout=120)
    finally:
        proxy.proxy.latency_scale = 1.0
    stats = proxy.stats()
    return {
        "mutating_calls": stats.mutating_calls,
        "read_calls": stats.read_calls,
        "throttled": stats.throttled,
        "calls": stats.calls,
        "seconds_to_hostname": round(t_host, 2),
        "seconds_to_dns": round(t_dns, 2),
        "operations": calls_by_operation(stats),
    }


def _delete_ingresses(
    env: BenchEnv, proxy: TimedProxyThread, objects: list[dict[str, Any]]
) -> None:
    """Delete the Ingresses of `objects` and wait for the teardown to end (AWS quiet)."""
    networking = client.NetworkingV1Api(env.api)
    for obj in objects:
        if obj["kind"] == "Ingress":
            meta = obj["metadata"]
            networking.delete_namespaced_ingress(meta["name"], meta["namespace"])
    namespaces = {o["metadata"]["namespace"] for o in objects if o["kind"] == "Ingress"}
    # An Ingress is gone once our finalizer is off, i.e. after its teardown.
    wait_until(lambda: not env.ingresses(namespaces), "the 2048 copy's teardown", 120, 0.2,
               alive=env.check_alive)  # fmt: skip
    wait_quiet(proxy, timeout=120)


def measure_noop(env: BenchEnv, groups: int, period: float, say: Progress) -> dict[str, Any]:
    proxy, controller = env.require()
    # Start just after a drift sweep has ended, so the window holds exactly one.
    seen = _count_sweeps(controller)
    wait_until(lambda: _count_sweeps(controller) >= seen + 1, "a drift sweep",
               2 * period + 300, 0.25, alive=env.check_alive)  # fmt: skip
    wait_quiet(proxy, timeout=300)
    sweeps_before = _count_sweeps(controller)
    deploys_before = _count_deploy_lines(controller)
    proxy.reset_stats()
    say(f"  no-op: watching one drift-sweep period ({period:.0f}s) over {groups} groups")
    time.sleep(period)
    wait_quiet(proxy, timeout=300)
    stats = proxy.stats()
    sweeps = max(1, _count_sweeps(controller) - sweeps_before)
    return {
        "mutating_calls": stats.mutating_calls,
        "read_calls": stats.read_calls,
        "read_calls_per_group": round(stats.read_calls / groups / sweeps, 2),
        "groups": groups,
        "drift_sweeps": sweeps,
        "drift_checks": _count_deploy_lines(controller) - deploys_before,  # groups redeployed
        "period_seconds": period,
        "operations": calls_by_operation(stats),
        "throttled_operations": throttled_by_operation(stats),
    }


def _count_sweeps(controller: Any) -> int:
    return sum(1 for e in controller.log_entries() if _SWEEP.match(str(e.get("message"))))


def _count_deploy_lines(controller: Any) -> int:
    return sum(1 for e in controller.log_entries() if _DEPLOYING.match(str(e.get("message"))))


# --- 3: scale out -------------------------------------------------------------------------


def wait_converged(
    env: BenchEnv, fleet: Fleet, apps: list[App], timeout: float
) -> tuple[float, float]:
    """Wait for every hostname, then every alias record; returns the instants (monotonic)."""
    namespaces = {fleet.namespace}
    hosts = {a.host for a in apps}
    wait_until(lambda: len(env.hostnames(namespaces)) >= len(apps), "every hostname",
               timeout, 0.5, alive=env.check_alive)  # fmt: skip
    t_host = time.monotonic()
    wait_until(lambda: hosts <= set(env.alias_records()), "every DNS record", timeout, 1.0,
               alive=env.check_alive)  # fmt: skip
    return t_host, time.monotonic()


def scale_out(env: BenchEnv, fleet: Fleet, size: Size, say: Progress) -> dict[str, Any]:
    proxy, controller = env.require()
    apps = fleet.apps()
    create_workloads(env.api, apps, replicas=1, service_type="NodePort")
    # kube-controller-manager makes the ReplicaSets and Pods at its client's rate limit.
    wait_until(lambda: env.pods_running({fleet.namespace}) >= len(apps), "the fleet's pods",
               120 + 0.5 * len(apps), 1.0, alive=env.check_alive)  # fmt: skip
    controller.start()
    wait_quiet(proxy, timeout=120)
    proxy.reset_stats()
    proxy.refill_buckets()
    create_ingresses(env.api, apps)
    t0 = time.monotonic()
    say(f"  {fleet.ingresses} Ingresses ({fleet.load_balancers} ALBs) created")
    progress = _Reporter(env, fleet, t0, say)
    try:
        t_host, t_dns = wait_converged(env, fleet, apps, size.timeout_per_ingress * len(apps))
    finally:
        progress.stop()
    stats = proxy.stats()
    seconds = max(t_host, t_dns) - t0
    say(f"  converged in {seconds:.1f}s: {stats.calls} calls, {stats.throttled} throttled")
    return {
        "ingresses": fleet.ingresses,
        "load_balancers": fleet.load_balancers,
        "seconds": round(seconds, 1),
        "seconds_to_hostname": round(t_host - t0, 1),
        "seconds_to_dns": round(t_dns - t0, 1),
        "calls": stats.calls,
        "throttled": stats.throttled,
        "mutating_calls": stats.mutating_calls,
        "read_calls": stats.read_calls,
        "calls_per_ingress": round(stats.calls / fleet.ingresses, 2),
        "controller_peak_rss_mib": round(controller.current_peak_mib(), 1),
        "operations": calls_by_operation(stats),
        "throttled_operations": throttled_by_operation(stats),
    }


class _Reporter:
    """Prints convergence progress every 30 s so a long run shows it is alive."""

    def __init__(self, env: BenchEnv, fleet: Fleet, t0: float, say: Progress) -> None:
        self._stop = threading.Event()

        def run() -> None:
            while not self._stop.wait(30):
                done = len(env.hostnames({fleet.namespace}))
                stats = env.require()[0].stats()
                say(f"    {time.monotonic() - t0:5.0f}s: {done}/{fleet.ingresses} hostnames, "
                    f"{stats.calls} calls, {stats.throttled} throttled")  # fmt: skip

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# --- 4: restart ---------------------------------------------------------------------------


def restart(env: BenchEnv, fleet: Fleet, size: Size, say: Progress) -> dict[str, Any]:
    proxy, controller = env.require()
    wait_quiet(proxy, timeout=600)
    controller.stop(signal.SIGKILL)
    proxy.reset_stats()
    proxy.refill_buckets()
    groups = fleet.group_ids()
    say(f"  controller killed (SIGKILL); restarting over {len(groups)} groups")
    t0 = time.monotonic()
    wall0 = time.time()
    controller.start(timeout=120)

    def verified() -> set[str]:
        done = set()
        for entry in controller.log_entries():
            message = str(entry.get("message"))
            match = _SYNCED.match(message) or _DEPLOYING.match(message)
            if match:
                done.add(match.group(1))
        return done

    timeout = size.timeout_per_ingress * fleet.ingresses
    wait_until(lambda: groups <= verified(), "every group to be verified", timeout, 0.5,
               alive=env.check_alive)  # fmt: skip
    last_log = max(
        (_log_time(e) for e in controller.log_entries() if _SYNCED.match(str(e.get("message")))),
        default=wall0,
    )
    last_call = wait_quiet(proxy, timeout=timeout)
    seconds = max(last_call - t0, last_log - wall0)
    stats = proxy.stats()
    say(f"  verified and idle in {seconds:.1f}s: {stats.calls} calls, "
        f"{stats.mutating_calls} mutating")  # fmt: skip
    return {
        "ingresses": fleet.ingresses,
        "groups": len(groups),
        "seconds": round(seconds, 1),
        "calls": stats.calls,
        "mutating_calls": stats.mutating_calls,
        "throttled": stats.throttled,
        "controller_peak_rss_mib": round(controller.run_peak_mib(), 1),
        "operations": calls_by_operation(stats),
        "throttled_operations": throttled_by_operation(stats),
    }


def _log_time(entry: dict[str, Any]) -> float:
    try:
        return datetime.fromisoformat(str(entry["time"])).timestamp()
    except (KeyError, ValueError):
        return 0.0


# --- 5: target churn ----------------------------------------------------------------------


def target_churn(env: BenchEnv, size: Size, say: Progress) -> dict[str, Any]:
    app = App("churn", "web", "churn-web.example.com", None)
    watch = ReadyAddressWatch(env.api, app.namespace, app.name)
    try:
        if not watch.started.wait(30):
            raise BenchError("the EndpointSlice watch did not start: " + "; ".join(watch.errors))
        return _churn(env, size, say, app, watch)
    finally:
        watch.stop()


def _churn(
    env: BenchEnv, size: Size, say: Progress, app: App, watch: ReadyAddressWatch
) -> dict[str, Any]:
    proxy, _ = env.require()
    _deploy_churn_app(env, app, replicas=size.churn[0])
    elbv2 = env.sandbox.aws.client("elbv2") if env.sandbox.aws else None
    assert elbv2 is not None
    targets = _ChurnTargets(env, proxy, watch, elbv2, say)
    targets.settle("the initial targets", 0)
    first = len(watch.changes)  # the changes measured: those after the initial targets
    mark = time.monotonic()
    _churn_rounds(env, size, say, app, targets)
    changes = watch.changes[first:]
    calls = [c for c in proxy.calls_since(mark) if c.operation in REGISTRATION_OPS]
    return _churn_summary(changes, calls)


def _deploy_churn_app(env: BenchEnv, app: App, replicas: int) -> None:
    """Create the churn app (ip targets) and wait for its Ingress's hostname."""
    create_workloads(env.api, [app], replicas=replicas, service_type="ClusterIP")
    create_ingresses(env.api, [app], target_type="ip")
    wait_until(lambda: env.hostnames({app.namespace}), "the churn app's hostname", 300, 0.2,
               alive=env.check_alive)  # fmt: skip


def _churn_rounds(
    env: BenchEnv, size: Size, say: Progress, app: App, targets: _ChurnTargets
) -> None:
    """Scale out, scale in and roll the Deployment `size.churn_rounds` times, settling each."""
    low, high, _ = size.churn
    version = 1
    for _round in range(size.churn_rounds):
        for replicas, what in ((high, "scale out"), (low, "scale in"), (None, "roll")):
            if replicas is None:
                version += 1
            seen = len(targets.watch.changes)
            _patch_deployment(env, app, replicas, str(version))
            targets.settle(f"targets after {what}", seen)
            say(f"    {what}: done")


def _churn_summary(
    changes: list[tuple[float, frozenset[str]]], calls: list[TimedCall]
) -> dict[str, Any]:
    """Latency from each address change to the next registration call, and the call counts;
    and from each change that lost an address (a pod terminating, or no longer ready) to the
    next DeregisterTargets: how long a terminating pod still gets new requests."""
    latencies = []
    removals = []
    previous: frozenset[str] | None = None
    for at, addresses in changes:
        following = next((c.at for c in calls if c.at >= at), None)
        if following is not None:
            latencies.append(following - at)
        if previous is not None and previous - addresses:
            gone = next((c.at for c in calls if c.at >= at and c.operation == DEREGISTER), None)
            if gone is not None:
                removals.append(gone - at)
        previous = addresses
    if not latencies:
        raise BenchError("target churn: no Register/DeregisterTargets call followed a change")
    latencies.sort()
    removals.sort()
    return {
        "p50_seconds": round(statistics.median(latencies), 3),
        "p99_seconds": round(_percentile(latencies, 0.99), 3),
        "max_seconds": round(latencies[-1], 3),
        "deregister_p50_seconds": round(statistics.median(removals), 3) if removals else None,
        "deregister_max_seconds": round(removals[-1], 3) if removals else None,
        "changes": len(changes),
        "calls": len(calls),
        "calls_per_change": round(len(calls) / len(changes), 2),
    }


@dataclass
class _ChurnTargets:
    """The churn app's registered ip targets, compared with its ready addresses."""

    env: BenchEnv
    proxy: TimedProxyThread
    watch: ReadyAddressWatch
    elbv2: Any
    say: Progress

    def registered(self) -> frozenset[str]:
        """The non-draining targets of the ip target groups attached to a load balancer."""
        tgs = [
            tg
            for tg in self.elbv2.describe_target_groups()["TargetGroups"]
            if tg.get("TargetType") == "ip" and tg.get("LoadBalancerArns")
        ]
        found: set[str] = set()
        for tg in tgs:
            health = self.elbv2.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])
            found |= {
                t["Target"]["Id"]
                for t in health["TargetHealthDescriptions"]
                if t["TargetHealth"]["State"] != "draining"
            }
        return frozenset(found)

    def settle(self, what: str, seen: int) -> None:
        """Wait for a change after the first `seen`, then for AWS to hold the latest set."""
        env, watch = self.env, self.watch
        try:
            wait_until(lambda: len(watch.changes) > seen, f"an EndpointSlice change ({what})",
                       NO_CHANGE_SECONDS, 0.1, alive=env.check_alive)  # fmt: skip
        except WaitTimeoutError:
            # A roll of one pod may reuse the old pod's IP: no address changed, nothing to do.
            self.say(f"    {what}: the ready addresses did not change")
            return

        def matches() -> bool:
            want = watch.changes[-1][1]
            return bool(want) and self.registered() == want

        wait_until(matches, what, 120, 0.25, alive=env.check_alive)
        wait_quiet(self.proxy, timeout=120, quiet=1.5)


def _patch_deployment(env: BenchEnv, app: App, replicas: int | None, version: str) -> None:
    """Scale the Deployment (`replicas`) and set its Pod template's version (a new version
    rolls it), in one strategic merge patch."""
    spec: dict[str, Any] = {
        "template": {"metadata": {"annotations": {VERSION_ANNOTATION: version}}}
    }
    if replicas is not None:
        spec["replicas"] = replicas
    apps = client.AppsV1Api(env.api)
    read_json(
        apps.patch_namespaced_deployment(
            app.name, app.namespace, {"spec": spec}, _preload_content=False
        )
    )


def _percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, min(len(ordered), round(q * len(ordered) + 0.5)))
    return ordered[rank - 1]


# --- 3-6 in one environment per fleet -------------------------------------------------------


def nodes_for(pods: int) -> int:
    """Nodes enough for `pods` Pods: kwok gives a Node's Pods the addresses of its /24."""
    return max(2, -(-pods // PODS_PER_NODE))


def scale_restart_churn(size: Size, say: Progress) -> dict[str, Any]:
    """Scenario 3 for every fleet (a fresh environment each); 4 and 5 in the last one; the
    controller's peak RSS (6) during 3 and 4 of the largest fleet, and the sandbox's."""
    scale: list[dict[str, Any]] = []
    results: dict[str, Any] = {"scale": scale}
    for i, fleet in enumerate(size.scale):
        last = i == len(size.scale) - 1
        say(f"scale: {fleet.ingresses} Ingresses")
        pods = fleet.ingresses + (size.churn[1] if last else 0)
        with BenchEnv(nodes=nodes_for(pods)) as env:
            _, controller = env.require()
            scale.append(scale_out(env, fleet, size, say))
            if not last:
                continue
            say("restart")
            results["restart"] = restart(env, fleet, size, say)
            peak_3_and_4 = controller.current_peak_mib()
            say("target churn")
            results["targets"] = target_churn(env, size, say)
            results["rss_mib"] = {
                "peak": round(peak_3_and_4, 1),
                "scale_peak": scale[-1]["controller_peak_rss_mib"],
                "restart_peak": results["restart"]["controller_peak_rss_mib"],
                "sandbox_harness_peak": _hwm_mib(os.getpid()),
                "sandbox_moto_peak": _hwm_mib(env.moto_pid()),
                "sandbox_apiserver_peak": _hwm_mib(env.sandbox.component_pid("kube-apiserver")),
                "sandbox_etcd_peak": _hwm_mib(env.sandbox.component_pid("etcd")),
            }
    return results


def _hwm_mib(pid: int) -> float:
    """A process's peak RSS (VmHWM) in MiB; 0 for a process that is gone."""
    return round(status_kib(pid, "VmHWM") / 1024, 1)
