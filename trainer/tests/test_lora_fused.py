"""lora_fused_mlp: the MLP's projections with their adapters as widened products compute what peft computes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch

from rlef_trainer import lora_fused
from rlef_trainer.config import RLEFConfig
from rlef_trainer.models import RLEFModels, load_models


def _models(tiny_model_dir: Path, fused: bool, **overrides: Any) -> RLEFModels:
    settings: dict[str, Any] = {"mode": "lora", "device": "cpu", "lora_rank": 4, "seed": 1} | overrides
    torch.manual_seed(0)  # peft draws the A matrices from torch's global generator
    models = load_models(RLEFConfig(model=str(tiny_model_dir), lora_fused_mlp=fused, **settings))
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():  # B starts at 0 (no adapter effect); give both adapters weights that matter
        for name, param in sorted(models.policy.named_parameters()):
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.3)
    return models


class _Calls:
    """How often each fused product ran: `gate_up` (the widened input) and `down` (the widened output)."""

    def __init__(self) -> None:
        self.gate_up = 0
        self.down = 0


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> _Calls:
    calls = _Calls()

    def counted(function: Any, field: str) -> Any:
        class Counted(function):  # type: ignore[misc, valid-type]
            @staticmethod
            def forward(ctx: Any, *args: Any) -> torch.Tensor:  # type: ignore[override]
                setattr(calls, field, getattr(calls, field) + 1)
                return function.forward(ctx, *args)

        return Counted

    monkeypatch.setattr(lora_fused, "_WidenedLinear", counted(lora_fused._WidenedLinear, "gate_up"))
    monkeypatch.setattr(lora_fused, "_OutWidenedLinear", counted(lora_fused._OutWidenedLinear, "down"))
    return calls


def _outputs(models: RLEFModels, ids: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Policy and reference log-probs and values, then the gradients of every trainable weight."""
    attn = torch.ones_like(ids)
    select = torch.ones_like(ids, dtype=torch.bool)
    logprobs, _ = models.token_logprobs(ids, attn, select, 1.0)
    reference, _ = models.token_logprobs(ids, attn, select, 1.0, reference=True)
    values = models.values(ids, attn)
    (logprobs.mean() + values.mean()).backward()
    grads = [p.grad.clone() for _, p in models.trainable_named_parameters()]
    return [logprobs.detach(), reference, values.detach()], grads


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / a.norm().clamp_min(1e-12))


@pytest.mark.parametrize("checkpointing", [False, True])
def test_the_fused_path_scores_and_trains_as_peft_under_both_adapters(
    tiny_model_dir: Path, counting: _Calls, checkpointing: bool
) -> None:
    ids = torch.randint(0, 1000, (3, 120))  # 360 tokens: above the fused path's 4 x hidden (256)
    plain = _models(tiny_model_dir, fused=False, gradient_checkpointing=checkpointing)
    fused = _models(tiny_model_dir, fused=True, gradient_checkpointing=checkpointing)
    for models in (plain, fused):
        models.policy.train()  # as the trainer updates them (checkpointing acts in training mode only)
    layers = fused.policy.config.num_hidden_layers
    assert (counting.gate_up, counting.down) == (0, 0)
    a_out, a_grads = _outputs(plain, ids)
    assert (counting.gate_up, counting.down) == (0, 0)  # peft's path for the unfused model
    b_out, b_grads = _outputs(fused, ids)
    # policy and value adapters, each layer once (and again in the backward when checkpointing recomputes
    # the layers); the reference (adapters disabled) takes peft's path
    expected = 2 * layers * (2 if checkpointing else 1)
    assert (counting.gate_up, counting.down) == (expected, expected)
    for a, b in zip(a_out, b_out, strict=True):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(a_out[0], a_out[1], atol=1e-2)  # the adapters matter here
    assert len(a_grads) == len(b_grads) > 0
    for a, b in zip(a_grads, b_grads, strict=True):
        assert _relative(a, b) < 1e-5
    for projection in ("gate_proj", "up_proj", "down_proj"):
        for matrix in ("lora_A", "lora_B"):
            grads = [
                g
                for (n, _), g in zip(fused.trainable_named_parameters(), b_grads, strict=True)
                if f"{projection}.{matrix}" in n
            ]
            assert len(grads) == 2 * layers and all(g.abs().max() > 0 for g in grads), (projection, matrix)


def test_the_fused_path_steps_aside_where_it_would_not_be_plain_lora(tiny_model_dir: Path, counting: _Calls) -> None:
    few = torch.randint(0, 1000, (2, 12))  # sampling-sized calls: 24 tokens
    plain, fused = _models(tiny_model_dir, fused=False), _models(tiny_model_dir, fused=True)
    for a, b in zip(_outputs(plain, few)[0], _outputs(fused, few)[0], strict=True):
        assert torch.equal(a, b)
    assert (counting.gate_up, counting.down) == (0, 0)
    many = torch.randint(0, 1000, (3, 120))
    dropout = _models(tiny_model_dir, fused=True, lora_dropout=0.1)  # dropout is not plain LoRA
    dropout.policy.eval()
    _outputs(dropout, many)
    assert (counting.gate_up, counting.down) == (0, 0)
    only_attention = _models(tiny_model_dir, fused=True, lora_targets="q_proj,v_proj")  # no MLP adapters
    assert lora_fused.fuse_lora_mlps(only_attention.policy) == 0
    assert lora_fused.fuse_lora_mlps(fused.policy) == fused.policy.config.num_hidden_layers  # again: no change
    fused.policy.base_model.set_adapter(["policy", "value"])  # two active adapters at once: peft's path
    with torch.no_grad():
        fused.policy(input_ids=many, attention_mask=torch.ones_like(many))
    assert (counting.gate_up, counting.down) == (0, 0)


@pytest.mark.parametrize(
    ("targets", "gate_up", "down"),
    [("down_proj", False, True), ("gate_proj,up_proj", True, False), ("gate_proj,down_proj", False, True)],
)
def test_with_some_projections_adapted_each_part_takes_the_fused_path_only_where_it_applies(
    tiny_model_dir: Path, counting: _Calls, targets: str, gate_up: bool, down: bool
) -> None:
    ids = torch.randint(0, 1000, (3, 120))
    a_out, a_grads = _outputs(_models(tiny_model_dir, fused=False, lora_targets=targets), ids)
    fused = _models(tiny_model_dir, fused=True, lora_targets=targets)
    b_out, b_grads = _outputs(fused, ids)
    calls = 2 * fused.policy.config.num_hidden_layers  # both adapters, every layer
    assert (counting.gate_up, counting.down) == (calls if gate_up else 0, calls if down else 0)
    for a, b in zip(a_out, b_out, strict=True):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-5)
    assert len(a_grads) == len(b_grads) > 0
    for a, b in zip(a_grads, b_grads, strict=True):
        assert _relative(a, b) < 1e-5


def test_a_fused_model_copies_and_exports_as_a_plain_transformers_model(tiny_model_dir: Path, counting: _Calls) -> None:
    fused = _models(tiny_model_dir, fused=True)
    ids = torch.randint(0, 1000, (3, 120))
    attn = torch.ones_like(ids)
    with torch.no_grad():
        policy = fused.policy(input_ids=ids, attention_mask=attn).logits
        twin = copy.deepcopy(fused.policy)
        assert torch.equal(twin(input_ids=ids, attention_mask=attn).logits, policy)
    layers = fused.policy.config.num_hidden_layers
    assert (counting.gate_up, counting.down) == (2 * layers, 2 * layers)  # the copy routes its own MLPs
    merged = fused.merged_policy()
    assert not any(hasattr(m, "_rlef_unfused_forward") or "forward" in vars(m) for m in merged.modules())
    with torch.no_grad():
        assert _relative(policy, merged(input_ids=ids, attention_mask=attn).logits) < 1e-5


def test_compiled_fused_layers_score_and_train_as_peft_eager(tiny_model_dir: Path, counting: _Calls) -> None:
    ids = torch.randint(0, 1000, (3, 120))
    eager = _outputs(_models(tiny_model_dir, fused=False), ids)
    compiled = _outputs(_models(tiny_model_dir, fused=True, compile_layers="on"), ids)
    assert counting.gate_up > 0 and counting.down > 0  # traced through the fused path
    for a, b in zip(eager[0], compiled[0], strict=True):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-5)
    for a, b in zip(eager[1], compiled[1], strict=True):
        assert _relative(a, b) < 1e-4


def test_in_bf16_the_fused_path_is_as_close_to_the_fp32_computation_as_peft(tiny_model_dir: Path) -> None:
    """On a GPU the networks compute in bf16: there the fused path rounds once where peft rounds twice."""
    ids = torch.randint(0, 1000, (3, 120), generator=torch.Generator().manual_seed(1))

    def run(dtype: str, fused: bool) -> list[torch.Tensor]:
        models = _models(tiny_model_dir, fused=fused, dtype=dtype, lora_alpha=8)
        with torch.no_grad():  # the same weights in both precisions: every weight rounded to bf16 first
            for _, param in models.policy.named_parameters():
                param.copy_(param.to(torch.bfloat16).to(param.dtype))
        outputs, grads = _outputs(models, ids)
        return [t.float() for t in outputs + grads]

    exact = run("float32", fused=False)
    errors = {}
    for fused in (False, True):
        low = run("bfloat16", fused)
        errors[fused] = [_relative(e, x) for e, x in zip(exact, low, strict=True)]
    assert errors[False][0] > 0 and max(errors[False]) < 0.2  # bf16 differs from fp32, and not by much
    for peft_error, fused_error in zip(errors[False], errors[True], strict=True):
        assert fused_error < 1.2 * peft_error + 1e-3
