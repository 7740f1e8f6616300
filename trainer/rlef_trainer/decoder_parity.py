"""Greedy decoding of the same prompts through PyTorch and through the exported ONNX decoder.

Both paths are fed identical inputs step by step (left-padded batch, explicit position
ids, KV cache), so their logits and tokens can be compared directly. The export step uses
this to check an exported model before it is handed to the editor, and the parity test
holds the fixture to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from transformers import DynamicCache, PreTrainedModel

from rlef_trainer.export_onnx import past_input_names, present_output_names


@dataclass
class GreedyTrace:
    """What a greedy decode produced: tokens [batch, steps] and the logits that chose them."""

    tokens: np.ndarray
    # One [batch, vocab] array per step: the logits at each row's last position.
    step_logits: list[np.ndarray]


def left_padded_batch(prompts: list[list[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and attention mask of prompts left-padded to the longest one."""
    if not prompts or any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token")
    width = max(len(p) for p in prompts)
    input_ids = np.full((len(prompts), width), pad_id, dtype=np.int64)
    attention_mask = np.zeros((len(prompts), width), dtype=np.int64)
    for row, prompt in enumerate(prompts):
        input_ids[row, width - len(prompt) :] = prompt
        attention_mask[row, width - len(prompt) :] = 1
    return input_ids, attention_mask


def position_ids_for(attention_mask: np.ndarray, new_tokens: int) -> np.ndarray:
    """Positions of the last `new_tokens` columns: count of real tokens before each, pads at 1.

    Pads get 1 rather than -1 as transformers' generate() does, so both runtimes see the
    same (ignored) value there.
    """
    positions = np.cumsum(attention_mask, axis=1) - 1
    positions = np.where(attention_mask == 0, 1, positions)
    return positions[:, -new_tokens:].astype(np.int64)


class OnnxDecoder:
    """An onnxruntime session over `onnx/model.onnx` of a model folder."""

    def __init__(self, onnx_path: str | Path) -> None:
        path = Path(onnx_path)
        if not path.is_file():
            raise FileNotFoundError(f"no ONNX decoder at {path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        inputs = {i.name: i for i in self.session.get_inputs()}
        for required in ("input_ids", "attention_mask", "position_ids", "past_key_values.0.key"):
            if required not in inputs:
                raise ValueError(f"{path} is not a decoder with a KV cache: input {required!r} is missing")
        self.num_layers = sum(1 for name in inputs if name.startswith("past_key_values.") and name.endswith(".key"))
        key_shape = inputs["past_key_values.0.key"].shape
        self.num_kv_heads, self.head_dim = int(key_shape[1]), int(key_shape[3])

    def empty_past(self, batch: int) -> dict[str, np.ndarray]:
        shape = (batch, self.num_kv_heads, 0, self.head_dim)
        return {name: np.zeros(shape, dtype=np.float32) for name in past_input_names(self.num_layers)}

    def step(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, position_ids: np.ndarray, past: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """One forward pass; returns logits [batch, seq, vocab] and the next step's past."""
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids, **past}
        outputs = self.session.run(None, feeds)
        names = [o.name for o in self.session.get_outputs()]
        by_name = dict(zip(names, outputs, strict=True))
        next_past = {
            past_name: by_name[present_name]
            for past_name, present_name in zip(
                past_input_names(self.num_layers), present_output_names(self.num_layers), strict=True
            )
        }
        return by_name["logits"], next_past


def greedy_decode_onnx(
    decoder: OnnxDecoder, input_ids: np.ndarray, attention_mask: np.ndarray, steps: int
) -> GreedyTrace:
    past = decoder.empty_past(input_ids.shape[0])
    step_input, mask = input_ids, attention_mask
    tokens: list[np.ndarray] = []
    step_logits: list[np.ndarray] = []
    for _ in range(steps):
        logits, past = decoder.step(step_input, mask, position_ids_for(mask, step_input.shape[1]), past)
        last = logits[:, -1, :]
        chosen = last.argmax(axis=-1).astype(np.int64)
        tokens.append(chosen)
        step_logits.append(last)
        step_input = chosen[:, None]
        mask = np.concatenate([mask, np.ones_like(chosen[:, None])], axis=1)
    return GreedyTrace(tokens=np.stack(tokens, axis=1), step_logits=step_logits)


@torch.no_grad()
def greedy_decode_torch(
    model: PreTrainedModel, input_ids: np.ndarray, attention_mask: np.ndarray, steps: int
) -> GreedyTrace:
    model.eval()
    cache = DynamicCache(config=model.config)
    step_input, mask = input_ids, attention_mask
    tokens: list[np.ndarray] = []
    step_logits: list[np.ndarray] = []
    for _ in range(steps):
        output = model(
            input_ids=torch.from_numpy(step_input),
            attention_mask=torch.from_numpy(mask),
            position_ids=torch.from_numpy(position_ids_for(mask, step_input.shape[1])),
            past_key_values=cache,
            use_cache=True,
        )
        cache = output.past_key_values
        last = output.logits[:, -1, :].float().numpy()
        chosen = last.argmax(axis=-1).astype(np.int64)
        tokens.append(chosen)
        step_logits.append(last)
        step_input = chosen[:, None]
        mask = np.concatenate([mask, np.ones_like(chosen[:, None])], axis=1)
    return GreedyTrace(tokens=np.stack(tokens, axis=1), step_logits=step_logits)


def max_logit_difference(a: GreedyTrace, b: GreedyTrace) -> float:
    return max(float(np.abs(x - y).max()) for x, y in zip(a.step_logits, b.step_logits, strict=True))


@dataclass(frozen=True)
class ParityReport:
    tokens_equal: bool
    max_abs_logit_diff: float  # over every step
    steps: int
    first_step_max_abs_logit_diff: float  # the empty-cache step (on the left-padded batch)


def check_decoder_parity(
    model: PreTrainedModel, onnx_path: str | Path, prompts: list[list[int]], pad_id: int, steps: int = 20
) -> ParityReport:
    """Greedy-decode `prompts` (left-padded into one batch) through both runtimes and compare."""
    input_ids, attention_mask = left_padded_batch(prompts, pad_id)
    reference = greedy_decode_torch(model, input_ids, attention_mask, steps)
    exported = greedy_decode_onnx(OnnxDecoder(onnx_path), input_ids, attention_mask, steps)
    return ParityReport(
        tokens_equal=bool(np.array_equal(reference.tokens, exported.tokens)),
        max_abs_logit_diff=max_logit_difference(reference, exported),
        steps=steps,
        first_step_max_abs_logit_diff=float(np.abs(reference.step_logits[0] - exported.step_logits[0]).max()),
    )
