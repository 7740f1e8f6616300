"""The three networks of RLEF: policy, reference and a turn-level value network.

`full`: the policy and a separate value network (the same LM init with a fresh linear head
on its last hidden state) are trained with full weights; the reference is a frozen copy.
`lora`: one frozen base carries two peft adapters: `policy` (the policy) and `value` (the
value network's body, with the linear head); the reference is the base with adapters
disabled, so it costs no extra memory.
"""

from __future__ import annotations

import contextlib
import copy
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from rlef_trainer import ppo
from rlef_trainer.config import RLEFConfig
from rlef_trainer.lora_fused import fuse_lora_mlps, unfuse_lora_mlps

POLICY_ADAPTER = "policy"
VALUE_ADAPTER = "value"


# Config fields that make logits something other than hidden @ W^T (then the fused head is not used).
FUSED_HEAD_BLOCKERS = ("final_logit_softcapping", "logit_scale", "logits_scaling", "output_multiplier_scale")


def resolve_device(config: RLEFConfig) -> torch.device:
    if config.device != "auto":
        return torch.device(config.device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_problem(config: RLEFConfig) -> str | None:
    """Why `config.device` cannot be used on this machine, or None (auto always can)."""
    if config.device == "auto":
        return None
    device = torch.device(config.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return f"device {config.device}: this torch ({torch.__version__}) finds no CUDA GPU (use 'auto' or 'cpu')"
        if device.index is not None and device.index >= torch.cuda.device_count():
            return f"device {config.device}: there are {torch.cuda.device_count()} CUDA GPU(s), numbered from 0"
    if device.type == "mps" and not torch.backends.mps.is_available():
        return f"device {config.device}: this torch ({torch.__version__}) has no MPS device (use 'auto' or 'cpu')"
    return None


def resolve_dtype(config: RLEFConfig, device: torch.device) -> torch.dtype:
    if config.dtype == "float32":
        return torch.float32
    if config.dtype == "bfloat16":
        return torch.bfloat16
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def _backbone(lm: nn.Module) -> nn.Module:
    """The decoder body of a causal LM (the module under its `base_model_prefix`)."""
    body = getattr(lm, "base_model", None)
    if body is None or body is lm:
        raise TypeError(f"{type(lm).__name__} exposes no decoder body under base_model")
    return body


@dataclass
class RLEFModels:
    config: RLEFConfig
    tokenizer: PreTrainedTokenizerBase | None
    policy: nn.Module  # a causal LM (a PeftModel in lora mode)
    value_head: nn.Linear
    reference: nn.Module | None = None  # full mode only
    value_body: nn.Module | None = None  # full mode only
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_lora(self) -> bool:
        return self.config.mode == "lora"

    @functools.cached_property
    def _adapter_params(self) -> list[nn.Parameter]:
        return [param for pname, param in self.policy.named_parameters() if "lora_" in pname]

    @contextlib.contextmanager
    def _adapter(self, name: str) -> Iterator[None]:
        # peft freezes inactive adapters on switch; both stay trainable for the one optimiser. Switching
        # walks every module, so it is skipped when `name` is already active with every adapter trainable.
        if self.is_lora and (
            self.policy.active_adapter != name or not all(p.requires_grad for p in self._adapter_params)
        ):
            self.policy.set_adapter(name)
            for param in self._adapter_params:
                param.requires_grad_(True)
        yield

    def policy_logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        with self._adapter(POLICY_ADAPTER):
            return self.policy(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits

    @torch.no_grad()
    def reference_logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.is_lora:
            with self.policy.disable_adapter():
                return self.policy(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
        assert self.reference is not None
        return self.reference(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits

    def _lm(self, reference: bool) -> nn.Module:
        if self.is_lora:
            return self.policy.get_base_model()
        lm = self.reference if reference else self.policy
        assert lm is not None
        return lm

    def _plain_head(self, lm: nn.Module) -> bool:
        """True when logits are exactly hidden @ W^T (no bias, soft-capping or logit scale)."""
        head = lm.get_output_embeddings()
        text = lm.config.get_text_config(decoder=True)
        unusual = any(getattr(text, name, None) not in (None, 1.0) for name in FUSED_HEAD_BLOCKERS)
        return isinstance(head, nn.Linear) and head.bias is None and not unusual

    def token_logprobs(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        select: torch.Tensor,
        temperature: float,
        *,
        reference: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(log-probs, entropies) [B, L] of the policy (or reference) at the `select`ed tokens, 0 elsewhere.

        `select` may be on the host: the PPO loop keeps its masks there, so finding the selected
        positions does not wait for the device.

        Runs the decoder body, then the LM head on the selected tokens only, chunk by chunk
        (`ppo.head_logprobs`), so the [B, L, vocab] logits are never built; a model whose head is
        not a plain matrix (bias, soft-capping, logit scale) goes through its full logits instead.
        """
        lm = self._lm(reference)
        if not self._plain_head(lm):
            logits = (self.reference_logits if reference else self.policy_logits)(input_ids, attention_mask)
            keep = ppo.to_device(select, input_ids.device).clone()
            keep[:, 0] = False
            lp = ppo.token_logprobs(logits, input_ids, temperature)
            ent = ppo.token_entropy(logits.detach(), temperature)
            return torch.where(keep, lp, 0.0), torch.where(keep, ent, 0.0)
        grad = torch.is_grad_enabled() and not reference
        with contextlib.ExitStack() as stack:
            stack.enter_context(torch.set_grad_enabled(grad))
            if self.is_lora and reference:
                stack.enter_context(self.policy.disable_adapter())
            elif self.is_lora:
                stack.enter_context(self._adapter(POLICY_ADAPTER))
            hidden = _backbone(lm)(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
            weight = lm.get_output_embeddings().weight
            return ppo.head_logprobs(
                hidden.last_hidden_state,
                weight,
                input_ids,
                select,
                temperature,
                compiled=self.config.compiles(self.device),
            )

    def values(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """V at every position, shape [B, L] (fp32); the trainer reads it at each turn's last prompt token."""
        if self.is_lora:
            with self._adapter(VALUE_ADAPTER):
                body = _backbone(self.policy.get_base_model())
                hidden = body(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
        else:
            assert self.value_body is not None
            hidden = self.value_body(
                input_ids=input_ids, attention_mask=attention_mask, use_cache=False
            ).last_hidden_state
        return self.value_head(hidden.float()).squeeze(-1)

    def generation_model(self) -> nn.Module:
        if self.is_lora:
            self.policy.set_adapter(POLICY_ADAPTER)
        return self.policy

    def trainable_named_parameters(self) -> list[tuple[str, nn.Parameter]]:
        named: list[tuple[str, nn.Parameter]] = []
        with self._adapter(POLICY_ADAPTER):
            named += [(f"policy.{n}", p) for n, p in self.policy.named_parameters() if p.requires_grad]
        if self.value_body is not None:
            named += [(f"value_body.{n}", p) for n, p in self.value_body.named_parameters() if p.requires_grad]
        named += [(f"value_head.{n}", p) for n, p in self.value_head.named_parameters()]
        return named

    def trainable_state(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().cpu().clone() for n, p in self.trainable_named_parameters()}

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        params = dict(self.trainable_named_parameters())
        missing = sorted(set(params) - set(state))
        unexpected = sorted(set(state) - set(params))
        if missing or unexpected:
            raise ValueError(f"checkpoint does not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
        with torch.no_grad():
            for name, param in params.items():
                param.copy_(state[name].to(param.device, param.dtype))

    def merged_policy(self) -> PreTrainedModel:
        """A plain transformers causal LM of the current policy (LoRA merged), on CPU in fp32, for export."""
        if not self.is_lora:
            return uncompiled(copy.deepcopy(self.policy)).to("cpu", torch.float32).eval()
        peft_model = uncompiled(copy.deepcopy(self.policy)).to("cpu", torch.float32)
        peft_model.set_adapter(POLICY_ADAPTER)
        peft_model.delete_adapter(VALUE_ADAPTER)
        return unfuse_lora_mlps(peft_model.merge_and_unload()).eval()


def model_folder_problem(model: str) -> str | None:
    """What is wrong with `model` as a folder ("does not exist", "holds no config.json"), or None.

    "name" or "namespace/name" that is not a folder may be a Hub id, which only loading can tell; anything else
    (absolute, starting with "." or "~", or with more than one "/") can only be a folder.
    """
    folder = Path(model).expanduser()
    looks_like_folder = folder.is_absolute() or model.startswith((".", "~")) or model.count("/") > 1
    if looks_like_folder and not folder.is_dir():
        return "does not exist"
    if folder.is_dir() and not (folder / "config.json").is_file():
        return "holds no config.json"
    return None


def model_load_problem(model: str, error: BaseException) -> str:
    """One line saying why `model` (a folder or a Hub id) did not load, for a command's error message."""
    where = "" if Path(model).expanduser().is_dir() else f" (not a folder in {Path.cwd()}, so a Hub id)"
    return f"cannot load the model {model!r}{where}: " + " ".join(str(error).split())


def load_models(config: RLEFConfig, *, policy: PreTrainedModel | None = None) -> RLEFModels:
    """Load the starting policy from `config.model` (or take `policy`, e.g. a model built in memory)."""
    tokenizer = AutoTokenizer.from_pretrained(config.model)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return build_models(config, tokenizer, policy=policy)


def build_models(config: RLEFConfig, tokenizer: Any, *, policy: PreTrainedModel | None = None) -> RLEFModels:
    """The three networks from `policy` (copied) or from `config.model`, on the configured device and dtype."""
    device = resolve_device(config)
    dtype = resolve_dtype(config, device)

    def fresh_lm() -> PreTrainedModel:
        if policy is not None:
            return uncompiled(copy.deepcopy(policy)).to(dtype)
        return AutoModelForCausalLM.from_pretrained(config.model, dtype=dtype)

    base = fresh_lm().to(device)
    hidden_size = base.config.get_text_config(decoder=True).hidden_size
    generator = torch.Generator().manual_seed(config.seed)
    head = nn.Linear(hidden_size, 1)
    with torch.no_grad():
        # A fresh head: small random weights, zero bias, so the first values are near 0.
        head.weight.copy_(torch.randn(head.weight.shape, generator=generator) * (1.0 / hidden_size) ** 0.5 * 0.1)
        head.bias.zero_()
    head = head.to(device)

    if config.mode == "lora":
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=config.lora_rank,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=lora_target_modules(base, config),
            task_type="CAUSAL_LM",
        )
        for p in base.parameters():
            p.requires_grad_(False)
        peft_model = get_peft_model(base, lora, adapter_name=POLICY_ADAPTER)
        peft_model.add_adapter(VALUE_ADAPTER, lora)
        # peft keeps adapters of a bf16 base in fp32, which casts every adapter input up and back
        # (a fifth of a LoRA update's GPU time on an H100); they compute in the base's dtype and
        # the optimizer's fp32 masters keep their small steps (MasterWeightAdamW).
        for name, param in peft_model.named_parameters():
            if "lora_" in name and param.dtype != dtype:
                param.data = param.data.to(dtype)
        if config.lora_fused_mlp:
            fuse_lora_mlps(peft_model)
        if config.gradient_checkpointing:
            peft_model.gradient_checkpointing_enable()
            peft_model.enable_input_require_grads()
        models = RLEFModels(config, tokenizer, peft_model, head, device=device)
    else:
        reference = fresh_lm().to(device).eval()
        for p in reference.parameters():
            p.requires_grad_(False)
        value_body = _backbone(fresh_lm().to(device))
        if config.gradient_checkpointing:
            base.gradient_checkpointing_enable()
            value_body.gradient_checkpointing_enable()
        models = RLEFModels(config, tokenizer, base, head, reference=reference, value_body=value_body, device=device)
    if config.compiles(device):
        for network in (models.policy, models.reference, models.value_body):
            if network is not None:
                compile_decoder_layers(network)
    models.trainable_named_parameters()  # leaves the policy adapter active and every adapter trainable
    return models


class LoraTargetError(ValueError):
    """`lora_targets` names a layer the model does not have: a config error, not a model that failed to load."""


def lora_target_modules(base: nn.Module, config: RLEFConfig) -> str | list[str]:
    """peft's `target_modules` for `config.lora_targets`, each name checked against the model's linear layers.

    peft adapts whatever matches and only complains when nothing does, so a misspelt name in a list would
    silently leave that projection frozen; here every name must be a linear layer of the decoder.
    """
    names = config.lora_target_names()
    if names is None:
        return "all-linear"
    head = base.get_output_embeddings()
    linear = sorted(
        {name.rsplit(".", 1)[-1] for name, module in base.named_modules() if isinstance(module, nn.Linear)}
        - {name.rsplit(".", 1)[-1] for name, module in base.named_modules() if module is head}
    )
    unknown = [name for name in names if name not in linear]
    if unknown:
        raise LoraTargetError(
            f"lora_targets names {', '.join(unknown)}, which this model has no linear layer of; "
            f"its linear layers: {', '.join(linear)} (or 'all-linear')"
        )
    return names


def compile_decoder_layers(model: nn.Module) -> None:
    """torch.compile every decoder layer of `model` in place (RMSNorm, rotary, SiLU and the casts fuse
    around the matmuls). The sampler runs them eagerly (`torch.compiler.set_stance`),
    as its CUDA graphs capture its own step. All layers share one graph: their weights are its inputs."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
    if not layers:
        raise ValueError(f"compile_layers: {type(model).__name__} has no decoder layers that transformers marks")
    # one entry per adapter state and sequence-length regime; the default limit (8) is too low for
    # LoRA, whose layers run with the policy adapter, the value adapter and none
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
    for layer in layers:
        layer.compile()


def uncompiled(model: nn.Module) -> nn.Module:
    """Drop in-place compilation from `model`'s modules (a deep copy would otherwise call the original's)."""
    for module in model.modules():
        if getattr(module, "_compiled_call_impl", None) is not None:
            module._compiled_call_impl = None
    return model


class MasterWeightAdamW(torch.optim.AdamW):
    """AdamW whose update runs on fp32 master copies of the model's (bf16 or fp16) trainable weights.

    The model keeps computing in its low precision; `step` copies the gradients to the masters,
    updates those, and writes them back rounded. Without masters a bf16 weight cannot take a small
    step: near 0.02 its spacing is 1.2e-4, so an AdamW step of lr 2e-7 (the paper's) rounds away
    and full fine-tuning would not move at all. The masters travel in `state_dict`, so a resumed
    run continues from the unrounded weights.
    """

    def __init__(self, params: list[nn.Parameter], **kwargs: Any) -> None:
        self.model_params = list(params)
        self.masters = [p.detach().float().clone().requires_grad_(True) for p in self.model_params]
        super().__init__(self.masters, **kwargs)

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        # multi-tensor copies: LoRA has hundreds of small tensors, one kernel each would cost more than the step
        targets, grads = [], []
        for param, master in zip(self.model_params, self.masters, strict=True):
            if param.grad is None:
                master.grad = None
                continue
            if master.grad is None:
                master.grad = torch.empty_like(master)
            targets.append(master.grad)
            grads.append(param.grad)
        if grads:
            torch._foreach_copy_(targets, grads)
        loss = super().step(closure)
        torch._foreach_copy_(self.model_params, self.masters)
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        for param in self.model_params:
            if set_to_none:
                param.grad = None
            elif param.grad is not None:
                param.grad.zero_()
        super().zero_grad(set_to_none)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["master_params"] = [m.detach().cpu().clone() for m in self.masters]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        masters = state.pop("master_params", None)
        if masters is None or len(masters) != len(self.masters):
            raise ValueError("optimizer state has no fp32 master weights for this model (saved by another precision?)")
        super().load_state_dict(state)
        with torch.no_grad():
            for param, master, saved in zip(self.model_params, self.masters, masters, strict=True):
                master.copy_(saved.to(master.device))
                param.copy_(master)


def make_optimizer(models: RLEFModels, config: RLEFConfig) -> tuple[torch.optim.Optimizer, Any]:
    """AdamW with the schedule of `RLEFConfig.lr_factor` (linear warm-up, the optional final decay); fp32 master
    weights when any trainable weight is in low precision."""
    params = [p for _, p in models.trainable_named_parameters()]
    kwargs = {"lr": config.effective_lr(), "weight_decay": config.weight_decay, "betas": config.adam_betas}
    low_precision = any(p.dtype in (torch.bfloat16, torch.float16) for p in params)
    if params and all(p.is_cuda for p in params):
        kwargs["fused"] = True  # one kernel for the whole step (CPU keeps the default, and its recorded runs)
    optimizer = MasterWeightAdamW(params, **kwargs) if low_precision else torch.optim.AdamW(params, **kwargs)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, config.lr_factor)
    return optimizer, scheduler
