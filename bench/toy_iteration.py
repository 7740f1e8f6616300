"""Time one toy training iteration (rollouts, scoring, PPO update) of two source trees on CPU, alternating.

A tree is a folder holding `trainer/rlef_trainer` of some revision, e.g.

    git archive HEAD~1 trainer/rlef_trainer | tar -x -C /tmp/ab/old
    git archive HEAD trainer/rlef_trainer | tar -x -C /tmp/ab/new
    .venv/bin/python bench/toy_iteration.py /tmp/ab/old /tmp/ab/new --model models/demo --rounds 3

Each round runs one process per tree (A, B, A, B, ...), so both see the same machine state in turn. A
process starts the environment service, plays `--episodes` toy episodes (seeded alike; once to warm up, once
timed) with the model at the toy's settings (`toy.toy_config`: full mode, fp32, 2 torch threads, one optimiser
step of all the episodes), then scores and updates on that batch `--repeats` times, from the same weights each
time, and prints the median seconds of each phase. The printed ratio is A's median over B's: above 1.0x, B is
faster.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]  # the environment service comes from this checkout


def worker(tree: Path, model: Path, episodes: int, repeats: int, threads: int) -> dict[str, Any]:
    sys.path.insert(0, str(tree / "trainer"))
    # an editable install of rlef_trainer finds the checkout's package before sys.path: set it aside
    sys.meta_path = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
    import numpy as np
    import torch
    from rlef_trainer import toy
    from rlef_trainer.env_client import EnvClient
    from rlef_trainer.env_service import start_env_service
    from rlef_trainer.models import load_models, make_optimizer
    from rlef_trainer.ppo_step import build_batch, ppo_update, score_rollouts
    from rlef_trainer.rollout import collect_rollouts

    assert Path(toy.__file__).is_relative_to(tree), f"imported {toy.__file__}, not the tree's"
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as out:
        (Path(out) / "start-model").symlink_to(model.resolve())
        config = toy.toy_config(Path(out), 0, random_feedback=False, iterations=1)
        config = dataclasses.replace(config, rollouts_per_iteration=episodes, minibatch_size=episodes)
        with (
            start_env_service(rlef_bin=REPO / "bin" / "rlef") as service,
            EnvClient(service.url, service.token) as env,
        ):
            models = load_models(config)
            initial = {k: v.clone() for k, v in models.trainable_state().items()}
            generation = models.generation_model().eval()
            rollout_s = []
            for _ in range(2):  # the first call (a warm-up) pays a process's one-time costs
                requests = toy.SecretEpisodes()(0, np.random.default_rng(0), episodes)
                torch.manual_seed(0)
                started = time.perf_counter()
                rollouts = collect_rollouts(
                    env,
                    generation,
                    models.tokenizer,
                    requests,
                    max_new_tokens=config.max_new_tokens,
                    temperature=config.temperature,
                    batch_size=config.generation_batch_size,
                )
                rollout_s.append(time.perf_counter() - started)
        batch = build_batch(rollouts, models.tokenizer.pad_token_id)
        score_s, update_s = [], []
        for _ in range(repeats + 1):  # the first is a warm-up
            models.load_trainable_state(initial)
            optimizer, scheduler = make_optimizer(models, config)
            generation.train()
            started = time.perf_counter()
            scored = score_rollouts(models, batch, config, 64)
            middle = time.perf_counter()
            ppo_update(
                models,
                optimizer,
                scheduler,
                batch,
                scored,
                config,
                np.random.default_rng(0),
                64,
            )
            score_s.append(middle - started)
            update_s.append(time.perf_counter() - middle)
    return {
        "rollout_s": rollout_s[-1],
        "score_s": statistics.median(score_s[1:]),
        "update_s": statistics.median(update_s[1:]),
        "turns": sum(r.num_turns for r in rollouts),
        "tokens": int(batch.attention_mask.sum()),
        "padded_tokens": int(batch.attention_mask.numel()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", type=Path, nargs=2, help="tree A (baseline) and tree B")
    parser.add_argument("--model", type=Path, default=Path("models/demo"), help="a toy model folder")
    parser.add_argument("--episodes", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, help="also write the runs here (JSON)")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(
            json.dumps(worker(args.worker, args.model, args.episodes, args.repeats, args.threads)),
            flush=True,
        )
        return
    runs: dict[str, list[dict[str, Any]]] = {"A": [], "B": []}
    for round_ in range(args.rounds):
        for name, tree in zip("AB", args.trees, strict=True):
            command = [
                sys.executable,
                __file__,
                *map(str, args.trees),
                "--worker",
                str(tree),
            ]
            command += ["--model", str(args.model), "--episodes", str(args.episodes)]
            command += ["--repeats", str(args.repeats), "--threads", str(args.threads)]
            done = subprocess.run(command, check=True, capture_output=True, text=True)
            run = json.loads(done.stdout.strip().splitlines()[-1])
            runs[name].append(run)
            print(f"round {round_ + 1} {name}: {json.dumps(run)}", flush=True)
    print(f"{'phase':<10} {'A median s':>11} {'B median s':>11} {'A/B':>7}")
    for phase in ("rollout_s", "score_s", "update_s"):
        a = statistics.median(r[phase] for r in runs["A"])
        b = statistics.median(r[phase] for r in runs["B"])
        print(f"{phase:<10} {a:>11.3f} {b:>11.3f} {a / b:>6.2f}x")
    if args.out:
        args.out.write_text(json.dumps({"trees": [str(t) for t in args.trees], "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
