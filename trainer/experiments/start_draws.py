"""Probe start-model draws of the toy recipe under a recipe variant (the start gate's probes, nothing else).

    .venv/bin/python trainer/experiments/start_draws.py VARIANT SEED [SEED ...] [--threads 1]

Variants, each adding to the one before (trainer/README.md, "Three more recipe changes"):
  current        the committed recipe (copying step 150, named-letter step 150, format step 150);
  nooutput       named-letter templates without the feedback's words ("output", "your");
  nocopy         and no generic copying step, 300 named-letter steps;
  filler         and 0-2 earlier exchanges of random tokens before each supervised problem;
  filler-solved  and half of those exchanges an earlier named-letter problem with its answer.
The two filler variants need the recipe patch: `git apply trainer/experiments/start_recipe_filler.patch`
(the other variants run on either tree). Each draw prints one JSON line: P(expected), P(own guess),
P(letters), well-formed retries, the named-letter accuracy at the end of its step, and the gate's verdict.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from rlef_trainer import toy
from rlef_trainer.env_client import EnvClient
from rlef_trainer.env_service import start_env_service

VARIANTS = ("current", "nooutput", "nocopy", "filler", "filler-solved")
NO_FEEDBACK_WORDS = (
    "Print the letter {x}.",
    "Write a program that prints {x}.",
    "Make the program print {x} and nothing else.",
    "The answer is {x}; print it.",
    "The program must print the capital letter {x} on one line.",
    "Print {x}.",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variant", choices=VARIANTS)
    parser.add_argument("seeds", type=int, nargs="+")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("/tmp/start-draws"))
    args = parser.parse_args()
    level = VARIANTS.index(args.variant)
    filler = level >= VARIANTS.index("filler")
    if filler and not hasattr(toy, "filler_messages"):
        parser.error("this variant needs `git apply trainer/experiments/start_recipe_filler.patch`")
    if hasattr(toy, "filler_messages") and not filler:
        toy.filler_messages = lambda *_args, **_kwargs: []  # the patched recipe without its filler
    if filler:
        toy.FILLER_SOLVED_SHARE = 0.5 if args.variant == "filler-solved" else 0.0
    if level >= VARIANTS.index("nooutput"):
        toy.NAMED_STATEMENTS = NO_FEEDBACK_WORDS
    copy_steps, named_steps = (0, 300) if level >= VARIANTS.index("nocopy") else (150, 150)
    torch.set_num_threads(args.threads)

    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils.logging import disable_progress_bar

    disable_progress_bar()
    with start_env_service() as service, EnvClient(service.url, service.token) as env:
        prompt = toy.first_observation(env)
        contexts = toy.turn_two_contexts(env)
        for seed in args.seeds:
            started = time.perf_counter()
            model_dir = toy.build_start_model(args.out / f"{args.variant}-{seed}", seed)
            if copy_steps:
                toy.generic_copy_pretraining(model_dir, seed, copy_steps)
            named = toy.instruction_copy_pretraining(model_dir, prompt, seed, named_steps)
            toy.supervised_format_step(model_dir, prompt, seed, 150, 32)
            model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
            tokenizer = AutoTokenizer.from_pretrained(model_dir)
            probe = toy.retry_letter_probe(model, tokenizer, contexts)
            probe |= toy.retry_format_probe(model, tokenizer, contexts)
            row = {
                "variant": args.variant,
                "seed": seed,
                **{k: round(v, 3) for k, v in probe.items()},
                "named_accuracy": named["instruction_copy_accuracy"],
                "accepted": toy.passes_start_gate(probe),
                "seconds": round(time.perf_counter() - started, 1),
            }
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
