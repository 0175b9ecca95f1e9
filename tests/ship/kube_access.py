"""What the controller does in the Kubernetes API: the one list the RBAC rules are checked against.

Each entry is (apiGroup, resource, verbs); "" is the core group and `ingresses/status` a
subresource. Today the list is what the operator is specified to do (plus kopf's own needs:
peering, CRD scanning, namespace observation, events). Replace it with the list derived from
the operator code; tests/ship/test_rbac.py then holds deploy/manifests to it.
"""

from __future__ import annotations

READ = ("get", "list", "watch")

# Cluster-wide, through the ClusterRole.
EXPECTED_CLUSTER_ACCESS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("networking.k8s.io", "ingresses", (*READ, "patch")),
    ("networking.k8s.io", "ingresses/status", ("patch",)),
    ("networking.k8s.io", "ingressclasses", READ),
    ("", "services", READ),
    ("", "nodes", READ),
    ("discovery.k8s.io", "endpointslices", READ),
    ("", "events", ("create", "patch")),
    ("events.k8s.io", "events", ("create", "patch")),
    # kopf: namespace observation and CRD scanning.
    ("", "namespaces", ("list", "watch")),
    ("apiextensions.k8s.io", "customresourcedefinitions", ("list", "watch")),
    # kopf peering: one replica active.
    ("kopf.dev", "clusterkopfpeerings", (*READ, "patch")),
    ("kopf.dev", "kopfpeerings", (*READ, "patch")),
)

# In one namespace, on named objects only, through a Role:
# (namespace, apiGroup, resource, resourceNames, verbs).
EXPECTED_NAMESPACED_ACCESS: tuple[tuple[str, str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    # aws-load-balancer-controller's leader Lease: start only while it is not renewed.
    (
        "kube-system",
        "coordination.k8s.io",
        "leases",
        ("aws-load-balancer-controller-leader",),
        READ,
    ),
)
