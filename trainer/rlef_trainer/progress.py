"""How a run shows itself while it trains: a progress line with ETA, and a live metrics stream.

`Progress` writes "iteration 12/400 ... ETA 1h 02m" to stderr: redrawn in place on a terminal, one
line per iteration otherwise (a log file). The ETA is the mean time of this process's iterations
(a resumed run does not count the restart's model loading) times the iterations left.

`MetricsStream` serves the run's metrics over WebSocket on 127.0.0.1 for a dashboard. A client that
connects gets, in order: `{"type": "hello", "protocol": 1, "outDir", "iterations"}`, then
`{"type": "history", "metrics": [...], "evaluations": [...]}` (everything so far), then one
`{"type": "iteration", "metrics": {...}}` per iteration and `{"type": "evaluation", "evaluation":
{...}}` per evaluation as they happen, and `{"type": "done"}` when the run ends. It is read-only:
what a client sends is ignored. Each client has its own queue, so a slow one never holds up training.
"""

from __future__ import annotations

import json
import math
import queue
import sys
import threading
import time
from typing import Any, TextIO

STREAM_PROTOCOL = 1
_CLOSE = object()


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


class Progress:
    """Iteration i of n, elapsed time and ETA, on stderr."""

    def __init__(self, total: int, *, start: int = 0, stream: TextIO | None = None, width: int = 24) -> None:
        self.total, self.start, self.width = total, start, width
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def line(self, iteration: int, now: float | None = None, extra: str = "") -> str:
        elapsed = (now if now is not None else time.monotonic()) - self.started
        done = iteration - self.start
        eta = elapsed / done * (self.total - iteration) if done > 0 else math.inf
        filled = int(self.width * iteration / self.total) if self.total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        text = f"iteration {iteration}/{self.total} [{bar}] {100 * iteration / max(self.total, 1):.0f}%"
        text += f" elapsed {_duration(elapsed)} ETA {_duration(eta)}"
        return f"{text} {extra}".rstrip()

    def update(self, iteration: int, extra: str = "") -> None:
        text = self.line(iteration, extra=extra)
        if self.tty:
            end = "\n" if iteration >= self.total else ""
            self.stream.write(f"\r\x1b[2K{text}{end}")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


class MetricsStream:
    """A WebSocket server on 127.0.0.1 that streams the run's metrics (see the module's docstring)."""

    def __init__(self, port: int, *, out_dir: str, iterations: int) -> None:
        from websockets.sync.server import serve

        self._hello = {"type": "hello", "protocol": STREAM_PROTOCOL, "outDir": out_dir, "iterations": iterations}
        self._lock = threading.Lock()
        self._clients: list[queue.Queue[Any]] = []
        self._metrics: list[dict[str, Any]] = []
        self._evaluations: list[dict[str, Any]] = []
        self._done = False
        self._server = serve(self._handle, "127.0.0.1", port)
        self.port: int = self._server.socket.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}"
        self._closing = False
        self._thread = threading.Thread(target=self._serve, name="metrics-stream", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            self._server.serve_forever()
        except OSError:
            # closed before it started listening (a run refused right after the stream opened): websockets
            # then reads the closed socket's name for its log line
            if not self._closing:
                raise

    def _handle(self, connection: Any) -> None:
        outbox: queue.Queue[Any] = queue.Queue()
        with self._lock:  # the history and the live messages after it, with nothing lost between them
            history = {"type": "history", "metrics": list(self._metrics), "evaluations": list(self._evaluations)}
            outbox.put(json.dumps(self._hello))
            outbox.put(json.dumps(history))
            if self._done:
                outbox.put(json.dumps({"type": "done"}))
                outbox.put(_CLOSE)
            self._clients.append(outbox)
        try:
            while (message := outbox.get()) is not _CLOSE:
                connection.send(message)
        except Exception:  # noqa: BLE001 - a client that went away
            pass
        finally:
            with self._lock:
                if outbox in self._clients:
                    self._clients.remove(outbox)

    def _publish(self, message: dict[str, Any], kept: list[dict[str, Any]] | None = None, item: Any = None) -> None:
        """Send `message` to every client, and keep `item` for later ones, in one step: none gets it twice."""
        text = json.dumps(message, allow_nan=False)
        with self._lock:
            if kept is not None:
                kept.append(item)
            for outbox in self._clients:
                outbox.put(text)
                if message["type"] == "done":
                    outbox.put(_CLOSE)
            self._done = self._done or message["type"] == "done"

    def history(self, metrics: list[dict[str, Any]], evaluations: list[dict[str, Any]]) -> None:
        """What a resumed run already has: sent to every client that connects."""
        with self._lock:
            self._metrics, self._evaluations = [json_safe(m) for m in metrics], [json_safe(e) for e in evaluations]

    def iteration(self, metrics: dict[str, Any]) -> None:
        metrics = json_safe(metrics)
        self._publish({"type": "iteration", "metrics": metrics}, self._metrics, metrics)

    def evaluation(self, record: dict[str, Any]) -> None:
        record = json_safe(record)
        self._publish({"type": "evaluation", "evaluation": record}, self._evaluations, record)

    def done(self) -> None:
        self._publish({"type": "done"})

    def close(self) -> None:
        self._closing = True
        with self._lock:  # a client waiting for its next message ends now
            for outbox in self._clients:
                outbox.put(_CLOSE)
        self._server.shutdown()
        self._thread.join(timeout=5)


def json_safe(value: Any) -> Any:
    """`value` with every NaN or infinity, at any depth, as None: JSON has neither (they travel as null)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
