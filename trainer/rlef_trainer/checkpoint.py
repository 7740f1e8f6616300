"""Resumable checkpoints written atomically: a temp folder renamed into place.

A checkpoint holds the trainable weights (policy, value body and head; LoRA: the adapters),
the optimiser and scheduler, every RNG the run draws from, and the trainer's own state
(iteration, metrics history, the episode source's state), so a resumed run continues exactly.

Layout of `out_dir`:

    checkpoint-00000012/trainer_state.pt   torch.save of the state dict
    checkpoint-00000012/meta.json          iteration, sha256 of trainer_state.pt, sha256 of the weights
    checkpoint-00000012/session-tasks.json a run with `session_log`: the logged tasks it trains on (ids, digest)
    .checkpoint-00000013.tmp-PID/          a write in progress (or killed mid-way): never loaded

Only folders named `checkpoint-<8 digits>` with both files count. A SIGKILL at any moment leaves
either the old set of checkpoints or the old set plus the new one, because the new folder
appears by one rename after its files are written and fsynced. A named checkpoint whose state
file does not match the sha256 in its meta.json was damaged after it was written (disk, copy,
hand edit); loading it raises `CheckpointError` naming the file rather than silently training
from an older state.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINT_PREFIX = "checkpoint-"
CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d{8})$")
STATE_FILE = "trainer_state.pt"
META_FILE = "meta.json"
# Test-only hook (tests/test_resume_after_sigkill.py): when set to a file path, save_checkpoint
# stops after the temp folder is complete and before the rename, writes the temp folder's path
# into that file and waits to be killed, so a test can SIGKILL exactly in the middle of a write.
PAUSE_BEFORE_RENAME_ENV = "RLEF_TEST_PAUSE_BEFORE_CHECKPOINT_RENAME"
PAUSE_LIMIT_S = 120.0


class CheckpointError(ValueError):
    """A checkpoint that exists but cannot be used; the message names the file."""


def rng_state(numpy_rng: np.random.Generator) -> dict[str, Any]:
    return {
        "python": random.getstate(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": numpy_rng.bit_generator.state,
        "numpy_global": np.random.get_state(),
    }


def restore_rng_state(state: dict[str, Any], numpy_rng: np.random.Generator) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    numpy_rng.bit_generator.state = state["numpy"]
    if "numpy_global" in state:
        np.random.set_state(state["numpy_global"])


def weights_digest(weights: dict[str, torch.Tensor]) -> str:
    """sha256 over the tensors' names, dtypes, shapes and bytes, independent of the pickle format."""
    digest = hashlib.sha256()
    for name in sorted(weights):
        tensor = weights[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_checkpoint(path: Path) -> None:
    """Delete a checkpoint folder; renamed aside first, so a kill mid-deletion leaves no half-deleted checkpoint."""
    aside = path.with_name(f".{path.name}.deleting-{os.getpid()}")
    os.replace(path, aside)
    shutil.rmtree(aside, ignore_errors=True)


def _pause_for_test(tmp: Path) -> None:
    marker = os.environ.get(PAUSE_BEFORE_RENAME_ENV)
    if not marker:
        return
    Path(marker).write_text(str(tmp) + "\n")
    deadline = time.monotonic() + PAUSE_LIMIT_S
    while time.monotonic() < deadline:
        time.sleep(0.05)
    raise RuntimeError(f"{PAUSE_BEFORE_RENAME_ENV} is set but nothing killed the paused checkpoint write")


def checkpoint_iteration(path: str | Path) -> int | None:
    """The iteration in a checkpoint folder's name, or None when the name is not a checkpoint's."""
    m = CHECKPOINT_NAME.match(Path(path).name)
    return int(m.group(1)) if m else None


def complete_checkpoints(out_dir: str | Path) -> list[Path]:
    """Named checkpoints that hold both files, oldest first (temp folders of interrupted writes never count)."""
    root = Path(out_dir)
    if not root.is_dir():
        return []
    found = [
        p
        for p in root.iterdir()
        if checkpoint_iteration(p) is not None and (p / META_FILE).is_file() and (p / STATE_FILE).is_file()
    ]
    return sorted(found, key=lambda p: checkpoint_iteration(p) or 0)


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest complete checkpoint (temp folders of interrupted writes are ignored)."""
    done = complete_checkpoints(out_dir)
    return done[-1] if done else None


def remove_interrupted_writes(out_dir: str | Path) -> list[Path]:
    """Delete temp folders left by writes or deletions that a kill interrupted; returns what was removed."""
    root = Path(out_dir)
    if not root.is_dir():
        return []
    leftovers = [
        p for p in root.iterdir() if p.is_dir() and re.match(r"^\.checkpoint-\d{8}\.(tmp|deleting)-\d+$", p.name)
    ]
    for p in leftovers:
        shutil.rmtree(p, ignore_errors=True)
    return leftovers


def save_checkpoint(
    out_dir: str | Path, iteration: int, state: dict[str, Any], keep: int = 2, files: dict[str, str] | None = None
) -> Path:
    """Write `state` as checkpoint-<iteration>; a crash mid-write leaves only a .tmp folder behind. `files`: small
    text files written into the checkpoint too (name -> text), readable without loading the state."""
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{CHECKPOINT_PREFIX}{iteration:08d}"
    tmp = root / f".{final.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    state_path = tmp / STATE_FILE
    with open(state_path, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    meta: dict[str, Any] = {
        "iteration": iteration,
        "state_sha256": _file_sha256(state_path),
        "state_bytes": state_path.stat().st_size,
    }
    if isinstance(state.get("weights"), dict):
        meta["weights_sha256"] = weights_digest(state["weights"])
    for name, text in {**(files or {}), META_FILE: json.dumps(meta) + "\n"}.items():
        with open(tmp / name, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    _fsync_dir(tmp)
    _pause_for_test(tmp)
    if final.exists():
        remove_checkpoint(final)
    os.replace(tmp, final)
    _fsync_dir(root)
    if keep > 0:
        for old in complete_checkpoints(root)[:-keep]:
            remove_checkpoint(old)
    return final


def _fallback_hint(path: Path) -> str:
    older = [
        p
        for p in complete_checkpoints(path.parent)
        if (checkpoint_iteration(p) or 0) < (checkpoint_iteration(path) or 0)
    ]
    if older:
        return f"; delete {path} to resume from {older[-1].name}, or start fresh with --no-resume"
    return "; delete it or start fresh with --no-resume"


def read_checkpoint_meta(path: str | Path, *, hash_state: bool = True) -> dict[str, Any]:
    """meta.json of a checkpoint, checked against the folder name and the state file's size and sha256.

    `hash_state=False` skips the sha256 (minutes for a large full fine-tune's state): a quick first look.
    """
    folder = Path(path)
    meta_path, state_path = folder / META_FILE, folder / STATE_FILE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(
            f"{meta_path}: unreadable checkpoint metadata ({error}){_fallback_hint(folder)}"
        ) from None
    if not isinstance(meta, dict) or not isinstance(meta.get("iteration"), int):
        raise CheckpointError(
            f"{meta_path}: not RLEF checkpoint metadata (no integer 'iteration'){_fallback_hint(folder)}"
        )
    named = checkpoint_iteration(folder)
    if named is not None and named != meta["iteration"]:
        raise CheckpointError(
            f"{meta_path}: says iteration {meta['iteration']} but the folder is {folder.name}{_fallback_hint(folder)}"
        )
    if not state_path.is_file():
        raise CheckpointError(f"{state_path}: missing{_fallback_hint(folder)}")
    expected = meta.get("state_sha256")
    if isinstance(expected, str):
        size, recorded = state_path.stat().st_size, meta.get("state_bytes")
        if isinstance(recorded, int) and size != recorded:
            raise CheckpointError(
                f"{state_path}: truncated or damaged ({size} bytes, {recorded} written){_fallback_hint(folder)}"
            )
        actual = _file_sha256(state_path) if hash_state else expected
        if actual != expected:
            raise CheckpointError(
                f"{state_path}: damaged (sha256 {actual[:12]}..., {expected[:12]}... written){_fallback_hint(folder)}"
            )
    return meta


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The state saved in checkpoint folder `path`; a damaged checkpoint raises CheckpointError naming the file."""
    folder = Path(path)
    meta = read_checkpoint_meta(folder)
    state_path = folder / STATE_FILE
    try:
        state = torch.load(state_path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises many types for a damaged file; all mean the same here
        raise CheckpointError(f"{state_path}: cannot be loaded ({error}){_fallback_hint(folder)}") from None
    if not isinstance(state, dict) or "iteration" not in state:
        raise CheckpointError(f"{state_path} is not an RLEF trainer checkpoint")
    if state["iteration"] != meta["iteration"]:
        raise CheckpointError(f"{state_path}: iteration {state['iteration']} but {META_FILE} says {meta['iteration']}")
    return state
