"""The RLEF training loop: collect rollouts through the service, score them, update with PPO, checkpoint.

for each iteration:
    requests  = the next `rollouts_per_iteration` episodes (tasks in a seeded order, fresh episode seeds)
    rollouts  = collect_rollouts(...)                 # the service plays every episode
    scored    = score_rollouts(...)                   # ref/old log-probs, KL_t, G_t, V(c_t), A_t
    metrics   = ppo_update(...)                       # updates_per_iteration optimiser steps
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlef_trainer.checkpoint import latest_checkpoint, load_checkpoint, restore_rng_state, rng_state, save_checkpoint
from rlef_trainer.config import RLEFConfig, config_to_dict
from rlef_trainer.env_client import EnvClient
from rlef_trainer.models import RLEFModels
from rlef_trainer.ppo_step import build_batch, ppo_update, rollout_metrics, score_rollouts
from rlef_trainer.rollout import EpisodeRequest, Rollout, collect_rollouts

# (iteration, numpy rng, count) -> the episodes to play; must draw only from the given rng.
RequestSource = Callable[[int, np.random.Generator, int], list[EpisodeRequest]]


def make_optimizer(models: RLEFModels, config: RLEFConfig) -> tuple[torch.optim.Optimizer, Any]:
    params = [p for _, p in models.trainable_named_parameters()]
    optimizer = torch.optim.AdamW(
        params, lr=config.effective_lr(), weight_decay=config.weight_decay, betas=config.adam_betas
    )
    warmup = max(config.warmup_steps, 0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) if warmup else 1.0
    )
    return optimizer, scheduler


@dataclass
class TrainState:
    iteration: int = 0
    history: list[dict[str, float]] = field(default_factory=list)


def train(
    config: RLEFConfig,
    models: RLEFModels,
    env: EnvClient,
    requests_for: RequestSource,
    *,
    resume: bool = True,
    on_iteration: Callable[[int, dict[str, float], list[Rollout]], None] | None = None,
    forward_batch: int = 64,
) -> TrainState:
    """Run `config.iterations` iterations (resuming from `config.out_dir` when a checkpoint is there)."""
    torch.manual_seed(config.seed)
    data_rng = np.random.default_rng(config.seed)
    optimizer, scheduler = make_optimizer(models, config)
    state = TrainState()
    out = Path(config.out_dir)
    found = latest_checkpoint(out) if resume else None
    if found is not None:
        saved = load_checkpoint(found)
        models.load_trainable_state(saved["weights"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        restore_rng_state(saved["rng"], data_rng)
        state = TrainState(iteration=saved["iteration"], history=saved["history"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config_to_dict(config), indent=2) + "\n")
    metrics_file = out / "metrics.jsonl"
    if models.tokenizer is None:
        raise ValueError("training needs the policy's tokenizer")
    pad = models.tokenizer.pad_token_id
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
        )
        rollout_s = time.perf_counter() - started
        batch = build_batch(rollouts, pad)
        model.train()
        scored = score_rollouts(models, batch, config, forward_batch)
        update = ppo_update(models, optimizer, scheduler, batch, scored, config, data_rng, forward_batch)
        metrics = {"iteration": float(state.iteration + 1), **rollout_metrics(rollouts, batch, scored), **update}
        metrics.update(
            rollout_seconds=rollout_s, iteration_seconds=time.perf_counter() - started, lr=scheduler.get_last_lr()[0]
        )
        state.iteration += 1
        state.history.append(metrics)
        with metrics_file.open("a") as f:
            f.write(
                json.dumps({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in metrics.items()})
                + "\n"
            )
        if on_iteration is not None:
            on_iteration(state.iteration, metrics, rollouts)
        if config.checkpoint_every > 0 and (
            state.iteration % config.checkpoint_every == 0 or state.iteration == config.iterations
        ):
            save_checkpoint(
                out,
                state.iteration,
                {
                    "iteration": state.iteration,
                    "history": state.history,
                    "weights": models.trainable_state(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "rng": rng_state(data_rng),
                    "config": config_to_dict(config),
                },
                keep=config.keep_checkpoints,
            )
    return state
