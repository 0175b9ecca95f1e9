"""A CRD the cluster does not serve, against a real kube-apiserver: listing its kind answers
404, which the lister reports as an unavailable kind (the controller goes on without it),
while the kinds the cluster serves list as before."""

from __future__ import annotations

import functools

import pytest
from kubernetes import client as k8s

from controller.kube.sync import ApiLister, UnavailableKindError


def test_a_kind_without_its_crd_is_unavailable_not_an_error(
    admin_api: k8s.ApiClient, namespace: str
) -> None:
    lister = ApiLister(admin_api)
    # The session's control plane may have the IngressClassParams CRD (the sandbox installs
    # it): a plural no CRD defines gets the API server's answer for a missing CRD.
    custom = k8s.CustomObjectsApi(admin_api)
    absent = functools.partial(
        custom.list_cluster_custom_object, "elbv2.k8s.aws", "v1beta1", "absentclassparams"
    )
    lister._calls["IngressClassParams"] = (absent, None)
    with pytest.raises(UnavailableKindError):
        lister.keys("IngressClassParams")
    assert namespace in lister.keys("Namespace")
