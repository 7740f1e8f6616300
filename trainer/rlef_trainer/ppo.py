"""The RLEF objective: multi-turn PPO with one value per turn (spec/rlef.md §3-4), in one file.

Shapes: B sequences (episodes) of length L; a sequence holds every turn of one episode.
`policy_mask[b, i]` is True where token i was sampled by the policy (feedback, prompt and
padding are False). Turns are indexed per token by `turn_index[b, i]` (-1 outside policy
tokens) and per turn in flat arrays of length N = total turns in the batch.

    KL_t   = mean_{i in turn t} (log pi_behaviour(y_i) - log pi_ref(y_i))          (k1, length-normalised)
    R_t    = r_t - beta * KL_t
    G_t    = sum_{i >= t} R_i                                                        (Monte Carlo, gamma = 1)
    A_t    = (G_t - V(c_t)), normalised to mean 0, std 1 over the batch's turns     (V read at c_t's last token)
    rho_i  = pi_theta(y_i) / pi_old(y_i)
    w_i    = stop_grad(min(pi_old(y_i) / pi_behaviour(y_i), 1))                      (rollouts that lag the learner)
    L_pi   = - token-mean over policy tokens of  w_i * min(rho_i A_t, clip(rho_i, 1-eps, 1+eps) A_t)
    L_V    = turn-mean of 0.5 * max((V - G)^2, (V_old + clip(V - V_old, -c, c) - G)^2)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """`tensor` on `device`; a CPU tensor goes to a GPU through pinned memory without blocking.

    A plain `.to("cuda")` of pageable memory synchronises the stream, so the GPU drains its queue and
    waits for the host; the PPO loop uploads per forward chunk and must not stall the device there.
    """
    if tensor.device == device:
        return tensor
    if device.type == "cuda" and tensor.device.type == "cpu":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def token_logprobs(logits: torch.Tensor, input_ids: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """log p(input_ids[:, i] | input_ids[:, :i]) for i >= 1; position 0 gets 0. Shape [B, L]."""
    logp = torch.log_softmax(logits[:, :-1].float() / temperature, dim=-1)
    picked = logp.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return torch.cat([torch.zeros_like(picked[:, :1]), picked], dim=1)


def token_entropy(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Entropy of the next-token distribution that produced token i (aligned like `token_logprobs`)."""
    logp = torch.log_softmax(logits[:, :-1].float() / temperature, dim=-1)
    ent = -(logp.exp() * logp).sum(-1)
    return torch.cat([torch.zeros_like(ent[:, :1]), ent], dim=1)


HEAD_CHUNK = 4096  # target tokens per chunk of the fused LM head: [chunk, vocab] fp32 logits at a time


def _chunk_forward(
    logits: torch.Tensor, targets: torch.Tensor, temperature: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """log p(target), entropy and log-normaliser of one chunk of head outputs [chunk, vocab]."""
    z = logits.float() / temperature
    norm = torch.logsumexp(z, dim=-1)
    logprobs = z.gather(-1, targets[:, None]).squeeze(-1) - norm
    entropy = norm - (torch.softmax(z, dim=-1) * z).sum(-1)
    return logprobs, entropy, norm


def _chunk_backward(
    logits: torch.Tensor, lse: torch.Tensor, targets: torch.Tensor, grad: torch.Tensor, temperature: float
) -> torch.Tensor:
    """d loss / d logits of one chunk: grad * (onehot(target) - softmax(z)) / temperature, in the logits' dtype."""
    z = logits.float() / temperature
    dz = torch.exp(z - lse[:, None]) * -grad[:, None]
    dz = dz.scatter_add(-1, targets[:, None], grad[:, None])
    return (dz / temperature).to(logits.dtype)


@functools.cache
def _chunk_functions(compiled: bool) -> tuple[Any, Any]:
    """The chunk math, eager or compiled by torch.compile (one fused pass over the [chunk, vocab] logits)."""
    if not compiled:
        return _chunk_forward, _chunk_backward
    return torch.compile(_chunk_forward, dynamic=True), torch.compile(_chunk_backward, dynamic=True)


class _HeadLogprobs(torch.autograd.Function):
    """log p(target) and entropy from final hidden states and the LM head, chunk by chunk.

    The [tokens, vocab] logits exist one chunk at a time and are recomputed in the backward pass,
    so neither the full logits nor their fp32 log-softmax are ever held (at 151,936 words that is
    the largest tensor of the update). The entropy is a by-product for logging; no gradient flows
    through it.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        hidden: torch.Tensor,
        weight: torch.Tensor,
        targets: torch.Tensor,
        temperature: float,
        chunk: int,
        compiled: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        forward, _ = _chunk_functions(compiled)
        count = hidden.shape[0]
        logprobs = torch.empty(count, dtype=torch.float32, device=hidden.device)
        entropy = torch.empty(count, dtype=torch.float32, device=hidden.device)
        lse = torch.empty(count, dtype=torch.float32, device=hidden.device)
        for a in range(0, count, chunk):
            lp, ent, norm = forward(hidden[a : a + chunk] @ weight.t(), targets[a : a + chunk], temperature)
            logprobs[a : a + chunk], entropy[a : a + chunk], lse[a : a + chunk] = lp, ent, norm
        ctx.save_for_backward(hidden, weight, targets, lse)
        ctx.temperature, ctx.chunk, ctx.compiled = temperature, chunk, compiled
        ctx.mark_non_differentiable(entropy)
        return logprobs, entropy

    @staticmethod
    def backward(ctx: Any, grad_lp: torch.Tensor, _grad_entropy: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        hidden, weight, targets, lse = ctx.saved_tensors
        _, backward = _chunk_functions(ctx.compiled)
        grad_hidden = torch.empty_like(hidden) if ctx.needs_input_grad[0] else None
        grad_weight = (
            torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if ctx.needs_input_grad[1] else None
        )
        for a in range(0, hidden.shape[0], ctx.chunk):
            span = slice(a, a + ctx.chunk)
            h = hidden[span]
            dz = backward(h @ weight.t(), lse[span], targets[span], grad_lp[span], ctx.temperature)
            if grad_hidden is not None:
                grad_hidden[span] = dz @ weight
            if grad_weight is not None:
                grad_weight += (dz.t() @ h).float()
        return grad_hidden, None if grad_weight is None else grad_weight.to(weight.dtype), None, None, None, None


def head_logprobs(
    hidden: torch.Tensor,
    head_weight: torch.Tensor,
    input_ids: torch.Tensor,
    select: torch.Tensor,
    temperature: float = 1.0,
    chunk: int = HEAD_CHUNK,
    compiled: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`token_logprobs` and `token_entropy` from hidden states [B, L, H], only where `select` [B, L] is True.

    Token i is predicted from hidden state i - 1, as in `token_logprobs`; position 0 is never
    selected. Unselected positions get 0. The LM head runs on the selected tokens only;
    `compiled`: the softmax math around it runs through torch.compile.
    """
    picked = select.clone()
    picked[:, 0] = False
    # `select` may stay on the host: its positions are then found there and uploaded without a device sync
    rows, cols = (to_device(x, hidden.device) for x in torch.nonzero(picked, as_tuple=True))
    lp, ent = _HeadLogprobs.apply(
        hidden[rows, cols - 1], head_weight, input_ids[rows, cols], temperature, chunk, compiled
    )
    logprobs = torch.zeros(select.shape, dtype=torch.float32, device=hidden.device)
    entropy = torch.zeros(select.shape, dtype=torch.float32, device=hidden.device)
    logprobs = logprobs.index_put((rows, cols), lp)
    entropy = entropy.index_put((rows, cols), ent)
    return logprobs, entropy


def turn_means(values: torch.Tensor, turn_index: torch.Tensor, num_turns: int) -> torch.Tensor:
    """Mean of `values` over the policy tokens of each turn (turn_index -1 is ignored). Shape [N]."""
    flat_turn = turn_index.reshape(-1)
    keep = flat_turn >= 0
    sums = torch.zeros(num_turns, dtype=torch.float32, device=values.device)
    counts = torch.zeros(num_turns, dtype=torch.float32, device=values.device)
    sums.index_add_(0, flat_turn[keep], values.reshape(-1)[keep].float())
    counts.index_add_(0, flat_turn[keep], torch.ones(int(keep.sum()), device=values.device))
    # A turn without policy tokens (an empty response) has no KL: 0, not NaN.
    return sums / counts.clamp(min=1.0)


def turn_returns(rewards: torch.Tensor, kl: torch.Tensor, episode_of_turn: torch.Tensor, beta: float) -> torch.Tensor:
    """G_t = sum over the episode's turns i >= t of (r_i - beta * KL_i); turns listed episode by episode, in order."""
    shaped = rewards - beta * kl
    returns = torch.empty_like(shaped)
    running = 0.0
    for t in range(shaped.shape[0] - 1, -1, -1):
        if t == shaped.shape[0] - 1 or episode_of_turn[t + 1] != episode_of_turn[t]:
            running = 0.0
        running = float(shaped[t]) + running
        returns[t] = running
    return returns


def normalise_advantages(advantages: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Zero mean, unit variance over the batch's turns (a single turn is only centred)."""
    centred = advantages - advantages.mean()
    if advantages.numel() < 2:
        return centred
    return centred / (advantages.std() + eps)


def broadcast_to_tokens(per_turn: torch.Tensor, turn_index: torch.Tensor) -> torch.Tensor:
    """Give each policy token its turn's value; non-policy tokens get 0."""
    gathered = per_turn[turn_index.clamp(min=0)]
    return torch.where(turn_index >= 0, gathered, torch.zeros_like(gathered))


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


@dataclass
class PolicyLossStats:
    """The loss and three 0-dim statistics, left on the device (reading them would wait for the GPU)."""

    loss: torch.Tensor
    clip_fraction: torch.Tensor
    approx_kl: torch.Tensor  # k3 estimator of KL(old || new), over policy tokens
    is_weight_mean: torch.Tensor


def policy_loss(
    new_logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    behaviour_logprobs: torch.Tensor,
    token_advantages: torch.Tensor,
    policy_mask: torch.Tensor,
    clip_eps: float,
    truncated_is: bool = True,
) -> PolicyLossStats:
    """Clipped surrogate, token-mean over the minibatch's policy tokens."""
    log_ratio = new_logprobs - old_logprobs
    ratio = log_ratio.exp()
    unclipped = ratio * token_advantages
    clipped = ratio.clamp(1.0 - clip_eps, 1.0 + clip_eps) * token_advantages
    surrogate = torch.min(unclipped, clipped)
    if truncated_is:
        weight = (old_logprobs - behaviour_logprobs).clamp(max=0.0).exp().detach()
    else:
        weight = torch.ones_like(surrogate)
    loss = -masked_mean(weight * surrogate, policy_mask)
    with torch.no_grad():
        clip_fraction = masked_mean(((ratio - 1.0).abs() > clip_eps).float(), policy_mask)
        approx_kl = masked_mean((ratio - 1.0) - log_ratio, policy_mask)
        is_weight_mean = masked_mean(weight, policy_mask)
    return PolicyLossStats(loss, clip_fraction, approx_kl, is_weight_mean)


@dataclass
class ValueLossStats:
    loss: torch.Tensor
    clip_fraction: torch.Tensor  # 0-dim, on the device


def value_loss(
    new_values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, clip: float
) -> ValueLossStats:
    """Clipped squared error, one value per turn, mean over the minibatch's turns."""
    unclipped = (new_values - returns) ** 2
    clipped_values = old_values + (new_values - old_values).clamp(-clip, clip)
    clipped = (clipped_values - returns) ** 2
    loss = 0.5 * torch.max(unclipped, clipped).mean()
    with torch.no_grad():
        clip_fraction = ((new_values - old_values).abs() > clip).float().mean()
    return ValueLossStats(loss, clip_fraction)


def explained_variance(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """1 - Var(target - predicted) / Var(target); NaN when the targets do not vary."""
    var_target = target.var()
    if target.numel() < 2 or var_target.item() == 0:
        return float("nan")
    return float(1.0 - (target - predicted).var() / var_target)
