"""The toy's true-feedback PPO arm alone, from a built start model, with another learning rate or thread count.

`rlef-train toy` builds the start model, evaluates, and runs both arms at the toy's fixed settings;
this runs just the production `train` on the toy's episodes (through the real environment service)
and prints each iteration, for sweeps against `copy_probe.py`:

    .venv/bin/rlef-train toy --out /tmp/toyA --seed 0 --iterations 30 --eval-episodes 100
    .venv/bin/python trainer/experiments/toy_ppo.py --start /tmp/toyA/start-model --out /tmp/ppo \
        --lr 2e-4 --iterations 70 --threads 2

`--rollouts N` sets the episodes of an iteration (with `--minibatch-size N`, still one optimiser step).
With `--mode lora` the learning rate is `lora_lr` and `--lora-rank` sets the adapters' rank (alpha = 2 x rank):
the LoRA sweep of trainer/README.md. The last line (also written to OUT/result.json) has the multi-turn solve
rate of the trained policy on `--eval-episodes` fresh episodes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import time
from pathlib import Path

import torch

from rlef_trainer import toy
from rlef_trainer.env_client import EnvClient
from rlef_trainer.env_service import start_env_service
from rlef_trainer.models import load_models
from rlef_trainer.train import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", type=Path, required=True, help="a start model folder written by `rlef-train toy`")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minibatch-size", type=int, default=None, help="episodes per optimiser step")
    parser.add_argument("--rollouts", type=int, default=None, help="episodes per iteration")
    parser.add_argument("--ppo-epochs", type=int, default=None, help="passes over each iteration's episodes")
    parser.add_argument(
        "--lr-decay-fraction", type=float, default=None, help="final share of the run with a decaying lr"
    )
    parser.add_argument("--max-grad-norm", type=float, default=None, help="gradient clipping norm (0: none)")
    parser.add_argument("--mode", choices=("full", "lora"), default="full")
    parser.add_argument("--lora-rank", type=int, default=16)
    parser.add_argument(
        "--lora-targets", default="all-linear", help="adapted projections: all-linear or names like q_proj,v_proj"
    )
    parser.add_argument(
        "--lora-fused-mlp", action="store_true", help="the MLP's projections with their adapters as widened products"
    )
    parser.add_argument("--eval-episodes", type=int, default=300)
    args = parser.parse_args()
    from transformers.utils.logging import disable_progress_bar

    disable_progress_bar()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    if not (args.out / "start-model").exists():
        shutil.copytree(args.start, args.out / "start-model")
    config = toy.toy_config(args.out, args.seed, random_feedback=False, iterations=args.iterations)
    if args.mode == "lora":
        config = dataclasses.replace(
            config,
            mode="lora",
            lora_lr=args.lr,
            lora_rank=args.lora_rank,
            lora_alpha=2 * args.lora_rank,
            lora_targets=args.lora_targets,
            lora_fused_mlp=args.lora_fused_mlp,
        ).validate()
    else:
        config = dataclasses.replace(config, lr=args.lr)
    if args.minibatch_size is not None:
        config = dataclasses.replace(config, minibatch_size=args.minibatch_size)
    if args.rollouts is not None:
        config = dataclasses.replace(config, rollouts_per_iteration=args.rollouts)
    if args.lr_decay_fraction is not None:
        config = dataclasses.replace(config, lr_decay_fraction=args.lr_decay_fraction)
    if args.max_grad_norm is not None:
        config = dataclasses.replace(config, max_grad_norm=args.max_grad_norm)
    if args.ppo_epochs is not None:
        config = dataclasses.replace(config, ppo_epochs=args.ppo_epochs)
    with start_env_service() as service, EnvClient(service.url, service.token) as env:
        models = load_models(config)

        def report(i: int, m: dict[str, float], _rollouts: object) -> None:
            print(
                f"iteration {i}: solve rate {m['solve_rate']:.3f}, turns {m['mean_turns']:.2f}, "
                f"KL/turn {m['kl_per_turn']:.3f}, approx KL {m['approx_kl']:.4f}, entropy {m['entropy']:.3f} "
                f"({m['iteration_seconds']:.1f}s)",
                flush=True,
            )

        started = time.perf_counter()
        train(config, models, env, toy.SecretEpisodes(), resume=False, on_iteration=report)
        seconds = time.perf_counter() - started
        model = models.generation_model().eval()
        rate = toy.solve_rate(
            env, model, models.tokenizer, args.eval_episodes, max_turns=toy.MAX_TURNS, random_feedback=False, seed=11
        )
    result = {
        "mode": args.mode,
        "lr": args.lr,
        "lora_rank": args.lora_rank if args.mode == "lora" else None,
        "lora_targets": args.lora_targets if args.mode == "lora" else None,
        "lora_fused_mlp": args.lora_fused_mlp if args.mode == "lora" else None,
        "max_grad_norm": config.max_grad_norm,
        "iterations": args.iterations,
        "threads": args.threads,
        "multi_turn": rate,
        "train_seconds": seconds,
    }
    (args.out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
