"""The Kubernetes writer against a real kube-apiserver: finalizers, status, annotations, Events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.aws import WritesFencedError
from controller.kube.writer import ApiWriter, StaleCopyError
from tests.unit.kube.fakes import ingress


@dataclass(frozen=True)
class Api:
    """The admin client and the test's namespace."""

    client: k8s.ApiClient
    namespace: str


@pytest.fixture
def api(admin_api: Api, namespace: str) -> Api:
    return Api(admin_api, namespace)


def create(api: Api, name: str) -> dict[str, Any]:
    body = ingress(name, namespace=api.namespace)
    del body["metadata"]["uid"], body["metadata"]["resourceVersion"]
    k8s.NetworkingV1Api(api.client).create_namespaced_ingress(api.namespace, body)
    return read(api, name)


def read(api: Api, name: str) -> dict[str, Any]:
    found = k8s.NetworkingV1Api(api.client).read_namespaced_ingress(name, api.namespace)
    result: dict[str, Any] = api.client.sanitize_for_serialization(found)
    return result


def test_finalizers_are_added_once_and_removed_by_value(api: Api) -> None:
    writer = ApiWriter(api.client)
    body = create(api, "fin")
    writer.add_finalizer(body, "ingress.k8s.aws/resources")
    body = read(api, "fin")
    writer.add_finalizer(body, "ingress.k8s.aws/resources")  # already there: no change
    writer.add_finalizer(body, "example.com/other")
    body = read(api, "fin")
    assert body["metadata"]["finalizers"] == ["ingress.k8s.aws/resources", "example.com/other"]
    writer.remove_finalizer(body, "ingress.k8s.aws/resources")
    assert read(api, "fin")["metadata"]["finalizers"] == ["example.com/other"]


def test_adding_the_first_finalizer_to_a_stale_copy_fails_instead_of_overwriting(
    api: Api,
) -> None:
    writer = ApiWriter(api.client)
    stale = create(api, "race")
    writer.add_finalizer(read(api, "race"), "example.com/theirs")  # someone else, meanwhile
    with pytest.raises(StaleCopyError) as raised:
        writer.add_finalizer(stale, "ingress.k8s.aws/resources")
    cause = raised.value.__cause__
    assert isinstance(cause, ApiException) and cause.status in (409, 422)
    assert read(api, "race")["metadata"]["finalizers"] == ["example.com/theirs"]


def test_removing_a_finalizer_whose_position_moved_fails_safely(api: Api) -> None:
    writer = ApiWriter(api.client)
    body = create(api, "moved")
    writer.add_finalizer(body, "a.example.com/one")
    writer.add_finalizer(read(api, "moved"), "ingress.k8s.aws/resources")
    stale = read(api, "moved")
    k8s.NetworkingV1Api(api.client).patch_namespaced_ingress(
        "moved",
        api.namespace,
        [{"op": "remove", "path": "/metadata/finalizers/0"}],
        _content_type="application/json-patch+json",
    )
    with pytest.raises(StaleCopyError):
        writer.remove_finalizer(stale, "ingress.k8s.aws/resources")
    assert read(api, "moved")["metadata"]["finalizers"] == ["ingress.k8s.aws/resources"]


def test_status_hostname_goes_through_the_status_subresource(api: Api) -> None:
    writer = ApiWriter(api.client)
    body = create(api, "status")
    writer.set_hostname(body, "k8s-shop-status-abc.us-east-1.elb.amazonaws.com")
    entries = read(api, "status")["status"]["loadBalancer"]["ingress"]
    assert entries == [{"hostname": "k8s-shop-status-abc.us-east-1.elb.amazonaws.com"}]
    writer.set_hostname(body, None)
    assert read(api, "status")["status"]["loadBalancer"].get("ingress", []) == []


def test_annotations_are_set_and_removed_without_touching_others(api: Api) -> None:
    writer = ApiWriter(api.client)
    body = create(api, "notes")
    writer.set_annotations(body, {"example.com/theirs": "keep"})  # someone else's
    writer.set_annotations(body, {"alb-ingress-controller/applied": "{}"})
    annotations = read(api, "notes")["metadata"]["annotations"]
    assert annotations["alb-ingress-controller/applied"] == "{}"
    writer.set_annotations(body, {"alb-ingress-controller/applied": None})
    assert read(api, "notes")["metadata"]["annotations"] == {"example.com/theirs": "keep"}


def test_events_name_the_ingress_and_carry_lbc_reasons(api: Api) -> None:
    writer = ApiWriter(api.client)
    body = create(api, "events")
    writer.event(body, "Warning", "FailedBuildModel", "x" * 2000)
    events = k8s.CoreV1Api(api.client).list_namespaced_event(
        api.namespace, field_selector="involvedObject.name=events"
    )
    (event,) = events.items
    assert (event.type, event.reason) == ("Warning", "FailedBuildModel")
    assert event.involved_object.kind == "Ingress"
    assert len(event.message) == 1024
    assert event.source is not None
    assert event.source.component == "alb-ingress-controller"


def test_a_repeated_event_is_counted_on_one_object(api: Api) -> None:
    writer = ApiWriter(api.client)
    body = create(api, "retries")
    for _ in range(3):
        writer.event(body, "Warning", "FailedDeployModel", "Throttling: slow down")
    writer.event(body, "Warning", "FailedDeployModel", "another problem")
    core = k8s.CoreV1Api(api.client)

    def listed() -> dict[str, Any]:
        events = core.list_namespaced_event(
            api.namespace, field_selector="involvedObject.name=retries"
        ).items
        return {str(e.message): e for e in events}

    events = listed()
    assert sorted(events) == ["Throttling: slow down", "another problem"]
    repeated = events["Throttling: slow down"]
    assert repeated.count == 3 and repeated.last_timestamp >= repeated.first_timestamp
    assert events["another problem"].count == 1
    # Expired (Events live an hour): the next repeat starts a new Event.
    core.delete_namespaced_event(repeated.metadata.name, api.namespace)
    writer.event(body, "Warning", "FailedDeployModel", "Throttling: slow down")
    again = listed()["Throttling: slow down"]
    assert again.count == 1 and again.metadata.name != repeated.metadata.name


def test_a_replica_that_may_not_write_changes_nothing(api: Api) -> None:
    writer = ApiWriter(api.client)
    body = create(api, "fenced")
    leading = [False]
    writer.write_guard = lambda: leading[0]
    version = body["metadata"]["resourceVersion"]
    for write in (
        lambda: writer.add_finalizer(body, "ingress.k8s.aws/resources"),
        lambda: writer.set_hostname(body, "k8s-x.elb.amazonaws.com"),
        lambda: writer.set_annotations(body, {"alb-ingress-controller/applied": "{}"}),
    ):
        with pytest.raises(WritesFencedError):
            write()
    assert read(api, "fenced")["metadata"]["resourceVersion"] == version
    leading[0] = True  # leading again: the same writes go through
    writer.add_finalizer(body, "ingress.k8s.aws/resources")
    assert read(api, "fenced")["metadata"]["finalizers"] == ["ingress.k8s.aws/resources"]
