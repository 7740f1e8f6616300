"""bench/gpu_rlef.py on CPU (--smoke): the GPU benchmark's code paths run and report what they measured.

The GPU has no CI; this keeps the script that makes the GPU figures working between GPU sessions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_gpu_benchmark_runs_its_smoke_shape_on_cpu(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "bench" / "gpu_rlef.py"),
            "--smoke",
            "--lora-rollout",
            "--lora-targets",
            "q_proj,v_proj",
            "--lora-fused-mlp",
            "--profile",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    for batch in (4, 8):
        ours = report[f"rollout_ours_b{batch}"]
        assert "error" not in ours, ours
        assert ours["tokens"] == batch * 16 or ours["stopped_rows"] > 0
        assert ours["logprob_vs_forward_max_abs"] < 1e-4  # fp32 on CPU: the stored log-probs are the model's
        for cache in ("dynamic", "static"):
            assert report[f"rollout_hf_{cache}_b{batch}"]["tokens"] == batch * 16
    lora = report["rollout_ours_lora_b4"]  # through the peft policy, as lora mode samples
    assert "error" not in lora and lora["logprob_vs_forward_max_abs"] < 1e-4
    for mode, row in (
        ("full", "full_fb2"),
        ("lora", "lora_fb2"),
        ("lora", "lora_fb4_qv"),
        ("lora", "lora_fb4_fusedmlp"),
    ):
        update = report[f"update_{row}"]
        assert "error" not in update, update
        assert update["T"] == 4 * (32 + 3 * 16 + 2 * 16)
        assert update["policy_tensors_moved"] > 0
        iterations = update["timed_iterations"]
        assert len(update["timed_iterations_scoring"]) == len(iterations) > 0
        assert all(
            0 < scoring < total for scoring, total in zip(update["timed_iterations_scoring"], iterations, strict=True)
        )
        assert update["timed_iterations_allocator"] is None  # CUDA's allocator counts: none on CPU
        passes = update["flops_by_pass"]
        trained = 4 if mode == "lora" else 6
        assert passes["policy_train"] == trained * update["N_policy"] * update["T"]
        assert passes["old_values_forward"] == 2 * update["N_value"] * update["T"]
    variants = [report[f"update_{row}"] for row in ("lora_fb2", "lora_fb4_qv", "lora_fb4_fusedmlp")]
    assert [(r["lora_targets"], r["lora_fused_mlp"]) for r in variants] == [
        ("all-linear", False),
        ("q_proj,v_proj", False),
        ("all-linear", True),
    ]
    # the profiled pass splits the matrix products into LoRA's adapter products and the rest
    kinds = {row: report[f"update_{row}"]["profiled_pass_by_kind_seconds"] for row in ("full_fb2", "lora_fb2")}
    assert kinds["full_fb2"]["matrix products: LoRA adapters"] == 0 < kinds["full_fb2"]["matrix products: the rest"]
    assert kinds["lora_fb2"]["matrix products: LoRA adapters"] > 0 < kinds["lora_fb2"]["matrix products: the rest"]
