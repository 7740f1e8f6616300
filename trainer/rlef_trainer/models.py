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
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from rlef_trainer.config import RLEFConfig

POLICY_ADAPTER = "policy"
VALUE_ADAPTER = "value"


def resolve_device(config: RLEFConfig) -> torch.device:
    if config.device != "auto":
        return torch.device(config.device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


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

    @contextlib.contextmanager
    def _adapter(self, name: str) -> Iterator[None]:
        if self.is_lora:
            self.policy.set_adapter(name)
            # peft freezes inactive adapters on switch; both stay trainable for the one optimiser.
            for pname, param in self.policy.named_parameters():
                if "lora_" in pname:
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
            return copy.deepcopy(self.policy).to("cpu", torch.float32).eval()
        peft_model = copy.deepcopy(self.policy).to("cpu", torch.float32)
        peft_model.set_adapter(POLICY_ADAPTER)
        peft_model.delete_adapter(VALUE_ADAPTER)
        return peft_model.merge_and_unload().eval()


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
            return copy.deepcopy(policy).to(dtype)
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
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        )
        for p in base.parameters():
            p.requires_grad_(False)
        peft_model = get_peft_model(base, lora, adapter_name=POLICY_ADAPTER)
        peft_model.add_adapter(VALUE_ADAPTER, lora)
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
    models.trainable_named_parameters()  # leaves the policy adapter active and every adapter trainable
    return models
