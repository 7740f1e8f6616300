"""One RLEF iteration's learning: rollouts -> tensors -> turn returns and advantages -> PPO updates.

The equations live in `ppo.py`; this file only gathers their inputs from rollouts and runs
the minibatch loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rlef_trainer import ppo
from rlef_trainer.config import RLEFConfig
from rlef_trainer.models import RLEFModels
from rlef_trainer.rollout import Rollout


@dataclass
class RolloutBatch:
    """Rollouts as right-padded tensors plus flat per-turn arrays (turns listed episode by episode)."""

    input_ids: torch.Tensor  # [B, L]
    attention_mask: torch.Tensor  # [B, L]
    policy_mask: torch.Tensor  # [B, L] bool
    turn_index: torch.Tensor  # [B, L] flat turn id of each policy token, -1 elsewhere
    behaviour_logprobs: torch.Tensor  # [B, L]
    turn_rewards: torch.Tensor  # [N]
    episode_of_turn: torch.Tensor  # [N]
    turn_prompt_end: torch.Tensor  # [N] position of the turn's last prompt token in its sequence

    @property
    def num_turns(self) -> int:
        return int(self.turn_rewards.shape[0])


def build_batch(rollouts: list[Rollout], pad_id: int) -> RolloutBatch:
    width = max(len(r.token_ids) for r in rollouts)
    count = len(rollouts)
    input_ids = torch.full((count, width), pad_id, dtype=torch.long)
    attention = torch.zeros((count, width), dtype=torch.long)
    policy_mask = torch.zeros((count, width), dtype=torch.bool)
    turn_index = torch.full((count, width), -1, dtype=torch.long)
    behaviour = torch.zeros((count, width), dtype=torch.float32)
    rewards: list[float] = []
    episode_of_turn: list[int] = []
    prompt_ends: list[int] = []
    for b, r in enumerate(rollouts):
        n = len(r.token_ids)
        if not (len(r.policy_mask) == len(r.sampler_logprobs) == len(r.turn_of_token) == n):
            raise ValueError(f"rollout of {r.task_id}: per-token fields have different lengths")
        if len(r.turn_prompt_ends) != r.num_turns:
            raise ValueError(
                f"rollout of {r.task_id}: {len(r.turn_prompt_ends)} turn boundaries for {r.num_turns} turns"
            )
        first = len(rewards)
        input_ids[b, :n] = torch.tensor(r.token_ids)
        attention[b, :n] = 1
        policy_mask[b, :n] = torch.tensor(r.policy_mask)
        local = torch.tensor(r.turn_of_token)
        turn_index[b, :n] = torch.where(local >= 0, local + first, local)
        behaviour[b, :n] = torch.tensor(r.sampler_logprobs)
        rewards += r.turn_rewards
        episode_of_turn += [b] * r.num_turns
        prompt_ends += r.turn_prompt_ends
    return RolloutBatch(
        input_ids,
        attention,
        policy_mask,
        turn_index,
        behaviour,
        torch.tensor(rewards, dtype=torch.float32),
        torch.tensor(episode_of_turn),
        torch.tensor(prompt_ends),
    )


@dataclass
class Chunk:
    """One forward batch of episodes: its tokens on the device, its masks and turn lists on the host.

    Everything the loop indexes with is built here on the host and uploaded without blocking
    (`ppo.to_device`), so a PPO pass queues its GPU work without waiting for the GPU in between.
    Sequences are right-padded, so a chunk is cut to its own longest sequence (`width` columns).
    """

    rows: torch.Tensor  # episode rows, host
    width: int  # columns kept: the longest of the rows' sequences
    ids: torch.Tensor  # [b, width], device
    attention: torch.Tensor  # [b, width], device
    select: torch.Tensor  # [b, width] policy mask, host
    turns: torch.Tensor  # flat ids of the rows' turns, in batch order, host
    value_at: tuple[torch.Tensor, torch.Tensor]  # (local row, position) of each turn's value read, device


def make_chunk(batch: RolloutBatch, rows: torch.Tensor, device: torch.device) -> Chunk:
    turns = _turns_of_rows(batch, rows)
    width = int(batch.attention_mask[rows].sum(-1).max())
    local_row = torch.cat(
        [torch.full((int((batch.episode_of_turn == r).sum()),), i) for i, r in enumerate(rows.tolist())]
    )
    return Chunk(
        rows,
        width,
        ppo.to_device(batch.input_ids[rows, :width], device),
        ppo.to_device(batch.attention_mask[rows, :width], device),
        batch.policy_mask[rows, :width],
        turns,
        (ppo.to_device(local_row, device), ppo.to_device(batch.turn_prompt_end[turns], device)),
    )


def turn_values(models: RLEFModels, chunk: Chunk) -> torch.Tensor:
    """V(c_t) for the chunk's turns (in batch order), read at each turn's last prompt token."""
    return models.values(chunk.ids, chunk.attention)[chunk.value_at]


def _turns_of_rows(batch: RolloutBatch, rows: torch.Tensor) -> torch.Tensor:
    return torch.cat([torch.nonzero(batch.episode_of_turn == r).squeeze(-1) for r in rows.tolist()])


def _chunks(rows: torch.Tensor, size: int) -> list[torch.Tensor]:
    return [rows[i : i + size] for i in range(0, rows.shape[0], size)]


def _forward_chunks(batch: RolloutBatch, rows: torch.Tensor, size: int) -> list[torch.Tensor]:
    """`rows` in forward batches of `size`, shortest sequences together, so each batch carries little padding."""
    lengths = batch.attention_mask[rows].sum(-1)
    return _chunks(rows[torch.sort(lengths, stable=True).indices], size)


def _accumulate(totals: dict[str, torch.Tensor], name: str, value: torch.Tensor, weight: float) -> None:
    """totals[name] += weight * value, on the value's device (no read back)."""
    term = value.detach().float() * weight
    totals[name] = totals[name] + term if name in totals else term


def _host_mean(values: list[torch.Tensor]) -> float:
    """The mean of 0-dim device statistics, read back in one transfer (the only wait for the device)."""
    return float(np.mean(torch.stack([v.detach().float() for v in values]).cpu().double().numpy()))


def episodes_per_step(config: RLEFConfig, episodes: int) -> int:
    """Episodes in one optimiser step's minibatch: `minibatch_size` out of every `rollouts_per_iteration`."""
    return max(1, episodes * config.minibatch_size // max(config.rollouts_per_iteration, 1))


def single_step(config: RLEFConfig, episodes: int) -> bool:
    """True when an iteration's update is one optimiser step over all its episodes (one epoch, one minibatch).

    Then that step's forward pass runs the very weights that `old` log-probs would be read from, so the
    update takes them from its own forward (detached) and scoring skips that pass: the same numbers (the
    ratio is 1 either way), one forward pass of the policy fewer an iteration.
    """
    return config.ppo_epochs == 1 and episodes_per_step(config, episodes) >= episodes


@torch.no_grad()
def score_rollouts(
    models: RLEFModels, batch: RolloutBatch, config: RLEFConfig, forward_batch: int
) -> dict[str, torch.Tensor]:
    """Everything fixed for the iteration: reference and old log-probs, KL_t, G_t, V_old(c_t), normalised A_t.

    Without "old_lp" when the update is a `single_step`: it reads the old log-probs from its own forward.
    """
    device = models.device
    with_old = not single_step(config, batch.input_ids.shape[0])
    ref_lp = torch.zeros_like(batch.behaviour_logprobs)
    old_lp = torch.zeros_like(batch.behaviour_logprobs)
    old_values = torch.zeros(batch.num_turns)
    scored = []
    for rows in _forward_chunks(batch, torch.arange(batch.input_ids.shape[0]), forward_batch):
        chunk = make_chunk(batch, rows, device)
        ref, _ = models.token_logprobs(chunk.ids, chunk.attention, chunk.select, config.temperature, reference=True)
        old = None
        if with_old:
            old, _ = models.token_logprobs(chunk.ids, chunk.attention, chunk.select, config.temperature)
        scored.append((chunk, ref, old, turn_values(models, chunk).float()))
    for chunk, ref, old, values in scored:  # read back once the GPU has every chunk queued
        ref_lp[chunk.rows, : chunk.width] = ref.cpu()
        if old is not None:
            old_lp[chunk.rows, : chunk.width] = old.cpu()
        old_values[chunk.turns] = values.cpu()
    mask = batch.policy_mask
    kl_tokens = torch.where(mask, batch.behaviour_logprobs - ref_lp, torch.zeros_like(ref_lp))
    kl = ppo.turn_means(kl_tokens, batch.turn_index, batch.num_turns)
    returns = ppo.turn_returns(batch.turn_rewards, kl, batch.episode_of_turn, config.kl_beta)
    advantages = ppo.normalise_advantages(returns - old_values)
    return {
        "ref_lp": ref_lp,
        **({"old_lp": old_lp} if with_old else {}),
        "kl": kl,
        "returns": returns,
        "old_values": old_values,
        "advantages": advantages,
    }


def ppo_update(
    models: RLEFModels,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    batch: RolloutBatch,
    scored: dict[str, torch.Tensor],
    config: RLEFConfig,
    rng: np.random.Generator,
    forward_batch: int,
) -> dict[str, float]:
    """`updates_per_iteration` optimiser steps over minibatches of whole episodes.

    Nothing in the loop waits for the device: inputs are uploaded without blocking, the statistics
    stay on the device, and they are read back once, after the last step.
    """
    device = models.device
    episodes = batch.input_ids.shape[0]
    per_step = episodes_per_step(config, episodes)
    if "old_lp" not in scored and not single_step(config, episodes):
        raise ValueError("old log-probs are missing and the update takes more than one step")
    token_adv = ppo.broadcast_to_tokens(scored["advantages"], batch.turn_index)
    logs: dict[str, list[torch.Tensor]] = {
        k: []
        for k in (
            "policy_loss",
            "value_loss",
            "clip_fraction",
            "value_clip_fraction",
            "approx_kl",
            "entropy",
            "is_weight",
            "grad_norm",
        )
    }
    params = [p for _, p in models.trainable_named_parameters()]
    for _ in range(config.ppo_epochs):
        order = torch.from_numpy(rng.permutation(episodes))
        for minibatch in _chunks(order, per_step):
            optimizer.zero_grad(set_to_none=True)
            policy_tokens = int(batch.policy_mask[minibatch].sum())
            mb_turns = _turns_of_rows(batch, minibatch)
            # The minibatch's statistics, each chunk's weighted by its share of the tokens (or turns) it
            # averages over, so they are the minibatch's own means whatever the forward batches.
            step_stats: dict[str, torch.Tensor] = {}
            # Gradient accumulation over forward chunks; weights keep the token-mean / turn-mean exact.
            for rows in _forward_chunks(batch, minibatch, forward_batch):
                chunk = make_chunk(batch, rows, device)
                cols = slice(0, chunk.width)
                mask = ppo.to_device(chunk.select, device)
                new_lp, token_entropy = models.token_logprobs(
                    chunk.ids, chunk.attention, chunk.select, config.temperature
                )
                # A single step's weights are the old policy's: its own forward gives the old log-probs.
                old_lp = ppo.to_device(scored["old_lp"][rows, cols], device) if "old_lp" in scored else new_lp.detach()
                stats = ppo.policy_loss(
                    new_lp,
                    old_lp,
                    ppo.to_device(batch.behaviour_logprobs[rows, cols], device),
                    ppo.to_device(token_adv[rows, cols], device),
                    mask,
                    config.clip_eps,
                    config.truncated_is,
                )
                share = int(chunk.select.sum()) / max(policy_tokens, 1)
                (stats.loss * share).backward()
                v_stats = ppo.value_loss(
                    turn_values(models, chunk),
                    ppo.to_device(scored["old_values"][chunk.turns], device),
                    ppo.to_device(scored["returns"][chunk.turns], device),
                    config.value_clip,
                )
                turn_share = chunk.turns.numel() / max(mb_turns.numel(), 1)
                (v_stats.loss * config.value_loss_coef * turn_share).backward()
                _accumulate(step_stats, "policy_loss", stats.loss, share)
                _accumulate(step_stats, "clip_fraction", stats.clip_fraction, share)
                _accumulate(step_stats, "approx_kl", stats.approx_kl, share)
                _accumulate(step_stats, "is_weight", stats.is_weight_mean, share)
                _accumulate(step_stats, "entropy", ppo.masked_mean(token_entropy, mask), share)
                _accumulate(step_stats, "value_loss", v_stats.loss, turn_share)
                _accumulate(step_stats, "value_clip_fraction", v_stats.clip_fraction, turn_share)
            for name, value in step_stats.items():
                logs[name].append(value)
            # max_grad_norm 0: no clipping (the norm is still measured and logged)
            logs["grad_norm"].append(torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm or math.inf))
            optimizer.step()
            scheduler.step()
    return {k: _host_mean(v) for k, v in logs.items() if v}


def rollout_metrics(rollouts: list[Rollout], batch: RolloutBatch, scored: dict[str, torch.Tensor]) -> dict[str, float]:
    final_rewards = [r.turn_rewards[-1] for r in rollouts]
    return {
        "solve_rate": float(np.mean([r.solved for r in rollouts])),
        "first_turn_solve_rate": float(np.mean([r.solved and r.num_turns == 1 for r in rollouts])),
        "mean_turns": float(np.mean([r.num_turns for r in rollouts])),
        "invalid_rate": float(np.mean([x for r in rollouts for x in r.invalid])),
        "episode_reward": float(np.mean([sum(r.turn_rewards) for r in rollouts])),
        "final_reward": float(np.mean(final_rewards)),
        "kl_per_turn": float(scored["kl"].mean()),
        "return_mean": float(scored["returns"].mean()),
        "value_mean": float(scored["old_values"].mean()),
        "explained_variance": ppo.explained_variance(scored["old_values"], scored["returns"]),
        "policy_tokens": float(batch.policy_mask.sum()),
    }
