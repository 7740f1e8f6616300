"""RLEF throughput on one GPU: rollout tokens/s, PPO-update tokens/s, MFU and peak memory.

A Qwen2.5-0.5B-shaped model with random weights in bf16 (no download), trained in `full` and
`lora` mode with the trainer's own PPO code (rlef_trainer.ppo_step) on synthetic 3-turn episodes
(random prompt/feedback ids; no environment service, no Node on the GPU box). Rollouts are timed
with HF generate twice: the default dynamic KV cache and cache_implementation="static".

MFU follows spec/rlef.md §4: counted FLOPs / (step time x dense bf16 peak), with 6·N·T per network
trained with full weights, 4·N·T per LoRA-trained network, 2·N·T per forward-only pass (reference
and old log-probs, old values), T = non-padding tokens. Prints N, T, time and the peak used.

    python bench/gpu_rlef.py            # GPU, < 5 min on an H100/H200
    python bench/gpu_rlef.py --smoke    # tiny shape on CPU, seconds
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "trainer"))

from rlef_trainer.config import RLEFConfig
from rlef_trainer.fixtures.model_shapes import MODEL_SHAPES
from rlef_trainer.models import build_models
from rlef_trainer.ppo_step import RolloutBatch, ppo_update, score_rollouts
from rlef_trainer.train import make_optimizer

# Dense bf16 peak (no sparsity) by device name; H100 SXM and H200 share the Hopper tensor-core peak.
PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "4090": 165e12}

# The fixture's own geometries (trainer/rlef_trainer/fixtures/model_shapes.py): "smoke" is the tiny one.
TINY_VOCAB = 1046


def shape_config(name: str) -> dict[str, object]:
    shape = MODEL_SHAPES["tiny" if name == "smoke" else name]
    return {
        "num_hidden_layers": shape.num_layers,
        "hidden_size": shape.hidden_size,
        "num_attention_heads": shape.num_heads,
        "num_key_value_heads": shape.num_kv_heads,
        "intermediate_size": shape.intermediate_size,
        "vocab_size": shape.vocab_size or TINY_VOCAB,
        "max_position_embeddings": shape.max_position_embeddings,
        "rope_parameters": {"rope_type": "default", "rope_theta": shape.rope_theta},
        "tie_word_embeddings": True,
    }


def device_peak(device: torch.device, override: float | None) -> tuple[float, str]:
    if override:
        return override * 1e12, "--peak-tflops"
    if device.type != "cuda":
        return float("nan"), "cpu (no peak)"
    name = torch.cuda.get_device_name(device)
    for key, peak in PEAK_BF16_FLOPS.items():
        if key in name:
            return peak, name
    return float("nan"), f"{name} (unknown peak: pass --peak-tflops)"


def make_model(shape: str, dtype: torch.dtype, device: torch.device) -> Qwen2ForCausalLM:
    torch.manual_seed(0)
    config = Qwen2Config(
        **shape_config(shape),
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=2,
    )
    return Qwen2ForCausalLM(config).to(device, dtype).eval()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_generate(
    model: Qwen2ForCausalLM, batch: int, prompt: int, new: int, device: torch.device, static: bool
) -> dict[str, float]:
    ids = torch.randint(3, model.config.vocab_size, (batch, prompt), device=device)
    kwargs = dict(do_sample=True, temperature=1.0, top_k=0, max_new_tokens=new, min_new_tokens=new, pad_token_id=2)  # noqa: C408
    if static:
        kwargs["cache_implementation"] = "static"
    model.generate(
        input_ids=ids[:, :8],
        attention_mask=torch.ones_like(ids[:, :8]),
        **{**kwargs, "max_new_tokens": 4, "min_new_tokens": 4},
    )
    sync(device)
    start = time.perf_counter()
    model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
    sync(device)
    seconds = time.perf_counter() - start
    return {
        "batch": batch,
        "prompt_tokens": prompt,
        "new_tokens": new,
        "seconds": seconds,
        "tokens_per_s": batch * new / seconds,
    }


def synthetic_batch(
    episodes: int, turns: int, prompt: int, response: int, feedback: int, vocab: int, seed: int
) -> RolloutBatch:
    """Full-length 3-turn episodes: prompt, then per turn a response (policy) and feedback (not policy)."""
    g = torch.Generator().manual_seed(seed)
    length = prompt + turns * response + (turns - 1) * feedback
    ids = torch.randint(3, vocab, (episodes, length), generator=g)
    policy = torch.zeros(episodes, length, dtype=torch.bool)
    turn_index = torch.full((episodes, length), -1)
    prompt_ends = []
    pos = prompt
    for t in range(turns):
        prompt_ends.append(pos - 1)
        policy[:, pos : pos + response] = True
        pos += response + feedback
    for b in range(episodes):
        pos = prompt
        for t in range(turns):
            turn_index[b, pos : pos + response] = b * turns + t
            pos += response + feedback
    rewards = torch.zeros(episodes * turns)
    rewards[turns - 1 :: turns] = torch.where(torch.rand(episodes, generator=g) < 0.3, 1.0, -1.0)
    behaviour = torch.where(policy, -torch.rand(episodes, length, generator=g) * 3, torch.zeros(episodes, length))
    return RolloutBatch(
        ids,
        torch.ones_like(ids),
        policy,
        turn_index,
        behaviour,
        rewards,
        torch.arange(episodes).repeat_interleave(turns),
        torch.tensor(prompt_ends * episodes),
    )


def bench_update(
    model: Qwen2ForCausalLM, mode: str, args: argparse.Namespace, device: torch.device, peak: float
) -> dict[str, float]:
    config = RLEFConfig(
        mode=mode,
        device=str(device),
        dtype="bfloat16" if device.type == "cuda" else "float32",
        lr=1e-6,
        lora_lr=1e-5,
        warmup_steps=1,
        rollouts_per_iteration=args.episodes,
        minibatch_size=args.episodes // 2,
        gradient_checkpointing=device.type == "cuda",
    )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    models = build_models(config, None, policy=model)
    optimizer, scheduler = make_optimizer(models, config)
    batch = synthetic_batch(args.episodes, 3, args.prompt, args.response, args.feedback, model.config.vocab_size, 0)
    rng = np.random.default_rng(0)
    score_rollouts(models, batch, config, args.forward_batch)  # warm-up (kernels, allocator)
    sync(device)
    start = time.perf_counter()
    scored = score_rollouts(models, batch, config, args.forward_batch)
    ppo_update(models, optimizer, scheduler, batch, scored, config, rng, args.forward_batch)
    sync(device)
    seconds = time.perf_counter() - start
    n = sum(p.numel() for p in model.parameters())
    t = int(batch.attention_mask.sum())
    trained = 4 if mode == "lora" else 6
    # policy and value trained; reference, old policy and old values forward-only.
    flops = 2 * trained * n * t + 3 * 2 * n * t
    peak_mem = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    del models, optimizer
    return {
        "mode": mode,
        "N": n,
        "T": t,
        "seconds": seconds,
        "tokens_per_s": t / seconds,
        "flops": flops,
        "peak_flops": peak,
        "mfu": flops / (seconds * peak),
        "peak_memory_gib": peak_mem,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--smoke", action="store_true", help="tiny shape on CPU (checks the script, measures nothing useful)"
    )
    parser.add_argument(
        "--peak-tflops", type=float, default=None, help="dense bf16 peak of the card, if not known by name"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        device, shape, dtype = torch.device("cpu"), "smoke", torch.float32
        args.gen_batch, args.gen_prompt, args.gen_new = 4, 32, 16
        args.episodes, args.prompt, args.response, args.feedback, args.forward_batch = 4, 32, 16, 16, 2
    else:
        if not torch.cuda.is_available():
            parser.error("no CUDA device (use --smoke on CPU)")
        device, shape, dtype = torch.device("cuda"), "qwen2.5-0.5b", torch.bfloat16
        args.gen_batch, args.gen_prompt, args.gen_new = 64, 512, 256
        args.episodes, args.prompt, args.response, args.feedback, args.forward_batch = 32, 512, 256, 128, 8
    peak, peak_source = device_peak(device, args.peak_tflops)
    model = make_model(shape, dtype, device)
    report: dict[str, object] = {"device": str(device), "shape": shape, "peak_source": peak_source}
    plain = bench_generate(model, args.gen_batch, args.gen_prompt, args.gen_new, device, static=False)
    static = bench_generate(model, args.gen_batch, args.gen_prompt, args.gen_new, device, static=True)
    report["rollout"] = {
        "dynamic_cache": plain,
        "static_cache": static,
        "static_over_dynamic": static["tokens_per_s"] / plain["tokens_per_s"],
    }
    report["update"] = {mode: bench_update(model, mode, args, device, peak) for mode in ("full", "lora")}
    for mode, r in report["update"].items():  # type: ignore[union-attr]
        print(
            f"{mode:4s} update: N={r['N']:,} T={r['T']:,} time={r['seconds']:.2f}s peak={r['peak_flops'] / 1e12:.0f} TFLOP/s "
            f"-> {r['tokens_per_s']:,.0f} tok/s, MFU {r['mfu']:.1%}, peak memory {r['peak_memory_gib']:.1f} GiB"
        )
    print(
        f"rollout: dynamic cache {plain['tokens_per_s']:,.0f} tok/s, static cache {static['tokens_per_s']:,.0f} tok/s "
        f"(x{report['rollout']['static_over_dynamic']:.2f})"
    )  # type: ignore[index]
    print(json.dumps(report, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
