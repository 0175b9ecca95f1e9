"""One real `alb-ingress-controller run` on a real control plane, recording what it asks of
each API.

The RBAC and IAM checks compare the shipped rules with what the controller *does*, so this
runs the real process: the console entry point with the Deployment's flags (`--leader-elect`,
`--liveness`), as the ServiceAccount of deploy/manifests (a TokenRequest token, so under the
shipped RBAC) against a control plane of its own (`sandbox.controlplane`, with an audit log),
and AWS_ENDPOINT_URL at a moto server. It takes an Ingress (with ip targets and a host in a
Route 53 zone) through create, deploy, status and delete, with a TargetGroupBinding that
aws-load-balancer-controller left for its group (released after the deploy: list, patch,
delete), and a user's own TargetGroupBinding of a target group made outside the cluster
(served: watch, finalizer patches, status, deregistered on delete); the API server's audit
log records
every Kubernetes request (and its answer) and AWS_DEBUG=true makes the controller log every
AWS call. The session runs once and every ship test reads its record. The secret access key
is a unique marker, so the logs can be searched for it.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from controller.kube.bindings import GROUP, PLURAL, VERSION
from controller.kube.readiness import GATE_PREFIX, INJECT_LABEL
from sandbox import motofixes, objects
from sandbox.controller_process import ControllerExitedError, ControllerProcess
from sandbox.controlplane import ControlPlane
from sandbox.processes import free_port
from sandbox.runner import CONTROLLER_USER, install_controller_identity, install_crds
from sandbox.waiting import WaitTimeoutError, wait_until

from .artefacts import NAMESPACE

CLUSTER = "ship-test"
REGION = "us-east-1"
SECRET_KEY = "sEcReT-Marker-0f9e8d7c6b5a"  # searched for in the logs: it must never appear
# The OIDC client secret of the Ingress's auth-idp-oidc Secret: never in the logs either.
OIDC_CLIENT_SECRET = "oidc-Client-Secret-Marker-5e4d3c2b1a"
ACCESS_KEY = "AKIASHIPTESTMARKER01"
ZONE = "ship.example.com"
HOST = f"web.{ZONE}"
APP_NAMESPACE = "shop"
POD_NAME = "alb-ingress-controller-7d9f-a"
LEFTOVER = "k8s-shop-web-0f1e2d3c4b"  # LBC's TargetGroupBinding of the Ingress's target group
BOUND = "made-elsewhere"  # a user's TargetGroupBinding, of a target group Terraform made
TIMEOUT = 30.0


@dataclass
class RecordedRun:
    requests: list[dict[str, Any]]  # audit events of the controller's requests
    log_lines: list[str]  # the controller's stderr, one line each
    metrics_text: str  # /metrics as scraped while it ran
    liveness_status: int
    exit_code: int


def seed_aws(endpoint: str) -> tuple[str, str]:
    """A VPC with two internal subnets for the cluster, the Route 53 zone of HOST, an ACM
    certificate for it (the Ingress's HTTPS listener uses it) and an ip target group made
    outside the cluster (untagged); returns the certificate's and the target group's ARNs."""
    session = boto3.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
    )
    ec2: Any = session.client("ec2", endpoint_url=endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    for cidr, zone in (("10.0.11.0/24", "us-east-1a"), ("10.0.12.0/24", "us-east-1b")):
        ec2.create_subnet(
            VpcId=vpc,
            CidrBlock=cidr,
            AvailabilityZone=zone,
            TagSpecifications=[
                {
                    "ResourceType": "subnet",
                    "Tags": [
                        {"Key": "kubernetes.io/role/internal-elb", "Value": "1"},
                        {"Key": f"kubernetes.io/cluster/{CLUSTER}", "Value": "owned"},
                    ],
                }
            ],
        )
    route53: Any = session.client("route53", endpoint_url=endpoint)
    route53.create_hosted_zone(Name=ZONE, CallerReference="ship-test")
    elbv2: Any = session.client("elbv2", endpoint_url=endpoint)
    bound = elbv2.create_target_group(
        Name=BOUND, Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    return _certificate(session.client("acm", endpoint_url=endpoint)), str(bound)


def _certificate(acm: Any) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    made = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    private = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return str(
        acm.import_certificate(Certificate=made.public_bytes(pem), PrivateKey=private)[
            "CertificateArn"
        ]
    )


def seed_kube(api: k8s.ApiClient) -> None:
    # Plain dict bodies, as kubectl would send: the typed client accepts them at run time.
    core: Any = k8s.CoreV1Api(api)
    # The controller's namespace, ServiceAccount, RBAC and IngressClass come from
    # deploy/manifests (install_controller_identity); the app is a Service and an
    # EndpointSlice of our own, so no Pods are needed but the one `_gate_a_pod` makes. The
    # namespace is labelled for pod readiness gates: its new pods go through the webhook.
    labels = {INJECT_LABEL: "enabled"}
    core.create_namespace({"metadata": {"name": APP_NAMESPACE, "labels": labels}})
    # The Ingress's OIDC client (auth-idp-oidc's secretName), read through the Secret watch.
    core.create_namespaced_secret(
        APP_NAMESPACE,
        {
            "metadata": {"name": "oidc"},
            "stringData": {"clientID": "ship-client", "clientSecret": OIDC_CLIENT_SECRET},
        },
    )
    core.create_namespaced_service(
        APP_NAMESPACE,
        {
            "metadata": {"name": "web"},
            # The selector matches only the gated pod of `_gate_a_pod`.
            "spec": {"ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": "web"}},
        },
    )
    discovery: Any = k8s.DiscoveryV1Api(api)
    discovery.create_namespaced_endpoint_slice(
        APP_NAMESPACE,
        {
            "metadata": {"name": "web-1", "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "ports": [{"port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["10.0.11.10"], "conditions": {"ready": True}}],
        },
    )
    # What LBC left for the Ingress's group (LBC's labels and finalizer): released once the
    # controller has deployed the group.
    arn = f"arn:aws:elasticloadbalancing:{REGION}:123456789012:targetgroup/{LEFTOVER}/0f1e2d3c"
    custom: Any = k8s.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(
        GROUP, VERSION, APP_NAMESPACE, PLURAL,
        objects.target_group_binding(LEFTOVER, APP_NAMESPACE, arn=arn, service="web",
                                     target_type="ip", stack=f"{APP_NAMESPACE}/web"),
    )  # fmt: skip


OIDC_IDP = (
    '{"issuer": "https://idp.ship.example.com", "authorizationEndpoint": '
    '"https://idp.ship.example.com/authorize", "tokenEndpoint": '
    '"https://idp.ship.example.com/token", "userInfoEndpoint": '
    '"https://idp.ship.example.com/userinfo", "secretName": "oidc"}'
)


def ingress_body(certificate: str) -> dict[str, Any]:
    """`web` of the app namespace: ip targets, HOST `/` -> Service `web`:80 on HTTPS:443,
    authenticated by OIDC with the client of the Secret `oidc`."""
    return objects.ingress(
        "web",
        APP_NAMESPACE,
        annotations={
            "alb.ingress.kubernetes.io/target-type": "ip",
            "alb.ingress.kubernetes.io/certificate-arn": certificate,
            "alb.ingress.kubernetes.io/auth-type": "oidc",
            "alb.ingress.kubernetes.io/auth-idp-oidc": OIDC_IDP,
        },
        rules=[objects.rule(HOST, objects.path("/", "web"))],
    )


def wait_for(what: str, check: Callable[[], bool], controller: ControllerProcess) -> None:
    """Until `check()` holds; fails with the controller's log tail if it exits or time runs
    out."""
    try:
        wait_until(check, what, TIMEOUT, alive=controller.check_alive)
    except ControllerExitedError as error:
        raise AssertionError(f"waiting for {what}: {error}") from None
    except WaitTimeoutError as error:
        raise AssertionError(f"{error}; its log ends:\n{controller.tail()}") from None


def run_controller(workdir: Path) -> RecordedRun:
    """Start a control plane and moto, run the controller through one Ingress's life, stop."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines
    motofixes.apply()  # moto as the sandbox runs it (Shield's GetSubscriptionState, ...)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        with ControlPlane(workdir / "cluster") as control_plane:
            certificate, bound = seed_aws(endpoint)
            api = k8s_config.new_client_from_config(config_file=str(control_plane.kubeconfig))  # type: ignore[no-untyped-call]
            install_crds(api)
            webhook_port = free_port()
            kubeconfig = install_controller_identity(
                api, control_plane, workdir / "controller.kubeconfig", webhook_port
            )
            seed_kube(api)
            result = _drive(
                workdir,
                kubeconfig,
                endpoint,
                api,
                control_plane,
                (certificate, bound, webhook_port),
            )
            api.close()
            events = control_plane.audit_events()
    finally:
        moto.stop()
    return RecordedRun([e for e in events if e["user"]["username"] == CONTROLLER_USER], *result)


def _drive(  # noqa: PLR0917
    workdir: Path,
    kubeconfig: Path,
    endpoint: str,
    api: k8s.ApiClient,
    cp: ControlPlane,
    arns: tuple[str, str, int],
) -> tuple[list[str], str, int, int]:
    certificate, bound, webhook_port = arns
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "KUBECONFIG": str(kubeconfig),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": REGION,
        "AWS_DEBUG": "true",
        "CLUSTER_NAME": CLUSTER,
        "POD_NAME": POD_NAME,
        "POD_NAMESPACE": NAMESPACE,
        # The webhook configuration calls it on loopback (`install_controller_identity`).
        "WEBHOOK_PORT": str(webhook_port),
        "WEBHOOK_CERT_HOSTS": '["127.0.0.1"]',
    }
    # The Deployment's args (the image's entrypoint is `alb-ingress-controller run`): the
    # CLI's own log format, leader election, liveness; nothing of this process's environment.
    controller = ControllerProcess(env, workdir / "controller.log", args=("--leader-elect",),
                                   log_format=None, liveness=True, inherit_env=False)  # fmt: skip
    net: Any = k8s.NetworkingV1Api(api)
    controller.start()
    try:
        net.create_namespaced_ingress(APP_NAMESPACE, ingress_body(certificate))

        def hostname() -> bool:
            status = net.read_namespaced_ingress("web", APP_NAMESPACE).status
            return bool(status and status.load_balancer and status.load_balancer.ingress)

        wait_for("the Ingress's status hostname", hostname, controller)

        def released() -> bool:
            custom: Any = k8s.CustomObjectsApi(api)
            found = custom.list_namespaced_custom_object(GROUP, VERSION, APP_NAMESPACE, PLURAL)
            return not found["items"]

        wait_for("LBC's TargetGroupBinding released", released, controller)
        _serve_a_binding(api, bound, controller)
        _gate_a_pod(api, controller)
        # A change that deploys again: its second SuccessfullyReconciled is counted on the
        # first Event (a patch), not posted as another.
        net.patch_namespaced_ingress(
            "web", APP_NAMESPACE, [{"op": "add", "path": "/spec/rules/0/http/paths/-",
                                    "value": objects.path("/api", "web")}],
            _content_type="application/json-patch+json",
        )  # fmt: skip

        def counted_twice() -> bool:
            events = k8s.CoreV1Api(api).list_namespaced_event(APP_NAMESPACE).items
            return any(e.reason == "SuccessfullyReconciled" and e.count == 2 for e in events)

        wait_for("the repeated Event to be counted", counted_twice, controller)
        liveness = _get(controller.liveness_url or "")[0]
        metrics_text = _get(f"http://127.0.0.1:{controller.metrics_port}/metrics")[1]

        # At least one lease renewal (every 2 s) before the Ingress goes.
        def renewed() -> bool:
            return any(
                e["verb"] == "update" and e["objectRef"].get("resource") == "leases"
                for e in cp.audit_events()
                if e["user"]["username"] == CONTROLLER_USER
            )

        wait_for("a leader lease renewal", renewed, controller)
        net.delete_namespaced_ingress("web", APP_NAMESPACE)

        def gone() -> bool:
            names = [i.metadata.name for i in net.list_namespaced_ingress(APP_NAMESPACE).items]
            return "web" not in names

        wait_for("the Ingress to be deleted (teardown, finalizer released)", gone, controller)
    finally:
        controller.stop(timeout=20)
    assert controller.returncode is not None
    return controller.logs().splitlines(), metrics_text, liveness, controller.returncode


def _serve_a_binding(api: k8s.ApiClient, arn: str, controller: ControllerProcess) -> None:
    """A user's TargetGroupBinding of `arn` to Service `web`: served (finalizer, status),
    then deleted (its target deregistered, the finalizer removed)."""
    custom: Any = k8s.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(
        GROUP, VERSION, APP_NAMESPACE, PLURAL,
        objects.target_group_binding(BOUND, APP_NAMESPACE, arn=arn, service="web",
                                     target_type="ip"),
    )  # fmt: skip

    def read() -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = custom.get_namespaced_custom_object(
                GROUP, VERSION, APP_NAMESPACE, PLURAL, BOUND
            )
        except k8s.ApiException as error:
            if error.status == 404:
                return None
            raise
        return found

    def served() -> bool:
        body = read() or {}
        return (body.get("status") or {}).get("observedGeneration") == 1

    wait_for("the user's TargetGroupBinding served", served, controller)
    custom.delete_namespaced_custom_object(GROUP, VERSION, APP_NAMESPACE, PLURAL, BOUND)
    wait_for("the user's TargetGroupBinding released", lambda: read() is None, controller)


def _gate_a_pod(api: k8s.ApiClient, controller: ControllerProcess) -> None:
    """A pod of the labelled namespace, selected by `web`: the webhook gives it the gate of
    the Ingress's target group (its certificate made and renewed into the Secret, its CA
    into the webhook configuration), and once its containers are ready (as a kubelet would
    say: there is none here) the controller sets the gate's condition (pods/status)."""
    core: Any = k8s.CoreV1Api(api)
    wait_for("the webhook to serve", lambda: "webhook: serving" in controller.logs(), controller)
    made: list[str] = []

    def gated() -> bool:
        # The API server may call the webhook with its old (empty) caBundle for a moment:
        # that pod gets no gate (failurePolicy Ignore), and another is made.
        name = f"web-{len(made)}"
        pod = {"metadata": {"name": name, "labels": {"app": "web"}},
               "spec": {"containers": [{"name": "web", "image": "web"}]}}  # fmt: skip
        made.append(name)
        created = core.create_namespaced_pod(APP_NAMESPACE, pod)
        gates = created.spec.readiness_gates or ()
        if any(g.condition_type.startswith(GATE_PREFIX) for g in gates):
            return True
        core.delete_namespaced_pod(name, APP_NAMESPACE, grace_period_seconds=0)
        return False

    wait_for("a new pod to get a readiness gate", gated, controller)
    name = made[-1]
    core.patch_namespaced_pod_status(
        name,
        APP_NAMESPACE,
        {"status": {"podIP": "10.0.11.20", "podIPs": [{"ip": "10.0.11.20"}],
                    "conditions": [{"type": "ContainersReady", "status": "True"}]}},
    )  # fmt: skip

    def condition_set() -> bool:
        pod = core.read_namespaced_pod(name, APP_NAMESPACE)
        return any(c.type.startswith(GATE_PREFIX) for c in pod.status.conditions or ())

    wait_for("the gate's condition to be set", condition_set, controller)


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return int(response.status), response.read().decode()


def log_records(run: RecordedRun) -> Iterator[dict[str, Any]]:
    """The controller's JSON log records (every stderr line must be one)."""
    for line in run.log_lines:
        yield json.loads(line)
