"""Every hyperparameter of RLEF training in one typed dataclass, with its default and meaning.

Defaults are the paper's for `mode="full"` (spec/rlef.md §4); `mode="lora"` is the project's
default for one local GPU and uses `lora_lr` instead of `lr`. Load from a JSON or TOML file and
override single fields with `--set key=value` (the value is parsed as the field's type).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_type_hints

import tomllib

_LAYER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class RLEFConfig:
    # --- model ---------------------------------------------------------------------------
    model: str = ""  # local model folder or Hub id of the instruction-tuned starting policy
    mode: Literal["full", "lora"] = "full"  # full fine-tune, or LoRA adapters on a frozen base
    gradient_checkpointing: bool = False  # recompute activations in the backward pass (saves memory)
    # torch.compile each decoder layer and the LM head's softmax for scoring and updates (sampling stays
    # eager); "auto": on CUDA (an H200: 1.7x faster full-mode updates, bench/RESULTS.md), off on CPU
    compile_layers: Literal["auto", "on", "off"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"  # auto: bf16 on GPU, fp32 on CPU
    device: str = "auto"  # auto: cuda if available, else cpu

    # --- optimiser (paper: full fine-tune of 8B/70B) ---------------------------------------
    lr: float = 2e-7  # AdamW learning rate of the policy and value networks in full mode
    weight_decay: float = 0.1  # AdamW weight decay
    warmup_steps: int = 50  # linear learning-rate warm-up, in optimiser steps
    # Project option, off by default (the paper is silent on a decay): the last fraction of the run's optimiser
    # steps (iterations x updates_per_iteration) lowers the lr linearly toward 0, the final step at 1/(decay
    # steps) of it, so a run ends on small steps instead of on a full-size one. 0: constant after the warm-up.
    lr_decay_fraction: float = 0.0
    adam_betas: tuple[float, float] = (0.9, 0.95)  # AdamW betas (paper silent; common LLM choice)
    max_grad_norm: float = 1.0  # gradient clipping of the policy and value gradients together (paper silent); 0: none

    # --- LoRA (project's local-GPU default) ------------------------------------------------
    # LoRA: from the toy sweep (trainer/README.md, "LoRA: learning rate and rank"): at rank 16, 3.3-10x the
    # full-mode lr learnt, 33x diverged; lr x rank sets the step (Adam moves every adapter weight by ~lr)
    lora_lr: float = 1e-6  # learning rate when mode = "lora" (5x the paper's full-mode 2e-7)
    lora_rank: int = 16  # adapter rank of both the policy and the value adapter (with lora_lr: scale them inversely)
    lora_alpha: int = 32  # LoRA scaling numerator
    lora_dropout: float = 0.0  # adapter dropout (0 keeps behaviour and learner identical)
    # Adapted projections: "all-linear" (every linear layer but the LM head, the default the sweep chose its lr
    # for), or a comma-separated list of layer names, e.g. "q_proj,k_proj,v_proj,o_proj" (attention only: fewer
    # adapter products per layer, a smaller step per lr; trainer/README.md, "LoRA: which projections")
    lora_targets: str = "all-linear"
    # A gated MLP's projections with their adapters as widened matrix products: gate and up as one product over
    # [x | x A^T], down as one over [W; A] (rlef_trainer/lora_fused.py): the same numbers up to rounding, no
    # [tokens, 4,864] adapter outputs or gradients.
    # Project option, off until a GPU run shows it faster (bench/gpu_rlef.py --lora-fused-mlp)
    lora_fused_mlp: bool = False

    # --- rollouts --------------------------------------------------------------------------
    rollouts_per_iteration: int = 1024  # episodes collected before the updates of one iteration
    minibatch_size: int = 256  # episodes per optimiser step (1024 / 256 = 4 updates)
    ppo_epochs: int = 1  # passes over the iteration's rollouts (paper: one)
    generation_batch_size: int = 256  # episodes sampled together in one generate call
    max_turns: int = 3  # model attempts per episode
    max_new_tokens: int = 1024  # response length cap per turn
    temperature: float = 1.0  # sampling temperature of training rollouts
    top_p: float = 1.0  # nucleus sampling of training rollouts (1.0: plain sampling)
    rollout_engine: str = "auto"  # "static" (own sampler, CUDA graphs), "generate" (HF), "auto": static on CUDA
    random_feedback: bool = False  # the random-feedback ablation (the service's option)

    # --- PPO (spec/rlef.md §3-4) -----------------------------------------------------------
    kl_beta: float = 0.05  # beta of R_t = r_t - beta * KL_t
    clip_eps: float = 0.2  # PPO ratio clip
    value_clip: float = 0.2  # clip of the value change in the clipped squared error
    value_loss_coef: float = 1.0  # weight of the value loss (separate networks: only its own scale)
    truncated_is: bool = True  # multiply the ratio by stop_grad(min(pi_old / pi_behaviour, 1))

    # --- run -------------------------------------------------------------------------------
    iterations: int = 12000  # training iterations (collect, then update)
    seed: int = 0  # seeds sampling, task order, episode seeds and initial heads
    # built-in sets of the service, comma-separated (e.g. "codecontests,apps,codejam,mbpp": only sets whose licence
    # allows training are accepted, and of mbpp only the ids not in MBPP+), or a JSONL file of inline tasks and
    # {"set", "id"} references (rlef_trainer/task_source.py)
    tasks: str = ""
    # a session-log folder of the editor (trainer/README.md, "Training on your own sessions"; "default": the
    # default folder, $XDG_STATE_HOME/rlef/sessions or ~/.local/state/rlef/sessions): the distinct tasks of its
    # trainable sessions join the training tasks, through the same split; alone or with `tasks`. A run keeps the
    # logged tasks it started with: sessions logged after the start join only a fresh run
    session_log: str = ""
    env_url: str = ""  # ws://127.0.0.1:PORT of a running service; empty: start one
    env_token: str = ""  # its token (or RLEF_ENV_TOKEN)
    env_workers: int = 0  # sandbox workers of a service the trainer starts (0: the service default)
    out_dir: str = "runs/rlef"  # checkpoints, metrics.jsonl
    checkpoint_every: int = 10  # iterations between checkpoints
    keep_checkpoints: int = 2  # newest checkpoints kept
    # --- validation and evaluation (spec/rlef.md §5: MT and ST 1@3, the random-feedback ablation) --------
    valid_fraction: float = 0.1  # share of the tasks held out (by a hash of set and id) and never trained on
    eval_every: int = 100  # iterations between evaluations, also run before the first and after the last; 0: none
    eval_draws: int = 1  # draws per problem of each 1@3 rate
    eval_max_problems: int = 0  # evaluate at most this many problems of each split or set (a fixed subset); 0: all
    eval_sets: str = ""  # evaluation-only built-in sets evaluated too, e.g. "humaneval_plus,mbpp_plus"
    eval_random_feedback: bool = True  # include the random-feedback ablation's MT 1@3
    metrics_port: int = (
        -1
    )  # stream metrics over WebSocket on 127.0.0.1 for a dashboard: a port, 0 any free one, -1 none
    deterministic: bool = False  # torch.use_deterministic_algorithms(True): bit-exact resume on CPU, slower on GPU
    torch_threads: int = 0  # intra-op CPU threads of torch (0: torch's default); fix it for reproducible CPU runs

    def compiles(self, device: Any) -> bool:
        """Whether `compile_layers` applies on `device` (a torch.device)."""
        return self.compile_layers == "on" or (self.compile_layers == "auto" and device.type == "cuda")

    def effective_lr(self) -> float:
        return self.lora_lr if self.mode == "lora" else self.lr

    def updates_per_iteration(self) -> int:
        return max(1, self.rollouts_per_iteration // self.minibatch_size) * self.ppo_epochs

    def lr_factor(self, step: int) -> float:
        """The learning rate of optimiser step `step` (0-based) over `effective_lr()`: warm-up, then constant, then
        the last `lr_decay_fraction` of the run's steps down to 1/(decay steps) on its final step."""
        factor = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps > 0 else 1.0
        total = self.iterations * self.updates_per_iteration()
        decay = round(self.lr_decay_fraction * total)
        if decay > 0:
            factor *= max(0.0, min(1.0, (total - step) / decay))
        return factor

    def lora_target_names(self) -> list[str] | None:
        """The layer names of `lora_targets`, or None for "all-linear"; [] when a name is malformed."""
        if self.lora_targets == "all-linear":
            return None
        names = [name.strip() for name in self.lora_targets.split(",")]
        if not names or any(not _LAYER_NAME.fullmatch(name) for name in names):
            return []
        return list(dict.fromkeys(names))

    def validate(self) -> RLEFConfig:
        problems = []
        if self.mode not in ("full", "lora"):
            problems.append(f"mode must be 'full' or 'lora', got {self.mode!r}")
        if self.rollouts_per_iteration < 1 or self.minibatch_size < 1:
            problems.append("rollouts_per_iteration and minibatch_size must be positive")
        elif self.rollouts_per_iteration % self.minibatch_size != 0:
            problems.append("rollouts_per_iteration must be a multiple of minibatch_size")
        if not 1 <= self.max_turns <= 100:
            problems.append("max_turns must be in 1..100")
        if self.temperature <= 0:
            problems.append("temperature must be positive")
        if not 0 < self.top_p <= 1:
            problems.append("top_p must be in (0, 1]")
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", self.device):
            problems.append(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {self.device!r}")
        if self.rollout_engine not in ("auto", "static", "generate"):
            problems.append(f"rollout_engine must be 'auto', 'static' or 'generate', got {self.rollout_engine!r}")
        for name in ("lr", "lora_lr", "clip_eps", "value_clip", "kl_beta", "weight_decay", "max_grad_norm"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must not be negative")
        if self.torch_threads < 0:
            problems.append("torch_threads must not be negative")
        if self.lora_targets != "all-linear" and not self.lora_target_names():
            problems.append(
                "lora_targets must be 'all-linear' or a comma-separated list of layer names like "
                f"'q_proj,v_proj', got {self.lora_targets!r}"
            )
        if not 0.0 <= self.valid_fraction < 1.0:
            problems.append(f"valid_fraction must be in [0, 1), got {self.valid_fraction}")
        if self.eval_every < 0 or self.eval_max_problems < 0:
            problems.append("eval_every and eval_max_problems must not be negative")
        if not -1 <= self.metrics_port <= 65535:
            problems.append(f"metrics_port must be -1 (none), 0 (any free port) or a port, got {self.metrics_port}")
        if self.eval_draws < 1:
            problems.append("eval_draws must be at least 1")
        if not 0.0 <= self.lr_decay_fraction <= 1.0:
            problems.append(f"lr_decay_fraction must be in [0, 1], got {self.lr_decay_fraction}")
        if problems:
            raise ValueError("invalid RLEF config: " + "; ".join(problems))
        return self


def _field_types() -> dict[str, Any]:
    return get_type_hints(RLEFConfig)


def _coerce(name: str, value: Any) -> Any:
    """Parse `value` (from a file or a --set string) as the type of field `name`."""
    kind = _field_types()[name]
    origin = getattr(kind, "__origin__", None)
    if origin is Literal:
        allowed = get_args(kind)
        if value not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
        return value
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ValueError(f"{name} must be a boolean, got {value!r}")
    if kind is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if kind is float:
        if isinstance(value, bool):
            raise ValueError(f"{name} must be a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number, got {value!r}") from None
    if origin is tuple:
        items = json.loads(value) if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or len(items) != 2:
            raise ValueError(f"{name} must be a pair of numbers, got {value!r}")
        return (float(items[0]), float(items[1]))
    if kind is str:
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {value!r}")
        return value
    raise TypeError(f"field {name} has an unsupported type {kind}")


def config_from_dict(values: dict[str, Any], base: RLEFConfig | None = None) -> RLEFConfig:
    """A config with `values` applied over `base` (defaults); unknown keys are an error."""
    known = {f.name for f in dataclasses.fields(RLEFConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown config keys: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    updates = {name: _coerce(name, value) for name, value in values.items()}
    return dataclasses.replace(base or RLEFConfig(), **updates).validate()


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> RLEFConfig:
    """Read a .json or .toml config (or none: defaults) and apply `key=value` overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        text = p.read_text(encoding="utf-8")
        try:
            values = tomllib.loads(text) if p.suffix == ".toml" else json.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
            raise ValueError(f"{p}: not valid {'TOML' if p.suffix == '.toml' else 'JSON'}: {error}") from None
        if not isinstance(values, dict):
            raise ValueError(f"{p}: the config must be an object of settings")
    config = config_from_dict(values)
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects key=value, got {item!r}")
        config = config_from_dict({key.strip(): raw}, base=config)
    return config


def config_to_dict(config: RLEFConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)
