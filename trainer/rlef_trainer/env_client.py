"""A synchronous client of the environment service protocol, version 1 (docs/env-protocol.md).

The trainer's rollout loop is plain synchronous PyTorch, so this wraps one asyncio
WebSocket connection running on a private event-loop thread. Every reply is checked:
protocol errors become `EnvServiceError` with the service's code and message; per-item
errors inside batch replies are raised too, because a trainer batch with a missing
episode cannot be scored.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections.abc import Sequence
from typing import Any

import websockets

PROTOCOL_VERSION = 1
REQUEST_TIMEOUT_S = 600.0


class EnvServiceError(RuntimeError):
    """An error reply of the service (`code` is the protocol's error code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def _check_reply(reply: Any, expected_type: str) -> dict[str, Any]:
    if not isinstance(reply, dict) or not isinstance(reply.get("type"), str):
        raise EnvServiceError("bad_reply", f"expected a JSON object with a type, got {str(reply)[:200]}")
    if reply["type"] == "error":
        raise EnvServiceError(str(reply.get("code")), str(reply.get("message")))
    if reply["type"] != expected_type:
        raise EnvServiceError("bad_reply", f"expected a {expected_type!r} reply, got {reply['type']!r}")
    return reply


class EnvClient:
    """One authenticated connection; `reset_batch`/`step_batch` map to the protocol's batched forms."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self._ids = itertools.count()
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self.hello = self._run(self._connect())

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(REQUEST_TIMEOUT_S)

    async def _connect(self) -> dict[str, Any]:
        self._ws = await websockets.connect(
            self.url, max_size=None, additional_headers={"Authorization": f"Bearer {self.token}"}
        )
        self._reader = asyncio.create_task(self._read())
        hello = _check_reply(await self._request({"type": "hello", "protocolVersion": PROTOCOL_VERSION}), "hello")
        if hello.get("protocolVersion") != PROTOCOL_VERSION:
            raise EnvServiceError("unsupported_protocol_version", f"service speaks {hello.get('protocolVersion')}")
        return hello

    async def _read(self) -> None:
        try:
            async for text in self._ws:
                reply = json.loads(text)
                fut = self._pending.pop(reply.get("requestId"), None)
                if fut is not None and not fut.done():
                    fut.set_result(reply)
        except Exception as error:  # the connection died: fail every waiting request, never hang
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(EnvServiceError("connection_lost", str(error)))
            self._pending.clear()
            return
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(EnvServiceError("connection_lost", "the service closed the connection"))
        self._pending.clear()

    async def _request(self, message: dict[str, Any]) -> Any:
        rid = next(self._ids)
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._pending[rid] = fut
        await self._ws.send(json.dumps({**message, "requestId": rid}))
        return await fut

    def request(self, message: dict[str, Any], expected_type: str) -> dict[str, Any]:
        return _check_reply(self._run(self._request(message)), expected_type)

    def _batch(self, kind: str, items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        if not items:
            return []
        reply = self.request({"type": kind, "items": list(items)}, kind)
        results = reply.get("items")
        if not isinstance(results, list) or len(results) != len(items):
            raise EnvServiceError("bad_reply", f"{kind} reply has {len(results or [])} items for {len(items)} sent")
        single = kind.removesuffix("Batch")
        return [_check_reply(r, single) for r in results]

    def reset_batch(self, items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """items: `{"task": ..., "options": {...}}` each; returns the `reset` replies in order."""
        return self._batch("resetBatch", items)

    def step_batch(self, items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """items: `{"episodeId": ..., "response": text}` each; returns the `step` replies in order."""
        return self._batch("stepBatch", items)

    def stats(self) -> dict[str, Any]:
        return self.request({"type": "stats"}, "stats")

    def list_tasks(self, set_name: str) -> dict[str, Any]:
        """A built-in set's task ids and what its licence allows: `{"set", "trainable": true | false | "partly",
        "tasks": [{"id", "trainable"}, ...]}` (docs/env-protocol.md, "listTasks")."""
        reply = self.request({"type": "listTasks", "set": set_name}, "listTasks")
        tasks = reply.get("tasks")
        if not isinstance(tasks, list) or not all(
            isinstance(t, dict) and isinstance(t.get("id"), str) and isinstance(t.get("trainable"), bool) for t in tasks
        ):
            raise EnvServiceError("bad_reply", f"listTasks reply for set {set_name!r} has no valid task list")
        return reply

    def close(self) -> None:
        async def _close() -> None:
            await self._ws.close()
            if self._reader is not None:
                await self._reader

        try:
            self._run(_close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    def __enter__(self) -> EnvClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
