"""The pure model builder: Kubernetes objects in, the desired AWS state (`Stack`) out.

No I/O, no clocks, no AWS or Kubernetes clients: the same input always gives the same output.
Modules: `inputs` (typed views of the input, `ClusterState`), `annotations` and `values`
(the annotation table and value syntax), `groups` (class selection, groups, the finalizers
an Ingress holds), `class_params` (what an IngressClass's IngressClassParams impose),
`references` (the Services an Ingress uses), `backends` (target groups),
`ingress` (one Ingress's contribution), `assemble` (merging a group), `names`, `builder`
(entry points), `targets` (desired targets), `stack` (the output types); `binding` (a
TargetGroupBinding's spec, targets and networking, beside the Ingress model). The kube layer's
cache indexes what `groups` and `references` say, so membership has one owner.
"""

from controller.model.annotations import ANNOTATIONS, AnnotationSpec, Location, Scope
from controller.model.builder import GroupResult, build, build_group
from controller.model.groups import GroupRef, group_of, held_groups, is_our_class
from controller.model.inputs import ClusterState
from controller.model.references import referenced_secrets, referenced_services
from controller.model.stack import BuildError, ModelError, Plan, Stack
from controller.model.targets import build_targets

__all__ = [
    "ANNOTATIONS",
    "AnnotationSpec",
    "BuildError",
    "ClusterState",
    "GroupRef",
    "GroupResult",
    "Location",
    "ModelError",
    "Plan",
    "Scope",
    "Stack",
    "build",
    "build_group",
    "build_targets",
    "group_of",
    "held_groups",
    "is_our_class",
    "referenced_secrets",
    "referenced_services",
]
