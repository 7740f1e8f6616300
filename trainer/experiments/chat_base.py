"""Start draws whose base learns its named-letter skill inside chats (the format step stays single-turn).

    .venv/bin/python trainer/experiments/chat_base.py BASE_SEED [BASE_SEED ...] [--formats 3] [--history 2]
        [--templates current|nooutput] [--threads 1] [--measure]

In the base's named-letter step each problem comes after 0..HISTORY earlier named-letter problems of the same
chat, each with its answer (an instruction-tuned LLM has seen chats; nothing here shows a secret or feedback);
the loss stays on the last problem's letter. Then `--formats` format steps (format seed + 1000 k, single-turn as
in the recipe) from a copy of the base, each probed like a start draw (and, with `--measure`, evaluated on 300
multi-turn episodes when its probes pass).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

import torch
from start_draws import NO_FEEDBACK_WORDS  # a script beside this one

from rlef_trainer import toy
from rlef_trainer.env_client import EnvClient
from rlef_trainer.env_service import start_env_service


def chat_named_examples(history: int, seed: int):  # noqa: ANN201
    from rlef_trainer.rollout import first_prompt_ids

    generator = torch.Generator().manual_seed(seed + 3)

    def examples(
        tokenizer: Any, first_prompt: list[dict[str, str]], picks: list[int], templates: list[int]
    ) -> list[tuple[list[int], str]]:
        rows = []
        for k, t in zip(picks, templates, strict=True):
            chat: list[dict[str, str]] = []
            for _ in range(int(torch.randint(history + 1, (1,), generator=generator))):
                letter = toy.SECRET_VALUES[int(torch.randint(len(toy.SECRET_VALUES), (1,), generator=generator))]
                template = toy.NAMED_STATEMENTS[
                    int(torch.randint(len(toy.NAMED_STATEMENTS), (1,), generator=generator))
                ]
                chat += toy.named_prompt(first_prompt, template.format(x=letter))
                chat.append({"role": "assistant", "content": toy.answer_text(letter)})
            chat += toy.named_prompt(first_prompt, toy.NAMED_STATEMENTS[t].format(x=toy.SECRET_VALUES[k]))
            rows.append((first_prompt_ids(tokenizer, chat), toy.SECRET_VALUES[k]))
        return rows

    return examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("seeds", type=int, nargs="+")
    parser.add_argument("--formats", type=int, default=3)
    parser.add_argument("--history", type=int, default=2)
    parser.add_argument("--templates", choices=("current", "nooutput"), default="current")
    parser.add_argument("--named-steps", type=int, default=150)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--measure", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("/tmp/chat-base"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.templates == "nooutput":
        toy.NAMED_STATEMENTS = NO_FEEDBACK_WORDS

    from transformers.utils.logging import disable_progress_bar

    disable_progress_bar()
    plain = toy._named_examples
    with start_env_service() as service, EnvClient(service.url, service.token) as env:
        prompt = toy.first_observation(env)
        contexts = toy.turn_two_contexts(env)
        for seed in args.seeds:
            started = time.perf_counter()
            base = args.out / f"base-{args.templates}-h{args.history}-{seed}"
            shutil.rmtree(base, ignore_errors=True)
            toy.build_start_model(base, seed)
            toy.generic_copy_pretraining(base, seed, 150)
            toy._named_examples = chat_named_examples(args.history, seed)
            try:
                named = toy.instruction_copy_pretraining(base, prompt, seed, args.named_steps)
            finally:
                toy._named_examples = plain
            probe = toy.retry_letter_probe(toy.load_model(base), toy.load_tokenizer(base), contexts)
            row: dict[str, Any] = {"base": seed, "named_accuracy": named["instruction_copy_accuracy"]}
            row |= {f"base_{k}": round(v, 3) for k, v in probe.items()}
            row["seconds"] = round(time.perf_counter() - started, 1)
            print(json.dumps(row), flush=True)
            if named["instruction_copy_accuracy"] < toy.BASE_GATE["named_accuracy_min"]:
                continue
            for k in range(args.formats):
                started = time.perf_counter()
                model_dir = args.out / "start"
                shutil.rmtree(model_dir, ignore_errors=True)
                shutil.copytree(base, model_dir)
                toy.supervised_format_step(model_dir, prompt, seed + 1000 * k, 150, 32)
                model, tokenizer = toy.load_model(model_dir), toy.load_tokenizer(model_dir)
                probe = toy.retry_letter_probe(model, tokenizer, contexts)
                probe |= toy.retry_format_probe(model, tokenizer, contexts)
                row = {"base": seed, "format": seed + 1000 * k, **{k: round(v, 3) for k, v in probe.items()}}
                row["probes_pass"] = toy.passes_start_gate(probe)
                if args.measure and row["probes_pass"]:
                    rate = toy.solve_rate(
                        env, model, tokenizer, 300, max_turns=toy.MAX_TURNS, random_feedback=False, seed=seed + 11
                    )
                    row["start_multi_turn"] = round(rate["solve_rate"], 3)
                row["seconds"] = round(time.perf_counter() - started, 1)
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
