"""LoRA on a gated MLP's three projections as widened matrix products (`lora_fused_mlp`).

peft computes each adapted projection as `x W^T + s (x A^T) B^T`: the base product, the adapter's
A product reading `x` again, and its B product writing a [tokens, out] tensor that is then added to
the base output. In a gated MLP those extra passes over [tokens, 4,864] tensors (the gate and up
outputs, the down projection's input; Qwen2.5-0.5B shape, hidden 896), forward and backward, are
most of LoRA's extra memory traffic.

Here gate and up go through one product over a widened input:

    [gate | up] = [x | a] @ [[W_gate | s_g B_gate | 0], [W_up | 0 | s_u B_up]]^T,   a = x [A_gate; A_up]^T

so the adapters cost a [tokens, 2r] product and K grown by 2r; no [tokens, 4,864] adapter output
exists. The down projection widens its output instead, so its input `h` is read once for both
products:

    [y0 | a] = h @ [W_down; A_down]^T,   y = y0 + s a B_down^T

and its backward gets the input's gradient from one product, `[g | s g B_down] @ [W_down; A_down]`,
where peft adds a second [tokens, 4,864] gradient to the first. Both backwards are custom autograd
functions that never form the frozen weights' gradients.

It changes nothing that is computed, up to rounding (each output is rounded once instead of twice),
and falls back to peft's own path, per projection, whenever a layer is not plain LoRA: adapters
disabled or merged, several active adapters, dropout, DoRA or other variants, biases, a projection
without an adapter (`lora_targets`); and for the whole MLP below a few tokens per call (sampling:
the weights' concatenation would cost more than it saves).
"""

from __future__ import annotations

import types
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

# below this many tokens per call the per-call weight concatenation is not worth it (sampling steps)
MIN_TOKENS_PER_HIDDEN = 4


class _WidenedLinear(torch.autograd.Function):
    """y = [x | a] @ [weight | bs]^T for a frozen `weight`: no weight gradient but the adapters' `bs`."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, a: torch.Tensor, weight: torch.Tensor, bs: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(a, weight, bs)
        return F.linear(torch.cat([x, a], dim=-1), torch.cat([weight, bs], dim=1))

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None, torch.Tensor]:
        a, weight, bs = ctx.saved_tensors
        grad_xa = grad @ torch.cat([weight, bs], dim=1)  # the input's and the adapters' a gradients together
        hidden = weight.shape[1]
        grad_bs = grad.reshape(-1, grad.shape[-1]).t() @ a.reshape(-1, a.shape[-1])
        return grad_xa[..., :hidden], grad_xa[..., hidden:], None, grad_bs


class _OutWidenedLinear(torch.autograd.Function):
    """y = h W^T + (h A^T) bs^T for a frozen `weight` W, the base and A products as one [W; A] product."""

    @staticmethod
    def forward(
        ctx: Any, h: torch.Tensor, weight: torch.Tensor, a_weight: torch.Tensor, bs: torch.Tensor
    ) -> torch.Tensor:
        out = F.linear(h, torch.cat([weight, a_weight]))
        y, a = out.split([weight.shape[0], a_weight.shape[0]], dim=-1)
        a = a.contiguous()  # a [tokens, r] copy: saving the view would keep all of `out` alive
        ctx.save_for_backward(h, a, weight, a_weight, bs)
        return y + F.linear(a, bs)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, torch.Tensor, torch.Tensor]:
        h, a, weight, a_weight, bs = ctx.saved_tensors
        grad_a = grad @ bs  # [tokens, r]
        grad_h = torch.cat([grad, grad_a], dim=-1) @ torch.cat([weight, a_weight])  # one [tokens, in] gradient
        grad_a_weight = grad_a.reshape(-1, grad_a.shape[-1]).t() @ h.reshape(-1, h.shape[-1])
        grad_bs = grad.reshape(-1, grad.shape[-1]).t() @ a.reshape(-1, a.shape[-1])
        return grad_h, None, grad_a_weight, grad_bs


def _plain_adapter(layer: nn.Module) -> str | None:
    """The one active adapter of a peft LoRA Linear when it computes plain LoRA, else None."""
    if getattr(layer, "disable_adapters", True) or getattr(layer, "merged", True):
        return None
    active = list(getattr(layer, "active_adapters", ()))
    if len(active) != 1:
        return None
    name = active[0]
    if name not in layer.lora_A or name in getattr(layer, "lora_variant", {}):
        return None
    if not isinstance(layer.lora_dropout[name], nn.Identity):
        return None
    if layer.lora_B[name].bias is not None or layer.base_layer.bias is not None:
        return None
    return name


def _fused_gate_up(mlp: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    gate, up = mlp.gate_proj, mlp.up_proj
    name = _plain_adapter(gate)
    if name is None or _plain_adapter(up) != name:
        return gate(x), up(x)
    a_gate, a_up = gate.lora_A[name].weight, up.lora_A[name].weight
    b_gate = gate.lora_B[name].weight * gate.scaling[name]
    b_up = up.lora_B[name].weight * up.scaling[name]
    w_gate, w_up = gate.base_layer.weight, up.base_layer.weight
    a = F.linear(x.to(a_gate.dtype), torch.cat([a_gate, a_up]))
    bs = torch.cat(
        [
            torch.cat([b_gate, b_gate.new_zeros(b_gate.shape[0], a_up.shape[0])], dim=1),
            torch.cat([b_up.new_zeros(b_up.shape[0], a_gate.shape[0]), b_up], dim=1),
        ]
    )
    gate_up = _WidenedLinear.apply(x, a.to(x.dtype), torch.cat([w_gate, w_up]), bs.to(x.dtype))
    g, u = gate_up.split([w_gate.shape[0], w_up.shape[0]], dim=-1)
    return g, u


def _fused_down(mlp: nn.Module, h: torch.Tensor) -> torch.Tensor:
    down = mlp.down_proj
    name = _plain_adapter(down)
    if name is None:
        return down(h)
    a_down = down.lora_A[name].weight.to(h.dtype)
    b_down = (down.lora_B[name].weight * down.scaling[name]).to(h.dtype)
    return _OutWidenedLinear.apply(h, down.base_layer.weight, a_down, b_down)


def _fused_forward(mlp: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if x.numel() // x.shape[-1] < MIN_TOKENS_PER_HIDDEN * x.shape[-1]:
        return mlp._rlef_unfused_forward(x)
    g, u = _fused_gate_up(mlp, x)
    return _fused_down(mlp, mlp.act_fn(g) * u)


def _is_gated_mlp(module: nn.Module) -> bool:
    from peft.tuners.lora import Linear as LoraLinear

    names = ("gate_proj", "up_proj", "down_proj")
    return all(hasattr(module, n) for n in (*names, "act_fn")) and any(
        isinstance(getattr(module, n), LoraLinear) for n in names
    )


def fuse_lora_mlps(model: nn.Module) -> int:
    """Route every gated MLP with a LoRA adapter on any of its projections through the fused path.

    Returns how many MLPs were routed; calling it again changes nothing.
    """
    count = 0
    for module in model.modules():
        if not _is_gated_mlp(module):
            continue
        if not hasattr(module, "_rlef_unfused_forward"):
            module._rlef_unfused_forward = module.forward
            module.forward = types.MethodType(_fused_forward, module)
        count += 1
    return count


def unfuse_lora_mlps(model: nn.Module) -> nn.Module:
    """Give every routed MLP its own forward back (a merged copy for export is a plain transformers model)."""
    for module in model.modules():
        if hasattr(module, "_rlef_unfused_forward"):
            del module.forward  # the instance attribute: the class's forward shows again
            del module._rlef_unfused_forward
    return model
