"""Time the PPO update of two source trees against each other on one GPU, alternating processes.

A tree is a folder holding `bench/gpu_rlef.py` and `trainer/rlef_trainer` of some revision, e.g.

    git archive 26fac19 bench/gpu_rlef.py trainer/rlef_trainer | tar -x -C /tmp/ab/old
    git archive HEAD bench/gpu_rlef.py trainer/rlef_trainer | tar -x -C /tmp/ab/new
    python3 bench/ab_update.py /tmp/ab/old /tmp/ab/new --rounds 2 --repeats 7 --out ab.json

Each round runs one process per tree (A, B, A, B, ...), so both see the same machine state in turn.
A process builds the Qwen2.5-0.5B-shaped model of `gpu_rlef.py`, then for full and LoRA mode (compiled
decoder layers, forward batch 32, its 32 synthetic episodes of 1,536 tokens) runs two warm-up
iterations and `--repeats` timed ones of scoring plus one PPO pass, and prints
[total, scoring] seconds of each. Without CUDA it runs the smoke shape on CPU (checks the script only).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def worker(tree: Path, repeats: int) -> dict[str, Any]:
    import numpy as np
    import torch

    sys.path.insert(0, str(tree / "trainer"))
    spec = importlib.util.spec_from_file_location("gpu_rlef_under_test", tree / "bench" / "gpu_rlef.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    from rlef_trainer.models import build_models, make_optimizer
    from rlef_trainer.ppo_step import ppo_update, score_rollouts

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    model = bench.make_model("qwen2.5-0.5b" if cuda else "smoke", torch.bfloat16 if cuda else torch.float32, device)
    args = argparse.Namespace(episodes=32, prompt=512, response=256, feedback=128)
    if not cuda:
        args.episodes, args.prompt, args.response, args.feedback = 4, 32, 16, 16

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    result: dict[str, Any] = {"tree": str(tree)}
    for mode in ("full", "lora"):
        config = bench._update_config(mode, args, device, cuda, False)
        if cuda:
            torch.cuda.empty_cache()
        models = build_models(config, None, policy=model)
        optimizer, scheduler = make_optimizer(models, config)
        batch = bench.synthetic_batch(
            args.episodes, 3, args.prompt, args.response, args.feedback, model.config.vocab_size, 0
        )
        rng = np.random.default_rng(0)
        started = time.perf_counter()
        for _ in range(2):
            scored = score_rollouts(models, batch, config, 32)
            ppo_update(models, optimizer, scheduler, batch, scored, config, rng, 32)
        sync()
        warm = time.perf_counter() - started
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            scored = score_rollouts(models, batch, config, 32)
            scored_at = time.perf_counter()
            ppo_update(models, optimizer, scheduler, batch, scored, config, rng, 32)
            sync()
            times.append([round(time.perf_counter() - start, 4), round(scored_at - start, 4)])
        result[mode] = {"warmup_s": round(warm, 1), "times": times}
        del models, optimizer, scheduler
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trees", type=Path, nargs="*", help="two (or more) source trees")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(args.worker.resolve(), args.repeats)), flush=True)
        return 0
    if len(args.trees) < 2:
        parser.error("give two source trees")
    for tree in args.trees:
        missing = [part for part in ("bench/gpu_rlef.py", "trainer/rlef_trainer") if not (tree / part).exists()]
        if missing:
            parser.error(f"{tree} is not a source tree: it has no {' or '.join(missing)}")
    runs = []
    for _ in range(args.rounds):
        for tree in args.trees:
            done = subprocess.run(
                [sys.executable, __file__, "--worker", str(tree), "--repeats", str(args.repeats)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                print(f"the run of {tree} failed (exit {done.returncode}):\n{done.stderr[-4000:]}", file=sys.stderr)
                return 1
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(runs[-1]), flush=True)
    summary = {}
    for tree in args.trees:
        for mode in ("full", "lora"):
            totals = [t[0] for r in runs if r["tree"] == str(tree.resolve()) for t in r[mode]["times"]]
            summary[f"{tree.name} {mode}"] = {
                "n": len(totals),
                "median": statistics.median(totals),
                "mean": round(statistics.mean(totals), 4),
                "min": min(totals),
                "max": max(totals),
            }
            print(f"{tree.name} {mode}: {summary[f'{tree.name} {mode}']}")
    if args.out is not None:
        args.out.write_text(json.dumps({"runs": runs, "summary": summary}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
