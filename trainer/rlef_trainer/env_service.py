"""Start the project's environment service (`rlef env serve`) as a child process.

The trainer never plays episodes itself: it talks to `server/env` through this service
(docs/env-protocol.md). This module only launches it on loopback and reads the address and
token it prints on start.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
RLEF_BIN = REPO_ROOT / "bin" / "rlef"
LISTEN_LINE = re.compile(r"listening on (ws://127\.0\.0\.1:\d+)")
TOKEN_LINE = re.compile(r"^token: ([0-9a-zA-Z_-]+)$")
START_TIMEOUT_S = 60.0


@dataclass
class EnvService:
    """A running `rlef env serve` child: its URL, token and process."""

    url: str
    token: str
    process: subprocess.Popen[str]
    isolation: str

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> EnvService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_env_service(*, workers: int | None = None, rlef_bin: Path = RLEF_BIN) -> EnvService:
    """Launch the service on 127.0.0.1 with a free port; raise with its output if it fails to start."""
    if not rlef_bin.exists():
        raise FileNotFoundError(f"{rlef_bin} not found: the environment service needs the repository's bin/rlef")
    # --exit-with-stdin: the service ends when this process does, however it ends (SIGKILL included), because
    # the pipe to its stdin closes with us; a killed trainer leaves no service and sandboxes behind.
    args = ["node", str(rlef_bin), "env", "serve", "--host", "127.0.0.1", "--port", "0", "--exit-with-stdin"]
    if workers is not None:
        args += ["--workers", str(workers)]
    process = subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ},
        cwd=REPO_ROOT,
    )
    assert process.stdout is not None
    url = token = isolation = None
    seen: list[str] = []
    timer = threading.Timer(START_TIMEOUT_S, process.kill)
    timer.start()
    try:
        for line in process.stdout:
            line = line.rstrip("\n")
            seen.append(line)
            if (m := LISTEN_LINE.search(line)) is not None:
                url = m.group(1)
            elif (m := TOKEN_LINE.match(line)) is not None:
                token = m.group(1)
            elif line.startswith("isolation: "):
                isolation = line.removeprefix("isolation: ")
            if url and token and isolation:
                break
    finally:
        timer.cancel()
    if not (url and token and isolation):
        process.kill()
        raise RuntimeError("the environment service did not start:\n" + "\n".join(seen[-20:]))
    # Keep draining its output so the pipe never fills and blocks the service.
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()  # type: ignore[union-attr]
    return EnvService(url=url, token=token, process=process, isolation=isolation)
