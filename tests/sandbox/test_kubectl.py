"""kubectl against the emulator, with default flags (validation on, client-side apply).

These run the real kubectl binary as a user would: apply (twice; the second is unchanged),
apply of an edited manifest (a strategic merge patch computed from the last-applied
annotation), get with selectors and output formats, describe with Events, delete, and wait
for deletion, a condition and a JSONPath value. If kubectl is missing they are skipped and
say so; nothing else is skipped.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

from tests.sandbox.conftest import KUBECTL, Kubectl

MANIFEST = """
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  namespace: shop
  name: web
  labels: {app: web, tier: front}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1
          ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata:
  namespace: shop
  name: web
  labels: {app: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 80, protocol: TCP}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  namespace: shop
  name: web
  labels: {app: web}
  annotations:
    alb.ingress.kubernetes.io/scheme: internet-facing
    alb.ingress.kubernetes.io/tags: team=shop
spec:
  ingressClassName: alb
  rules:
    - host: shop.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {service: {name: web, port: {number: 80}}}
"""


def test_apply_twice_then_edit(kubectl: Kubectl) -> None:
    first = kubectl("apply", "-f", "-", stdin=MANIFEST)
    assert "ingress.networking.k8s.io/web created" in first
    assert "deployment.apps/web created" in first
    second = kubectl("apply", "-f", "-", stdin=MANIFEST)
    assert second.count("unchanged") == 4, second
    edited = MANIFEST.replace("replicas: 2", "replicas: 3").replace(
        "    alb.ingress.kubernetes.io/tags: team=shop\n", ""
    )
    third = kubectl("apply", "-f", "-", stdin=edited)
    assert (
        "deployment.apps/web configured" in third
        and "ingress.networking.k8s.io/web configured" in third
    )
    ing = json.loads(kubectl("get", "ing", "web", "-n", "shop", "-o", "json"))
    assert "alb.ingress.kubernetes.io/tags" not in ing["metadata"]["annotations"]
    assert ing["metadata"]["annotations"]["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert ing["metadata"]["generation"] == 1
    deploy = json.loads(kubectl("get", "deploy", "web", "-n", "shop", "-o", "json"))
    assert deploy["spec"]["replicas"] == 3 and deploy["metadata"]["generation"] == 2


def test_get_with_selectors_and_formats(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", stdin=MANIFEST)
    names = kubectl("get", "svc,ing,deploy", "-A", "-l", "app=web", "-o", "name").split()
    assert sorted(names) == ["deployment.apps/web", "ingress.networking.k8s.io/web", "service/web"]
    assert (
        kubectl("get", "deploy", "-n", "shop", "-l", "tier in (back)", "-o", "name").strip() == ""
    )
    table = kubectl("get", "ing", "-n", "shop")
    header = table.splitlines()[0].split()
    assert header == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert "shop.example.com" in table
    host = kubectl("get", "ing", "web", "-n", "shop", "-o", "jsonpath={.spec.rules[0].host}")
    assert host == "shop.example.com"
    resources = kubectl("api-resources", "--no-headers")
    assert any(line.split()[:2] == ["ingresses", "ing"] for line in resources.splitlines())


def test_describe_ingress_lists_its_events(kubectl: Kubectl, core: Any) -> None:
    kubectl("apply", "-f", "-", stdin=MANIFEST)
    ing = json.loads(kubectl("get", "ing", "web", "-n", "shop", "-o", "json"))
    core.create_namespaced_event("shop", {
        "metadata": {"name": "web.1"},
        "involvedObject": {"kind": "Ingress", "apiVersion": "networking.k8s.io/v1",
                           "namespace": "shop", "name": "web", "uid": ing["metadata"]["uid"]},
        "reason": "FailedBuildModel", "message": "bad annotation", "type": "Warning",
        "source": {"component": "ingress"}, "count": 1,
        "firstTimestamp": "2025-01-01T00:00:00Z", "lastTimestamp": "2025-01-01T00:00:00Z",
    })  # fmt: skip
    core.create_namespaced_event("shop", {
        "metadata": {"name": "other.1"},
        "involvedObject": {"kind": "Service", "namespace": "shop", "name": "web", "uid": "x"},
        "reason": "Unrelated", "message": "not this one", "type": "Normal",
    })  # fmt: skip
    text = kubectl("describe", "ingress", "web", "-n", "shop")
    assert "shop.example.com" in text
    assert "FailedBuildModel" in text and "bad annotation" in text
    assert "Unrelated" not in text


def test_delete_and_wait_for_delete(kubectl: Kubectl, net: Any) -> None:
    kubectl("apply", "-f", "-", stdin=MANIFEST)
    net.patch_namespaced_ingress(
        "web", "shop", {"metadata": {"finalizers": ["ingress.k8s.aws/resources"]}}
    )
    out = kubectl("delete", "ing", "web", "-n", "shop", "--wait=false")
    assert 'ingress.networking.k8s.io "web" deleted' in out
    assert KUBECTL is not None
    waiter = subprocess.Popen(
        [KUBECTL, "wait", "--for=delete", "ing/web", "-n", "shop", "--timeout=20s"],
        env={"KUBECONFIG": str(kubectl.kubeconfig), "HOME": str(kubectl.kubeconfig.parent)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(0.5)
    assert waiter.poll() is None  # still held by the finalizer
    net.patch_namespaced_ingress(
        "web", "shop", {"metadata": {"finalizers": None}},
        _content_type="application/merge-patch+json",
    )  # fmt: skip
    stdout, stderr = waiter.communicate(timeout=20)
    assert waiter.returncode == 0, stderr
    assert "condition met" in stdout
    gone = kubectl("delete", "svc", "web", "-n", "shop")
    assert 'service "web" deleted' in gone
    assert "NotFound" in kubectl("get", "svc", "web", "-n", "shop", check=False)


def test_wait_for_condition_and_jsonpath(kubectl: Kubectl, core: Any) -> None:
    core.create_namespaced_pod("default", {
        "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]},
    })  # fmt: skip
    assert KUBECTL is not None
    env = {"KUBECONFIG": str(kubectl.kubeconfig), "HOME": str(kubectl.kubeconfig.parent)}
    waiter = subprocess.Popen(
        [KUBECTL, "wait", "--for=condition=Ready", "pod/p", "--timeout=20s"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(0.5)
    core.patch_namespaced_pod_status("p", "default", {"status": {
        "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
    }})  # fmt: skip
    _, stderr = waiter.communicate(timeout=20)
    assert waiter.returncode == 0, stderr
    out = kubectl("wait", "--for=jsonpath={.status.phase}=Running", "pod/p", "--timeout=5s")
    assert "condition met" in out


def test_apply_custom_resource_uses_merge_patch(kubectl: Kubectl) -> None:
    crd = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"""
    kubectl("apply", "-f", "-", stdin=crd)
    kubectl("wait", "--for=condition=Established", "crd/gadgets.example.com", "--timeout=5s")
    cr = (
        "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n"
        "spec: {size: 1, color: red}\n"
    )
    assert "gadget.example.com/g created" in kubectl("apply", "-f", "-", stdin=cr)
    changed = cr.replace("size: 1, color: red", "size: 2")
    assert "gadget.example.com/g configured" in kubectl("apply", "-f", "-", stdin=changed)
    spec = json.loads(kubectl("get", "gadget", "g", "-o", "json"))["spec"]
    assert spec == {"size": 2}
