"""Export a trained policy as the model folder the editor loads (the design's "Model folder").

`export_policy` is the one export path: the LoRA-merged policy in fp32 as transformers weights
(`config.json`, `generation_config.json`, `model.safetensors`), its tokenizer (`tokenizer.json`,
`tokenizer_config.json`, `chat_template.jinja`) and `onnx/model.onnx` with a KV cache. The toy run
and `rlef-train export` both call it.

`rlef-train export --run RUN_DIR --out MODEL_DIR` rebuilds a run's policy from its config and a
checkpoint, exports it into a temporary sibling of MODEL_DIR, checks the ONNX decoder against
PyTorch (greedy tokens identical, logits close, from the empty-cache first step on), writes
`rlef-export.json` (where the weights came from, the parity numbers) and only then renames the
folder into place, so MODEL_DIR holds a complete, checked export or is left as it was.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlef_trainer import __version__
from rlef_trainer.writable import folder_problem

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from rlef_trainer.config import RLEFConfig
    from rlef_trainer.decoder_parity import ParityReport
    from rlef_trainer.models import RLEFModels

EXPORT_INFO_FILE = "rlef-export.json"
RUN_CONFIG_FILE = "config.json"  # written into a run's out_dir by train.py
PARITY_STEPS = 20
# Two prompts of different lengths: the batch is left-padded, so the first (empty-cache) step sees padding.
PARITY_PROMPTS = ("def add(a, b):\n    return", "Hello")
# fp32 PyTorch against fp32 onnxruntime: the tiny fixture differs by ~1e-5 on logits of magnitude ~10;
# a real model's deeper stack adds rounding, a wrong graph (mask, positions, cache) is off by whole units.
PARITY_LOGIT_TOLERANCE = 1e-2


class ExportError(Exception):
    """An export that cannot start or cannot finish; the message says what to do."""


class ParityError(ExportError):
    """The exported ONNX decoder does not compute what the PyTorch policy computes."""


def parity_passed(report: ParityReport) -> bool:
    return report.tokens_equal and report.max_abs_logit_diff <= PARITY_LOGIT_TOLERANCE


def export_policy(models: RLEFModels, out_dir: str | Path) -> PreTrainedModel:
    """Write `models`' current policy (LoRA merged, CPU fp32) as a model folder at `out_dir`; returns the
    merged model, for a parity check."""
    from rlef_trainer.export_onnx import export_decoder_onnx

    if models.tokenizer is None:
        raise ValueError("exporting a policy needs its tokenizer")
    merged = models.merged_policy()
    merged.save_pretrained(out_dir)
    models.tokenizer.save_pretrained(out_dir)
    export_decoder_onnx(merged, out_dir)
    return merged


def check_export_parity(
    model: PreTrainedModel, model_dir: str | Path, tokenizer: PreTrainedTokenizerBase, steps: int = PARITY_STEPS
) -> ParityReport:
    """Greedy-decode PARITY_PROMPTS through `model` and through `model_dir`'s onnx/model.onnx."""
    from rlef_trainer.decoder_parity import check_decoder_parity
    from rlef_trainer.export_onnx import ONNX_FILE_NAME, ONNX_SUBDIR

    prompts = [tokenizer.encode(text, add_special_tokens=False) for text in PARITY_PROMPTS]
    onnx_path = Path(model_dir) / ONNX_SUBDIR / ONNX_FILE_NAME
    return check_decoder_parity(model, onnx_path, prompts, tokenizer.pad_token_id, steps)


def read_run_config(run_dir: Path) -> RLEFConfig:
    """The run's RLEFConfig from RUN_DIR/config.json, set to export on the CPU in fp32 without compilation."""
    from rlef_trainer.config import load_config
    from rlef_trainer.models import model_folder_problem

    if not run_dir.is_dir():
        raise ExportError(f"run folder {run_dir} does not exist (pass the out_dir of a training run)")
    path = run_dir / RUN_CONFIG_FILE
    if not path.is_file():
        raise ExportError(f"{path} is missing: {run_dir} is not the out_dir of a training run")
    try:
        config = load_config(path)
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as error:
        raise ExportError(f"{path}: not a usable run config ({error})") from None
    if not config.model:
        raise ExportError(f"{path} names no base model (`model`)")
    problem = model_folder_problem(config.model)
    if problem:
        raise ExportError(f"the base model folder {config.model} named in {path} {problem}")
    # fp32 on the CPU: LoRA merges into a full-precision copy of the base, and ONNX export is on the CPU anyway.
    return dataclasses.replace(config, device="cpu", dtype="float32", compile_layers="off")


def find_checkpoint(run_dir: Path, checkpoint: Path | None) -> Path:
    """The checkpoint to export: `checkpoint` (a folder, or a name inside the run), or the run's newest complete."""
    from rlef_trainer.checkpoint import complete_checkpoints, latest_checkpoint

    if checkpoint is None:
        found = latest_checkpoint(run_dir)
        if found is None:
            raise ExportError(f"{run_dir} holds no complete checkpoint (checkpoint-NNNNNNNN with meta.json)")
        return found
    for candidate in (checkpoint, run_dir / checkpoint):
        if candidate.is_dir():
            return candidate
    names = ", ".join(p.name for p in complete_checkpoints(run_dir)) or "none"
    raise ExportError(f"checkpoint {checkpoint} does not exist (complete checkpoints in {run_dir}: {names})")


def load_checkpoint_weights(folder: Path, config: RLEFConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """(state, meta) of a checkpoint, its file hash and weights digest verified against meta.json."""
    from rlef_trainer.checkpoint import (
        CheckpointError,
        complete_checkpoints,
        load_checkpoint,
        read_checkpoint_meta,
        weights_digest,
    )

    try:
        state = load_checkpoint(folder)  # checks the state file's size and sha256 against meta.json
        meta = read_checkpoint_meta(folder, hash_state=False)
    except CheckpointError as error:
        older = [p.name for p in complete_checkpoints(folder.parent) if p.name < folder.name]
        other = f"; to export {older[-1]} instead, pass --checkpoint {older[-1]}" if older else ""
        raise ExportError(f"{error}{other}") from None
    weights = state.get("weights")
    if not isinstance(weights, dict) or not weights:
        raise ExportError(f"{folder}: the checkpoint holds no model weights")
    recorded = meta.get("weights_sha256")
    if isinstance(recorded, str) and weights_digest(weights) != recorded:
        raise ExportError(f"{folder}: the weights do not match the digest in its meta.json (damaged)")
    saved = state.get("config")
    if isinstance(saved, dict):
        # Resuming refuses changed settings, so these agree unless the folders were mixed by hand. (`model` may
        # differ: a base moved to another folder is the same base.)
        shaping = ("mode", "lora_rank", "lora_alpha", "lora_targets", "lora_fused_mlp")
        differ = [
            f"{k} {saved[k]!r} vs {getattr(config, k)!r}"
            for k in shaping
            if k in saved and saved[k] != getattr(config, k)
        ]
        if differ:
            raise ExportError(
                f"{folder} was written with other settings than the run's config.json: {'; '.join(differ)}"
            )
    return state, meta


def _refuse_existing(out: Path, force: bool) -> None:
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise ExportError(f"{out} exists and is a file or a link, not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ExportError(f"{out} exists and is not empty; pass --force to replace it")


def _swap_into_place(tmp: Path, out: Path, force: bool) -> None:
    """Rename the finished export to `out`; a replaced folder is moved aside first and removed last."""
    _refuse_existing(out, force)
    old = None
    if out.is_dir():
        old = out.with_name(f".{out.name}.replaced-{os.getpid()}")
        os.replace(out, old)
    try:
        os.replace(tmp, out)
    except OSError:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


COMPARED_RATE = "mt_1at3"  # the paper's headline rate: multi-turn, one of three attempts


def against_start(evaluations: Any, iteration: int) -> dict[str, Any] | None:
    """The checkpoint's policy against the one the run started from (the previous model, when the run started from
    an earlier export): MT 1@3 of the run's newest evaluation at or before `iteration` and of its iteration-0
    evaluation, on the held-out valid split (else the first evaluated set), as the run recorded them. None when the
    run has no such pair (eval_every = 0, or no evaluation yet after the start)."""
    if not isinstance(evaluations, list):
        return None
    records = [e for e in evaluations if isinstance(e, dict) and isinstance(e.get("iteration"), int)]
    start = next((e for e in records if e["iteration"] == 0), None)
    later = [e for e in records if 0 < e["iteration"] <= iteration]
    if start is None or not later:
        return None
    end = max(later, key=lambda e: e["iteration"])
    splits = [k for k, v in start.items() if isinstance(v, dict) and isinstance(end.get(k), dict)]
    split = "valid" if "valid" in splits else (splits[0] if splits else None)
    if split is None:
        return None

    def rates(record: dict[str, Any]) -> dict[str, Any] | None:
        r = record[split]
        value = r.get(COMPARED_RATE)
        if not isinstance(value, int | float) or value != value:  # absent, or NaN
            return None
        return {
            "iteration": record["iteration"],
            "value": float(value),
            "low": r.get(f"{COMPARED_RATE}_low"),
            "high": r.get(f"{COMPARED_RATE}_high"),
        }

    before, after = rates(start), rates(end)
    if before is None or after is None:
        return None
    return {
        "split": split,
        "rate": COMPARED_RATE,
        "start": before,
        "checkpoint": after,
        "worse": after["value"] < before["value"],
    }


def describe_comparison(comparison: dict[str, Any]) -> str:
    start, end = comparison["start"], comparison["checkpoint"]
    return (
        f"{comparison['split']} MT 1@3 {start['value']:.3f} at iteration 0 (the starting model) -> {end['value']:.3f} "
        f"at iteration {end['iteration']}"
    )


def export_run(
    run_dir: Path,
    out: Path,
    *,
    checkpoint: Path | None = None,
    parity: bool = True,
    force: bool = False,
    allow_worse: bool = False,
    log: Any = lambda _line: None,
) -> dict[str, Any]:
    """Export checkpoint `checkpoint` (default: the newest complete one) of the run in `run_dir` to `out`;
    returns what was written to rlef-export.json. Raises ExportError, with `out` as it was, when it cannot."""
    from rlef_trainer.models import load_models, model_load_problem

    _refuse_existing(out, force)
    unwritable = folder_problem(out.parent)
    if unwritable:
        raise ExportError(f"cannot write {out}: its folder {out.parent} {unwritable}")
    config = read_run_config(run_dir)
    folder = find_checkpoint(run_dir, checkpoint)
    log(f"verifying {folder}")
    state, meta = load_checkpoint_weights(folder, config)
    comparison = against_start(state.get("evaluations"), int(meta["iteration"]))
    if comparison is None:
        log("not compared with the starting model: the run has no evaluation after its start up to this checkpoint")
    else:
        log(describe_comparison(comparison))
        if comparison["worse"] and not allow_worse:
            raise ExportError(
                f"{folder} is worse than the model the run started from ({describe_comparison(comparison)}); "
                f"nothing was written to {out}: export an earlier checkpoint (--checkpoint), or this one anyway "
                "with --allow-worse"
            )
    log(f"loading the base model {config.model} ({config.mode} mode)")
    try:
        models = load_models(config)
    except (OSError, ValueError) as error:
        raise ExportError(f"{run_dir / RUN_CONFIG_FILE}: {model_load_problem(config.model, error)}") from None
    try:
        models.load_trainable_state(state["weights"])
    except (ValueError, RuntimeError) as error:
        raise ExportError(f"{folder} does not fit the base model {config.model!r}: {error}") from None
    # only the policy is exported: free the full-mode reference and value network before the merged copy
    del state
    models.reference = models.value_body = None

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.export-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        log(f"writing the merged policy and its ONNX decoder to {tmp}")
        merged = export_policy(models, tmp)
        report = None
        if parity:
            report = check_export_parity(merged, tmp, models.tokenizer)
            if not parity_passed(report):
                raise ParityError(
                    f"the ONNX decoder does not match PyTorch (greedy tokens equal: {report.tokens_equal}, "
                    f"max |logit diff| {report.max_abs_logit_diff:.3e}, tolerance {PARITY_LOGIT_TOLERANCE}); "
                    f"nothing was written to {out} (--no-parity exports without the check)"
                )
        info = {
            "run_dir": str(run_dir.resolve()),
            "checkpoint": str(folder.resolve()),
            "iteration": meta["iteration"],
            "weights_sha256": meta.get("weights_sha256"),
            "base_model": config.model,
            "mode": config.mode,
            "parity": None if report is None else {**dataclasses.asdict(report), "tolerance": PARITY_LOGIT_TOLERANCE},
            "against_start": comparison,
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "rlef_trainer_version": __version__,
        }
        (tmp / EXPORT_INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
        _swap_into_place(tmp, out, force)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return info


def run_export_command(
    run_dir: Path, out: Path, *, checkpoint: Path | None, parity: bool, force: bool, allow_worse: bool = False
) -> int:
    from transformers.utils.logging import disable_progress_bar

    disable_progress_bar()

    def log(line: str) -> None:
        print(f"rlef-train export: {line}", file=sys.stderr, flush=True)

    try:
        info = export_run(
            run_dir, out, checkpoint=checkpoint, parity=parity, force=force, allow_worse=allow_worse, log=log
        )
    except ExportError as error:
        print(f"rlef-train export: {error}", file=sys.stderr)
        return 1 if isinstance(error, ParityError) else 2
    except KeyboardInterrupt:
        print(f"rlef-train export: interrupted; {out} is untouched", file=sys.stderr)
        return 130
    check = info["parity"]
    parity_text = (
        "parity not checked"
        if check is None
        else f"parity: {check['steps']} greedy steps identical, max |logit diff| {check['max_abs_logit_diff']:.2e} "
        f"(first, empty-cache step {check['first_step_max_abs_logit_diff']:.2e})"
    )
    print(
        f"rlef-train export: wrote {out} from {info['checkpoint']} (iteration {info['iteration']}, "
        f"{info['mode']} on {info['base_model']}); {parity_text}",
        flush=True,
    )
    return 0
