"""`model` as a Hub id: `rlef-train train` downloads it through huggingface_hub (HF_ENDPOINT, HF_HOME), trains,
and `rlef-train export` loads the same base again from the cache, offline. The Hub is the project's stand-in
(test/hub-standin: the Hub's URLs and headers, checked against huggingface_hub itself in the TypeScript tests).
A model that cannot be loaded is a one-line error, exit 2, with nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import tiny_run_config

REPO_ROOT = Path(__file__).resolve().parents[2]
HUB_REPO = "rlef-test/tiny-coder"


@pytest.fixture(scope="module")
def hub(tiny_model_dir: Path) -> Iterator[str]:
    """The stand-in Hub serving the tiny model as HUB_REPO; yields its endpoint (HF_ENDPOINT)."""
    process = subprocess.Popen(
        ["node", "--import", "tsx", "test/hub-standin/main.ts", f"{HUB_REPO}={tiny_model_dir}"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        endpoint = process.stdout.readline().strip()
        assert endpoint.startswith("http://127.0.0.1:"), f"the stand-in did not start: {process.stderr.read()}"
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=30)


def _run(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rlef_trainer.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        env={**os.environ, "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_DISABLE_PROGRESS_BARS": "1", **env},
    )


def _config(tmp_path: Path, model: str, out: Path) -> Path:
    return tiny_run_config(tmp_path, model, out_dir=str(out), mode="lora", lora_rank=4, checkpoint_every=1)


def test_a_hub_id_is_downloaded_trained_and_exported_from_the_cache(
    tmp_path: Path, hub: str, tiny_model_dir: Path
) -> None:
    cache = tmp_path / "hf-home"
    online = {"HF_ENDPOINT": hub, "HF_HOME": str(cache), "HF_HUB_OFFLINE": "0"}
    out = tmp_path / "run"
    trained = _run(["train", "--config", str(_config(tmp_path, HUB_REPO, out))], online)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert f"loading the model {HUB_REPO} (lora mode)" in trained.stderr
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 1
    # What the trainer trained on is the stand-in's repository, byte for byte, in the Hugging Face cache layout.
    snapshots = list((cache / "hub" / f"models--{HUB_REPO.replace('/', '--')}" / "snapshots").iterdir())
    assert len(snapshots) == 1, snapshots
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        assert (snapshots[0] / name).read_bytes() == (tiny_model_dir / name).read_bytes(), name

    # Export finds the base again by its id, from the cache alone (the stand-in's address is gone).
    offline = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HOME": str(cache), "HF_HUB_OFFLINE": "1"}
    exported = _run(["export", "--run", str(out), "--out", str(tmp_path / "model")], offline)
    assert exported.returncode == 0, exported.stderr[-3000:]
    meta = json.loads((tmp_path / "model" / "rlef-export.json").read_text())
    assert meta["base_model"] == HUB_REPO
    assert (tmp_path / "model" / "onnx" / "model.onnx").is_file()


def test_a_hub_id_the_hub_does_not_have_is_one_clear_error_and_nothing_is_written(tmp_path: Path, hub: str) -> None:
    out = tmp_path / "run"
    started = time.monotonic()
    done = _run(
        ["train", "--config", str(_config(tmp_path, "rlef-test/no-such-model", out))],
        {"HF_ENDPOINT": hub, "HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_OFFLINE": "0"},
    )
    assert done.returncode == 2, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("rlef-train train: cannot load the model 'rlef-test/no-such-model' (not a folder in ")
    assert "so a Hub id)" in last and "Traceback" not in done.stderr
    assert not out.exists()
    assert time.monotonic() - started < 120


@pytest.mark.parametrize(
    "model",
    ["/nonexistent/base-model", "./models/missing", "EMPTY"],
    ids=["absolute", "relative", "no-config"],
)
def test_a_model_folder_that_is_not_one_is_refused_before_anything_starts(tmp_path: Path, model: str) -> None:
    says = "does not exist"
    if model == "EMPTY":
        model, says = str(tmp_path / "empty-model"), "holds no config.json"
        Path(model).mkdir()
    out = tmp_path / "run"
    done = _run(["train", "--config", str(_config(tmp_path, model, out))], {"HF_HUB_OFFLINE": "1"}, timeout=120)
    assert done.returncode == 2, done.stderr[-3000:]
    # one line, before the service or the model started
    assert done.stderr.strip().splitlines() == [f"rlef-train train: the model folder {model} {says}"]
    assert not out.exists()
