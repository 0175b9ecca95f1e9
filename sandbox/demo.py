"""`python -m sandbox demo` (`make demo`): the whole controller, for real, on loopback.

It starts the sandbox (a real control plane built from the Kubernetes sources, kwok for the
Nodes and Pods, seeded moto), runs the controller as a subprocess (`alb-ingress-controller
run`, exactly as a user would, as the ServiceAccount of deploy/manifests, so under the
shipped RBAC), applies the 2048 example with the `kubernetes` client (so no kubectl
is needed), waits for the Ingress's hostname and its DNS records, prints what AWS now holds
(load balancer, listeners and rules, target groups and target health, Route 53 records),
then deletes the Ingress and checks that nothing tagged for the cluster is left. `--keep`
stops before the delete and leaves everything running for kubectl until Ctrl-C.

Every wait has a deadline; a failure or a timeout ends with a message saying what did not
happen and the tail of the controller's log, and a non-zero exit status.
"""

from __future__ import annotations

import functools
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO, TypeVar

from kubernetes import client, config, utils

from controller.manifests import ManifestError, load_manifests
from sandbox.aws import CLUSTER_TAG, leaks
from sandbox.controller_process import ControllerProcess
from sandbox.processes import answers
from sandbox.runner import Sandbox
from sandbox.waiting import WaitTimeoutError, wait_until

T = TypeVar("T")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "2048"
LOG_TAIL_LINES = 30


class DemoError(Exception):
    """A step that did not happen in time, or a controller that stopped."""


class Demo:
    """One run of the demo; `run()` returns the exit status."""

    def __init__(
        self,
        out: TextIO,
        manifests: Path = EXAMPLE,
        keep: bool = False,
        timeout: float = 90.0,
        stop: threading.Event | None = None,
    ) -> None:
        self.out = out
        self.manifests = manifests
        self.keep = keep
        self.timeout = timeout
        self.stop = stop or threading.Event()
        self.workdir = Path(tempfile.mkdtemp(prefix="alb-demo-"))
        self.log_path = self.workdir / "controller.log"
        self.sandbox: Sandbox | None = None
        self.controller: ControllerProcess | None = None
        self.api: Any = None
        self.started = time.monotonic()

    # Output ------------------------------------------------------------------------------

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    @contextmanager
    def step(self, text: str) -> Iterator[None]:
        """`text ... done (1.2s)` on one line."""
        self.out.write(f"{text} ... ")
        self.out.flush()
        start = time.monotonic()
        yield
        self.say(f"done ({time.monotonic() - start:.1f}s)")

    # The run -----------------------------------------------------------------------------

    def run(self) -> int:
        try:
            objects = load_manifests([self.manifests])
        except ManifestError as error:
            self.say(f"demo failed: {error}")
            return 1
        try:
            self._start()
            ingresses = self._apply(objects)
            self._show(ingresses)
            if self.keep:
                self._keep()
            else:
                self._delete_and_scan(ingresses)
            self.say(f"\nDemo finished in {time.monotonic() - self.started:.1f}s.")
            return 0
        except DemoError as error:
            self.say(f"\n\ndemo failed: {error}")
            self._log_tail()
            return 1
        finally:
            self._shutdown()

    def _start(self) -> None:
        with self.step(
            "Starting the sandbox (etcd, kube-apiserver, kube-controller-manager, "
            "kube-scheduler, kwok + moto on 127.0.0.1)"
        ):
            self.sandbox = Sandbox(kubeconfig=self.workdir / "kubeconfig").start()
        sb = self.sandbox
        assert sb.aws is not None
        version = client.VersionApi(sb.api).get_code().git_version
        self.say(
            f"  Kubernetes API  {sb.control_plane.url}  ({version}, {len(sb.nodes)} kwok "
            "nodes, IngressClass alb)"
        )
        self.say(
            f"  AWS (moto)      {sb.aws_endpoint_url}  {sb.aws.vpc_id}, subnets in "
            f"{', '.join(s.zone for s in sb.aws.public_subnets)}, zones example.com "
            "(public + private), ACM *.example.com"
        )
        self.api = config.new_client_from_config(config_file=str(sb.kubeconfig))  # type: ignore[no-untyped-call]
        controller = ControllerProcess(sb.controller_env(), self.log_path, liveness=True)
        with self.step(f"Starting the controller (log: {self.log_path})"):
            self.controller = controller
            controller.start()
            url = controller.liveness_url or ""
            self._wait(lambda: answers(url), "the controller's liveness endpoint", 30)

    def _apply(self, objects: list[dict[str, Any]]) -> list[tuple[str, str]]:
        names = ", ".join(f"{o['kind']} {o['metadata']['name']}" for o in objects)
        with self.step(f"Applying {_shown(self.manifests)} ({names})"):
            for obj in objects:
                try:
                    utils.create_from_dict(self.api, obj)  # type: ignore[no-untyped-call]
                except (client.ApiException, utils.FailToCreateError) as error:
                    name = f"{obj['kind']} {obj['metadata'].get('name')}"
                    raise DemoError(f"the API server refused {name}: {error}") from error
        ingresses = [
            (o["metadata"].get("namespace", "default"), o["metadata"]["name"])
            for o in objects
            if o["kind"] == "Ingress"
        ]
        if not ingresses:
            raise DemoError(f"no Ingress in {self.manifests}")
        return ingresses

    def _show(self, ingresses: list[tuple[str, str]]) -> None:
        net = client.NetworkingV1Api(self.api)
        hostnames: dict[str, str] = {}
        for namespace, name in ingresses:

            def hostname(ns: str = namespace, n: str = name) -> str | None:
                self._fail_on_warning(ns, n)
                status = net.read_namespaced_ingress(n, ns).status
                lbs = (status and status.load_balancer and status.load_balancer.ingress) or []
                return str(lbs[0].hostname) if lbs else None

            with self.step(f"Waiting for Ingress {namespace}/{name} to get its ALB hostname"):
                hostnames[name] = self._wait(hostname, f"a hostname on Ingress {namespace}/{name}")
            self.say(f"  status.loadBalancer.ingress[0].hostname: {hostnames[name]}")
        hosts = sorted(
            {
                rule.host
                for namespace, name in ingresses
                for rule in _ingress_rules(net, namespace, name)
                if rule.host
            }
        )
        if hosts:
            with self.step(f"Waiting for Route 53 records of {', '.join(hosts)}"):
                self._wait(lambda: all(self._records(h) for h in hosts), "DNS records")
        self.say("\nWhat the controller made in AWS:")
        for dns_name in sorted(set(hostnames.values())):
            self._show_load_balancer(dns_name)
        for host in hosts:
            self._show_records(host)

    def _keep(self) -> None:
        assert self.sandbox is not None
        self.say("\nThe sandbox and the controller keep running. In another shell:\n")
        for line in self.sandbox.exports().splitlines():
            self.say(f"  {line}")
        self.say("  kubectl get ingress -A\n\nPress Ctrl-C to stop (everything is thrown away).")
        self.stop.wait()

    def _delete_and_scan(self, ingresses: list[tuple[str, str]]) -> None:
        assert self.sandbox is not None
        net = client.NetworkingV1Api(self.api)
        self.say()
        for namespace, name in ingresses:
            with self.step(f"Deleting Ingress {namespace}/{name} (waiting for its finalizer)"):
                net.delete_namespaced_ingress(name, namespace)
                self._wait(functools.partial(self._gone, net, namespace, name), "the delete")
        cluster = self.sandbox.cluster_name
        with self.step(f"Leak scan: tag {CLUSTER_TAG}={cluster}, security groups, Route 53"):
            left = leaks(self.sandbox.aws_endpoint_url, cluster)
            if left:
                raise DemoError("still in AWS after the delete:\n  " + "\n  ".join(left))
        self.say("Everything the controller made is gone.")

    # AWS read-outs -----------------------------------------------------------------------

    def _aws(self, service: str) -> Any:
        assert self.sandbox is not None and self.sandbox.aws is not None
        return self.sandbox.aws.client(service)

    def _show_load_balancer(self, dns_name: str) -> None:
        elbv2 = self._aws("elbv2")
        lbs = [
            lb
            for lb in elbv2.describe_load_balancers()["LoadBalancers"]
            if lb["DNSName"] == dns_name
        ]
        if len(lbs) != 1:
            raise DemoError(f"expected one load balancer named {dns_name}, found {len(lbs)}")
        lb = lbs[0]
        tgs = {
            tg["TargetGroupArn"]: tg
            for tg in elbv2.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])[
                "TargetGroups"
            ]
        }
        self.say(
            f"\n  Load balancer  {lb['LoadBalancerName']}  ({lb['Scheme']}, {lb['State']['Code']})"
        )
        self.say(f"    DNS name         {lb['DNSName']}")
        zones = ", ".join(f"{z['SubnetId']} ({z['ZoneName']})" for z in lb["AvailabilityZones"])
        self.say(f"    subnets          {zones}")
        groups = self._aws("ec2").describe_security_groups(GroupIds=lb.get("SecurityGroups") or [])
        for index, group in enumerate(groups["SecurityGroups"]):
            label = "security groups" if index == 0 else ""
            self.say(f"    {label:<16} {group['GroupId']} ({group['GroupName']})")
        for listener in elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])[
            "Listeners"
        ]:
            self.say(f"  Listener  {listener['Protocol']}:{listener['Port']}")
            rules = elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
            for rule in sorted(rules, key=lambda r: (r["IsDefault"], _priority(r))):
                what = "default" if rule["IsDefault"] else f"rule {rule['Priority']}"
                self.say(f"    {what:<9} {_conditions(rule)} -> {_actions(rule, tgs)}")
        for tg in tgs.values():
            self.say(
                f"  Target group  {tg['TargetGroupName']}  ({tg['TargetType']}, "
                f"{tg['Protocol']}:{tg['Port']})"
            )
            health = elbv2.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])
            for t in health["TargetHealthDescriptions"]:
                target = f"{t['Target']['Id']}:{t['Target']['Port']}"
                self.say(f"    {target:<28} {t['TargetHealth']['State']}")

    def _records(self, host: str) -> list[tuple[str, dict[str, Any]]]:
        """(zone label, record) for `host` and its ownership records, across all zones."""
        route53 = self._aws("route53")
        found = []
        for zone in route53.list_hosted_zones()["HostedZones"]:
            kind = "private" if zone.get("Config", {}).get("PrivateZone") else "public"
            for r in route53.list_resource_record_sets(HostedZoneId=zone["Id"])[
                "ResourceRecordSets"
            ]:
                name = r["Name"].rstrip(".")
                if name == host or (name.startswith("_alb-") and name.endswith("." + host)):
                    found.append((f"{kind} zone {zone['Name'].rstrip('.')}", r))
        return found

    def _show_records(self, host: str) -> None:
        for zone, r in self._records(host):
            if "AliasTarget" in r:
                value = f"alias -> {r['AliasTarget']['DNSName'].rstrip('.')}"
            else:
                value = " ".join(v["Value"] for v in r.get("ResourceRecords") or ())
            self.say(f"  Route 53 ({zone})  {r['Name'].rstrip('.')}  {r['Type']}  {value}")

    # Helpers -----------------------------------------------------------------------------

    def _wait(self, check: Callable[[], T | None], what: str, timeout: float | None = None) -> T:
        """`sandbox.waiting.wait_until`, ended early by the controller's exit or Ctrl-C; every
        failure is a `DemoError`."""

        def alive() -> None:
            code = self.controller.exit_code() if self.controller is not None else None
            if code is not None:
                raise DemoError(
                    f"the controller exited with status {code} while waiting for {what}"
                )
            if self.stop.is_set():
                raise DemoError(f"interrupted while waiting for {what}")

        try:
            return wait_until(check, what, timeout or self.timeout, alive=alive)
        except WaitTimeoutError as error:
            raise DemoError(str(error)) from None

    def _fail_on_warning(self, namespace: str, name: str) -> None:
        """A Warning Event on the Ingress ends the wait at once, with its message."""
        events = client.CoreV1Api(self.api).list_namespaced_event(namespace).items
        for event in events:
            involved = event.involved_object
            if event.type == "Warning" and involved.kind == "Ingress" and involved.name == name:
                raise DemoError(
                    f"the controller reported {event.reason} on Ingress {namespace}/{name}: "
                    f"{event.message}"
                )

    @staticmethod
    def _gone(net: Any, namespace: str, name: str) -> bool:
        try:
            net.read_namespaced_ingress(name, namespace)
        except client.ApiException as error:
            if error.status == 404:
                return True
            raise
        return False

    def _log_tail(self) -> None:
        tail = self.controller.tail(LOG_TAIL_LINES) if self.controller is not None else ""
        lines = tail.splitlines()
        if lines:
            self.say(f"\nLast {len(lines)} lines of the controller log ({self.log_path}):")
            for line in lines:
                self.say(f"  {line}")

    def _shutdown(self) -> None:
        if self.controller is not None:
            self.controller.stop()
        if self.api is not None:
            self.api.close()
        if self.sandbox is not None:
            self.sandbox.stop()


def _ingress_rules(net: Any, namespace: str, name: str) -> list[Any]:
    spec = net.read_namespaced_ingress(name, namespace).spec
    return list(spec.rules or ()) if spec else []


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it is inside it (as a person typed it)."""
    try:
        shown = str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        shown = str(path)
    return shown + ("/" if path.is_dir() else "")


def _priority(rule: dict[str, Any]) -> int:
    return int(rule["Priority"]) if str(rule["Priority"]).isdigit() else 0


def _conditions(rule: dict[str, Any]) -> str:
    parts = []
    for c in rule["Conditions"]:
        config_key = {"host-header": "HostHeaderConfig", "path-pattern": "PathPatternConfig"}
        values = (c.get(config_key.get(c["Field"], "")) or {}).get("Values") or c.get("Values")
        parts.append(f"{c['Field']} {','.join(values or ())}")
    return "; ".join(parts) or "(any request)"


def _actions(rule: dict[str, Any], tgs: dict[str, dict[str, Any]]) -> str:
    parts = []
    for action in rule["Actions"]:
        if action["Type"] == "forward":
            arns = [action["TargetGroupArn"]] if action.get("TargetGroupArn") else [
                t["TargetGroupArn"] for t in action["ForwardConfig"]["TargetGroups"]
            ]  # fmt: skip
            names = [tgs[a]["TargetGroupName"] if a in tgs else a for a in arns]
            parts.append(f"forward to {', '.join(names)}")
        elif action["Type"] == "fixed-response":
            parts.append(f"fixed response {action['FixedResponseConfig']['StatusCode']}")
        else:
            parts.append(action["Type"])
    return "; ".join(parts)
