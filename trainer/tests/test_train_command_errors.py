"""`rlef-train train` refuses a config it cannot run with one line on stderr and exit 2, without a traceback and
without creating its out_dir: a device this machine lacks, an out_dir that cannot be made, a service it cannot
reach or that refuses its token, LoRA targets the model does not have."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rlef_trainer.env_service import start_env_service
from rlef_trainer.toy import SECRET_VALUES, secret_task

REPO_ROOT = Path(__file__).resolve().parents[2]


def _train(tmp_path: Path, model: Path, **settings: object) -> tuple[subprocess.CompletedProcess[str], Path]:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(secret_task(i, s)) + "\n" for i, s in enumerate(SECRET_VALUES[:4])))
    out = Path(str(settings.pop("out_dir", tmp_path / "run")))
    config = tmp_path / "config.json"
    base = {"model": str(model), "tasks": str(tasks), "out_dir": str(out), "device": "cpu", "iterations": 1}
    config.write_text(json.dumps({**base, **settings}))
    done = subprocess.run(
        [sys.executable, "-m", "rlef_trainer.cli", "train", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO_ROOT,
        env={**os.environ, "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_OFFLINE": "1"},
    )
    return done, out


def _refusal(done: subprocess.CompletedProcess[str]) -> str:
    """The one error line (the lines before it are the run's own progress: tasks, loading)."""
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done.stderr.strip().splitlines()[-1]


def test_a_device_this_machine_lacks_is_refused_before_anything_starts(tmp_path: Path, tiny_model_dir: Path) -> None:
    done, out = _train(tmp_path, tiny_model_dir, device="cuda:99")
    # no GPU here ("finds no CUDA GPU"), or fewer than 100 on a GPU machine
    assert done.stderr.strip().splitlines() == [_refusal(done)]
    assert _refusal(done).startswith("rlef-train train: device cuda:99: ")
    assert not out.exists()
    done, out = _train(tmp_path, tiny_model_dir, device="tpu")
    assert _refusal(done) == (
        "rlef-train train: invalid RLEF config: device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got 'tpu'"
    )
    assert not out.exists()


@pytest.mark.parametrize("where", ["under-a-file", "is-a-file", "read-only-parent"])
def test_an_out_dir_that_cannot_be_made_is_refused_before_anything_starts(
    tmp_path: Path, tiny_model_dir: Path, where: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    if where == "under-a-file":
        out, says = blocker / "run", f"cannot be created: {blocker} is not a folder"
    elif where == "is-a-file":
        out, says = blocker, "exists and is not a folder"
    else:
        # root writes through any mode bits: /proc takes no new folders from anyone
        locked = Path("/proc") if os.geteuid() == 0 else tmp_path / "locked"
        if locked != Path("/proc"):
            locked.mkdir(mode=0o555)
        out, says = locked / "rlef-run", f"cannot be created in {locked}: "
    done, _ = _train(tmp_path, tiny_model_dir, out_dir=str(out))
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"rlef-train train: out_dir {out} {says}"), lines
    assert done.returncode == 2
    assert blocker.read_text() == "keep me"


def test_a_service_it_cannot_reach_or_that_refuses_the_token_is_one_clear_error(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    done, out = _train(tmp_path, tiny_model_dir, env_url="ws://127.0.0.1:9", env_token="x")
    assert _refusal(done).startswith("rlef-train train: cannot reach the environment service at ws://127.0.0.1:9: ")
    assert not out.exists()
    with start_env_service(workers=1) as service:
        done, out = _train(tmp_path, tiny_model_dir, env_url=service.url, env_token="not-the-token")
    assert _refusal(done).startswith(f"rlef-train train: cannot reach the environment service at {service.url}: ")
    assert "unauthorized" in _refusal(done)
    assert not out.exists()


def test_lora_targets_the_model_lacks_name_the_layers_it_has(tmp_path: Path, tiny_model_dir: Path) -> None:
    done, out = _train(tmp_path, tiny_model_dir, mode="lora", lora_targets="q_proj,qkv_proj")
    assert _refusal(done) == (
        "rlef-train train: lora_targets names qkv_proj, which this model has no linear layer of; its linear layers: "
        "down_proj, gate_proj, k_proj, o_proj, q_proj, up_proj, v_proj (or 'all-linear')"
    )
    assert not out.exists()
