"""Evaluation during training: MT and ST 1@3 and the random-feedback ablation (spec/rlef.md §5).

Every episode is played by the environment service, exactly as training's are, at the evaluation's
sampling settings (temperature 0.2, top-p 0.95):

- **MT 1@3**: per draw, one rollout of up to 3 turns; its last code is submitted.
- **ST 1@3**: per draw, three independent single-turn samples; the first that passes the public tests
  is submitted, else the last.
- **random feedback**: MT 1@3 with the feedback of another task's failing run (the service's option).

A rate is the mean over problems of the fraction of draws that solve the problem, with a 95% bootstrap
interval over problems. The episode seeds come from the evaluation's own seed, and the caller runs it
under a forked torch RNG, so evaluating never changes what training does next.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rlef_trainer.env_client import EnvClient
from rlef_trainer.rollout import EpisodeRequest, Rollout, collect_rollouts
from rlef_trainer.task_source import episode_options, task_hash

TEMPERATURE = 0.2  # 1@3 sampling (spec/rlef.md §5)
TOP_P = 0.95
SAMPLES = 3  # the 3 of 1@3: the turns of an MT rollout, the samples of ST
BOOTSTRAP_RESAMPLES = 1000


def evaluation_subset(tasks: list[dict[str, Any]], max_problems: int) -> list[dict[str, Any]]:
    """At most `max_problems` of `tasks` (0: all), a subset fixed by the tasks' hashes, in their order."""
    if max_problems <= 0 or len(tasks) <= max_problems:
        return tasks
    kept = {id(t) for t in sorted(tasks, key=task_hash)[:max_problems]}
    return [t for t in tasks if id(t) in kept]


def evaluation_summary(record: dict[str, Any]) -> str:
    """One line per evaluation: each evaluated split's rates in percent."""
    parts = []
    for name, rates in record.items():
        if isinstance(rates, dict):
            shown = ", ".join(
                f"{kind.replace('_', ' ')} {100 * rates[f'{kind}_1at3']:.1f}%"
                for kind in ("mt", "st", "mt_random_feedback")
                if f"{kind}_1at3" in rates
            )
            parts.append(f"{name} ({int(rates['problems'])} problems): {shown}")
    return "; ".join(parts)


def bootstrap_interval(per_problem: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """95% interval of the mean of `per_problem` by resampling problems."""
    if len(per_problem) == 0:
        return (float("nan"), float("nan"))
    picks = rng.integers(0, len(per_problem), size=(BOOTSTRAP_RESAMPLES, len(per_problem)))
    means = per_problem[picks].mean(axis=1)
    return (float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975)))


def submitted_single_turn(samples: list[Rollout]) -> Rollout:
    """ST 1@3's submission: the first sample whose code passed the public tests, else the last."""
    for sample in samples:
        if sample.last_step is not None and sample.last_step["info"].get("publicPassed"):
            return sample
    return samples[-1]


def _requests(
    tasks: list[dict[str, Any]], donors: list[dict[str, Any]], draws: int, rng: np.random.Generator, **kind: Any
) -> list[EpisodeRequest]:
    return [
        EpisodeRequest(task=task, options=episode_options(task, donors, seed=int(rng.integers(0, 2**31 - 1)), **kind))
        for task in tasks
        for _ in range(draws)
    ]


def evaluate(
    env: EnvClient,
    model: Any,
    tokenizer: Any,
    tasks: list[dict[str, Any]],
    *,
    draws: int,
    seed: int,
    max_new_tokens: int,
    batch_size: int = 256,
    device: torch.device | None = None,
    engine: str = "auto",
    random_feedback: bool = True,
    donors: list[dict[str, Any]] | None = None,
) -> dict[str, float]:
    """MT and ST 1@3 (and the random-feedback MT 1@3) of `model` on `tasks`, `draws` draws per problem."""
    rng = np.random.default_rng(seed)
    donors = tasks if donors is None else donors

    def play(requests: list[EpisodeRequest]) -> list[Rollout]:
        return collect_rollouts(
            env,
            model,
            tokenizer,
            requests,
            max_new_tokens=max_new_tokens,
            temperature=TEMPERATURE,
            top_p=TOP_P,
            batch_size=batch_size,
            device=device,
            engine=engine,
        )

    def per_problem(solved: list[bool]) -> np.ndarray:
        return np.asarray(solved, dtype=np.float64).reshape(len(tasks), draws).mean(axis=1)

    kinds = {"mt": (SAMPLES, False), "st": (1, False)}
    if random_feedback:
        kinds["mt_random_feedback"] = (SAMPLES, True)
    results: dict[str, float] = {"problems": float(len(tasks)), "draws": float(draws)}
    for name, (turns, random) in kinds.items():
        repeats = SAMPLES if name == "st" else 1
        requests = _requests(tasks, donors, draws * repeats, rng, max_turns=turns, random_feedback=random)
        rollouts = play(requests)
        if name == "st":  # the repeats of one draw are consecutive
            solved = [submitted_single_turn(rollouts[i : i + SAMPLES]).solved for i in range(0, len(rollouts), SAMPLES)]
        else:
            solved = [r.solved for r in rollouts]
        rates = per_problem(solved)
        low, high = bootstrap_interval(rates, rng)
        results[f"{name}_1at3"] = float(rates.mean())
        results[f"{name}_1at3_low"], results[f"{name}_1at3_high"] = low, high
        results[f"{name}_samples"] = float(sum(len(r.turn_rewards) for r in rollouts))
    return results
