"""deploy/manifests: every file parses, is listed by its kustomization, validates against the
Kubernetes schemas (offline, kubernetes-validate's bundled ones, strict), and the Deployment
keeps its promises: HA through a leader Lease, probes, resources, a locked-down securityContext.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from controller.cli import make_parser
from controller.config import Settings
from controller.kube.readiness import INJECT_LABEL, INJECT_VALUE
from controller.kube.webhook import PATH

from .artefacts import (
    APP,
    MANIFESTS,
    NAMESPACE,
    REPO,
    load_documents,
    manifest_files,
    objects,
    the_object,
)

# The oldest and newest minor versions EKS supports in standard support when this was written.
KUBERNETES_VERSIONS = ("1.29.0", "1.34.0")

CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "IngressClass",
    "CustomResourceDefinition",
    "MutatingWebhookConfiguration",
}


def container() -> dict[str, Any]:
    deployment = the_object("Deployment", APP)
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = only
    return result


def env() -> dict[str, Any]:
    return {e["name"]: e for e in container()["env"]}


def test_every_file_parses_to_objects() -> None:
    assert manifest_files()
    for path in manifest_files():
        docs = load_documents(path)
        assert docs, f"{path} is empty"
        for doc in docs:
            assert {"apiVersion", "kind"} <= doc.keys(), path
            if doc["kind"] != "Kustomization":
                assert doc["metadata"]["name"], path


@pytest.mark.parametrize(
    "directory", sorted({p.parent for p in MANIFESTS.rglob("kustomization.yaml")})
)
def test_kustomization_lists_every_file_and_directory(directory: Path) -> None:
    (kustomization,) = load_documents(directory / "kustomization.yaml")
    listed = set(kustomization["resources"])
    present = {p.name for p in directory.glob("*.yaml") if p.name != "kustomization.yaml"}
    present |= {p.name for p in directory.iterdir() if (p / "kustomization.yaml").exists()}
    assert listed == present


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_builtin_objects_validate_against_kubernetes_schemas(version: str) -> None:
    checked = 0
    for obj in objects():
        kubernetes_validate.validate(obj, version, strict=True)
        checked += 1
    assert checked >= 10


def test_strict_validation_rejects_a_misspelt_field() -> None:
    # The schema check above can fail: an unknown field in a Deployment is an error.
    deployment = the_object("Deployment", APP)
    bad = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSIONS[-1], strict=True)


def test_the_only_crds_are_lbcs_ingress_class_params_and_target_group_binding() -> None:
    # High availability is a coordination.k8s.io Lease: no kopf peering objects. The CRDs are
    # aws-load-balancer-controller's IngressClassParams and TargetGroupBinding, under LBC's
    # names, so the objects of a cluster that ran LBC stay readable (and kubectl's short
    # names work as before).
    assert not [o for o in objects() if "kopf" in o["apiVersion"]]
    crds = {o["metadata"]["name"]: o for o in objects() if o["kind"] == "CustomResourceDefinition"}
    assert sorted(crds) == [
        "ingressclassparams.elbv2.k8s.aws",
        "targetgroupbindings.elbv2.k8s.aws",
    ]
    params = crds["ingressclassparams.elbv2.k8s.aws"]["spec"]
    assert (params["group"], params["scope"]) == ("elbv2.k8s.aws", "Cluster")
    assert params["names"] == {
        "kind": "IngressClassParams",
        "listKind": "IngressClassParamsList",
        "plural": "ingressclassparams",
        "singular": "ingressclassparams",
    }
    assert [(v["name"], v["served"], v["storage"]) for v in params["versions"]] == [
        ("v1beta1", True, True)
    ]
    bindings = crds["targetgroupbindings.elbv2.k8s.aws"]["spec"]
    assert (bindings["group"], bindings["scope"]) == ("elbv2.k8s.aws", "Namespaced")
    assert bindings["names"] == {
        "kind": "TargetGroupBinding",
        "listKind": "TargetGroupBindingList",
        "plural": "targetgroupbindings",
        "singular": "targetgroupbinding",
    }
    # v1beta1 stored, v1alpha1 still served (as by LBC, so LBC's CRD can be replaced).
    assert [(v["name"], v["served"], v["storage"]) for v in bindings["versions"]] == [
        ("v1beta1", True, True),
        ("v1alpha1", True, False),
    ]
    assert all(v["subresources"] == {"status": {}} for v in bindings["versions"])


# Every spec field of LBC's v1beta1 TargetGroupBinding (v2.x).
LBC_BINDING_FIELDS = {
    "targetGroupARN", "targetGroupName", "targetType", "serviceRef", "networking",
    "nodeSelector", "ipAddressType", "vpcID", "multiClusterTargetGroup",
    "targetGroupProtocol", "iamRoleArnToAssume", "assumeRoleExternalId",
}  # fmt: skip


def test_the_target_group_binding_crd_has_lbcs_fields() -> None:
    crd = the_object("CustomResourceDefinition", "targetgroupbindings.elbv2.k8s.aws")
    (v1beta1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1beta1"]
    schema = v1beta1["schema"]["openAPIV3Schema"]["properties"]
    assert set(schema["spec"]["properties"]) == LBC_BINDING_FIELDS
    assert schema["spec"]["required"] == ["serviceRef"]
    assert set(schema["status"]["properties"]) == {"observedGeneration"}


@pytest.mark.parametrize(
    ("shipped", "copy"),
    [
        ("ingressclassparams-crd.yaml", "ingressclassparams.yaml"),
        ("targetgroupbindings-crd.yaml", "targetgroupbindings.yaml"),
    ],
)
def test_the_crd_copies_are_the_manifests_crd(shipped: str, copy: str) -> None:
    # The Helm chart installs it from crds/, the sandbox from sandbox/crds/: one text.
    text = (MANIFESTS / shipped).read_text()
    for path in (
        REPO / "deploy" / "helm" / "alb-ingress-controller" / "crds" / copy,
        REPO / "sandbox" / "crds" / copy,
    ):
        assert path.read_text() == text, f"{path} differs from the manifests' CRD"


def test_namespaces_are_where_they_belong() -> None:
    for obj in objects():
        namespace = obj["metadata"].get("namespace")
        if obj["kind"] in CLUSTER_SCOPED:
            assert namespace is None, obj["metadata"]["name"]
        else:
            assert namespace == NAMESPACE, f"{obj['kind']} {obj['metadata']['name']}"


def test_namespace_enforces_restricted_pod_security() -> None:
    labels = the_object("Namespace", NAMESPACE)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_service_account_has_irsa_placeholder() -> None:
    sa = the_object("ServiceAccount", APP)
    arn = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert arn == "arn:aws:iam::111122223333:role/REPLACE-ME"
    pod = the_object("Deployment", APP)["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == APP


def test_ingress_class_is_lbcs() -> None:
    ingress_class = the_object("IngressClass", "alb")
    assert ingress_class["spec"] == {"controller": "ingress.k8s.aws/alb"}


def test_bindings_point_at_shipped_roles_and_the_service_account() -> None:
    for kind, role_kind in (("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")):
        bindings = [o for o in objects() if o["kind"] == kind]
        assert bindings, kind
        for binding in bindings:
            the_object(role_kind, binding["roleRef"]["name"])
            assert binding["subjects"] == [
                {"kind": "ServiceAccount", "name": APP, "namespace": NAMESPACE}
            ]


def test_two_replicas_elect_a_leader_on_a_lease_in_their_namespace() -> None:
    deployment = the_object("Deployment", APP)
    assert deployment["spec"]["replicas"] == 2
    assert container()["args"][0] == "--leader-elect"
    assert not [a for a in container()["args"] if a.startswith(("--peering", "--priority"))]
    # The elector's identity is the pod name; the Lease lives in the pod's namespace.
    assert env()["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env()["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    role = the_object("Role", "alb-ingress-controller-leader-election")
    assert role["metadata"]["namespace"] == NAMESPACE
    # The image's entrypoint is `alb-ingress-controller run`: no command override.
    assert "command" not in container()


def test_the_deployment_args_are_flags_run_accepts() -> None:
    parser = make_parser()
    args = parser.parse_args(["run", *container()["args"]])
    assert args.leader_elect is True
    assert args.liveness == "http://0.0.0.0:8080/healthz"


def test_probes_hit_kopfs_health_endpoint() -> None:
    args = container()["args"]
    assert "--liveness=http://0.0.0.0:8080/healthz" in args
    ports = {p["name"]: p["containerPort"] for p in container()["ports"]}
    assert ports == {"health": 8080, "metrics": 8081, "webhook-server": 9443}
    for probe in ("livenessProbe", "readinessProbe"):
        http = container()[probe]["httpGet"]
        assert (http["path"], ports[http["port"]]) == ("/healthz", 8080), probe


def test_settings_are_env_vars() -> None:
    variables = env()
    assert variables["CLUSTER_NAME"]["value"] == "REPLACE-ME"
    assert variables["AWS_REGION"]["value"]
    assert variables["AWS_DEBUG"]["value"] == "false"
    assert variables["METRICS_PORT"]["value"] == "8081"


def test_resources_have_requests_and_limits() -> None:
    resources = container()["resources"]
    assert resources["requests"] == {"cpu": "100m", "memory": "128Mi"}
    assert resources["limits"] == {"cpu": "500m", "memory": "256Mi"}


def test_security_context_is_locked_down() -> None:
    pod = the_object("Deployment", APP)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    context = container()["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] == 65532
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}


def test_tmp_is_the_only_writable_mount() -> None:
    pod = the_object("Deployment", APP)["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in container()["volumeMounts"]}
    assert mounts == {"/tmp": "tmp"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes["tmp"]


def test_replicas_spread_over_nodes_and_zones() -> None:
    pod = the_object("Deployment", APP)["spec"]["template"]["spec"]
    labels = the_object("Deployment", APP)["spec"]["template"]["metadata"]["labels"]
    keys = set()
    for constraint in pod["topologySpreadConstraints"]:
        assert constraint["labelSelector"]["matchLabels"].items() <= labels.items()
        keys.add(constraint["topologyKey"])
    assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}


def test_pod_disruption_budget_keeps_one_replica() -> None:
    pdb = the_object("PodDisruptionBudget", APP)
    assert pdb["spec"]["minAvailable"] == 1
    deployment = the_object("Deployment", APP)
    selector = pdb["spec"]["selector"]["matchLabels"]
    assert selector == deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    # Rolling updates never drop below the budget either.
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_the_readiness_gate_webhook_fits_the_controller_and_never_blocks_pods() -> None:
    # The names and port are the controller's defaults, so the Deployment needs no settings.
    settings = Settings()
    mwc = the_object("MutatingWebhookConfiguration", settings.webhook_configuration_name)
    (hook,) = mwc["webhooks"]
    # A controller that is down must never stop pods from being created, nor stall them.
    assert hook["failurePolicy"] == "Ignore"
    assert hook["timeoutSeconds"] <= 10
    assert hook["sideEffects"] == "None"
    assert hook["rules"] == [
        {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
         "resources": ["pods"], "scope": "Namespaced"}
    ]  # fmt: skip
    # Only labelled namespaces, never the controller's own pods.
    assert hook["namespaceSelector"] == {
        "matchExpressions": [{"key": INJECT_LABEL, "operator": "In", "values": [INJECT_VALUE]}]
    }
    assert hook["objectSelector"]["matchExpressions"] == [
        {"key": "app.kubernetes.io/name", "operator": "NotIn", "values": [APP]}
    ]
    # The caBundle is the leader's to write: none shipped.
    assert "caBundle" not in hook["clientConfig"]
    ref = hook["clientConfig"]["service"]
    assert (ref["name"], ref["namespace"], ref["path"]) == (
        settings.webhook_service_name,
        NAMESPACE,
        PATH,
    )
    service = the_object("Service", settings.webhook_service_name)
    (port,) = service["spec"]["ports"]
    assert port["port"] == ref["port"]
    ports = {p["name"]: p["containerPort"] for p in container()["ports"]}
    assert ports[port["targetPort"]] == settings.webhook_port
    pod_labels = the_object("Deployment", APP)["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    # The Secret is shipped empty (the controller never creates one) and is the only one
    # the controller may read or write, by name.
    secret = the_object("Secret", settings.webhook_secret_name)
    assert "data" not in secret and "stringData" not in secret
    (rule,) = the_object("Role", "alb-ingress-controller-webhook")["rules"]
    assert rule["resources"] == ["secrets"]
    assert rule["resourceNames"] == [settings.webhook_secret_name]
    assert rule["verbs"] == ["get", "update"]
    (rule,) = the_object("ClusterRole", "alb-ingress-controller-webhook")["rules"]
    assert rule["resourceNames"] == [settings.webhook_configuration_name]
    assert rule["verbs"] == ["get", "patch"]
