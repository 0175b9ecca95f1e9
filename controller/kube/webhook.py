"""The mutating admission webhook that adds readiness gates to new pods, over HTTPS.

The API server sends an AdmissionReview (admission.k8s.io/v1) for each Pod CREATE in a
namespace labelled `elbv2.k8s.aws/pod-readiness-gate-inject: enabled` (the
MutatingWebhookConfiguration's namespaceSelector); `review` answers it: allowed, always,
with a JSON patch of `spec.readinessGates` when the pod needs gates it does not have (one
per ip target group that will select it, `kube.readiness.gates_for`; LBC's legacy
`target-health.alb.ingress.k8s.aws` gates are dropped then, as LBC does). A request that
cannot be read is allowed unchanged with one log line: the webhook never stands in a pod's
way, and the configuration's `failurePolicy: Ignore` covers a controller that is down.

Served by aiohttp on the controller's event loop, next to kopf: the handler reads the
watch cache directly. kopf's own admission server was not used: it needs the certificate
at start (or `certbuilder`, not in the image) and cannot swap it, would create and patch
webhook configurations cluster-wide itself, and routes to kopf handlers with kopf's patch
format; our `Certificates` rotate the certificate under a running server instead.
The port is bound at start-up (a taken port is a person's mistake, reported before
anything runs) and listens once there is a certificate to serve, so the API server meets
a refused connection (and ignores the webhook at once) rather than a hung handshake.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import socket
import ssl
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from controller.kube.readiness import GATE_PREFIX, LEGACY_GATE_PREFIX

logger = logging.getLogger(__name__)

PATH = "/mutate-v1-pod"  # LBC's path for the pod mutator
API_VERSION = "admission.k8s.io/v1"
MAX_BODY = 4 * 1024 * 1024  # a pod's manifest is far smaller; the API server caps at 3 MiB

Gates = Callable[[str, Mapping[str, str]], Sequence[str]]


def gate_patch(pod: Mapping[str, Any], wanted: Sequence[str]) -> list[dict[str, Any]] | None:
    """The JSON patch giving `pod` each of the `wanted` gates it lacks (None: it has them
    all). A gate is never added twice; legacy gates go when ours are added."""
    spec = pod.get("spec") or {}
    existing = [g for g in spec.get("readinessGates") or () if isinstance(g, Mapping)]
    present = {g.get("conditionType") for g in existing}
    missing = [w for w in wanted if w.startswith(GATE_PREFIX) and w not in present]
    if not missing:
        return None
    kept = [
        dict(g)
        for g in existing
        if not str(g.get("conditionType") or "").startswith(LEGACY_GATE_PREFIX)
    ]
    value = kept + [{"conditionType": w} for w in missing]
    op = "replace" if "readinessGates" in spec else "add"
    return [{"op": op, "path": "/spec/readinessGates", "value": value}]


def review(
    body: bytes, gates: Gates, enabled: Callable[[str], bool]
) -> tuple[dict[str, Any], str | None]:
    """The AdmissionReview answering `body`, and a line to log when it could not be read
    (then the pod is allowed unchanged). `gates(namespace, labels)` names the gates a new
    pod gets; `enabled(namespace)` whether its namespace asks for them."""
    uid = ""
    try:
        parsed = json.loads(body)
        request = parsed["request"]
        uid = str(request["uid"])
        pod = request.get("object")
        if request.get("operation") != "CREATE" or (request.get("kind") or {}).get("kind") != "Pod":
            return _answer(uid), None
        if not isinstance(pod, Mapping):
            raise TypeError("request.object is not an object")
        meta = pod.get("metadata") or {}
        namespace = str(request.get("namespace") or meta.get("namespace") or "")
        labels = meta.get("labels") or {}
        if not isinstance(labels, Mapping):
            raise TypeError("metadata.labels is not an object")
        if not namespace or not enabled(namespace):
            return _answer(uid), None
        patch = gate_patch(pod, gates(namespace, {str(k): str(v) for k, v in labels.items()}))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        return _answer(uid), f"{type(error).__name__}: {error}"
    if patch is None:
        return _answer(uid), None
    logger.debug("webhook: pod %s/%s gets %s", namespace, meta.get("name") or meta.get(
        "generateName"), [g["conditionType"] for g in patch[0]["value"]])  # fmt: skip
    return _answer(uid, patch), None


def _answer(uid: str, patch: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"uid": uid, "allowed": True}
    if patch is not None:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": response}


def bind(port: int) -> socket.socket:
    """A TCP socket bound to `port` on every address, not yet listening; OSError if taken."""
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        address: tuple[Any, ...] = ("::", port)
    except OSError:  # no IPv6 here
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        address = ("0.0.0.0", port)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class WebhookServer:
    """The HTTPS server of `PATH` on a bound socket; `load` swaps its certificate."""

    def __init__(self, sock: socket.socket, gates: Gates, enabled: Callable[[str], bool]) -> None:
        self._sock = sock
        self._gates = gates
        self._enabled = enabled
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._loaded = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None  # set by `serve`

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    def load(self, cert: bytes, key: bytes) -> None:
        """Serve `cert` (PEM, the chain) with `key` from the next connection on. Any thread:
        the context is changed on the event loop, between handshakes."""
        loop = self._loop
        if loop is None or not loop.is_running():
            self._apply(cert, key)
        else:
            loop.call_soon_threadsafe(self._apply, cert, key)

    def _apply(self, cert: bytes, key: bytes) -> None:
        with tempfile.TemporaryDirectory(prefix="alb-webhook-") as directory:
            cert_path, key_path = Path(directory) / "tls.crt", Path(directory) / "tls.key"
            for path, data in ((cert_path, cert), (key_path, key)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
            self._context.load_cert_chain(cert_path, key_path)
        self._loaded.set()

    async def serve(self) -> None:
        """Listen once a certificate is loaded, then serve until cancelled."""
        self._loop = asyncio.get_running_loop()
        await self._loaded.wait()
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(PATH, self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.SockSite(runner, self._sock, ssl_context=self._context)
        await site.start()
        logger.info("webhook: serving %s on port %d", PATH, self.port)
        try:
            await asyncio.Event().wait()
        finally:
            with contextlib.suppress(Exception):
                await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            # The gates may build an Ingress group's model: off the event loop.
            answer, problem = await asyncio.to_thread(review, body, self._gates, self._enabled)
        except Exception:  # never let a pod creation wait on our bug
            logger.exception("webhook: cannot answer an AdmissionReview; allowed unchanged")
            answer, problem = _answer(""), None
        if problem is not None:
            logger.warning("webhook: unreadable AdmissionReview (%s); allowed unchanged", problem)
        return web.json_response(answer)
