"""Why the toy's production PPO did not learn at 64 episodes a step: the first turn's credit, measured.

Runs the production `train` on the toy's episodes (through the real environment service) from a built start
model, one optimiser step per iteration, and after every iteration probes the policy teacher-forced on 200
of the service's turn-two contexts: P(expected letter) and P(its own first guess) at the retry's letter.
`--variant` changes the update for the experiment only (none of this is a trainer option):

    prod                 the production PPO
    no-first-turn        the first turn's advantage set to 0 (the blind guess gets no credit)
    letter-only          only the letter after `print("` in the loss (format tokens dropped)
    no-first-turn-letter both

    .venv/bin/python trainer/experiments/first_turn_credit.py --start DIR/start-model --out /tmp/ftc \\
        --variant no-first-turn --rollouts 64

Results of 2026-11-26 are in trainer/README.md ("What made it learn").
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import time
from pathlib import Path

import torch

import rlef_trainer.train as train_module
from rlef_trainer import ppo_step, toy
from rlef_trainer.env_client import EnvClient
from rlef_trainer.env_service import start_env_service
from rlef_trainer.models import load_models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", type=Path, required=True, help="a start model folder written by `rlef-train toy`")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--variant", choices=["prod", "no-first-turn", "letter-only", "no-first-turn-letter"])
    parser.add_argument("--rollouts", type=int, default=64, help="episodes per iteration (one optimiser step)")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    from transformers.utils.logging import disable_progress_bar

    disable_progress_bar()
    torch.set_num_threads(args.threads)
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    shutil.copytree(args.start, args.out / "start-model")
    config = dataclasses.replace(
        toy.toy_config(args.out, 0, random_feedback=False, iterations=args.iterations),
        lr=args.lr,
        rollouts_per_iteration=args.rollouts,
        minibatch_size=args.rollouts,
        ppo_epochs=1,
    )
    with start_env_service() as service, EnvClient(service.url, service.token) as env:
        contexts = toy.turn_two_contexts(env)
        models = load_models(config)
        tokenizer = models.tokenizer
        opening = tokenizer.encode(toy.answer_text("X").split("X")[0], add_special_tokens=False)
        score, build = ppo_step.score_rollouts, ppo_step.build_batch

        def scored_without_first_turn(*a, **k):  # type: ignore[no-untyped-def]
            scored = score(*a, **k)
            episode = a[1].episode_of_turn
            first = torch.ones_like(episode, dtype=torch.bool)
            first[1:] = episode[1:] != episode[:-1]
            scored["advantages"] = torch.where(first, torch.zeros_like(scored["advantages"]), scored["advantages"])
            return scored

        def letters_only(rollouts, pad):  # type: ignore[no-untyped-def]
            batch = build(rollouts, pad)
            keep = torch.zeros_like(batch.policy_mask)
            n = len(opening)
            for row in range(batch.input_ids.shape[0]):
                ids, mask = batch.input_ids[row].tolist(), batch.policy_mask[row].tolist()
                for i in range(n, len(ids)):
                    keep[row, i] = mask[i] and all(mask[i - n : i]) and ids[i - n : i] == opening
            batch.policy_mask = keep
            return batch

        if args.variant in ("no-first-turn", "no-first-turn-letter"):
            train_module.score_rollouts = scored_without_first_turn
        if args.variant in ("letter-only", "no-first-turn-letter"):
            train_module.build_batch = letters_only
        started = time.perf_counter()

        def report(i: int, m: dict[str, float], _rollouts: object) -> None:
            probe = toy.retry_letter_probe(models.generation_model().eval(), tokenizer, contexts, seed=1)
            print(
                f"iteration {i}: solve rate {m['solve_rate']:.3f}, turns {m['mean_turns']:.2f}, "
                f"KL/turn {m['kl_per_turn']:.3f}, entropy {m['entropy']:.3f}, "
                f"P(expected) {probe['p_expected']:.3f}, P(own guess) {probe['p_own_guess']:.3f} "
                f"({time.perf_counter() - started:.0f}s)",
                flush=True,
            )

        print("start:", toy.retry_letter_probe(models.generation_model().eval(), tokenizer, contexts, seed=1))
        train_module.train(config, models, env, toy.SecretEpisodes(), resume=False, on_iteration=report)


if __name__ == "__main__":
    main()
