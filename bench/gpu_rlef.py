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
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
import transformers
from transformers import Qwen2Config, Qwen2ForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "trainer"))

from rlef_trainer.config import RLEFConfig
from rlef_trainer.fixtures.model_shapes import MODEL_SHAPES
from rlef_trainer.models import build_models, make_optimizer
from rlef_trainer.ppo_step import RolloutBatch, ppo_update, score_rollouts
from rlef_trainer.rollout import sample_responses
from rlef_trainer.sampler import StaticSampler

# Dense bf16 peak (no sparsity) by device name; H100 SXM and H200 share the Hopper tensor-core peak.
PEAK_BF16_FLOPS = {
    "H100": 989e12,
    "H200": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "4090": 165e12,
}

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


def _prompts(batch: int, prompt: int, vocab: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(3, vocab, (batch, prompt), generator=g)


def bench_generate(
    model: Qwen2ForCausalLM,
    batch: int,
    prompt: int,
    new: int,
    device: torch.device,
    static: bool,
) -> dict[str, float]:
    """HF generate, the baseline: sampling at temperature 1, exactly `new` tokens per row."""
    ids = _prompts(batch, prompt, model.config.vocab_size, 1).to(device)
    kwargs: dict[str, Any] = {
        "do_sample": True,
        "temperature": 1.0,
        "top_k": 0,
        "max_new_tokens": new,
        "min_new_tokens": new,
        "pad_token_id": 2,
    }
    if static:
        kwargs["cache_implementation"] = "static"
    started = time.perf_counter()
    if static:  # the same call first: transformers compiles the static-cache forward for this shape
        model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
    else:
        warm = {**kwargs, "max_new_tokens": 4, "min_new_tokens": 4}
        model.generate(input_ids=ids[:, :8], attention_mask=torch.ones_like(ids[:, :8]), **warm)
    sync(device)
    warm_s = time.perf_counter() - started
    start = time.perf_counter()
    out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
    sync(device)
    seconds = time.perf_counter() - start
    tokens = int(out.shape[0] * (out.shape[1] - prompt))
    return {
        "batch": batch,
        "prompt_tokens": prompt,
        "new_tokens": new,
        "tokens": tokens,
        "warmup_s": warm_s,
        "seconds": seconds,
        "tokens_per_s": tokens / seconds,
    }


def bench_sampler(
    model: Qwen2ForCausalLM,
    batch: int,
    prompt: int,
    new: int,
    device: torch.device,
    graphs: bool = True,
) -> dict[str, float]:
    """The trainer's own rollout sampler (`rollout.sample_responses`, engine "static"), log-probs stored.

    Counts only the tokens it returned with a log-prob (a row that draws the stop id ends early).
    """
    tokenizer = SimpleNamespace(eos_token_id=1, pad_token_id=2)

    def run(seed: int) -> list[tuple[list[int], list[float], bool]]:
        prompts = _prompts(batch, prompt, model.config.vocab_size, seed).tolist()
        if not graphs:
            sampler = StaticSampler(
                model,
                stop_ids={1},
                pad_id=2,
                temperature=1.0,
                top_p=1.0,
                use_graphs=False,
            )
            return sampler.sample(prompts, new, batch)
        return sample_responses(
            model,
            tokenizer,
            prompts,
            max_new_tokens=new,
            temperature=1.0,
            top_p=1.0,
            batch_size=batch,
            device=device,
            engine="static",
        )

    started = time.perf_counter()
    run(2)  # first call for this shape: allocates the static cache and captures the CUDA graph
    sync(device)
    warm_s = time.perf_counter() - started
    start = time.perf_counter()
    samples = run(3)
    sync(device)
    seconds = time.perf_counter() - start
    tokens = sum(len(ids) for ids, _, _ in samples)
    if any(len(ids) != len(lps) for ids, lps, _ in samples):
        raise AssertionError("a sampled token without its log-prob")
    # the stored log-probs against a teacher-forced forward of the same rows (bf16 on GPU)
    prompts = _prompts(batch, prompt, model.config.vocab_size, 3)
    diffs = []
    with torch.no_grad():
        for row in range(min(4, batch)):
            ids, lps, _ = samples[row]
            full = torch.cat([prompts[row], torch.tensor(ids)]).unsqueeze(0).to(device)
            logp = torch.log_softmax(model(input_ids=full).logits[0, prompt - 1 : -1].float(), dim=-1)
            forced = logp.gather(-1, full[0, prompt:].unsqueeze(-1)).squeeze(-1).cpu()
            diffs.append((forced - torch.tensor(lps)).abs())
    diff = torch.cat(diffs)
    return {
        "batch": batch,
        "prompt_tokens": prompt,
        "new_tokens": new,
        "tokens": tokens,
        "graphs": graphs and device.type == "cuda",
        "stopped_rows": sum(stopped for _, _, stopped in samples),
        "logprob_vs_forward_max_abs": float(diff.max()),
        "logprob_vs_forward_mean_abs": float(diff.mean()),
        "warmup_s": warm_s,
        "seconds": seconds,
        "tokens_per_s": tokens / seconds,
    }


def synthetic_batch(
    episodes: int,
    turns: int,
    prompt: int,
    response: int,
    feedback: int,
    vocab: int,
    seed: int,
) -> RolloutBatch:
    """Full-length 3-turn episodes: prompt, then per turn a response (policy) and feedback (not policy)."""
    g = torch.Generator().manual_seed(seed)
    length = prompt + turns * response + (turns - 1) * feedback
    ids = torch.randint(3, vocab, (episodes, length), generator=g)
    policy = torch.zeros(episodes, length, dtype=torch.bool)
    turn_index = torch.full((episodes, length), -1)
    prompt_ends = []
    pos = prompt
    for _ in range(turns):
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
    behaviour = torch.where(
        policy,
        -torch.rand(episodes, length, generator=g) * 3,
        torch.zeros(episodes, length),
    )
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


def count_params(model: Qwen2ForCausalLM) -> tuple[int, int]:
    """(N of the policy, N of the value network), matmul weights only.

    The policy counts every parameter once: with tied embeddings the table is the LM head's matmul
    and the lookup costs nothing. The value network is the decoder body and a 1-unit head: no LM
    head, and its embedding lookup costs nothing, so the table is left out.
    """
    total = sum(p.numel() for p in model.parameters())
    embedding = model.get_input_embeddings().weight.numel()
    return total, total - embedding + model.config.hidden_size + 1


@dataclass(frozen=True)
class LoraVariant:
    """How a LoRA row adapts the model: which projections, and whether the MLP's run fused."""

    targets: str = "all-linear"
    fused_mlp: bool = False

    @property
    def suffix(self) -> str:  # of the row's name; the default variant has none
        names = "" if self.targets == "all-linear" else "_" + self.targets.replace("_proj", "").replace(",", "")
        return names + ("_fusedmlp" if self.fused_mlp else "")


def _update_config(
    mode: str,
    args: argparse.Namespace,
    device: torch.device,
    compile_layers: bool,
    checkpointing: bool = False,
    lora: LoraVariant | None = None,
) -> RLEFConfig:
    lora = lora or LoraVariant()
    return RLEFConfig(
        lora_targets=lora.targets,
        lora_fused_mlp=lora.fused_mlp,
        mode=mode,
        device=str(device),
        dtype="bfloat16" if device.type == "cuda" else "float32",
        warmup_steps=1,  # the paper's lr (2e-7, full) and the LoRA default (1e-6) from the first step
        rollouts_per_iteration=args.episodes,
        minibatch_size=args.episodes // 2,
        gradient_checkpointing=checkpointing,
        compile_layers="on" if compile_layers else "off",
    )


def bench_update(
    model: Qwen2ForCausalLM,
    mode: str,
    args: argparse.Namespace,
    device: torch.device,
    peak: float,
    forward_batch: int,
    checkpointing: bool,
    profile: bool = False,
    compile_layers: bool = False,
    lora: LoraVariant | None = None,
) -> dict[str, float]:
    """Scoring (reference, old log-probs, old values) plus one PPO pass over the batch, timed together."""
    config = _update_config(mode, args, device, compile_layers, checkpointing, lora)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    models = build_models(config, None, policy=model)
    optimizer, scheduler = make_optimizer(models, config)
    batch = synthetic_batch(
        args.episodes,
        3,
        args.prompt,
        args.response,
        args.feedback,
        model.config.vocab_size,
        0,
    )
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    warm = score_rollouts(models, batch, config, forward_batch)  # warm-up: kernels, allocator, optimizer state
    ppo_update(models, optimizer, scheduler, batch, warm, config, rng, forward_batch)
    sync(device)
    warmup_seconds = time.perf_counter() - started  # with compile_layers: the compilation
    runs = []  # (total, scoring) seconds of each timed iteration; the median one is reported
    allocator = []  # per timed iteration, on CUDA: what the caching allocator did (full mode's times are bimodal)
    for _ in range(max(args.repeats, 1)):
        before = allocator_counts(device)
        start = time.perf_counter()
        scored = score_rollouts(models, batch, config, forward_batch)  # ends reading its results back
        scored_at = time.perf_counter()
        ppo_update(models, optimizer, scheduler, batch, scored, config, rng, forward_batch)
        sync(device)
        runs.append((time.perf_counter() - start, scored_at - start))
        allocator.append({k: v - before[k] for k, v in allocator_counts(device).items()})
    seconds, score_seconds = sorted(runs)[len(runs) // 2]
    kernel_seconds = None  # GPU kernel time of the profiled pass, against its wall time: how busy the GPU is
    breakdown = None
    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profile

        cuda = device.type == "cuda"
        activities = [ProfilerActivity.CPU, ProfilerActivity.CUDA] if cuda else [ProfilerActivity.CPU]
        with torch_profile(activities=activities, record_shapes=True) as prof:
            ppo_update(models, optimizer, scheduler, batch, scored, config, rng, forward_batch)
            sync(device)
        print(f"profile of one more PPO pass ({mode}, forward batch {forward_batch}):")
        sort_by = "cuda_time_total" if cuda else "self_cpu_time_total"
        print(prof.key_averages().table(sort_by=sort_by, row_limit=25, max_name_column_width=60))
        breakdown = profile_breakdown(prof, config.lora_rank if mode == "lora" else None, cuda)
        print("by kind (seconds):", json.dumps({k: round(v, 4) for k, v in breakdown.items()}))
        if cuda:  # the kernels themselves (device events), as the table's "Self CUDA time total" counts them
            kernels = [
                e
                for e in prof.key_averages()
                if e.device_type == torch.autograd.DeviceType.CUDA and not e.is_user_annotation
            ]
            kernel_seconds = sum(e.self_device_time_total for e in kernels) / 1e6
    n_policy, n_value = count_params(model)
    t = int(batch.attention_mask.sum())
    # tokens whose log-prob is needed (policy tokens): the LM head runs on these only
    t_head = int(batch.policy_mask[:, 1:].sum())
    n_head = model.get_output_embeddings().weight.numel()
    trained = 4 if mode == "lora" else 6  # spec: 6NT full weights, 4NT LoRA, 2NT forward-only
    flops = {
        "policy_train": trained * n_policy * t,
        "value_train": trained * n_value * t,
        "reference_forward": 2 * n_policy * t,
        "old_logprobs_forward": 2 * n_policy * t,
        "old_values_forward": 2 * n_value * t,
    }
    total = sum(flops.values())
    # the same passes with the LM head counted on the tokens it runs on
    head_saved = (trained + 2 + 2) * n_head * (t - t_head)
    computed = total - head_saved
    peak_mem = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    # did two optimiser steps move the policy's weights (lr above; bf16 alone rounds small steps away)?
    with torch.no_grad():
        if mode == "full":
            pairs = list(zip(models.policy.parameters(), model.parameters(), strict=True))
            moved = sum(int(not torch.equal(a, b)) for a, b in pairs) / len(pairs)
        else:
            lora_b = [p for n, p in models.policy.named_parameters() if "lora_B.policy" in n]
            moved = sum(int(bool(p.abs().max() > 0)) for p in lora_b) / len(lora_b)
    optimizer_name = type(optimizer).__name__
    del models, optimizer, scheduler, scored, warm
    return {
        "mode": mode,
        "forward_batch": forward_batch,
        "gradient_checkpointing": checkpointing,
        "compile_layers": compile_layers,
        "lora_targets": config.lora_targets if mode == "lora" else None,
        "lora_fused_mlp": config.lora_fused_mlp if mode == "lora" else None,
        "warmup_seconds": warmup_seconds,
        "N_policy": n_policy,
        "N_value": n_value,
        "T": t,
        "seconds": seconds,
        "score_seconds": score_seconds,
        "update_seconds": seconds - score_seconds,
        "timed_iterations": [round(total, 4) for total, _ in runs],
        "timed_iterations_scoring": [round(scoring, 4) for _, scoring in runs],
        "timed_iterations_allocator": allocator if device.type == "cuda" else None,
        "profiled_pass_kernel_seconds": kernel_seconds,
        "profiled_pass_by_kind_seconds": breakdown,
        "tokens_per_s": t / seconds,
        "flops": total,
        "flops_by_pass": flops,
        "peak_flops": peak,
        "mfu": total / (seconds * peak),
        "T_head": t_head,
        "flops_head_on_policy_tokens": computed,
        "mfu_head_on_policy_tokens": computed / (seconds * peak),
        "peak_memory_gib": peak_mem,
        "optimizer": optimizer_name,
        "policy_tensors_moved": moved,
    }


ALLOCATOR_COUNTERS = ("num_alloc_retries", "num_device_alloc", "num_device_free", "num_sync_all_streams")


def allocator_counts(device: torch.device) -> dict[str, int]:
    """The caching allocator's running counts: retries (a failed cudaMalloc that freed the cache and synced),
    cudaMalloc and cudaFree calls, whole-device syncs. Empty on CPU, and for counters this torch lacks."""
    if device.type != "cuda":
        return {}
    stats = torch.cuda.memory_stats(device)
    return {k: int(stats[k]) for k in ALLOCATOR_COUNTERS if k in stats}


MATRIX_PRODUCT_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")
KERNEL_KINDS = (  # (kind, substrings of the CUDA kernel's name), first match wins
    ("attention", ("sdpa", "flash", "fmha", "attention")),
    ("optimizer", ("multi_tensor_apply", "fused_adam", "foreach")),
    ("matrix products", ("nvjet", "gemm", "cutlass", "xmma", "cublas")),
    ("compiled elementwise (triton)", ("triton_",)),
    ("copies and casts", ("copy", "memcpy", "memset", "cast")),
    ("other elementwise (eager)", ("elementwise", "vectorized", "reduce")),
)


def profile_breakdown(prof: Any, lora_rank: int | None, cuda: bool) -> dict[str, float]:
    """Seconds of one profiled pass by kind: the matrix products split into LoRA's adapter products (an
    operand with the adapter rank, or twice it, as a dimension; the model's are 64 and up) and the rest,
    then (on CUDA) every kernel by the kind its name tells. On CPU: the products only, in CPU time."""

    def seconds(event: Any) -> float:
        return float(event.self_device_time_total if cuda else event.self_cpu_time_total) / 1e6

    adapter = other = 0.0
    for event in prof.key_averages(group_by_input_shape=True):
        if event.key not in MATRIX_PRODUCT_OPS:
            continue
        dims = {d for shape in event.input_shapes if isinstance(shape, list) for d in shape}
        # 2r: lora_fused_mlp's gate and up adapters (its widened base products, K or N grown by r or 2r, count
        # as the rest)
        if lora_rank is not None and dims & {lora_rank, 2 * lora_rank}:
            adapter += seconds(event)
        else:
            other += seconds(event)
    out = {"matrix products: LoRA adapters": adapter, "matrix products: the rest": other}
    if not cuda:
        return out
    kinds = dict.fromkeys([kind for kind, _ in KERNEL_KINDS] + ["other"], 0.0)
    for event in prof.key_averages():
        if event.device_type != torch.autograd.DeviceType.CUDA or event.is_user_annotation:
            continue
        name = event.key.lower()
        kind = next((k for k, needles in KERNEL_KINDS if any(n in name for n in needles)), "other")
        kinds[kind] += event.self_device_time_total / 1e6
    return out | {f"kernels: {kind}": t for kind, t in kinds.items()}


def bench_loop(model: Qwen2ForCausalLM, mode: str, args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """A training iteration's order with compiled layers: sample (eager, CUDA graphs), score and update
    (compiled), sample again. The second sampling must run as fast as the first and keep its log-probs
    matching a forward of the updated policy."""
    config = _update_config(mode, args, device, compile_layers=True)
    models = build_models(config, None, policy=model)
    optimizer, scheduler = make_optimizer(models, config)
    batch = synthetic_batch(args.episodes, 3, args.prompt, args.response, args.feedback, model.config.vocab_size, 0)
    rng = np.random.default_rng(0)
    report: dict[str, Any] = {"mode": mode}
    for round_ in (1, 2):
        policy = models.generation_model().eval()
        report[f"sample_{round_}"] = bench_sampler(policy, args.loop_batch, args.gen_prompt, args.gen_new, device)
        started = time.perf_counter()
        scored = score_rollouts(models, batch, config, 16)
        ppo_update(models, optimizer, scheduler, batch, scored, config, rng, 16)
        sync(device)
        report[f"update_{round_}_seconds"] = time.perf_counter() - started
    del models, optimizer, scheduler
    return report


def _record(report: dict[str, object], out: Path | None) -> None:
    if out is not None:
        out.write_text(json.dumps(report, indent=2, default=float) + "\n")


def _attempt(report: dict[str, Any], key: str, out: Path | None, fn: Any) -> Any:
    """Run one measurement; a failure (OOM, a compile error) is recorded and the rest still run."""
    try:
        result = fn()
    except Exception as error:  # noqa: BLE001 - recorded in the report, never hidden
        traceback.print_exc()
        result = {"error": f"{type(error).__name__}: {str(error)[:300]}"}
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    report[key] = result
    print(key, json.dumps(result, default=float), flush=True)
    _record(report, out)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny shape on CPU (checks the script, measures nothing useful)",
    )
    parser.add_argument(
        "--peak-tflops",
        type=float,
        default=None,
        help="dense bf16 peak of the card, if not known by name",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write the report (JSON) here as it grows",
    )
    parser.add_argument("--skip-baselines", action="store_true", help="only the trainer's own code")
    parser.add_argument(
        "--lora-rollout",
        action="store_true",
        help="also sample through the LoRA policy (peft model, as lora mode generates) at the first batch size",
    )
    parser.add_argument(
        "--loop",
        action="store_true",
        help="also run sample, update, sample with compiled layers (full and LoRA) as one iteration does",
    )
    parser.add_argument(
        "--only",
        choices=("rollout", "update"),
        default=None,
        help="one half of the benchmark",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="timed update iterations per row (the median is reported)",
    )
    parser.add_argument(
        "--lora-targets",
        action="append",
        default=[],
        metavar="NAMES",
        help="one more compiled LoRA update row adapting only these projections (e.g. q_proj,k_proj,v_proj,o_proj)",
    )
    parser.add_argument(
        "--lora-fused-mlp",
        action="store_true",
        help="one more compiled LoRA update row with the MLP's projections fused (lora_fused_mlp)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print a torch.profiler table of one PPO pass per mode",
    )
    args = parser.parse_args(argv)
    extra = [LoraVariant(targets=targets) for targets in args.lora_targets]  # rows beyond the standard grid
    extra += [LoraVariant(fused_mlp=True)] if args.lora_fused_mlp else []
    if args.smoke:
        device, shape, dtype = torch.device("cpu"), "smoke", torch.float32
        gen_batches, args.gen_prompt, args.gen_new = (4, 8), 32, 16
        args.episodes, args.prompt, args.response, args.feedback = 4, 32, 16, 16
        grid = [("full", 2, False, False, LoraVariant()), ("lora", 2, False, False, LoraVariant())]
        # the extra rows score all 4 episodes in one forward: 448 tokens, above the fused MLP's threshold
        grid += [("lora", 4, False, False, variant) for variant in extra]
        args.loop_batch = 4
    else:
        if not torch.cuda.is_available():
            parser.error("no CUDA device (use --smoke on CPU)")
        device, shape, dtype = torch.device("cuda"), "qwen2.5-0.5b", torch.bfloat16
        gen_batches, args.gen_prompt, args.gen_new = (64, 256), 512, 256
        args.episodes, args.prompt, args.response, args.feedback = 32, 512, 256, 128
        args.loop_batch = 64
        grid = [  # (mode, forward batch, gradient checkpointing, compiled decoder layers, LoRA variant)
            ("full", 16, False, False, LoraVariant()),
            ("full", 32, False, True, LoraVariant()),
            ("lora", 16, False, False, LoraVariant()),
            ("lora", 32, False, True, LoraVariant()),
        ]  # run 7 (bench/RESULTS.md) also had 16 compiled: 37.6% full, 19.2% LoRA
        grid += [("lora", 32, False, True, variant) for variant in extra]
    peak, peak_source = device_peak(device, args.peak_tflops)
    model = make_model(shape, dtype, device)
    report: dict[str, Any] = {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "shape": shape,
        "peak_source": peak_source,
    }
    _record(report, args.out)
    for b in gen_batches if args.only != "update" else ():
        ours = _attempt(
            report,
            f"rollout_ours_b{b}",
            args.out,
            lambda b=b: bench_sampler(model, b, args.gen_prompt, args.gen_new, device),
        )
        if "error" in ours:  # the same loop without CUDA graphs, to tell a capture problem from the rest
            _attempt(
                report,
                f"rollout_ours_nographs_b{b}",
                args.out,
                lambda b=b: bench_sampler(model, b, args.gen_prompt, args.gen_new, device, graphs=False),
            )
    if args.lora_rollout and args.only != "update":

        def lora_policy_rollout() -> dict[str, float]:
            config = RLEFConfig(mode="lora", device=str(device), dtype=str(dtype).removeprefix("torch."))
            policy = build_models(config, None, policy=model).generation_model().eval()
            return bench_sampler(policy, gen_batches[0], args.gen_prompt, args.gen_new, device)

        _attempt(report, f"rollout_ours_lora_b{gen_batches[0]}", args.out, lora_policy_rollout)
    if not args.skip_baselines and args.only != "update":
        for b in gen_batches:
            for cache, static in (("dynamic", False), ("static", True)):
                _attempt(
                    report,
                    f"rollout_hf_{cache}_b{b}",
                    args.out,
                    lambda b=b, static=static: bench_generate(
                        model, b, args.gen_prompt, args.gen_new, device, static=static
                    ),
                )
    profiled: set[tuple[str, bool, LoraVariant]] = set()
    for mode, fb, ckpt, compiled, variant in grid if args.only != "rollout" else ():
        profile = args.profile and (mode, compiled, variant) not in profiled
        profiled.add((mode, compiled, variant))
        _attempt(
            report,
            f"update_{mode}_fb{fb}{'_ckpt' if ckpt else ''}{'_compiled' if compiled else ''}{variant.suffix}",
            args.out,
            lambda mode=mode, fb=fb, ckpt=ckpt, profile=profile, compiled=compiled, variant=variant: bench_update(
                model, mode, args, device, peak, fb, ckpt, profile, compiled, variant
            ),
        )
    for mode in ("full", "lora") if args.loop else ():
        _attempt(report, f"loop_{mode}_compiled", args.out, lambda mode=mode: bench_loop(model, mode, args, device))
    print("\nsummary (tokens/s; MFU as spec/rlef.md section 4 defines it)")
    for b in gen_batches:
        if f"rollout_ours_b{b}" not in report:
            continue
        ours = report.get(f"rollout_ours_b{b}", {})
        line = f"rollout batch {b}: ours {ours.get('tokens_per_s', float('nan')):,.0f}"
        for base in ("hf_dynamic", "hf_static"):
            r = report.get(f"rollout_{base}_b{b}", {})
            if "tokens_per_s" in r and "tokens_per_s" in ours:
                line += f" | {base} {r['tokens_per_s']:,.0f} (ours x{ours['tokens_per_s'] / r['tokens_per_s']:.2f})"
        print(line)
    for key, r in report.items():
        if key.startswith("update_") and "mfu" in r:
            print(
                f"{key}: N={r['N_policy']:,}/{r['N_value']:,} T={r['T']:,} time={r['seconds']:.2f}s "
                f"(scoring {r['score_seconds']:.2f}s, update {r['update_seconds']:.2f}s; "
                f"median of {len(r['timed_iterations'])}) "
                f"peak={r['peak_flops'] / 1e12:.0f} TFLOP/s -> {r['tokens_per_s']:,.0f} tok/s, MFU {r['mfu']:.1%}, "
                f"peak memory {r['peak_memory_gib']:.1f} GiB; LM head on the {r['T_head']:,} policy tokens only: "
                f"MFU {r['mfu_head_on_policy_tokens']:.1%}"
            )
            if len(r["timed_iterations"]) > 1:  # every iteration, to see the spread (and the allocator's part)
                each = ", ".join(
                    f"{total:.2f}s (scoring {scoring:.2f}s)"
                    for total, scoring in zip(r["timed_iterations"], r["timed_iterations_scoring"], strict=True)
                )
                print(f"  iterations: {each}; allocator: {r['timed_iterations_allocator']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
