"""A small workload simulator: the controllers and kubelets a real cluster would run.

So that an ingress controller tested against the sandbox sees real targets:
- Services get a ClusterIP and, for NodePort/LoadBalancer, node ports from 30000-32767
  (user-given ones are kept, taken ones are 422, omitted ones are kept across updates as the
  real allocator does). This runs as admission, so the create response already has them.
- Deployments get Pods (labelled with `pod-template-hash`, owned by the Deployment: the
  ReplicaSet layer is skipped), scaled up and down and replaced when the template changes;
  their status counts ready replicas.
- Pods are scheduled on Ready Nodes and become Running and Ready with an IP from the pod
  CIDR that contains the node's IP (as the AWS VPC CNI does), else the first one. With no
  Node they stay Pending, as in a real cluster.
- EndpointSlices (and v1 Endpoints) are kept current for Services with selectors, with
  ready conditions, addresses, targetRef, nodeName, zone and ports resolved by name.
- Objects whose owners are all gone are deleted (ownerReference garbage collection).
Nodes come from the caller (`add_node`), e.g. the AWS seeding that creates EC2 instances.
The loop is level-triggered: any change to the watched kinds re-runs one idempotent pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import ipaddress
import json
import logging
import uuid
from collections.abc import Iterable
from typing import Any

from controller.sandbox.errors import ApiError, invalid
from controller.sandbox.selectors import LabelSelector, Requirement
from controller.sandbox.store import Event, Obj, Store, now

log = logging.getLogger(__name__)

NODE_PORTS = range(30000, 32768)
WATCHED = {
    ("", "pods"),
    ("", "services"),
    ("", "nodes"),
    ("", "endpoints"),
    ("apps", "deployments"),
    ("discovery.k8s.io", "endpointslices"),
}
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice-controller.k8s.io"
ZONE_LABEL = "topology.kubernetes.io/zone"


def _owner_ref(obj: Obj) -> Obj:
    return {
        "apiVersion": obj.get("apiVersion", "v1"),
        "kind": obj.get("kind", ""),
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _template_hash(template: Obj) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def _condition(old: dict[str, Obj], kind: str, ok: bool, reason: str, message: str) -> Obj:
    """A status condition, keeping the old one (and its timestamps) if nothing changed."""
    status = "True" if ok else "False"
    previous = old.get(kind)
    if previous and previous.get("status") == status and previous.get("reason") == reason:
        return dict(previous)
    stamp = now()
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "lastUpdateTime": stamp, "lastTransitionTime": stamp}  # fmt: skip


def _is_ready(obj: Obj) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


class Workloads:
    """The simulator; `attach(server)` runs it with the API server."""

    def __init__(
        self,
        store: Store,
        pod_cidrs: Iterable[str] = ("10.0.128.0/17",),
        service_cidr: str = "10.96.0.0/16",
    ) -> None:
        self.store = store
        self.pod_cidrs = [ipaddress.ip_network(c) for c in pod_cidrs]
        self.service_cidr = ipaddress.ip_network(service_cidr)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._managed_endpoints: set[tuple[str, str]] = set()
        store.add_mutator(("", "services"), self._allocate_service)

    # Lifecycle ---------------------------------------------------------------------------

    def attach(self, server: Any) -> None:
        """Start and stop with an `ApiServer` (anything with on_start/on_stop hooks)."""
        server.on_start(self.start)
        server.on_stop(self.stop)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sandbox-workloads")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        sub, _ = self.store.subscribe(None, self.store.resource_version, loop)
        try:
            self.reconcile()
            while not self._stopping:
                event: Event | None = await sub.queue.get()
                if event is None:
                    break
                if event.key not in WATCHED:
                    continue
                await asyncio.sleep(0.01)  # let a burst of changes land, then one pass
                while not sub.queue.empty():
                    sub.queue.get_nowait()
                self.reconcile()
        finally:
            sub.close()

    # Nodes -------------------------------------------------------------------------------

    def add_node(
        self,
        name: str,
        provider_id: str,
        internal_ip: str,
        labels: dict[str, str] | None = None,
    ) -> Obj:
        """Register a Ready Node (an EC2 instance: providerID `aws:///<az>/<instance-id>`)."""
        all_labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            **(labels or {}),
        }
        parts = provider_id.removeprefix("aws:///").split("/")
        if provider_id.startswith("aws:///") and len(parts) == 2:
            all_labels.setdefault(ZONE_LABEL, parts[0])
            all_labels.setdefault("topology.kubernetes.io/region", parts[0][:-1])
        stamp = now()
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": all_labels},
            "spec": {"providerID": provider_id},
            "status": {
                "addresses": [
                    {"type": "InternalIP", "address": internal_ip},
                    {"type": "Hostname", "address": name},
                ],
                "conditions": [{
                    "type": "Ready", "status": "True", "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": stamp, "lastTransitionTime": stamp,
                }],
                "capacity": {"cpu": "2", "memory": "8Gi", "pods": "110"},
                "allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110"},
                # Every NodeSystemInfo field is required by the API (and by typed clients).
                "nodeInfo": {
                    "architecture": "amd64", "bootID": str(uuid.uuid4()),
                    "containerRuntimeVersion": "containerd://1.7.0",
                    "kernelVersion": "6.1.0", "kubeProxyVersion": "v1.32.0",
                    "kubeletVersion": "v1.32.0", "machineID": uuid.uuid4().hex,
                    "operatingSystem": "linux", "osImage": "Sandbox Linux",
                    "systemUUID": str(uuid.uuid4()),
                },
            },
        }  # fmt: skip
        return self.store.create(self.store.resource("nodes"), node, keep_status=True)

    def remove_node(self, name: str) -> None:
        self.store.delete(self.store.resource("nodes"), None, name)

    # Services: admission -----------------------------------------------------------------

    def _allocate_service(self, op: str, svc: Obj, old: Obj | None) -> None:
        spec = svc.setdefault("spec", {})
        name = svc["metadata"].get("name", "")
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        ports = spec.get("ports") or []
        for port in ports:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
        old_spec = (old or {}).get("spec") or {}
        if spec["type"] == "ExternalName":
            return
        if old is not None and "clusterIP" not in spec and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if old is not None and spec.get("clusterIP") != old_spec.get("clusterIP"):
            detail = f'Invalid value: "{spec.get("clusterIP")}": field is immutable'
            raise invalid("Service", "", name, "spec.clusterIP", detail)
        used_ips, used_ports = self._service_allocations(svc["metadata"].get("uid"))
        if "clusterIP" not in spec:
            spec["clusterIP"] = self._free_ip(self.service_cidr, used_ips, from_top=False)
        elif spec["clusterIP"] not in ("None", "") and op == "CREATE":
            ip = spec["clusterIP"]
            if ip in used_ips or ipaddress.ip_address(ip) not in self.service_cidr:
                raise invalid("Service", "", name, "spec.clusterIP",
                              f'Invalid value: "{ip}": provided IP is already allocated or not '
                              f"in the valid range {self.service_cidr}")  # fmt: skip
        spec["clusterIPs"] = [spec["clusterIP"]]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        if spec["type"] not in ("NodePort", "LoadBalancer"):
            for port in ports:
                port.pop("nodePort", None)
            return
        spec.setdefault("externalTrafficPolicy", "Cluster")
        previous = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                    for p in old_spec.get("ports") or []}  # fmt: skip
        for n, port in enumerate(ports):
            if "nodePort" not in port and previous.get((port.get("port"), port["protocol"])):
                port["nodePort"] = previous[(port.get("port"), port["protocol"])]
            if "nodePort" in port:
                wanted = port["nodePort"]
                mine = wanted in previous.values()
                if wanted not in NODE_PORTS or (wanted in used_ports and not mine):
                    raise invalid("Service", "", name, f"spec.ports[{n}].nodePort",
                                  f"Invalid value: {wanted}: provided port is already allocated"
                                  if wanted in NODE_PORTS else
                                  f"Invalid value: {wanted}: provided port is not in the valid "
                                  "range. The range of valid ports is 30000-32767")  # fmt: skip
            else:
                port["nodePort"] = next(p for p in NODE_PORTS if p not in used_ports)
            used_ports.add(port["nodePort"])

    def _service_allocations(self, own_uid: str | None) -> tuple[set[str], set[int]]:
        ips: set[str] = set()
        ports: set[int] = set()
        for svc in self.store.objects(("", "services")):
            if svc["metadata"].get("uid") == own_uid:
                continue
            spec = svc.get("spec") or {}
            if spec.get("clusterIP"):
                ips.add(spec["clusterIP"])
            ports.update(p["nodePort"] for p in spec.get("ports") or [] if p.get("nodePort"))
        return ips, ports

    @staticmethod
    def _free_ip(
        net: ipaddress.IPv4Network | ipaddress.IPv6Network, used: set[str], from_top: bool
    ) -> str:
        hosts = range(net.num_addresses - 2, 9, -1) if from_top else range(1, net.num_addresses - 1)
        for offset in hosts:
            ip = str(net.network_address + offset)
            if ip not in used:
                return ip
        raise ApiError(500, "InternalError", f"range {net} is full")

    # Reconcile ---------------------------------------------------------------------------

    def reconcile(self) -> None:
        """One idempotent pass over everything the simulated controllers own."""
        for step in (self._deployments, self._pods, self._deployment_status,
                     self._collect_garbage, self._endpoints):  # fmt: skip
            try:
                step()
            except ApiError as exc:  # a race with a client's change: the next pass heals it
                log.debug("workload step %s: %s", step.__name__, exc.message)

    def _deployments(self) -> None:
        pods_rt = self.store.resource("pods")
        pods = list(self.store.objects(("", "pods")))
        for deploy in self.store.objects(("apps", "deployments")):
            meta = deploy["metadata"]
            if meta.get("deletionTimestamp"):
                continue
            spec = deploy.get("spec") or {}
            template = spec.get("template") or {}
            want_hash = _template_hash(template)
            owned = [p for p in pods if not p["metadata"].get("deletionTimestamp")
                     and any(o.get("uid") == meta["uid"]
                             for o in p["metadata"].get("ownerReferences") or [])]  # fmt: skip
            current = []
            for pod in owned:
                if pod["metadata"].get("labels", {}).get("pod-template-hash") == want_hash:
                    current.append(pod)
                else:
                    self.store.delete(
                        pods_rt, pod["metadata"]["namespace"], pod["metadata"]["name"]
                    )
            replicas = spec.get("replicas", 1)
            current.sort(key=lambda p: p["metadata"]["name"])
            for pod in current[replicas:]:
                self.store.delete(pods_rt, pod["metadata"]["namespace"], pod["metadata"]["name"])
            for _ in range(replicas - len(current)):
                labels = {**(template.get("metadata") or {}).get("labels", {}),
                          "pod-template-hash": want_hash}  # fmt: skip
                pod = {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": f"{meta['name']}-{want_hash}-{uuid.uuid4().hex[:5]}",
                        "labels": labels,
                        "annotations": (template.get("metadata") or {}).get("annotations", {}),
                        "ownerReferences": [_owner_ref(deploy)],
                    },
                    "spec": template.get("spec") or {},
                }
                self.store.create(pods_rt, pod, meta["namespace"])

    def _nodes(self) -> list[Obj]:
        return sorted((n for n in self.store.objects(("", "nodes"))
                       if _is_ready(n) and not n["metadata"].get("deletionTimestamp")),
                      key=lambda n: n["metadata"]["name"])  # fmt: skip

    def _pods(self) -> None:
        pods_rt = self.store.resource("pods")
        nodes = self._nodes()
        node_by_name = {n["metadata"]["name"]: n for n in nodes}
        pods = list(self.store.objects(("", "pods")))
        load = {name: 0 for name in node_by_name}
        used = {(p.get("status") or {}).get("podIP") for p in pods}
        used |= {a["address"] for n in nodes for a in n["status"].get("addresses", [])}
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName")
            if node in load:
                load[node] += 1
        for pod in pods:
            meta = pod["metadata"]
            if meta.get("deletionTimestamp"):
                continue
            node_name = (pod.get("spec") or {}).get("nodeName")
            if not node_name:
                if not nodes:
                    continue
                node_name = min(load, key=lambda n: (load[n], n))
                load[node_name] += 1

                def bind(p: Obj, node: str = node_name) -> Obj:
                    p.setdefault("spec", {})["nodeName"] = node
                    return p

                bound = self.store.mutate(pods_rt, meta["namespace"], meta["name"], bind)
            else:
                bound = pod
            node = node_by_name.get(node_name)
            status = bound.get("status") or {}
            if node is None or (status.get("phase") == "Running" and status.get("podIP")):
                continue
            node_ip = next(a["address"] for a in node["status"]["addresses"]
                           if a["type"] == "InternalIP")  # fmt: skip
            pod_ip = self._free_ip(self._pod_cidr_for(node_ip), {u for u in used if u}, True)
            used.add(pod_ip)
            self.store.mutate(pods_rt, meta["namespace"], meta["name"],
                              functools.partial(self._running, host_ip=node_ip, pod_ip=pod_ip),
                              subresource="status")  # fmt: skip

    def _pod_cidr_for(self, node_ip: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        address = ipaddress.ip_address(node_ip)
        return next((c for c in self.pod_cidrs if address in c), self.pod_cidrs[0])

    @staticmethod
    def _running(pod: Obj, host_ip: str, pod_ip: str) -> Obj:
        stamp = now()
        pod["status"] = {
            "phase": "Running",
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}],
            "startTime": stamp,
            "qosClass": "BestEffort",
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": stamp}
                for t in ("PodReadyToStartContainers", "Initialized", "Ready",
                          "ContainersReady", "PodScheduled")
            ],
            "containerStatuses": [
                {"name": c.get("name", ""), "image": c.get("image", ""), "ready": True,
                 "imageID": f"{c.get('image', '')}@sha256:{'0' * 64}",
                 "containerID": f"containerd://{uuid.uuid4().hex}",
                 "started": True, "restartCount": 0, "state": {"running": {"startedAt": stamp}}}
                for c in (pod.get("spec") or {}).get("containers") or []
            ],
        }  # fmt: skip
        return pod

    def _deployment_status(self) -> None:
        rt = self.store.resource("deployments", "apps")
        pods = list(self.store.objects(("", "pods")))
        for deploy in self.store.objects(("apps", "deployments")):
            meta = deploy["metadata"]
            want_hash = _template_hash((deploy.get("spec") or {}).get("template") or {})
            owned = [p for p in pods if not p["metadata"].get("deletionTimestamp")
                     and any(o.get("uid") == meta["uid"]
                             for o in p["metadata"].get("ownerReferences") or [])]  # fmt: skip
            ready = sum(1 for p in owned if _is_ready(p))
            updated = sum(
                1
                for p in owned
                if p["metadata"].get("labels", {}).get("pod-template-hash") == want_hash
            )
            wanted = (deploy.get("spec") or {}).get("replicas", 1)
            old = {c["type"]: c for c in (deploy.get("status") or {}).get("conditions") or []}
            condition = functools.partial(_condition, old)

            status = {
                "observedGeneration": meta.get("generation", 1),
                "replicas": len(owned),
                "updatedReplicas": updated,
                "readyReplicas": ready,
                "availableReplicas": ready,
                "unavailableReplicas": max(0, wanted - ready),
                "conditions": [
                    condition("Available", ready >= wanted,
                              "MinimumReplicasAvailable" if ready >= wanted
                              else "MinimumReplicasUnavailable",
                              "Deployment has minimum availability."),
                    condition("Progressing", True, "NewReplicaSetAvailable",
                              f'ReplicaSet "{meta["name"]}-{want_hash}" has successfully '
                              "progressed."),
                ],
            }  # fmt: skip
            for zero in ("readyReplicas", "availableReplicas", "unavailableReplicas"):
                if not status[zero]:
                    del status[zero]

            def put(d: Obj, s: Obj = status) -> Obj:
                d["status"] = s
                return d

            self.store.mutate(rt, meta["namespace"], meta["name"], put, subresource="status")

    def _collect_garbage(self) -> None:
        keys = [rt.key for rt in self.store.registry.all()]
        uids = {o["metadata"]["uid"] for key in set(keys) for o in self.store.objects(key)}
        for key in set(keys):
            rt = next(r for r in self.store.registry.by_key(key) if r.storage is None)
            for obj in self.store.objects(key):
                owners = obj["metadata"].get("ownerReferences") or []
                if owners and not any(o.get("uid") in uids for o in owners):
                    meta = obj["metadata"]
                    with contextlib.suppress(ApiError):
                        self.store.delete(rt, meta.get("namespace"), meta["name"])

    def _endpoints(self) -> None:
        slices_rt = self.store.resource("endpointslices", "discovery.k8s.io")
        endpoints_rt = self.store.resource("endpoints")
        pods = [p for p in self.store.objects(("", "pods")) if (p.get("status") or {}).get("podIP")]
        zones = {n["metadata"]["name"]: n["metadata"].get("labels", {}).get(ZONE_LABEL)
                 for n in self.store.objects(("", "nodes"))}  # fmt: skip
        services = list(self.store.objects(("", "services")))
        present = {(s["metadata"]["namespace"], s["metadata"]["name"]) for s in services}
        for ns, name in sorted(self._managed_endpoints - present):
            with contextlib.suppress(ApiError):
                self.store.delete(endpoints_rt, ns, name)
            self._managed_endpoints.discard((ns, name))
        for svc in services:
            meta, spec = svc["metadata"], svc.get("spec") or {}
            name, ns = meta["name"], meta["namespace"]
            slice_name = f"{name}-{meta['uid'][:5]}"
            if not spec.get("selector") or meta.get("deletionTimestamp"):
                with contextlib.suppress(ApiError):
                    self.store.delete(slices_rt, ns, slice_name)
                continue
            selector = LabelSelector(tuple(Requirement(k, "=", (str(v),))
                                           for k, v in spec["selector"].items()))  # fmt: skip
            members = sorted((p for p in pods if p["metadata"]["namespace"] == ns
                              and selector.matches(p["metadata"].get("labels"))),
                             key=lambda p: p["metadata"]["name"])  # fmt: skip
            ports = [self._slice_port(port, members) for port in spec.get("ports") or []]
            endpoints = []
            for pod in members:
                ready = _is_ready(pod) and not pod["metadata"].get("deletionTimestamp")
                endpoint: Obj = {
                    "addresses": [pod["status"]["podIP"]],
                    "conditions": {"ready": ready, "serving": ready,
                                   "terminating": bool(pod["metadata"].get("deletionTimestamp"))},
                    "targetRef": {"kind": "Pod", "namespace": ns, "name": pod["metadata"]["name"],
                                  "uid": pod["metadata"]["uid"]},
                }  # fmt: skip
                node = (pod.get("spec") or {}).get("nodeName")
                if node:
                    endpoint["nodeName"] = node
                    if zones.get(node):
                        endpoint["zone"] = zones[node]
                endpoints.append(endpoint)
            desired = {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": slice_name,
                    "namespace": ns,
                    "labels": {SERVICE_NAME_LABEL: name,
                               "endpointslice.kubernetes.io/managed-by": MANAGED_BY},
                    "ownerReferences": [_owner_ref(svc)],
                },
                "addressType": "IPv4",
                "endpoints": endpoints,
                "ports": ports,
            }  # fmt: skip
            self._upsert(slices_rt, desired)
            subsets = []
            if members:
                subset: Obj = {"ports": [{k: v for k, v in p.items() if k != "appProtocol"}
                                         for p in ports]}  # fmt: skip
                addresses = [{"ip": e["addresses"][0], "nodeName": e.get("nodeName"),
                              "targetRef": e["targetRef"]} for e in endpoints]  # fmt: skip
                ready_addresses = [a for a, e in zip(addresses, endpoints, strict=True)
                                   if e["conditions"]["ready"]]  # fmt: skip
                not_ready = [a for a, e in zip(addresses, endpoints, strict=True)
                             if not e["conditions"]["ready"]]  # fmt: skip
                if ready_addresses:
                    subset["addresses"] = ready_addresses
                if not_ready:
                    subset["notReadyAddresses"] = not_ready
                subsets.append(subset)
            self._upsert(endpoints_rt, {
                "apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": name, "namespace": ns, "labels": {}},
                "subsets": subsets,
            })  # fmt: skip
            self._managed_endpoints.add((ns, name))

    @staticmethod
    def _slice_port(port: Obj, pods: list[Obj]) -> Obj:
        target = port.get("targetPort", port.get("port"))
        if isinstance(target, str):
            found = [cp.get("containerPort") for p in pods
                     for c in (p.get("spec") or {}).get("containers") or []
                     for cp in c.get("ports") or [] if cp.get("name") == target]  # fmt: skip
            target = found[0] if found else None
        out: Obj = {"name": port.get("name", ""), "protocol": port.get("protocol", "TCP")}
        if target is not None:
            out["port"] = int(target)
        if port.get("appProtocol"):
            out["appProtocol"] = port["appProtocol"]
        return out

    def _upsert(self, rt: Any, desired: Obj) -> None:
        meta = desired["metadata"]
        try:
            self.store.create(rt, desired, meta["namespace"])
        except ApiError as exc:
            if exc.code != 409:
                raise

            def replace(current: Obj) -> Obj:
                merged = {**current, **{k: v for k, v in desired.items() if k != "metadata"}}
                if "subsets" in desired and not desired["subsets"]:
                    merged["subsets"] = []
                merged["metadata"] = {**current["metadata"], "labels": meta["labels"]}
                if "ownerReferences" in meta:
                    merged["metadata"]["ownerReferences"] = meta["ownerReferences"]
                return merged

            self.store.mutate(rt, meta["namespace"], meta["name"], replace)
