"""`rlef-train train` refuses a config it cannot run with one line on stderr and exit 2, without a traceback and
without creating its out_dir: a device this machine lacks, an out_dir that cannot be made, a service it cannot
reach or that refuses its token, LoRA targets the model does not have."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlef_trainer.env_service import start_env_service

from .conftest import tiny_run_config

REPO_ROOT = Path(__file__).resolve().parents[2]


def _train(tmp_path: Path, model: Path, **settings: object) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = Path(str(settings.pop("out_dir", tmp_path / "run")))
    config = tiny_run_config(tmp_path, model, out_dir=str(out), **settings)
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


def test_ctrl_c_and_sigterm_stop_with_one_line_and_the_same_command_resumes(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    out = tmp_path / "run"
    config = tiny_run_config(tmp_path, tiny_model_dir, iterations=30, checkpoint_every=2)
    command = [sys.executable, "-m", "rlef_trainer.cli", "train", "--config", str(config)]
    env = {**os.environ, "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_OFFLINE": "1"}

    def iterations_done() -> list[int]:
        metrics = out / "metrics.jsonl"
        lines = metrics.read_text().splitlines() if metrics.exists() else []
        return [int(json.loads(line)["iteration"]) for line in lines if line.endswith("}")]

    def stop_after(iteration: int, sig: signal.Signals) -> str:
        # SIGINT as a terminal's Ctrl-C delivers it (a shell's background job would have it ignored)
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + 120
        while (len(iterations_done()) < iteration) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == (130 if sig == signal.SIGINT else 143), stderr[-3000:]
        assert "Traceback" not in stderr, stderr[-3000:]
        return stderr.strip().splitlines()[-1]

    said = stop_after(5, signal.SIGINT)
    checkpoint = max(out.glob("checkpoint-*"))
    assert said == (
        f"rlef-train train: interrupted after iteration {iterations_done()[-1]}; rlef-train train --config {config} "
        f"resumes from {checkpoint} (iteration {int(checkpoint.name.split('-')[1])})"
    )
    first_stop = iterations_done()[-1]
    said = stop_after(first_stop + 4, signal.SIGTERM)
    assert said.startswith(f"rlef-train train: terminated after iteration {iterations_done()[-1]}; ")
    # the service the trainer started is gone with it (it exits with its stdin, the trainer's pipe)
    finished = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "resuming from" in finished.stderr
    assert iterations_done() == list(range(1, 31)), "each iteration once: the resumed run drops what came after"


def test_the_stop_line_says_what_a_restart_does_at_every_stage(tmp_path: Path) -> None:
    from rlef_trainer.train_command import _resume_note

    config = tmp_path / "run.toml"
    assert _resume_note({}, config) == " before the run started"
    out = tmp_path / "run"
    seen: dict[str, object] = {"out_dir": str(out)}
    assert _resume_note(seen, config) == (
        f" before the first iteration ended; {out} has no complete checkpoint yet, so "
        f"rlef-train train --config {config} starts the run over"
    )
    seen["iteration"] = 7
    (out / ".checkpoint-00000006.tmp-123").mkdir(parents=True)  # an interrupted write does not count
    assert _resume_note(seen, None).endswith("has no complete checkpoint yet, so the same command starts the run over")
    for name in ("checkpoint-00000004", "checkpoint-00000006"):
        (out / name).mkdir()
        (out / name / "trainer_state.pt").write_bytes(b"")
        (out / name / "meta.json").write_text("{}")
    assert _resume_note(seen, config) == (
        f" after iteration 7; rlef-train train --config {config} resumes from {out / 'checkpoint-00000006'}"
        " (iteration 6)"
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--iterations", "0"], "--iterations must be at least 1, got 0"),
        (["--eval-episodes", "-1", "--threads", "0"], "--eval-episodes must be at least 1, got -1; --threads must"),
        (["--sft-steps", "-5"], "--sft-steps must be at least 0, got -5"),
        (["--seed", "-1"], "--seed must be in [0, 2^32), got -1"),
    ],
    ids=["iterations", "episodes-and-threads", "sft-steps", "seed"],
)
def test_rlef_train_toy_refuses_impossible_settings_before_it_writes_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    from rlef_trainer.cli import main

    out = tmp_path / "toy"
    assert main(["toy", "--out", str(out), *args]) == 2
    assert capsys.readouterr().err.startswith(f"rlef-train toy: {says}")
    assert not out.exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["toy", "--out", str(blocker / "toy")]) == 2
    said = capsys.readouterr().err
    assert said == f"rlef-train toy: --out {blocker / 'toy'} cannot be created: {blocker} is not a folder\n"
