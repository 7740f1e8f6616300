"""`rlef-train`: the trainer's command line, the one home of its argument definitions.

`train` runs RLEF from a config file; `sessions` summarises the editor's session log; `toy` runs the toy
proof that the trainer teaches a model to use execution feedback; the others are fixture and parity tools. Heavy imports
(torch, transformers) happen only
inside the command that needs them, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlef_trainer import __version__
from rlef_trainer.fixtures.model_shapes import MODEL_SHAPES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlef-train",
        description="RLEF trainer: multi-turn PPO on execution feedback.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    make_tiny = commands.add_parser(
        "make-tiny-model",
        help="write a random-weight Qwen2 model folder (transformers weights, tokenizer, ONNX decoder)",
        description="Write a random-weight Qwen2 model folder: config, safetensors weights, tokenizer, "
        "ChatML template and onnx/model.onnx with a KV cache.",
    )
    make_tiny.add_argument("--out", required=True, type=Path, help="folder to write the model into")
    make_tiny.add_argument(
        "--shape", choices=sorted(MODEL_SHAPES), default="tiny", help="model geometry (default: tiny)"
    )
    make_tiny.add_argument("--seed", type=int, default=0, help="seed of the random weights (default: 0)")

    chat_ids = commands.add_parser(
        "chat-template-ids",
        help="print the token ids of a conversation rendered with a chat template, as JSON",
        description="Render a conversation (a JSON list of messages, or {messages, tools?, "
        "add_generation_prompt?}) with a model folder's chat template through transformers "
        "and print the token ids as a JSON array.",
    )
    chat_ids.add_argument("--model", required=True, type=Path, help="model folder with tokenizer.json")
    chat_ids.add_argument("--conversation", required=True, help="conversation JSON file, or - for stdin")
    chat_ids.add_argument("--template", type=Path, help="tokenizer_config.json or .jinja whose template to use instead")
    chat_ids.add_argument(
        "--add-generation-prompt",
        action="store_true",
        help="end with the assistant header (the file's add_generation_prompt wins when present)",
    )
    train = commands.add_parser(
        "train",
        help="run RLEF (multi-turn PPO through the environment service) from a config file",
        description="Train with RLEF. The config (JSON or TOML) sets the fields of RLEFConfig "
        "(rlef_trainer/config.py); --set overrides one field. Resumes from the newest checkpoint in out_dir.",
    )
    train.add_argument("--config", type=Path, help="JSON or TOML config file")
    train.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a config field"
    )
    train.add_argument("--no-resume", action="store_true", help="start fresh even if out_dir has checkpoints")

    sessions = commands.add_parser(
        "sessions",
        help="summarise the editor's session log and what training on it would use",
        description="Read a session log folder (sessions-YYYY-MM.jsonl files; `session_log` in a config): sessions by "
        "outcome, which are trainable and why the others are not, reviews, the distinct trainable tasks, and the "
        "lines that could not be read, with file:line. --tasks-out writes the distinct trainable tasks as a JSONL "
        "task file for `tasks` in a config.",
    )
    sessions.add_argument(
        "--dir",
        default="default",
        help="the log folder (default: $XDG_STATE_HOME/rlef/sessions, else ~/.local/state/rlef/sessions)",
    )
    sessions.add_argument("--tasks-out", type=Path, help="write the distinct trainable tasks to this JSONL file")
    sessions.add_argument("--force", action="store_true", help="replace an existing --tasks-out file")
    sessions.add_argument("--json", action="store_true", help="print the summary as one JSON object")

    export = commands.add_parser(
        "export",
        help="turn a training run's checkpoint into a model folder the editor loads",
        description="Merge the run's policy (LoRA into a full-precision copy of the base) from its newest complete "
        "checkpoint (or --checkpoint), write transformers weights, tokenizer and onnx/model.onnx with a KV cache, "
        "check onnxruntime against PyTorch, then move the folder to --out. Writes rlef-export.json there. A checkpoint "
        "the run's evaluations put below the model it started from (valid MT 1@3) is refused without --allow-worse.",
    )
    export.add_argument("--run", required=True, type=Path, help="the run's out_dir (config.json, checkpoint-*)")
    export.add_argument("--checkpoint", type=Path, help="checkpoint folder to export (default: the newest complete)")
    export.add_argument("--out", required=True, type=Path, help="model folder to write")
    export.add_argument("--no-parity", action="store_true", help="skip the onnxruntime-against-PyTorch check")
    export.add_argument("--force", action="store_true", help="replace --out if it exists and is not empty")
    export.add_argument(
        "--allow-worse",
        action="store_true",
        help="export even when the run's evaluations put the checkpoint below the model it started from",
    )

    toy = commands.add_parser(
        "toy",
        help="the toy proof that RLEF teaches a tiny model to use execution feedback",
        description="Secret-letter tasks through the real environment service: generic copying pretraining and a "
        "format-only supervised start, "
        "RLEF with true and with random feedback, solve rates before and after; writes results.json and curves.png.",
    )
    toy.add_argument("--out", required=True, type=Path, help="folder for models, results.json and curves.png")
    toy.add_argument("--seed", type=int, default=0, help="seed of everything (default: 0)")
    toy.add_argument("--iterations", type=int, default=None, help="PPO iterations per arm (default: the toy's)")
    toy.add_argument("--eval-episodes", type=int, default=None, help="episodes per solve-rate measurement")
    toy.add_argument("--sft-steps", type=int, default=None, help="steps of the format-only supervised start")
    toy.add_argument("--copy-steps", type=int, default=None, help="steps of the generic copying pretraining")
    toy.add_argument(
        "--instruction-steps", type=int, default=None, help="steps of the instruction copying (named-letter problems)"
    )
    toy.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: the count the toy's numbers were made with)"
    )
    toy.add_argument(
        "--start",
        type=Path,
        default=None,
        help="a start-model folder an earlier toy run wrote (with toy-start.json): skip the start search, run from it",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "make-tiny-model":
        from rlef_trainer.fixtures.tiny_model import run_make_tiny_model

        return run_make_tiny_model(args)
    if args.command == "chat-template-ids":
        from rlef_trainer.chat_template_ids import run_chat_template_ids

        return run_chat_template_ids(args)
    if args.command == "train":
        from rlef_trainer.train_command import run_train_command

        return run_train_command(args.config, args.overrides, resume=not args.no_resume)
    if args.command == "sessions":
        from rlef_trainer.sessions_command import run_sessions_command

        return run_sessions_command(args.dir, args.tasks_out, as_json=args.json, force=args.force)
    if args.command == "export":
        from rlef_trainer.export_model import run_export_command

        return run_export_command(
            args.run,
            args.out,
            checkpoint=args.checkpoint,
            parity=not args.no_parity,
            force=args.force,
            allow_worse=args.allow_worse,
        )
    if args.command == "toy":
        from rlef_trainer.toy import run_toy_command

        return run_toy_command(
            args.out,
            args.seed,
            iterations=args.iterations,
            eval_episodes=args.eval_episodes,
            sft_steps=args.sft_steps,
            copy_steps=args.copy_steps,
            instruction_steps=args.instruction_steps,
            threads=args.threads,
            start=args.start,
        )
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
