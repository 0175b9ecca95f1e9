"""deploy/helm/alb-ingress-controller: `helm lint` passes; `helm template` with the default
values renders what `kubectl kustomize deploy/manifests` does (object for object, labels
aside), values change what they should, and `helm install` into the session's real control
plane makes those objects, `helm uninstall` removes them.

Intended differences from the manifests, and nothing else: no Namespace (helm installs into
the release namespace), the CRDs (IngressClassParams, TargetGroupBinding) in the chart's
`crds/` (helm installs them before the templates and never renders or deletes them), the
chart's standard labels (`app.kubernetes.io/instance`, ... also in selectors, so two releases
never select each other's pods), and no placeholder IRSA annotation
(`serviceAccount.annotations` is empty by default, as in LBC's chart).
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from sandbox.binaries import Binaries, binaries
from sandbox.controlplane import ControlPlane
from sandbox.waiting import wait_until

from .artefacts import APP, MANIFESTS, NAMESPACE, REPO

CHART = REPO / "deploy" / "helm" / "alb-ingress-controller"
Obj = dict[str, Any]
Key = tuple[str, str, str | None]  # kind, name, namespace


@pytest.fixture(scope="module")
def bins() -> Binaries:
    return binaries()


@pytest.fixture(scope="module")
def helm_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """helm's cache, config and data in a temp dir, never the user's."""
    home = tmp_path_factory.mktemp("helm-home")
    return {
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
    }


def run(
    command: list[str], env: dict[str, str] | None = None, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    if ok:
        assert done.returncode == 0, f"{' '.join(command)}: {done.stderr}{done.stdout}"
    return done


def documents(text: str) -> list[Obj]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def keyed(objects: list[Obj]) -> dict[Key, Obj]:
    found: dict[Key, Obj] = {}
    for obj in objects:
        meta = obj["metadata"]
        key = (obj["kind"], meta["name"], meta.get("namespace"))
        assert key not in found, f"{key} twice"
        found[key] = obj
    return found


@pytest.fixture(scope="module")
def kustomized(bins: Binaries) -> dict[Key, Obj]:
    """What `kubectl apply -k deploy/manifests` applies."""
    return keyed(documents(run([bins.path("kubectl"), "kustomize", str(MANIFESTS)]).stdout))


class Helm:
    def __init__(self, bins: Binaries, env: dict[str, str], workdir: Path) -> None:
        self.command = bins.path("helm")
        self.env = env
        self.workdir = workdir

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        return run([self.command, *args], env=self.env, ok=ok)

    def values_file(self, values: Obj) -> str:
        path = self.workdir / f"values-{uuid.uuid4().hex[:8]}.yaml"
        path.write_text(yaml.safe_dump(values))
        return str(path)

    def template(
        self, values: Obj | None = None, release: str = APP, namespace: str = NAMESPACE
    ) -> dict[Key, Obj]:
        args = ["template", release, str(CHART), "--namespace", namespace]
        if values is not None:
            args += ["--values", self.values_file(values)]
        return keyed(documents(self(*args).stdout))


@pytest.fixture(scope="module")
def helm(
    bins: Binaries, helm_home: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Helm:
    return Helm(bins, helm_home, tmp_path_factory.mktemp("helm-values"))


def without_labels(value: Any) -> Any:
    """`value` with every `labels` and `matchLabels` map left out, recursively."""
    if isinstance(value, dict):
        return {
            k: without_labels(v) for k, v in value.items() if k not in ("labels", "matchLabels")
        }
    if isinstance(value, list):
        return [without_labels(v) for v in value]
    return value


def the(objects: dict[Key, Obj], kind: str, name: str | None = None) -> Obj:
    found = [o for (k, n, _), o in objects.items() if k == kind and name in (None, n)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def container(objects: dict[Key, Obj]) -> Obj:
    (only,) = the(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    result: Obj = only
    return result


def env(objects: dict[Key, Obj]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(objects)["env"]}


def test_helm_lint_passes(helm: Helm) -> None:
    done = helm("lint", "--strict", str(CHART))
    assert "0 chart(s) failed" in done.stdout


def test_helm_lint_fails_on_a_broken_chart(helm: Helm, tmp_path: Path) -> None:
    # The lint can fail: the same chart with a template that does not parse.
    broken = tmp_path / "alb-ingress-controller"
    subprocess.run(["cp", "-r", str(CHART), str(broken)], check=True)
    (broken / "templates" / "deployment.yaml").write_text("{{ if }}\n")
    assert helm("lint", str(broken), ok=False).returncode != 0


def test_default_values_render_the_manifests(helm: Helm, kustomized: dict[Key, Obj]) -> None:
    rendered = helm.template()
    apart = ("Namespace", "CustomResourceDefinition")
    expected = {k: o for k, o in kustomized.items() if k[0] not in apart}
    assert set(rendered) == set(expected)
    for key, manifest in expected.items():
        got = without_labels(rendered[key])
        want = without_labels(manifest)
        if key[0] == "ServiceAccount":
            # The manifests' placeholder role ARN is to be edited; the chart has no annotations.
            assert "annotations" not in got["metadata"]
            want["metadata"].pop("annotations")
        if key[0] == "Service":  # a selector is labels too: the chart's select its release
            assert got["spec"].pop("selector").items() >= want["spec"].pop("selector").items()
        assert got == want, key


def test_the_charts_crds_are_the_manifests_crds(kustomized: dict[Key, Obj]) -> None:
    files = sorted((CHART / "crds").glob("*.yaml"))
    in_chart = keyed([d for path in files for d in documents(path.read_text())])
    shipped = {k: o for k, o in kustomized.items() if k[0] == "CustomResourceDefinition"}
    assert in_chart == shipped


def test_rbac_rules_are_the_manifests(helm: Helm, kustomized: dict[Key, Obj]) -> None:
    # Covered by the comparison above, spelled out: the same rules in the same order.
    rendered = helm.template()
    roles = [k for k in kustomized if k[0] in ("ClusterRole", "Role")]
    assert len(roles) == 4  # the controller's, the leader Lease's, the webhook's two
    for kind, name, _ in roles:
        assert the(rendered, kind, name)["rules"] == the(kustomized, kind, name)["rules"]


def test_selectors_match_the_pods(helm: Helm) -> None:
    rendered = helm.template()
    deployment = the(rendered, "Deployment")
    selector = deployment["spec"]["selector"]["matchLabels"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert selector["app.kubernetes.io/name"] == APP
    assert the(rendered, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    for spread in deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]:
        assert spread["labelSelector"]["matchLabels"] == selector


def test_values_change_the_objects(helm: Helm) -> None:
    rendered = helm.template(
        {
            "clusterName": "prod",
            "region": "eu-west-1",
            "vpcId": "vpc-0123",
            "logLevel": "debug",
            "defaultTags": {"team": "web"},
            "ingressClass": "alb-internal",
            "createIngressClassResource": False,
            "replicaCount": 1,
            "podDisruptionBudget": None,
            "serviceAccount": {"create": False, "name": "existing"},
            "image": {"repository": "registry.example/alb", "tag": "9.9.9"},
            "resources": {"requests": {"cpu": "50m"}},
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "infra", "operator": "Exists", "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}},
            "watchNamespace": "web",
            "env": {"RESYNC_SECONDS": "300"},
            "enablePodReadinessGateInject": False,
        }
    )
    kinds = sorted(k for k, _, _ in rendered)
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "Deployment", "Role", "RoleBinding"]
    assert env(rendered) == {
        "CLUSTER_NAME": "prod",
        "AWS_REGION": "eu-west-1",
        "AWS_DEBUG": "true",
        "METRICS_PORT": "8081",
        "POD_NAME": {"fieldRef": {"fieldPath": "metadata.name"}},
        "POD_NAMESPACE": {"fieldRef": {"fieldPath": "metadata.namespace"}},
        "INGRESS_CLASS": "alb-internal",
        "DEFAULT_TAGS": '{"team":"web"}',
        "ENABLE_POD_READINESS_GATE_INJECT": "false",
        "RESYNC_SECONDS": "300",
    }
    deployment = the(rendered, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 1
    assert pod["serviceAccountName"] == "existing"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"][0]["key"] == "infra"
    assert "nodeAffinity" in pod["affinity"]
    assert container(rendered)["image"] == "registry.example/alb:9.9.9"
    # helm merges maps: what is not given keeps its default.
    assert container(rendered)["resources"] == {
        "requests": {"cpu": "50m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    }
    assert container(rendered)["args"][-1] == "--namespace=web"
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        assert the(rendered, kind)["subjects"] == [
            {"kind": "ServiceAccount", "name": "existing", "namespace": NAMESPACE}
        ]


def test_irsa_annotation_and_service_account_name(helm: Helm) -> None:
    arn = "arn:aws:iam::123456789012:role/alb"
    rendered = helm.template(
        {"serviceAccount": {"name": "alb-sa", "annotations": {"eks.amazonaws.com/role-arn": arn}}}
    )
    sa = the(rendered, "ServiceAccount")
    assert sa["metadata"]["name"] == "alb-sa"
    assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": arn}
    assert the(rendered, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "alb-sa"


def test_pod_disruption_budget_needs_two_replicas(helm: Helm) -> None:
    assert not [k for k in helm.template({"replicaCount": 1}) if k[0] == "PodDisruptionBudget"]
    pdb = the(helm.template({"podDisruptionBudget": {"maxUnavailable": 1}}), "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1


def test_another_release_name_prefixes_every_name(helm: Helm) -> None:
    rendered = helm.template(release="edge", namespace="ingress")
    for (kind, name, namespace), _ in rendered.items():
        if kind != "IngressClass":
            assert name.startswith("edge-alb-ingress-controller"), (kind, name)
        assert namespace in (None, "ingress")
    # The Lease is the controller's, whatever the release is called.
    full = "edge-alb-ingress-controller"
    leader = the(rendered, "Role", f"{full}-leader-election")["rules"][1]
    assert leader["resourceNames"] == ["alb-ingress-controller-leader"]
    binding = the(rendered, "RoleBinding", f"{full}-leader-election")
    assert binding["subjects"][0]["namespace"] == "ingress"
    # The webhook's objects carry the release's name, and the controller is told them.
    variables = env(rendered)
    the(rendered, "Service", variables["WEBHOOK_SERVICE_NAME"])
    the(rendered, "Secret", variables["WEBHOOK_SECRET_NAME"])
    mwc = the(rendered, "MutatingWebhookConfiguration", variables["WEBHOOK_CONFIGURATION_NAME"])
    assert mwc["webhooks"][0]["clientConfig"]["service"]["name"] == f"{full}-webhook-service"
    (secrets,) = the(rendered, "Role", f"{full}-webhook")["rules"]
    assert secrets["resourceNames"] == [variables["WEBHOOK_SECRET_NAME"]]


def test_schema_rejects_bad_values(helm: Helm) -> None:
    done = helm(
        "template", APP, str(CHART), "--set", "logLevel=verbose", "--set", "replicaCount=two",
        ok=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "logLevel" in done.stderr and "replicaCount" in done.stderr


# helm install into the session's control plane.


def exists(read: Any, *args: str) -> bool:
    try:
        read(*args)
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


@pytest.fixture
def release(control_plane: ControlPlane, namespace: str, helm: Helm) -> Iterator[tuple[str, str]]:
    """A unique release name in a fresh namespace; uninstalled afterwards if the test did not."""
    name = f"helm-{uuid.uuid4().hex[:6]}"
    yield name, namespace
    helm("uninstall", name, "--namespace", namespace, "--kubeconfig",
         str(control_plane.kubeconfig), "--ignore-not-found", ok=False)  # fmt: skip


def test_helm_install_and_uninstall(
    control_plane: ControlPlane, admin_api: client.ApiClient, helm: Helm,
    release: tuple[str, str],
) -> None:  # fmt: skip
    name, namespace = release
    kubeconfig = str(control_plane.kubeconfig)
    # The sandbox's e2e target has the IngressClass alb, and deploy/manifests' ClusterRole
    # alb-ingress-controller; every name of this release carries the release's.
    installed = helm(
        "install", name, str(CHART), "--namespace", namespace, "--kubeconfig", kubeconfig,
        "--set", "createIngressClassResource=false", "--set", "clusterName=helm-e2e",
    )  # fmt: skip
    full = f"{name}-{APP}"
    # NOTES.txt: rendered, with the hints that apply (no IRSA annotation given).
    assert f"deployment/{full}" in installed.stdout
    assert "No IRSA role" in installed.stdout and "REPLACE-ME" not in installed.stdout
    apps: Any = client.AppsV1Api(admin_api)
    core: Any = client.CoreV1Api(admin_api)
    rbac: Any = client.RbacAuthorizationV1Api(admin_api)
    policy: Any = client.PolicyV1Api(admin_api)
    plain: Any = admin_api.sanitize_for_serialization  # model -> the API's dicts
    rendered = helm.template(
        {"createIngressClassResource": False, "clusterName": "helm-e2e"}, name, namespace
    )

    deployment = apps.read_namespaced_deployment(full, namespace)
    assert deployment.spec.replicas == 2
    pod = deployment.spec.template.spec
    assert pod.service_account_name == full
    (ctr,) = pod.containers
    assert ctr.image == "alb-ingress-controller:0.1.0"
    assert {e.name: e.value for e in ctr.env}["CLUSTER_NAME"] == "helm-e2e"
    assert core.read_namespaced_service_account(full, namespace).metadata.name == full
    cluster_role = plain(rbac.read_cluster_role(full))
    assert cluster_role["rules"] == the(rendered, "ClusterRole", full)["rules"]
    binding = rbac.read_cluster_role_binding(full)
    assert binding.role_ref.name == full
    assert [(s.kind, s.name, s.namespace) for s in binding.subjects] == [
        ("ServiceAccount", full, namespace)
    ]
    role = plain(rbac.read_namespaced_role(f"{full}-leader-election", namespace))
    assert role["rules"] == the(rendered, "Role", f"{full}-leader-election")["rules"]
    assert rbac.read_namespaced_role_binding(f"{full}-leader-election", namespace).subjects
    assert policy.read_namespaced_pod_disruption_budget(full, namespace).spec.min_available == 1
    # createIngressClassResource=false: the release made no IngressClass.
    networking: Any = client.NetworkingV1Api(admin_api)
    mine = f"app.kubernetes.io/instance={name}"
    assert not networking.list_ingress_class(label_selector=mine).items
    listed = helm("list", "--namespace", namespace, "--kubeconfig", kubeconfig, "-q").stdout
    assert listed.split() == [name]

    helm("uninstall", name, "--namespace", namespace, "--kubeconfig", kubeconfig, "--wait")
    reads: list[tuple[Any, ...]] = [
        (apps.read_namespaced_deployment, full, namespace),
        (core.read_namespaced_service_account, full, namespace),
        (rbac.read_cluster_role, full),
        (rbac.read_cluster_role_binding, full),
        (rbac.read_namespaced_role, f"{full}-leader-election", namespace),
        (rbac.read_namespaced_role_binding, f"{full}-leader-election", namespace),
        (policy.read_namespaced_pod_disruption_budget, full, namespace),
    ]

    def all_gone() -> bool:
        left = [f"{r[0].__name__} {r[1:]}" for r in reads if exists(*r)]
        assert not left, left  # named if the wait times out
        return True

    wait_until(all_gone, "helm uninstall to remove every object", 30, retry_on=(AssertionError,))


def test_webhook_values(helm: Helm) -> None:
    # Off: none of its objects, and the controller is told.
    off = helm.template({"enablePodReadinessGateInject": False})
    assert not [k for k in off if k[0] in ("MutatingWebhookConfiguration", "Service", "Secret")]
    assert env(off)["ENABLE_POD_READINESS_GATE_INJECT"] == "false"
    assert "webhook-server" not in {p["name"] for p in container(off)["ports"]}
    # Its knobs reach the configuration and the pods.
    tuned = helm.template(
        {
            "webhookBindPort": 10443,
            "webhookTimeoutSeconds": 3,
            "podMutatorWebhookConfig": {"failurePolicy": "Fail"},
            "objectSelector": {"matchLabels": {"readiness": "gated"}},
        }
    )
    (hook,) = the(tuned, "MutatingWebhookConfiguration")["webhooks"]
    assert (hook["failurePolicy"], hook["timeoutSeconds"]) == ("Fail", 3)
    assert hook["objectSelector"]["matchLabels"] == {"readiness": "gated"}
    assert len(hook["objectSelector"]["matchExpressions"]) == 1  # the controller's own pods
    assert env(tuned)["WEBHOOK_PORT"] == "10443"
    ports = {p["name"]: p["containerPort"] for p in container(tuned)["ports"]}
    assert ports["webhook-server"] == 10443


def test_cert_manager_issues_the_webhook_certificate(helm: Helm) -> None:
    rendered = helm.template({"enableCertManager": True})
    mwc = the(rendered, "MutatingWebhookConfiguration")
    serving = the(rendered, "Certificate", f"{APP}-serving-cert")
    annotation = mwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
    assert annotation == f"{NAMESPACE}/{serving['metadata']['name']}"
    assert f"{APP}-webhook-service.{NAMESPACE}.svc" in serving["spec"]["dnsNames"]
    # The pods mount cert-manager's Secret and serve it; the controller keeps no Secret of
    # its own, so it gets no rights on Secrets or on the webhook configuration.
    pod = the(rendered, "Deployment")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "webhook-certs"]
    assert volume["secret"]["secretName"] == serving["spec"]["secretName"]
    (mount,) = [m for m in container(rendered)["volumeMounts"] if m["name"] == "webhook-certs"]
    assert env(rendered)["WEBHOOK_CERT_DIR"] == mount["mountPath"]
    assert not [k for k in rendered if k[0] == "Secret"]
    assert not [k for k in rendered if k[1] == f"{APP}-webhook" and "Role" in k[0]]
