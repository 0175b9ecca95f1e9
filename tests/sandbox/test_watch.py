"""Watch semantics from the API documentation ("Efficient detection of changes").

A watch from a resourceVersion replays what happened after it; "" and "0" start with
synthetic ADDED events for the current objects; BOOKMARK events carry the latest
resourceVersion when asked for; `timeoutSeconds` ends the stream; a resourceVersion older
than the kept history is answered with an ERROR event holding a 410 Expired Status; objects
entering or leaving a label selector are ADDED or DELETED for that watch.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from controller.sandbox.apiserver import ApiServerThread
from tests.sandbox.bodies import configmap, new_watch


def collect(fn: Any, *args: Any, expect: int = 0, **kwargs: Any) -> list[tuple[str, Any]]:
    """Events until the stream ends (timeoutSeconds) or, if `expect` is set, that many came."""
    out = []
    w = new_watch()
    for event in w.stream(fn, *args, **kwargs):
        out.append((event["type"], event["object"]))
        if expect and len(out) >= expect:
            w.stop()
    return out


def test_watch_from_resource_version_replays_history(core: Any) -> None:
    start = core.create_namespaced_config_map("default", configmap("a", v="1"))
    rv = start.metadata.resource_version
    core.create_namespaced_config_map("default", configmap("b"))
    core.patch_namespaced_config_map("a", "default", {"data": {"v": "2"}})
    core.delete_namespaced_config_map("b", "default")
    events = collect(core.list_namespaced_config_map, "default", resource_version=rv,
                     timeout_seconds=2, expect=3)  # fmt: skip
    assert [(t, o.metadata.name) for t, o in events] == [
        ("ADDED", "b"),
        ("MODIFIED", "a"),
        ("DELETED", "b"),
    ]
    assert events[1][1].data == {"v": "2"}
    rvs = [int(o.metadata.resource_version) for _, o in events]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)


@pytest.mark.parametrize("rv", ["", "0"])
def test_watch_without_resource_version_starts_with_synthetic_added(core: Any, rv: str) -> None:
    core.create_namespaced_config_map("default", configmap("x"))
    core.create_namespaced_config_map("default", configmap("y"))
    kwargs = {"resource_version": rv} if rv else {}
    events = collect(core.list_namespaced_config_map, "default", timeout_seconds=2, expect=2,
                     **kwargs)  # fmt: skip
    assert sorted((t, o.metadata.name) for t, o in events) == [("ADDED", "x"), ("ADDED", "y")]


def test_live_events_reach_an_open_watch(core: Any) -> None:
    rv = core.list_namespaced_config_map("default").metadata.resource_version

    def writer() -> None:
        time.sleep(0.3)
        core.create_namespaced_config_map("default", configmap("live"))

    thread = threading.Thread(target=writer)
    thread.start()
    w = new_watch()
    seen = []
    for event in w.stream(core.list_namespaced_config_map, "default", resource_version=rv,
                          timeout_seconds=5):  # fmt: skip
        seen.append((event["type"], event["object"].metadata.name))
        w.stop()
    thread.join()
    assert seen == [("ADDED", "live")]


def test_timeout_seconds_closes_the_stream(core: Any) -> None:
    began = time.monotonic()
    events = collect(core.list_namespaced_config_map, "default", resource_version="1",
                     timeout_seconds=1)  # fmt: skip
    elapsed = time.monotonic() - began
    assert [t for t, _ in events] == []
    assert 0.8 <= elapsed < 3


def test_bookmarks_carry_the_latest_resource_version(api: ApiServerThread, core: Any) -> None:
    core.create_namespaced_config_map("default", configmap("m"))
    latest = api.store.resource_version
    events = collect(core.list_namespaced_config_map, "default", resource_version=latest,
                     allow_watch_bookmarks=True, timeout_seconds=1)  # fmt: skip
    bookmarks = [o for t, o in events if t == "BOOKMARK"]
    assert len(bookmarks) >= 2  # every 0.3 s in these tests
    # The client leaves BOOKMARK objects as dicts: only kind and resourceVersion are in them.
    assert {b["metadata"]["resourceVersion"] for b in bookmarks} == {latest}
    assert {b["kind"] for b in bookmarks} == {"ConfigMap"}


def test_expired_resource_version_is_410(api: ApiServerThread, core: Any) -> None:
    rv = core.create_namespaced_config_map("default", configmap("old")).metadata.resource_version
    cm = api.store.resource("configmaps")
    for n in range(api.store.history_limit + 5):
        api.store.create(cm, configmap(f"bulk-{n}"), "default")
    with pytest.raises(ApiException) as err:
        collect(core.list_namespaced_config_map, "default", resource_version=rv,
                timeout_seconds=1)  # fmt: skip
    assert err.value.status == 410
    assert "Expired" in str(err.value.reason) and "too old resource version" in str(
        err.value.reason
    )


def test_label_selector_transitions(core: Any) -> None:
    rv = core.create_namespaced_config_map("default", configmap("s")).metadata.resource_version
    core.patch_namespaced_config_map("s", "default", {"metadata": {"labels": {"pick": "yes"}}})
    core.patch_namespaced_config_map("s", "default", {"data": {"k": "v"}})
    core.patch_namespaced_config_map("s", "default", {"metadata": {"labels": {"pick": "no"}}})
    events = collect(core.list_namespaced_config_map, "default", resource_version=rv,
                     label_selector="pick=yes", timeout_seconds=2, expect=3)  # fmt: skip
    assert [t for t, _ in events] == ["ADDED", "MODIFIED", "DELETED"]


def test_field_selector_watch_on_one_name(core: Any) -> None:
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", configmap("one"))
    core.create_namespaced_config_map("default", configmap("two"))
    events = collect(core.list_namespaced_config_map, "default", resource_version=rv,
                     field_selector="metadata.name=two", timeout_seconds=1)  # fmt: skip
    assert [(t, o.metadata.name) for t, o in events] == [("ADDED", "two")]


def test_namespaced_watch_ignores_other_namespaces(core: Any) -> None:
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("kube-system", configmap("elsewhere"))
    core.create_namespaced_config_map("default", configmap("here"))
    events = collect(core.list_namespaced_config_map, "default", resource_version=rv,
                     timeout_seconds=1)  # fmt: skip
    assert [o.metadata.name for _, o in events] == ["here"]
    everywhere = collect(core.list_config_map_for_all_namespaces, resource_version=rv,
                         timeout_seconds=1)  # fmt: skip
    assert sorted(o.metadata.name for _, o in everywhere) == ["elsewhere", "here"]


def test_send_initial_events_ends_with_a_marked_bookmark(api: ApiServerThread, core: Any) -> None:
    core.create_namespaced_config_map("default", configmap("w1"))
    query = ("watch=1&sendInitialEvents=true&allowWatchBookmarks=true"
             "&resourceVersionMatch=NotOlderThan&timeoutSeconds=1")  # fmt: skip
    url = f"{api.url}/api/v1/namespaces/default/configmaps?{query}"
    with urllib.request.urlopen(url, timeout=5) as resp:
        lines = [json.loads(line) for line in resp.read().splitlines() if line.strip()]
    assert (lines[0]["type"], lines[0]["object"]["metadata"]["name"]) == ("ADDED", "w1")
    marker = lines[1]
    assert marker["type"] == "BOOKMARK"
    assert marker["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert marker["object"]["metadata"]["resourceVersion"] == api.store.resource_version
