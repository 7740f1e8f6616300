"""The RLEF training loop: collect rollouts through the service, score them, update with PPO, checkpoint.

for each iteration:
    requests  = the next `rollouts_per_iteration` episodes (tasks in a seeded order, fresh episode seeds)
    rollouts  = collect_rollouts(...)                 # the service plays every episode
    scored    = score_rollouts(...)                   # ref/old log-probs, KL_t, G_t, V(c_t), A_t
    metrics   = ppo_update(...)                       # updates_per_iteration optimiser steps
    every eval_every iterations (and before the first, after the last): evaluate(...)  # eval.jsonl
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlef_trainer.checkpoint import (
    CheckpointError,
    complete_checkpoints,
    latest_checkpoint,
    load_checkpoint,
    remove_checkpoint,
    remove_interrupted_writes,
    restore_rng_state,
    rng_state,
    save_checkpoint,
)
from rlef_trainer.config import RLEFConfig, config_to_dict
from rlef_trainer.env_client import EnvClient
from rlef_trainer.models import RLEFModels, make_optimizer
from rlef_trainer.ppo_step import build_batch, ppo_update, rollout_metrics, score_rollouts
from rlef_trainer.progress import json_safe
from rlef_trainer.rollout import EpisodeRequest, Rollout, collect_rollouts

# (iteration, numpy rng, count) -> the episodes to play; must draw only from the given rng.
RequestSource = Callable[[int, np.random.Generator, int], list[EpisodeRequest]]
# (iteration, seed) -> {name of the evaluated tasks: their rates}; run under a forked torch RNG
Evaluator = Callable[[int, int], dict[str, dict[str, float]]]


@dataclass
class TrainState:
    iteration: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    resumed_from: Path | None = None


# Settings that may differ between a run and its resumption without changing what it computes next.
RUN_CONTROL_FIELDS = frozenset(
    {
        "iterations",
        "out_dir",
        "device",
        "env_url",
        "env_token",
        "env_workers",
        "checkpoint_every",
        "keep_checkpoints",
        "torch_threads",
        "deterministic",
        "metrics_port",
        # evaluation runs under its own RNG and changes nothing that training computes
        "eval_every",
        "eval_draws",
        "eval_max_problems",
        "eval_sets",
        "eval_random_feedback",
    }
)
METRICS_FILE = "metrics.jsonl"
EVAL_FILE = "eval.jsonl"


def apply_determinism(config: RLEFConfig) -> None:
    """The config's reproducibility settings: a fixed CPU thread count and deterministic kernels."""
    if config.torch_threads > 0:
        torch.set_num_threads(config.torch_threads)
    if config.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS's condition for determinism
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False


def source_state(source: RequestSource) -> dict[str, Any]:
    """What the episode source must carry over a restart (an episode counter, say).

    A source with `state_dict()` / `load_state_dict()` saves what it returns; any other source
    saves its plain scalar attributes, which covers counters without asking every source for code.
    """
    if callable(getattr(source, "state_dict", None)):
        return {"state_dict": source.state_dict()}  # type: ignore[attr-defined]
    attributes = getattr(source, "__dict__", {})
    return {"attributes": {k: v for k, v in attributes.items() if isinstance(v, (bool, int, float, str))}}


def restore_source_state(source: RequestSource, saved: dict[str, Any]) -> None:
    if "state_dict" in saved:
        source.load_state_dict(saved["state_dict"])  # type: ignore[attr-defined]
        return
    for name, value in saved.get("attributes", {}).items():
        setattr(source, name, value)


def config_changes(saved: dict[str, Any], current: RLEFConfig) -> list[str]:
    """Settings that differ from a checkpoint's run, other than RUN_CONTROL_FIELDS."""
    now = json.loads(json.dumps(config_to_dict(current)))
    then = json.loads(json.dumps(saved))
    return [
        f"{k} {then[k]!r} -> {now[k]!r}"
        for k in sorted(now)
        if k not in RUN_CONTROL_FIELDS and k in then and then[k] != now[k]
    ]


def metrics_line(metrics: dict[str, Any]) -> str:
    return json.dumps(json_safe(metrics), allow_nan=False) + "\n"


def rewrite_metrics(path: Path, history: list[dict[str, Any]]) -> None:
    """metrics.jsonl as exactly the checkpoint's history: lines of iterations after it (or a torn last line) go."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text("".join(metrics_line(m) for m in history))
    os.replace(tmp, path)


def evaluation_due(config: RLEFConfig, iteration: int) -> bool:
    """Evaluate before the first iteration, every `eval_every` iterations and after the last."""
    return config.eval_every > 0 and (iteration % config.eval_every == 0 or iteration == config.iterations)


def run_evaluation(config: RLEFConfig, evaluator: Evaluator, iteration: int, device: torch.device) -> dict[str, Any]:
    """One evaluation, its sampling on a torch RNG forked from training's: the run continues as without it."""
    seed = int(np.random.SeedSequence([config.seed, iteration]).generate_state(1)[0])
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        results = evaluator(iteration, seed)
    return {"iteration": iteration, **results, "seconds": time.perf_counter() - started}


def _start_or_resume(
    config: RLEFConfig,
    out: Path,
    resume: bool,
    models: RLEFModels,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    data_rng: np.random.Generator,
    requests_for: RequestSource,
    log: Callable[[str], None],
) -> TrainState:
    for leftover in remove_interrupted_writes(out):
        log(f"removed {leftover}, left by an interrupted checkpoint write")
    found = latest_checkpoint(out)
    if found is None or not resume:
        for old in complete_checkpoints(out):
            remove_checkpoint(old)
            log(f"starting fresh: removed {old}")
        return TrainState()
    saved = load_checkpoint(found)
    changes = config_changes(saved.get("config", {}), config)
    if changes:
        raise CheckpointError(
            f"{found} was written with other settings ({'; '.join(changes)}); resume with the same settings, "
            "use another out_dir, or start fresh with --no-resume"
        )
    models.load_trainable_state(saved["weights"])
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    restore_rng_state(saved["rng"], data_rng)
    restore_source_state(requests_for, saved.get("source", {}))
    log(f"resuming from {found} (iteration {saved['iteration']})")
    return TrainState(
        iteration=saved["iteration"],
        history=saved["history"],
        evaluations=saved.get("evaluations", []),
        resumed_from=found,
    )


def train(
    config: RLEFConfig,
    models: RLEFModels,
    env: EnvClient,
    requests_for: RequestSource,
    *,
    resume: bool = True,
    on_iteration: Callable[[int, dict[str, float], list[Rollout]], None] | None = None,
    evaluator: Evaluator | None = None,
    on_start: Callable[[TrainState], None] | None = None,
    on_evaluation: Callable[[dict[str, Any]], None] | None = None,
    forward_batch: int = 64,
    log: Callable[[str], None] = lambda _line: None,
    checkpoint_files: dict[str, str] | None = None,
) -> TrainState:
    """Run `config.iterations` iterations, resuming from the newest checkpoint in `config.out_dir` if `resume`.

    A resumed run continues exactly where the checkpoint's run was: same weights, optimiser and
    scheduler, RNG streams (task order, episode seeds, sampling, minibatch order) and episode
    source state; metrics.jsonl is cut back to the checkpoint's iterations before new lines are
    appended. Without `resume` (or without a checkpoint) the out_dir's checkpoints and metrics
    are discarded. With an `evaluator`, evaluations (`evaluation_due`) go to eval.jsonl and the
    checkpoints; they sample under their own RNG, so the training metrics are the same without them.
    `checkpoint_files` go into every checkpoint as they are (the session log's tasks of the run).
    """
    apply_determinism(config)
    torch.manual_seed(config.seed)
    data_rng = np.random.default_rng(config.seed)
    optimizer, scheduler = make_optimizer(models, config)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = _start_or_resume(config, out, resume, models, optimizer, scheduler, data_rng, requests_for, log)
    (out / "config.json").write_text(json.dumps(config_to_dict(config), indent=2) + "\n")
    metrics_file, eval_file = out / METRICS_FILE, out / EVAL_FILE
    rewrite_metrics(metrics_file, state.history)
    rewrite_metrics(eval_file, state.evaluations)
    if models.tokenizer is None:
        raise ValueError("training needs the policy's tokenizer")
    pad = models.tokenizer.pad_token_id
    if on_start is not None:
        on_start(state)

    def evaluate_if_due() -> None:
        done = {e["iteration"] for e in state.evaluations}
        if evaluator is None or not evaluation_due(config, state.iteration) or state.iteration in done:
            return
        record = run_evaluation(config, evaluator, state.iteration, models.device)
        state.evaluations.append(record)
        with eval_file.open("a") as f:
            f.write(metrics_line(record))
        if on_evaluation is not None:
            on_evaluation(record)

    evaluate_if_due()  # the starting policy (iteration 0), unless a resumed run has it
    while state.iteration < config.iterations:
        started = time.perf_counter()
        requests = requests_for(state.iteration, data_rng, config.rollouts_per_iteration)
        model = models.generation_model().eval()
        rollouts = collect_rollouts(
            env,
            model,
            models.tokenizer,
            requests,
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            top_p=config.top_p,
            batch_size=config.generation_batch_size,
            device=models.device,
            engine=config.rollout_engine,
        )
        rollout_s = time.perf_counter() - started
        batch = build_batch(rollouts, pad)
        model.train()
        scored = score_rollouts(models, batch, config, forward_batch)
        lr = scheduler.get_last_lr()[0]  # the learning rate of this iteration's first optimiser step
        update = ppo_update(models, optimizer, scheduler, batch, scored, config, data_rng, forward_batch)
        metrics = {"iteration": float(state.iteration + 1), **rollout_metrics(rollouts, batch, scored), **update}
        metrics.update(rollout_seconds=rollout_s, iteration_seconds=time.perf_counter() - started, lr=lr)
        state.iteration += 1
        state.history.append(metrics)
        with metrics_file.open("a") as f:
            f.write(metrics_line(metrics))
        if on_iteration is not None:
            on_iteration(state.iteration, metrics, rollouts)
        evaluate_if_due()
        if config.checkpoint_every > 0 and (
            state.iteration % config.checkpoint_every == 0 or state.iteration == config.iterations
        ):
            save_checkpoint(
                out,
                state.iteration,
                {
                    "iteration": state.iteration,
                    "history": state.history,
                    "evaluations": state.evaluations,
                    "weights": models.trainable_state(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "rng": rng_state(data_rng),
                    "source": source_state(requests_for),
                    "config": config_to_dict(config),
                },
                keep=config.keep_checkpoints,
                files=checkpoint_files,
            )
    return state
