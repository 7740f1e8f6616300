"""Resumable checkpoints written atomically: a temp folder renamed into place.

A checkpoint holds the trainable weights (policy, value body and head; LoRA: the adapters),
the optimiser and scheduler, every RNG the run draws from, and the trainer's own state
(iteration, data order, episode-seed counter), so a resumed run continues exactly.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINT_PREFIX = "checkpoint-"
STATE_FILE = "trainer_state.pt"
META_FILE = "meta.json"


def rng_state(numpy_rng: np.random.Generator) -> dict[str, Any]:
    return {
        "python": random.getstate(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": numpy_rng.bit_generator.state,
    }


def restore_rng_state(state: dict[str, Any], numpy_rng: np.random.Generator) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    numpy_rng.bit_generator.state = state["numpy"]


def save_checkpoint(out_dir: str | Path, iteration: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write `state` as checkpoint-<iteration>; a crash mid-write leaves only a .tmp folder behind."""
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{CHECKPOINT_PREFIX}{iteration:08d}"
    tmp = root / f".{final.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    torch.save(state, tmp / STATE_FILE)
    (tmp / META_FILE).write_text(json.dumps({"iteration": iteration}) + "\n")
    with open(tmp / STATE_FILE, "rb") as f:
        os.fsync(f.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in sorted(root.glob(f"{CHECKPOINT_PREFIX}*"))[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest complete checkpoint (temp folders of interrupted writes are ignored)."""
    root = Path(out_dir)
    if not root.is_dir():
        return None
    done = [
        p
        for p in sorted(root.glob(f"{CHECKPOINT_PREFIX}*"))
        if (p / META_FILE).is_file() and (p / STATE_FILE).is_file()
    ]
    return done[-1] if done else None


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    state = torch.load(Path(path) / STATE_FILE, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or "iteration" not in state:
        raise ValueError(f"{path} is not an RLEF trainer checkpoint")
    return state
