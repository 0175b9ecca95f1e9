"""kopf, unmodified, against the emulator: the smoke test the issue asks for.

A tiny operator embedded with `kopf.operator()` (login pointed at the sandbox, scanning off,
standalone) handles an Ingress: on create it gets its finalizer and a status written through
the /status subresource; on delete the handler runs, kopf removes the finalizer and the
Ingress is gone. This exercises kopf's list+watch (with bookmarks), merge patches with
resourceVersion handling and Event posting against the emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp
import kopf

from controller.sandbox.apiserver import ApiServer
from tests.sandbox.bodies import ingress

FINALIZER = "ingress.k8s.aws/resources"
INGRESSES = "/apis/networking.k8s.io/v1/namespaces/default/ingresses"


async def wait_for(check: Any, timeout: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def test_kopf_operator_handles_an_ingress() -> None:
    server = ApiServer(bookmark_interval=1.0)
    await server.start()
    registry = kopf.OperatorRegistry()
    deleted: list[str] = []

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=server.url, scheme="Bearer", token="sandbox")

    @kopf.on.create("networking.k8s.io", "v1", "ingresses", registry=registry)
    def created(name: str, patch: kopf.Patch, body: kopf.Body, **_: Any) -> None:
        patch.status["loadBalancer"] = {"ingress": [{"hostname": f"{name}.elb.example.com"}]}
        kopf.info(body, reason="SuccessfullyReconciled", message="made it")

    @kopf.on.delete("networking.k8s.io", "v1", "ingresses", registry=registry)
    def removed(name: str, **_: Any) -> None:
        deleted.append(name)

    settings = kopf.OperatorSettings()
    settings.scanning.disabled = True
    settings.peering.standalone = True
    settings.persistence.finalizer = FINALIZER
    settings.watching.inactivity_timeout = 30
    stop = asyncio.Event()
    operator = asyncio.create_task(
        kopf.operator(registry=registry, settings=settings, clusterwide=True, stop_flag=stop)
    )
    try:
        async with aiohttp.ClientSession(base_url=server.url) as http:
            async with http.post(INGRESSES, json=ingress("game")) as resp:
                assert resp.status == 201

            async def handled() -> dict[str, Any] | None:
                async with http.get(f"{INGRESSES}/game") as resp:
                    obj: dict[str, Any] = await resp.json()
                lb = (obj.get("status") or {}).get("loadBalancer", {}).get("ingress")
                return obj if lb and FINALIZER in obj["metadata"].get("finalizers", []) else None

            obj = await wait_for(handled)
            assert obj["status"]["loadBalancer"]["ingress"] == [
                {"hostname": "game.elb.example.com"}
            ]
            assert obj["metadata"]["generation"] == 1

            async def event_posted() -> bool:
                async with http.get(
                    "/api/v1/namespaces/default/events",
                    params={"fieldSelector": "involvedObject.name=game"},
                ) as resp:
                    events = (await resp.json())["items"]  # fmt: skip
                return any(e["reason"] == "SuccessfullyReconciled" for e in events)

            await wait_for(event_posted)
            async with http.delete(f"{INGRESSES}/game") as resp:
                assert resp.status == 200

            async def gone() -> bool:
                async with http.get(f"{INGRESSES}/game") as resp:
                    return resp.status == 404

            await wait_for(gone)
            assert deleted == ["game"]
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(operator, 10)
        await server.stop()
