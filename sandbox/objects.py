"""Kubernetes objects as plain dicts: the one set of builders for tests, benchmarks and the soak.

The model tests feed these straight to the builder (`ClusterState`), the kube-layer fakes
echo them as watch events, the e2e tests, the benchmarks and the soak create them through
the API server. They are the shapes the API returns: `apiVersion`, `kind`, `metadata` and
`spec`, with only what the caller asks for beyond that. It lives in the sandbox, not under
`tests`, because the benchmarks (`bench`) use it too and never import the tests.

- `ingress` with `rule`, `path` and `backend`: an Ingress of class `alb` (the defaults: one
  rule, `app.example.com` `/` -> Service `svc` port 80); `annotations`, `metadata` (uid,
  resourceVersion, finalizers, ...), `hostname` (the status the controller writes) and
  `deleted` (a deletionTimestamp) on request;
- `service`: a Service as the model reads it (a NodePort one with its nodePort, as if the
  API server had assigned it); `app_service` and `deployment`: an app to create on a real
  cluster (its Pods labelled `app=<name>`, the Service selecting them, ports left to the API
  server);
- `ingress_class`: the IngressClass `alb` of this controller (or another one), naming an
  IngressClassParams on request; `ingress_class_params`: one (LBC's elbv2.k8s.aws CRD), and
  `namespace`: a Namespace with labels (what its namespaceSelector matches);
- `target_group_binding`: an elbv2.k8s.aws TargetGroupBinding, as aws-load-balancer-controller
  makes them for an Ingress group (its labels and finalizer) or as a user writes one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Obj = dict[str, Any]

INGRESS_CLASS = "alb"
CONTROLLER = "ingress.k8s.aws/alb"
DELETED_AT = "2024-01-01T00:00:00Z"
LBC_BINDING_FINALIZER = "elbv2.k8s.aws/resources"
PARAMS_GROUP = "elbv2.k8s.aws"


def backend(service: str, port: int | str = 80) -> Obj:
    """A Service backend: a port number (int) or a port name (str)."""
    key = "number" if isinstance(port, int) else "name"
    return {"service": {"name": service, "port": {key: port}}}


def path(
    value: str | None, service: str = "svc", port: int | str = 80, path_type: str | None = "Prefix"
) -> Obj:
    """One HTTP path of a rule; None leaves `path` or `pathType` out."""
    result: Obj = {"backend": backend(service, port)}
    if value is not None:
        result["path"] = value
    if path_type is not None:
        result["pathType"] = path_type
    return result


def rule(host: str | None, *paths: Obj) -> Obj:
    """A rule for `host` (None: any host) with `paths`."""
    result: Obj = {"http": {"paths": list(paths)}}
    if host is not None:
        result["host"] = host
    return result


def ingress(
    name: str = "app",
    namespace: str = "default",
    *,
    annotations: Mapping[str, Any] | None = None,
    rules: list[Obj] | None = None,
    default_backend: Obj | None = None,
    tls: list[Obj] | None = None,
    class_name: str | None = INGRESS_CLASS,
    deleted: bool = False,
    metadata: Mapping[str, Any] | None = None,
    hostname: str | None = None,
) -> Obj:
    """An Ingress. With neither `rules` nor `default_backend`, one rule: `app.example.com`
    `/` -> `svc`:80. `annotations` is left out when None (an empty dict is kept); `metadata`
    adds fields (uid, resourceVersion, finalizers); `hostname` gives it the status the
    controller writes ("" for an empty one)."""
    meta: Obj = {"name": name, "namespace": namespace, **(metadata or {})}
    if annotations is not None:
        meta["annotations"] = dict(annotations)
    if deleted:
        meta["deletionTimestamp"] = DELETED_AT
    spec: Obj = {}
    if class_name is not None:
        spec["ingressClassName"] = class_name
    if rules is None and default_backend is None:
        rules = [rule("app.example.com", path("/"))]
    if rules is not None:
        spec["rules"] = rules
    if default_backend is not None:
        spec["defaultBackend"] = default_backend
    if tls is not None:
        spec["tls"] = tls
    body: Obj = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta,
                 "spec": spec}  # fmt: skip
    if hostname is not None:
        body["status"] = {"loadBalancer": {"ingress": [{"hostname": hostname}] if hostname else []}}
    return body


def service(
    name: str = "svc",
    namespace: str = "default",
    *,
    ports: list[Obj] | None = None,
    type_: str = "NodePort",
    selector: Mapping[str, str] | None = None,
    annotations: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Obj:
    """A Service; by default NodePort `http` 80 -> 8080 on node port 30080, no selector."""
    meta: Obj = {"name": name, "namespace": namespace, **(metadata or {})}
    if annotations:
        meta["annotations"] = dict(annotations)
    if ports is None:
        ports = [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080}]
    spec: Obj = {"type": type_}
    if selector is not None:
        spec["selector"] = dict(selector)
    spec["ports"] = ports
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def tcp_port(
    port: int = 80, target_port: int = 80, *, name: str | None = None, node_port: int | None = None
) -> Obj:
    """A Service port over TCP, named or not, its node port fixed or left to the API server."""
    result: Obj = {"port": port, "targetPort": target_port, "protocol": "TCP"}
    if name is not None:
        result["name"] = name
    if node_port is not None:
        result["nodePort"] = node_port
    return result


def app_service(
    name: str,
    namespace: str,
    *,
    type_: str = "NodePort",
    ports: list[Obj] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Obj:
    """The Service of the app `name`: selects `app=<name>`; by default port 80 -> 80 over TCP,
    its node port left to the API server."""
    return service(name, namespace, ports=ports or [tcp_port()], type_=type_,
                   selector={"app": name}, metadata=metadata)  # fmt: skip


def deployment(
    name: str,
    namespace: str,
    replicas: int,
    *,
    ports: Sequence[int] = (80,),
    template_annotations: Mapping[str, str] | None = None,
) -> Obj:
    """The app `name`: `replicas` Pods labelled `app=<name>` (kwok runs them on the
    sandbox), one nginx container serving `ports`."""
    labels = {"app": name}
    template_meta: Obj = {"labels": labels}
    if template_annotations is not None:
        template_meta["annotations"] = dict(template_annotations)
    container = {"name": "web", "image": "nginx", "ports": [{"containerPort": p} for p in ports]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": template_meta, "spec": {"containers": [container]}},
        },
    }


def ingress_class(
    name: str = INGRESS_CLASS,
    controller: str = CONTROLLER,
    *,
    default: bool = False,
    params: str | None = None,
) -> Obj:
    """An IngressClass of `controller` (this one's by default), the cluster default or not;
    with `params`, its spec.parameters name that IngressClassParams."""
    metadata: Obj = {"name": name}
    if default:
        metadata["annotations"] = {"ingressclass.kubernetes.io/is-default-class": "true"}
    spec: Obj = {"controller": controller}
    if params is not None:
        spec["parameters"] = {"apiGroup": PARAMS_GROUP, "kind": "IngressClassParams",
                              "name": params}  # fmt: skip
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": metadata,
        "spec": spec,
    }


def ingress_class_params(name: str, spec: Mapping[str, Any] | None = None) -> Obj:
    """An IngressClassParams (cluster-scoped) with `spec` as given, LBC's field names."""
    return {
        "apiVersion": f"{PARAMS_GROUP}/v1beta1",
        "kind": "IngressClassParams",
        "metadata": {"name": name},
        "spec": dict(spec or {}),
    }


def namespace(name: str, labels: Mapping[str, str] | None = None) -> Obj:
    """A Namespace, with `labels` if given."""
    metadata: Obj = {"name": name}
    if labels is not None:
        metadata["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def target_group_binding(
    name: str,
    namespace: str,
    *,
    arn: str | None = None,
    service: str,
    port: int | str = 80,
    target_type: str | None = "instance",
    stack: str | None = None,
    target_group_name: str | None = None,
    spec: Mapping[str, Any] | None = None,
) -> Obj:
    """A TargetGroupBinding of `arn` (or `target_group_name`) to a Service port, of
    `target_type` (None: left out, the target group's), with more `spec` fields on request.
    With `stack` (a group id: the `group.name`, or `ns/name` of a lone Ingress) it is one
    aws-load-balancer-controller made for that group: its stack labels and finalizer;
    without, a user's own, with neither."""
    metadata: Obj = {"name": name, "namespace": namespace}
    if stack is not None:
        stack_namespace, _, stack_name = stack.rpartition("/")
        metadata["labels"] = (
            {"ingress.k8s.aws/stack-namespace": stack_namespace,
             "ingress.k8s.aws/stack-name": stack_name}
            if stack_namespace
            else {"ingress.k8s.aws/stack": stack}
        )  # fmt: skip
        metadata["finalizers"] = [LBC_BINDING_FINALIZER]
    body_spec: Obj = {"serviceRef": {"name": service, "port": port}}
    if arn is not None:
        body_spec["targetGroupARN"] = arn
    if target_group_name is not None:
        body_spec["targetGroupName"] = target_group_name
    if target_type is not None:
        body_spec["targetType"] = target_type
    return {
        "apiVersion": "elbv2.k8s.aws/v1beta1",
        "kind": "TargetGroupBinding",
        "metadata": metadata,
        "spec": {**body_spec, **(spec or {})},
    }
