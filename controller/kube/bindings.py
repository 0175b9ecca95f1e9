"""aws-load-balancer-controller's TargetGroupBindings, let go once we hold their group.

LBC ("the incumbent") makes a TargetGroupBinding for every target group of an Ingress and
registers the group's targets through it. Each binding carries LBC's finalizer
`elbv2.k8s.aws/resources`, and only LBC removes it. Once LBC is scaled to zero nobody does:
deleting the namespace hangs for ever, and a binding that points at a target group we later
replaced or deleted makes a rollback to LBC fail. This controller registers the targets of
those target groups itself, so the bindings are leftovers.

So once this controller has applied a group, or torn it down, it *releases* LBC's bindings
of that group: it removes LBC's finalizer (a JSON patch that tests the element first) and
deletes the object. A rollback to LBC simply makes them again. Which group a binding belongs
to is read from LBC's stack labels (`stack_of`); a binding of a group this controller does
not serve is never touched. A binding without them (a user's own binding of a target group
made by Terraform, say) is not released but served (`kube/binding_reconciler.py`), which in
turn skips every binding with the stack labels, so the two never act on the same one.

The bindings are listed once (`list_bindings`), when this replica starts to lead: LBC is
not running by then (`kube/incumbent.py`), so none are made afterwards. A release that fails
is logged and tried again at the group's next settle; it never fails a reconcile.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import urllib3
from kubernetes.client.exceptions import ApiException

logger = logging.getLogger(__name__)

# The CRD, as LBC installs it.
GROUP = "elbv2.k8s.aws"
VERSION = "v1beta1"
PLURAL = "targetgroupbindings"
RESOURCE = (GROUP, VERSION, PLURAL)
FINALIZER = "elbv2.k8s.aws/resources"  # LBC's, on every binding it makes
# LBC's stack labels: an explicit IngressGroup, or a lone Ingress (namespace and name).
STACK_LABEL = "ingress.k8s.aws/stack"
STACK_NAMESPACE_LABEL = "ingress.k8s.aws/stack-namespace"
STACK_NAME_LABEL = "ingress.k8s.aws/stack-name"

PAGE = 500
# Not worth a retry: gone already (404), or changed since it was listed (a failed `test`,
# 422, or uid precondition, 409): someone else is handling it.
SETTLED_STATUSES = (404, 409, 422)

Binding = Mapping[str, Any]


class BindingWriter(Protocol):
    """The write this module needs (`controller.kube.writer.KubeWriter` has it)."""

    def release_custom_object(
        self, resource: tuple[str, str, str], body: Binding, finalizer: str
    ) -> None: ...


def stack_of(labels: Mapping[str, str] | None) -> str | None:
    """The group id (`controller.model.GroupRef.id`) LBC made a binding for, from its labels:
    the group name, or `ns/name` of a lone Ingress; None when LBC's labels are absent."""
    labels = labels or {}
    if group := labels.get(STACK_LABEL):
        return group
    namespace, name = labels.get(STACK_NAMESPACE_LABEL), labels.get(STACK_NAME_LABEL)
    return f"{namespace}/{name}" if namespace and name else None


def _name(binding: Binding) -> str:
    meta = binding.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def list_bindings(api: Any, namespaces: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every TargetGroupBinding, in `namespaces` or else in the whole cluster, through a
    `kubernetes.client.CustomObjectsApi`. None when the CRD is not installed (a cluster that
    never ran LBC), nor when they cannot be listed (logged: the leftovers stay, and nothing
    else depends on them)."""
    try:
        if not namespaces:
            return _pages(api.list_cluster_custom_object, GROUP, VERSION, PLURAL)
        return [
            binding
            for ns in namespaces
            for binding in _pages(api.list_namespaced_custom_object, GROUP, VERSION, ns, PLURAL)
        ]
    except ApiException as error:
        if error.status == 404:
            return []
        if error.status == 403:
            logger.warning(
                "cannot list TargetGroupBindings: the ClusterRole lacks list on "
                "targetgroupbindings.elbv2.k8s.aws; aws-load-balancer-controller's are left as "
                "they are"
            )
        else:
            logger.warning(
                "cannot list TargetGroupBindings (HTTP %s %s)", error.status, error.reason
            )
        return []
    except (urllib3.exceptions.HTTPError, OSError) as error:
        logger.warning("cannot list TargetGroupBindings: %s", error)
        return []


def _pages(call: Callable[..., Any], *args: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = call(*args, limit=PAGE, _continue=token)
        found.extend(page.get("items") or ())
        token = (page.get("metadata") or {}).get("continue") or None
        if not token:
            return found


class IncumbentBindings:
    """LBC's bindings by group id, from one list; `release(group_id)` lets a group's go.

    Called from reconcile worker threads, for distinct groups at once (never the same group
    twice at once: the scheduler runs one reconcile per group)."""

    def __init__(self, writer: BindingWriter) -> None:
        self._writer = writer
        self._by_group: dict[str, list[Binding]] = {}
        self._lock = threading.Lock()

    def load(self, bindings: Iterable[Binding]) -> None:
        """Index LBC's bindings by group; those without its stack labels are not kept."""
        by_group: dict[str, list[Binding]] = {}
        for binding in bindings:
            group = stack_of((binding.get("metadata") or {}).get("labels"))
            if group is not None:
                by_group.setdefault(group, []).append(binding)
        with self._lock:
            self._by_group = by_group
        if by_group:
            logger.info(
                "%d TargetGroupBindings of aws-load-balancer-controller in %d groups: each "
                "group's are released once the group is applied or torn down",
                sum(len(found) for found in by_group.values()),
                len(by_group),
            )

    def pending(self, group_id: str) -> list[str]:
        """`ns/name` of the group's bindings not released yet."""
        with self._lock:
            return [_name(b) for b in self._by_group.get(group_id, ())]

    def release(self, group_id: str) -> None:
        """Release the group's bindings; one that fails stays for the next call."""
        with self._lock:
            bindings = self._by_group.pop(group_id, [])
        kept = [b for b in bindings if not self._release(group_id, b)]
        if kept:
            with self._lock:
                self._by_group.setdefault(group_id, []).extend(kept)

    def _release(self, group_id: str, binding: Binding) -> bool:
        """Whether the binding is done with: released, gone, or changed by someone else."""
        name, extra = _name(binding), {"group": group_id}
        try:
            self._writer.release_custom_object(RESOURCE, binding, FINALIZER)
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as error:
            if isinstance(error, ApiException) and error.status in SETTLED_STATUSES:
                logger.info(
                    "TargetGroupBinding %s went or changed since it was listed (HTTP %s): "
                    "left as it is",
                    name,
                    error.status,
                    extra=extra,
                )
                return True
            why = (
                f"HTTP {error.status} {error.reason}"
                if isinstance(error, ApiException)
                else str(error)
            )
            logger.warning(
                "could not release TargetGroupBinding %s (%s); trying again at the next "
                "reconcile of group %s",
                name,
                why,
                group_id,
                extra=extra,
            )
            return False
        logger.info(
            "released TargetGroupBinding %s of aws-load-balancer-controller", name, extra=extra
        )
        return True
