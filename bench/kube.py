"""The harness's side of the Kubernetes API: one admin client, plain-JSON reads, parallel creates
and a watch on one Service's EndpointSlices.

- `kube_client` is an `ApiClient` for the sandbox's admin kubeconfig whose connection pool
  holds a connection per create thread (the client is thread-safe; urllib3's pool is shared).
- Every call passes `_preload_content=False` and reads the body with `json.loads`
  (`read_json`): the generated models (pydantic) would cost the harness seconds of CPU per
  1,000 objects, on the cores the controller and the control plane need.
- `create_all` creates in phases, Namespaces first (then waits for each one's `default`
  ServiceAccount, which Pods need), then everything but Ingresses, then Ingresses, each phase
  on a pool of `CREATE_WORKERS` threads; it returns when the last create call has returned.
- `ReadyAddressWatch` lists, then watches, the EndpointSlices of one Service in a thread
  (restarting the watch when the server ends it) and records `(time.monotonic() at receipt,
  ready addresses across the Service's slices)` each time that set changes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch

from sandbox.waiting import wait_until

Obj = dict[str, Any]
CREATE_WORKERS = 8
PAGE = 500  # items per list page
WATCH_SECONDS = 5  # the server ends each watch after this; the thread then watches again
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def kube_client(kubeconfig: Path, pool: int = 2 * CREATE_WORKERS) -> Any:
    """An admin `ApiClient` with `pool` connections kept open to the API server."""
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)  # type: ignore[no-untyped-call]
    configuration.connection_pool_maxsize = pool
    return client.ApiClient(configuration)


def read_json(response: Any) -> Any:
    """The JSON body of a `_preload_content=False` response; its connection goes back."""
    try:
        return json.loads(response.data)
    finally:
        response.release_conn()


def list_all(fetch: Callable[..., Any], namespace: str, **params: Any) -> list[Obj]:
    """Every item of a namespaced list (`fetch`: a `list_namespaced_*` method), page by page."""
    items: list[Obj] = []
    token: str | None = None
    while True:
        page = read_json(
            fetch(namespace, limit=PAGE, _continue=token, _preload_content=False, **params)
        )
        items.extend(page.get("items") or ())
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return items


# --- creating ------------------------------------------------------------------------------


def create(api: Any, obj: Obj) -> None:
    """Create one object of the kinds the scenarios make (as `kubectl create` would)."""
    kind, namespace = obj["kind"], obj["metadata"].get("namespace")
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    # Plain dicts as bodies (the client validates them into its models); the methods are
    # typed for models, hence `Callable[..., Any]`.
    namespaced: dict[str, Callable[..., Any]] = {
        "Service": core.create_namespaced_service,
        "Deployment": apps.create_namespaced_deployment,
        "Ingress": client.NetworkingV1Api(api).create_namespaced_ingress,
    }
    if kind == "Namespace":
        create_namespace: Callable[..., Any] = core.create_namespace
        read_json(create_namespace(obj, _preload_content=False))
    elif kind in namespaced:
        read_json(namespaced[kind](namespace, obj, _preload_content=False))
    else:
        raise ValueError(f"the harness does not create {kind} objects")


def _in_parallel(api: Any, objects: list[Obj], workers: int) -> None:
    if not objects:
        return
    with ThreadPoolExecutor(max_workers=min(workers, len(objects))) as pool:
        # Consuming the results re-raises the first failure (after the rest have run).
        for _ in pool.map(lambda obj: create(api, obj), objects):
            pass


def wait_for_default_accounts(api: Any, namespaces: Iterable[str], timeout: float = 60) -> None:
    """Wait until kube-controller-manager has made each namespace's `default` ServiceAccount
    (Pods are refused without it, and the ReplicaSet controller would back off)."""
    core = client.CoreV1Api(api)
    pending = list(namespaces)

    def made() -> bool:
        """Whether each pending namespace has it now (a namespace found is not asked again)."""
        while pending:
            try:
                read_json(
                    core.read_namespaced_service_account(
                        "default", pending[0], _preload_content=False
                    )
                )
            except client.ApiException as error:
                if error.status != 404:
                    raise
                return False
            pending.pop(0)
        return True

    wait_until(made, "the default ServiceAccount of every namespace", timeout, 0.1)


def create_all(api: Any, objects: list[Obj], workers: int = CREATE_WORKERS) -> None:
    """Namespaces, then their workloads, then Ingresses, each phase on `workers` threads."""
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    ingresses = [o for o in objects if o["kind"] == "Ingress"]
    others = [o for o in objects if o["kind"] not in ("Namespace", "Ingress")]
    _in_parallel(api, namespaces, workers)
    wait_for_default_accounts(api, [o["metadata"]["name"] for o in namespaces])
    _in_parallel(api, others, workers)
    _in_parallel(api, ingresses, workers)


# --- watching one Service's ready addresses --------------------------------------------------


def ready_addresses(slice_: Obj) -> frozenset[str]:
    """The addresses of an EndpointSlice's ready endpoints (no condition: ready), as the
    controller reads them: a terminating endpoint is not ready, even while it serves."""
    return frozenset(
        a
        for e in slice_.get("endpoints") or ()
        if (e.get("conditions") or {}).get("ready", True) is not False
        and not (e.get("conditions") or {}).get("terminating")
        for a in e.get("addresses") or ()
    )


class ReadyAddressWatch:
    """Records each change of the ready addresses of Service `namespace/service`.

    `changes` holds `(time.monotonic() when the event was received, the new set)`, starting
    from the empty set (a Service whose slices have no ready endpoint yet). Start it before
    the Service exists; `started` is set once the first list has been read. `stop()` ends it.
    """

    def __init__(self, api: Any, namespace: str, service: str) -> None:
        self.namespace = namespace
        self.service = service
        self.changes: list[tuple[float, frozenset[str]]] = []
        self.started = threading.Event()
        self.errors: list[str] = []  # watch failures the thread recovered from
        self._discovery = client.DiscoveryV1Api(api)
        self._slices: dict[str, frozenset[str]] = {}
        self._current: frozenset[str] = frozenset()
        self._stop = threading.Event()
        self._watch = watch.Watch()  # type: ignore[no-untyped-call]
        self._thread = threading.Thread(
            target=self._run, name=f"slices-{namespace}-{service}", daemon=True
        )
        self._thread.start()

    def _note(self) -> None:
        now = frozenset(a for addresses in self._slices.values() for a in addresses)
        if now != self._current:
            self._current = now
            self.changes.append((time.monotonic(), now))

    def _run(self) -> None:
        selector = f"{SERVICE_NAME_LABEL}={self.service}"
        while not self._stop.is_set():
            try:
                self._list_and_watch(selector)
            except Exception as error:
                if self._stop.is_set():
                    return
                self.errors.append(f"{type(error).__name__}: {error}")
                self._stop.wait(0.5)  # then list again

    def _list_and_watch(self, selector: str) -> None:
        listed = read_json(
            self._discovery.list_namespaced_endpoint_slice(
                self.namespace, label_selector=selector, _preload_content=False
            )
        )
        self._slices = {s["metadata"]["name"]: ready_addresses(s) for s in listed["items"]}
        self._note()
        self.started.set()
        version = listed["metadata"]["resourceVersion"]
        while not self._stop.is_set():
            # Ends after WATCH_SECONDS; a 410 (too old a version) raises: list again.
            events = self._watch.stream(  # type: ignore[no-untyped-call]
                self._discovery.list_namespaced_endpoint_slice,
                self.namespace,
                label_selector=selector,
                resource_version=version,
                allow_watch_bookmarks=True,
                timeout_seconds=WATCH_SECONDS,
                deserialize=False,
            )
            for event in events:
                obj = event["object"]
                version = obj["metadata"]["resourceVersion"]
                if event["type"] == "BOOKMARK":
                    continue
                name = obj["metadata"]["name"]
                if event["type"] == "DELETED":
                    self._slices.pop(name, None)
                else:
                    self._slices[name] = ready_addresses(obj)
                self._note()

    def stop(self) -> None:
        self._stop.set()
        self._watch.stop()  # type: ignore[no-untyped-call]
        self._thread.join(timeout=WATCH_SECONDS + 10)
