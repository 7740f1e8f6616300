"""The trainer's own batched sampler: a static KV cache, one fused decode step, CUDA graphs on GPU.

`sample_responses` in `rollout.py` calls it when `rollout_engine` resolves to "static" (the
default on CUDA). Per call it left-pads the prompts into a fixed (batch, cache length) slot,
prefills the cache in one forward that keeps only the last position's logits, then decodes with
one step that does everything on the device: the forward over one token per row, sampling at the
given temperature (and top-p), the sampler's log-prob of the drawn token under that processed
distribution, the stop check, and the writes into the output buffers. On CUDA that step is
captured once per shape as a CUDA graph and replayed per token, so the host only launches; it
checks for "all rows stopped" every `sync_every` tokens. The `max_shapes` most recent shapes keep
their cache and graph (a rollout's turns have different widths).

Why not `model.generate`: HF generate returns the processed scores of every step to give the
log-probs (batch x steps x vocab floats, 40 GB at 256 x 256 x 151936) and syncs with the host
every token. Decode attention here reads the grouped K/V heads without repeating them (HF's
SDPA path copies every K/V head group when a mask is given), through an attention function
registered with transformers and switched on only while sampling.

The left-padded layout: row b's prompt ends at slot W-1 for every row, so all rows write the
same cache slot per step; position ids count only the row's own tokens, and a boolean mask
(batch, 1, 1, L) hides the padding and the not-yet-written slots.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from transformers import AttentionInterface, StaticCache
from transformers.integrations.sdpa_attention import sdpa_attention_forward

ATTENTION_NAME = "rlef_static_kv"
CACHE_BUCKET = 128  # cache lengths are rounded up to this, so turns of similar length share a graph


def _grouped_decode_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """One query token per row against the whole static cache, K/V heads shared by their query group."""
    if query.shape[2] != 1 or attention_mask is None or attention_mask.dtype != torch.bool:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, **kwargs)
    batch, heads, _, dim = query.shape
    kv_heads, length = key.shape[1], key.shape[2]
    groups = heads // kv_heads
    scale = scaling if scaling is not None else dim**-0.5
    q = query.reshape(batch, kv_heads, groups, dim)
    scores = torch.matmul(q, key.transpose(-1, -2)).float() * scale  # [B, Hkv, G, L]
    scores = scores.masked_fill(~attention_mask.view(batch, 1, 1, length), float("-inf"))
    probs = torch.softmax(scores, dim=-1).to(value.dtype)
    out = torch.matmul(probs, value)  # [B, Hkv, G, D]
    return out.reshape(batch, heads, 1, dim).transpose(1, 2).contiguous(), None


AttentionInterface.register(ATTENTION_NAME, _grouped_decode_attention)


@contextmanager
def _attention(model: Any, name: str) -> Iterator[None]:
    config = model.config
    before = config._attn_implementation
    config._attn_implementation = name
    try:
        yield
    finally:
        config._attn_implementation = before


def _bucket(n: int, size: int) -> int:
    return -(-n // size) * size


@dataclass
class _Slot:
    """Everything one (batch, cache length) shape needs, allocated once and reused by every call."""

    batch: int
    length: int
    cache: StaticCache
    token: torch.Tensor  # [B, 1] token fed to the next step
    position: torch.Tensor  # [B, 1] its position id
    slot: torch.Tensor  # [1] cache slot it is written to (same for every row)
    step: torch.Tensor  # [1] output column of the next token
    mask: torch.Tensor  # [B, 1, 1, L] visible cache slots
    done: torch.Tensor  # [B] row has produced a stop token (or is a filler row)
    out_tokens: torch.Tensor  # [B, max_new]
    out_logprobs: torch.Tensor  # [B, max_new]
    graph: Any = None


class StaticSampler:
    """Batched sampling with per-token log-probs, a static KV cache and (on CUDA) one CUDA graph per shape."""

    def __init__(
        self,
        model: Any,
        *,
        stop_ids: set[int],
        pad_id: int,
        temperature: float,
        top_p: float,
        use_graphs: bool | None = None,
        sync_every: int = 16,
        max_shapes: int = 3,
    ) -> None:
        if temperature <= 0:
            raise ValueError("the static sampler samples; temperature must be > 0")
        if not 0 < top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        self._model = weakref.ref(model)  # the sampler is cached beside its model (rollout._SAMPLERS)
        self.device = next(model.parameters()).device
        self.temperature = temperature
        self.top_p = top_p
        self.pad_id = pad_id
        self.use_graphs = self.device.type == "cuda" if use_graphs is None else use_graphs
        self.sync_every = sync_every
        vocab = model.get_output_embeddings().weight.shape[0]
        self.is_stop = torch.zeros(vocab, dtype=torch.bool, device=self.device)
        self.is_stop[sorted(stop_ids)] = True
        self.max_shapes = max_shapes
        self._slots: OrderedDict[tuple[int, int, int], _Slot] = OrderedDict()

    @property
    def model(self) -> Any:
        model = self._model()
        if model is None:
            raise RuntimeError("the sampler's model is gone")
        return model

    # -- one decode step (captured as a graph on CUDA) ------------------------------------------

    def _draw(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = logits.float() / self.temperature
        if self.top_p < 1:
            sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
            probs = torch.softmax(sorted_logits, dim=-1)
            # drop a token when the tokens ranked above it already hold top_p of the mass
            drop_sorted = (torch.cumsum(probs, dim=-1) - probs) >= self.top_p
            drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
            logits = logits.masked_fill(drop, float("-inf"))
        logprobs = torch.log_softmax(logits, dim=-1)
        # Gumbel-max: argmax(logp + Gumbel noise) is an exact draw from softmax(logp).
        noise = -torch.log(-torch.log(torch.rand_like(logprobs).clamp_(min=1e-20)))
        token = torch.argmax(logprobs + noise, dim=-1)
        return token, logprobs.gather(-1, token.unsqueeze(-1)).squeeze(-1)

    def _step(self, s: _Slot) -> None:
        out = self.model(
            input_ids=s.token,
            position_ids=s.position,
            attention_mask=s.mask,
            past_key_values=s.cache,
            cache_position=s.slot,
            use_cache=True,
        )
        token, logprob = self._draw(out.logits[:, -1])
        token = torch.where(s.done, self.pad_id, token)
        logprob = torch.where(s.done, 0.0, logprob)
        s.out_tokens.index_copy_(1, s.step, token.unsqueeze(1))
        s.out_logprobs.index_copy_(1, s.step, logprob.unsqueeze(1))
        s.done.logical_or_(self.is_stop[token])
        s.token.copy_(token.unsqueeze(1))
        s.position.add_(1)
        s.slot.add_(1)
        s.step.add_(1)
        s.mask.index_fill_(-1, s.slot.clamp(max=s.length - 1), True)

    # -- shapes ---------------------------------------------------------------------------------

    def _slot(self, batch: int, length: int, max_new: int) -> _Slot:
        key = (batch, length, max_new)
        if key in self._slots:
            self._slots.move_to_end(key)
            return self._slots[key]
        # a cache and a graph per shape, the `max_shapes` most recent kept (a rollout's turns have
        # different prompt widths: one shape each), so memory stays bounded
        while len(self._slots) >= self.max_shapes:
            self._slots.popitem(last=False)
        dev = self.device
        cache = StaticCache(config=self.model.config, max_cache_len=length)
        s = _Slot(
            batch=batch,
            length=length,
            cache=cache,
            token=torch.zeros(batch, 1, dtype=torch.long, device=dev),
            position=torch.zeros(batch, 1, dtype=torch.long, device=dev),
            slot=torch.zeros(1, dtype=torch.long, device=dev),
            step=torch.zeros(1, dtype=torch.long, device=dev),
            mask=torch.zeros(batch, 1, 1, length, dtype=torch.bool, device=dev),
            done=torch.zeros(batch, dtype=torch.bool, device=dev),
            out_tokens=torch.zeros(batch, max_new, dtype=torch.long, device=dev),
            out_logprobs=torch.zeros(batch, max_new, dtype=torch.float32, device=dev),
        )
        self._slots[key] = s
        return s

    def _capture(self, s: _Slot) -> None:
        """Warm up on a side stream, then record one step; state written meanwhile is reset by `sample`."""
        s.step.zero_()
        s.mask[..., 0] = True
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):
            for _ in range(3):
                s.step.zero_()
                self._step(s)
        torch.cuda.current_stream(self.device).wait_stream(stream)
        s.step.zero_()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._step(s)
        s.graph = graph

    # -- the public call ------------------------------------------------------------------------

    @torch.no_grad()
    def sample(
        self, prompts: list[list[int]], max_new_tokens: int, batch_size: int
    ) -> list[tuple[list[int], list[float], bool]]:
        """Same contract as `rollout.sample_responses`: (ids up to and including the stop, log-probs, stopped)."""
        out: list[tuple[list[int], list[float], bool]] = []
        if any(len(p) == 0 for p in prompts):
            raise ValueError("every prompt needs at least one token")
        # eager: decoder layers compiled for the update (compile_layers) would otherwise be traced here
        with _attention(self.model, ATTENTION_NAME), torch.compiler.set_stance("force_eager"):
            for start in range(0, len(prompts), batch_size):
                out += self._sample_chunk(prompts[start : start + batch_size], max_new_tokens, batch_size)
        return out

    def _sample_chunk(
        self, chunk: list[list[int]], max_new: int, batch_size: int
    ) -> list[tuple[list[int], list[float], bool]]:
        rows = len(chunk)
        batch = batch_size if self.use_graphs else rows  # graphs: one fixed batch; filler rows start done
        width = max(len(p) for p in chunk)
        length = _bucket(width + max_new, CACHE_BUCKET)
        s = self._slot(batch, length, max_new)
        if self.use_graphs and s.graph is None:
            self._capture(s)
        dev = self.device
        ids = torch.full((batch, width), self.pad_id, dtype=torch.long)
        valid = torch.zeros((batch, width), dtype=torch.bool)
        for r, p in enumerate(chunk):
            ids[r, width - len(p) :] = torch.tensor(p)
            valid[r, width - len(p) :] = True
        valid[rows:, -1] = True  # filler rows: one visible token, so no row attends to nothing
        ids, valid = ids.to(dev), valid.to(dev)
        positions = (valid.long().cumsum(-1) - 1).clamp(min=0)
        slots = torch.arange(length, device=dev)
        # prefill mask [B, 1, W, L]: a query sees its row's real tokens at or before its own slot
        seen = torch.zeros(batch, length, dtype=torch.bool, device=dev)
        seen[:, :width] = valid
        query_slot = torch.arange(width, device=dev)[:, None]
        causal = slots[None, :] <= query_slot
        # padding queries see themselves only: a query that sees nothing gives NaN states, and those would
        # reach real tokens through the padding slots' keys and values (0 weight x NaN is NaN)
        own = slots[None, :] == query_slot
        prefill_mask = (seen[:, None, None, :] & causal[None, None]) | own[None, None]
        s.cache.reset()
        logits = self.model(
            input_ids=ids,
            position_ids=positions,
            attention_mask=prefill_mask,
            past_key_values=s.cache,
            cache_position=torch.arange(width, device=dev),
            use_cache=True,
            logits_to_keep=1,
        ).logits[:, -1]
        token, logprob = self._draw(logits)
        done = torch.zeros(batch, dtype=torch.bool, device=dev)
        done[rows:] = True
        token = torch.where(done, self.pad_id, token)
        s.out_tokens.zero_()
        s.out_logprobs.zero_()
        s.out_tokens[:, 0] = token
        s.out_logprobs[:, 0] = torch.where(done, 0.0, logprob)
        s.done.copy_(done | self.is_stop[token])
        s.token.copy_(token.unsqueeze(1))
        s.position.copy_(positions[:, -1:] + 1)
        s.slot.fill_(width)
        s.step.fill_(1)
        s.mask.copy_(seen[:, None, None, :])
        s.mask[..., width] = True
        run: Callable[[], None] = s.graph.replay if s.graph is not None else (lambda: self._step(s))
        for n in range(1, max_new):
            if n % self.sync_every == 0 and bool(s.done.all()):
                break
            run()
        hit = self.is_stop[s.out_tokens[:rows]]  # [rows, max_new]: where each row drew a stop token
        stopped = hit.any(-1)
        cuts = torch.where(stopped, hit.int().argmax(-1) + 1, max_new).tolist()
        tokens = s.out_tokens[:rows].tolist()
        logprobs = s.out_logprobs[:rows].tolist()
        return [(tokens[r][: cuts[r]], logprobs[r][: cuts[r]], stop) for r, stop in enumerate(stopped.tolist())]
