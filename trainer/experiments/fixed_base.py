"""Start-model draws from one fixed base: how much the format step alone varies (the start gate's probes).

    .venv/bin/python trainer/experiments/fixed_base.py [--base-seed B [B ...]] FORMAT_SEED [FORMAT_SEED ...]
        [--threads 2] [--measure] [--sft-steps 150] [--copy-steps 150] [--named-steps 150] [--distractors]
        [--env-words] [--labels [--labels-after]] [--no-feedback-words] [--examples N] [--code-examples N]
        [--filler N] [--measure-all]

The base is the toy's generic steps for seed B (copying pretraining, named-letter problems), built once;
every format seed then runs only the format step from a copy of it and is probed like a start draw. With
`--measure`, a draw that passes the probes is also evaluated (multi-turn, 300 episodes), as the gate does.
`--distractors` puts a sentence starting with a capital consonant before or after the named statements;
`--examples N` puts up to N unrelated fenced programs after the named statements;
`--env-words` builds the tokenizer with the environment's own words (`toy.environment_corpus`); `--labels` puts
a label letter before each named statement ("Task K: Print the letter Q."), a standalone capital that is not
the answer (`--labels-after`: also after it, "... (Task K.)"); `--no-feedback-words` uses named templates without
the feedback's words "output" and "your"; `--filler N` puts 0..N random-token exchanges before the toy's own
problems in the format step (`toy.filler_messages`; the named-letter problems stay first messages); `--measure-all`
also evaluates draws that fail the probes. Every option is off unless given, so the script still builds the older
recipes; the toy recipe itself is `--env-words --labels --filler 2` (since 2026-11-27). Models go to --out
(default /tmp/fixed-base): base-TAG, start-TAG-FORMAT_SEED. Results: trainer/README.md, "One base, many format
steps" and the sections after it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch
from start_draws import NO_FEEDBACK_WORDS  # a script beside this one: the named templates without feedback words

from rlef_trainer import toy
from rlef_trainer.env_client import EnvClient
from rlef_trainer.env_service import start_env_service


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("seeds", type=int, nargs="+")
    parser.add_argument("--base-seed", type=int, nargs="+", default=[0])
    parser.add_argument("--distractors", action="store_true", help="named statements with distractor sentences")
    parser.add_argument("--env-words", action="store_true", help="the environment's words whole in the tokenizer")
    parser.add_argument("--labels", action="store_true", help="named statements after a label letter: 'Task K: ...'")
    parser.add_argument(
        "--labels-after", action="store_true", help="with --labels: labels after the statement too ('... (Task K.)')"
    )
    parser.add_argument("--no-feedback-words", action="store_true", help="named templates without 'output'/'your'")
    parser.add_argument(
        "--code-examples", type=int, choices=(0, 1, 2), default=0, help="up to N unrelated code blocks (no letter)"
    )
    parser.add_argument(
        "--examples", type=int, choices=(0, 1, 2), default=0, help="up to N unrelated programs after named statements"
    )
    parser.add_argument(
        "--filler", type=int, default=0, help="format step: 0..N random-token exchanges before the toy's problems"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sft-steps", type=int, default=150)
    parser.add_argument("--measure", action="store_true")
    parser.add_argument("--measure-all", action="store_true", help="with --measure: also draws that fail the probes")
    parser.add_argument("--copy-steps", type=int, default=150, help="generic copying pretraining steps of the base")
    parser.add_argument("--named-steps", type=int, default=150, help="named-letter steps of the base")
    parser.add_argument("--out", type=Path, default=Path("/tmp/fixed-base"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from transformers.utils.logging import disable_progress_bar

    disable_progress_bar()
    with start_env_service() as service, EnvClient(service.url, service.token) as env:
        prompt = toy.first_observation(env)
        contexts = toy.turn_two_contexts(env)
        for base_seed in args.base_seed:
            draws(args, env, prompt, contexts, base_seed)


def draws(
    args: argparse.Namespace, env: EnvClient, prompt: list[dict[str, str]], contexts: dict, base_seed: int
) -> None:
    toy.NAMED_STATEMENTS = NO_FEEDBACK_WORDS if args.no_feedback_words else PLAIN_STATEMENTS
    if args.distractors:
        toy.NAMED_STATEMENTS = with_distractors(toy.NAMED_STATEMENTS)
    if args.labels:
        labelled = [f"Task {label}: {t}" for t in toy.NAMED_STATEMENTS for label in toy.SECRET_VALUES]
        if args.labels_after:
            labelled += [f"{t} (Task {label}.)" for t in toy.NAMED_STATEMENTS for label in toy.SECRET_VALUES]
        toy.NAMED_STATEMENTS = tuple(labelled)
    if args.examples:
        toy.NAMED_STATEMENTS = with_examples(toy.NAMED_STATEMENTS, args.examples)
    if args.code_examples:
        toy.NAMED_STATEMENTS = with_code_examples(toy.NAMED_STATEMENTS, args.code_examples)
    flags = {"-d": args.distractors, "-w": args.env_words, "-l": args.labels, "a": args.labels_after}
    flags |= {"-q": args.no_feedback_words, f"-e{args.examples}": args.examples > 0}
    flags[f"-x{args.code_examples}"] = args.code_examples > 0
    flags[f"-f{args.filler}"] = args.filler > 0
    flags[f"-c{args.copy_steps}-n{args.named_steps}"] = (args.copy_steps, args.named_steps) != (150, 150)
    tag = f"{base_seed}{''.join(k for k, on in flags.items() if on)}"
    base_tag = tag.replace(f"-f{args.filler}", "")  # the filler is the format step's: the base is shared
    base = args.out / f"base-{base_tag}"
    if not base.exists():  # built under another name and renamed when done: a killed run leaves no half base
        started = time.perf_counter()
        partial = args.out / f"partial-base-{base_tag}"
        shutil.rmtree(partial, ignore_errors=True)
        toy.build_start_model(partial, base_seed, toy.environment_corpus(contexts) if args.env_words else None)
        if args.copy_steps:
            toy.generic_copy_pretraining(partial, base_seed, args.copy_steps)
        named = toy.instruction_copy_pretraining(partial, prompt, base_seed, args.named_steps)
        partial.rename(base)
        probe = toy.retry_letter_probe(toy.load_model(base), toy.load_tokenizer(base), contexts)
        row = {"base": tag, **named, **{f"base_{k}": round(v, 3) for k, v in probe.items()}}
        print(json.dumps(row | {"seconds": round(time.perf_counter() - started)}), flush=True)
    for seed in args.seeds:
        started = time.perf_counter()
        model_dir = args.out / f"start-{tag}-{seed}"
        shutil.rmtree(model_dir, ignore_errors=True)
        shutil.copytree(base, model_dir)
        toy.supervised_format_step(model_dir, prompt, seed, args.sft_steps, 32, filler=args.filler)
        model, tokenizer = toy.load_model(model_dir), toy.load_tokenizer(model_dir)
        probe = toy.retry_letter_probe(model, tokenizer, contexts)
        probe |= toy.retry_format_probe(model, tokenizer, contexts)
        row = {"base": tag, "seed": seed, **{k: round(v, 3) for k, v in probe.items()}}
        row["probes_pass"] = toy.passes_start_gate(probe)
        if args.measure and (row["probes_pass"] or args.measure_all):
            rate = toy.solve_rate(
                env, model, tokenizer, 300, max_turns=toy.MAX_TURNS, random_feedback=False, seed=seed + 11
            )
            row["start_multi_turn"] = round(rate["solve_rate"], 3)
            row["invalid_rate"] = round(rate["invalid_rate"], 3)
            row["accepted"] = toy.near_blind_guessing(rate["solve_rate"])
        row["seconds"] = round(time.perf_counter() - started, 1)
        print(json.dumps(row), flush=True)


PLAIN_STATEMENTS = toy.PLAIN_NAMED_STATEMENTS
# Sentences whose first word is a capital consonant token of the fixture tokenizer ("Give" is G + "ive"), one for
# most of the 20 letters; none uses the words of the feedback ("output", "your", "input", "expected", "test").
DISTRACTORS = (
    "Be brief.",
    "Check the quotes.",
    "Do it in one line.",
    "Feel free to use print.",
    "Go ahead.",
    "Have fun.",
    "Just one line.",
    "Keep it short.",
    "Let us begin.",
    "Make it simple.",
    "Nothing more is needed.",
    "Please be careful.",
    "Quotes matter.",
    "Remember the case.",
    "So it is easy.",
    "Think first.",
    "Very easy.",
    "We are ready.",
    "Zero spaces around it.",
    "Careful with case.",
)


# Short programs with no capital letter in them: an earlier fenced block whose content is no answer.
SNIPPETS = (
    "x = 1",
    "import sys",
    "pass",
    "n = int(input())",
    "for i in range(3):\n    pass",
    "print(1 + 2)",
    "a, b = 2, 3\nprint(a * b)",
    "s = 'abc'\nprint(s[::-1])",
    "print(len([1, 2, 3]))",
    "def f(x):\n    return x + 1",
    "while False:\n    break",
    "print('ok')",
    "total = sum(range(10))",
    "print(max(4, 9))",
    "values = []\nvalues.append(0)",
    "if 1 < 2:\n    print('yes')",
    "print(sorted([3, 1, 2]))",
    "name = 'world'",
    "print(2 ** 10)",
    "print(', '.join(['a', 'b']))",
)


def with_blocks(statements: tuple[str, ...], bodies: tuple[str, ...], most: int) -> tuple[str, ...]:
    """Each statement alone, or followed by 1..`most` unrelated fenced programs (`bodies`), in equal shares."""

    def block(code: str) -> str:
        return f"\n\nAn unrelated program:\n```python\n{code}\n```"

    n = len(bodies)
    groups = [tuple(t for t in statements for _ in bodies), tuple(t + block(c) for t in statements for c in bodies)]
    if most == 2:
        groups.append(
            tuple(t + block(c) + block(bodies[(7 * i + 3) % n]) for t in statements for i, c in enumerate(bodies))
        )
    # a body's own braces stay literal when a template is formatted with x
    return tuple(x.replace("{", "{{").replace("}", "}}").replace("{{x}}", "{x}") for group in groups for x in group)


def with_examples(statements: tuple[str, ...], most: int) -> tuple[str, ...]:
    """Programs in the answer format with random letters: fenced blocks in the context, as a retry holds its
    earlier answers, whose letters are not the answer."""
    return with_blocks(statements, tuple(f'print("{k}")' for k in toy.SECRET_VALUES), most)


def with_code_examples(statements: tuple[str, ...], most: int) -> tuple[str, ...]:
    """Code blocks without a letter (SNIPPETS)."""
    return with_blocks(statements, SNIPPETS, most)


def with_distractors(statements: tuple[str, ...]) -> tuple[str, ...]:
    """Each statement alone, or with a distractor sentence before or after it."""
    return (
        *statements,
        *(f"{d} {t}" for t in statements for d in DISTRACTORS),
        *(f"{t} {d}" for t in statements for d in DISTRACTORS),
    )


if __name__ == "__main__":
    main()
