"""Export a transformers decoder-only causal LM to the ONNX layout of the model folder.

This is the one home of ONNX export: the tiny fixture uses it, and so will the trainer's
"export the tuned model" step. The layout is the one transformers.js reads from the Hub's
ONNX repositories (see the "Model folder" contract in the design):

    inputs   input_ids [batch, seq], attention_mask [batch, past + seq],
             position_ids [batch, seq],
             past_key_values.{i}.key / .value [batch, kv_heads, past, head_dim]
    outputs  logits [batch, seq, vocab], present.{i}.key / .value [batch, kv_heads, past + seq, head_dim]

An empty past (past = 0) is the first step of a generation.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch
from transformers import DynamicCache, PreTrainedModel

ONNX_SUBDIR = "onnx"
ONNX_FILE_NAME = "model.onnx"
# transformers.js's name for the int8 variant (dtype "q8") beside model.onnx.
ONNX_QUANTIZED_FILE_NAME = "model_quantized.onnx"
# transformers.js looks for the external weights of `model.onnx` under this name.
ONNX_EXTERNAL_DATA_NAME = "model.onnx_data"
# Protobuf cannot serialise a single message over 2 GiB; stay clear of the edge.
SINGLE_FILE_LIMIT_BYTES = 1_800_000_000
DEFAULT_OPSET = 17


@dataclass(frozen=True)
class DecoderShape:
    """The cache geometry an ONNX consumer needs to build an empty past."""

    num_layers: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int


def decoder_shape(model: PreTrainedModel) -> DecoderShape:
    config = model.config.get_text_config(decoder=True)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return DecoderShape(
        num_layers=config.num_hidden_layers,
        num_kv_heads=config.num_key_value_heads,
        head_dim=head_dim,
        vocab_size=config.vocab_size,
    )


def past_input_names(num_layers: int) -> list[str]:
    return [f"past_key_values.{i}.{kind}" for i in range(num_layers) for kind in ("key", "value")]


def present_output_names(num_layers: int) -> list[str]:
    return [f"present.{i}.{kind}" for i in range(num_layers) for kind in ("key", "value")]


class FlatCacheDecoder(torch.nn.Module):
    """Takes the past as flat tensors (one per layer and kind) and returns the present so.

    ONNX graphs cannot carry a transformers Cache object, so this wrapper rebuilds a
    DynamicCache from the flat inputs before calling the model and flattens it again after.
    """

    def __init__(self, model: PreTrainedModel) -> None:
        super().__init__()
        self.model = model
        self.num_layers = decoder_shape(model).num_layers

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        *past_flat: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        if len(past_flat) != 2 * self.num_layers:
            raise ValueError(f"expected {2 * self.num_layers} past tensors, got {len(past_flat)}")
        pairs = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(self.num_layers)]
        cache = DynamicCache(ddp_cache_data=pairs, config=self.model.config)
        output = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=cache,
            use_cache=True,
        )
        present: list[torch.Tensor] = []
        for layer in output.past_key_values.layers:
            present.extend((layer.keys, layer.values))
        return (output.logits, *present)


def example_decoder_inputs(
    shape: DecoderShape, batch: int, seq: int, past: int, *, seed: int = 0
) -> tuple[torch.Tensor, ...]:
    """Inputs of the decoder with every dynamic axis > 1, so tracing bakes none of them in."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, shape.vocab_size, (batch, seq), generator=generator)
    attention_mask = torch.ones(batch, past + seq, dtype=torch.long)
    position_ids = torch.arange(past, past + seq).unsqueeze(0).expand(batch, seq).contiguous()
    kv_shape = (batch, shape.num_kv_heads, past, shape.head_dim)
    past_flat = [torch.randn(kv_shape, generator=generator) for _ in range(2 * shape.num_layers)]
    return (input_ids, attention_mask, position_ids, *past_flat)


def _dynamic_axes(num_layers: int) -> dict[str, dict[int, str]]:
    axes: dict[str, dict[int, str]] = {
        "input_ids": {0: "batch_size", 1: "sequence_length"},
        "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
        "position_ids": {0: "batch_size", 1: "sequence_length"},
        "logits": {0: "batch_size", 1: "sequence_length"},
    }
    for name in past_input_names(num_layers):
        axes[name] = {0: "batch_size", 2: "past_sequence_length"}
    for name in present_output_names(num_layers):
        axes[name] = {0: "batch_size", 2: "total_sequence_length"}
    return axes


def export_decoder_onnx(model: PreTrainedModel, out_dir: str | Path, *, opset: int = DEFAULT_OPSET) -> Path:
    """Write `out_dir/onnx/model.onnx` (fp32) for `model`; returns the path of model.onnx.

    Weights past the protobuf limit go to `model.onnx_data` beside it. The model is exported
    on the CPU in fp32 whatever its dtype and device, and is left as it was.
    """
    if not isinstance(model, PreTrainedModel):
        raise TypeError(f"export_decoder_onnx needs a transformers PreTrainedModel, got {type(model).__name__}")
    onnx_dir = Path(out_dir) / ONNX_SUBDIR
    onnx_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = onnx_dir / ONNX_FILE_NAME
    for stale in (onnx_path, onnx_dir / ONNX_EXTERNAL_DATA_NAME):
        stale.unlink(missing_ok=True)

    original_device = next(model.parameters()).device
    original_dtype = next(model.parameters()).dtype
    was_training = model.training
    model.to(device="cpu", dtype=torch.float32).eval()
    try:
        shape = decoder_shape(model)
        wrapper = FlatCacheDecoder(model)
        example = example_decoder_inputs(shape, batch=2, seq=3, past=4)
        weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
        with tempfile.TemporaryDirectory(prefix="rlef-onnx-") as scratch:
            # The TorchScript exporter spills large models into one file per tensor; export
            # to scratch, then write the layout consumers expect.
            scratch_path = Path(scratch) / ONNX_FILE_NAME
            # The TorchScript exporter (dynamo=False) is deprecated but is the one that traces
            # the cache-rebuilding wrapper into a graph with the dynamic axes above; its
            # warnings about traced shapes are checked by the parity test instead.
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore", category=DeprecationWarning)
                warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
                # Mask construction indexes with aranges, never negative indices.
                warnings.filterwarnings("ignore", message="Exporting aten::index operator", category=UserWarning)
                torch.onnx.export(
                    wrapper,
                    example,
                    str(scratch_path),
                    input_names=["input_ids", "attention_mask", "position_ids", *past_input_names(shape.num_layers)],
                    output_names=["logits", *present_output_names(shape.num_layers)],
                    dynamic_axes=_dynamic_axes(shape.num_layers),
                    opset_version=opset,
                    do_constant_folding=True,
                    dynamo=False,
                )
            if weight_bytes < SINGLE_FILE_LIMIT_BYTES and len(list(Path(scratch).iterdir())) == 1:
                shutil.move(str(scratch_path), onnx_path)
            else:
                graph = onnx.load(str(scratch_path), load_external_data=True)
                onnx.save_model(
                    graph,
                    str(onnx_path),
                    save_as_external_data=True,
                    all_tensors_to_one_file=True,
                    location=ONNX_EXTERNAL_DATA_NAME,
                    size_threshold=1024,
                )
    finally:
        model.to(device=original_device, dtype=original_dtype)
        model.train(was_training)
    return onnx_path


def quantize_decoder_onnx(model_dir: str | Path) -> Path:
    """Write `onnx/model_quantized.onnx`: int8 weights (onnxruntime dynamic quantisation).

    Activations stay fp32 and are quantised on the fly, so the inputs and outputs are those
    of model.onnx. Returns the path of the quantised file.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    onnx_dir = Path(model_dir) / ONNX_SUBDIR
    source = onnx_dir / ONNX_FILE_NAME
    if not source.is_file():
        raise FileNotFoundError(f"no ONNX decoder at {source}; export the model first")
    target = onnx_dir / ONNX_QUANTIZED_FILE_NAME
    external = (onnx_dir / ONNX_EXTERNAL_DATA_NAME).is_file()
    quantize_dynamic(source, target, weight_type=QuantType.QInt8, use_external_data_format=external)
    return target
