"""onnxruntime against PyTorch on the tiny model: same greedy tokens, close logits.

Covers the first step with an empty cache (a left-padded batch of two prompts of different
lengths), ~20 single-token steps with a growing cache, and a multi-token step on a filled
cache (chunked prefill), which exercises every dynamic axis of the export.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from rlef_trainer import export_onnx
from rlef_trainer.decoder_parity import (
    OnnxDecoder,
    check_decoder_parity,
    greedy_decode_onnx,
    greedy_decode_torch,
    left_padded_batch,
    max_logit_difference,
    position_ids_for,
)
from rlef_trainer.export_onnx import export_decoder_onnx, quantize_decoder_onnx

# fp32 through two different kernels; observed differences are ~1e-5 on logits of
# magnitude ~10, so this bounds real divergence without flaking on rounding.
LOGIT_ATOL = 1e-3
GREEDY_STEPS = 20
PROMPTS = ("def add(a, b):\n    return", "Hello")


@pytest.fixture(scope="module")
def torch_model(tiny_model_dir: Path) -> PreTrainedModel:
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()


@pytest.fixture(scope="module")
def onnx_decoder(tiny_model_dir: Path) -> OnnxDecoder:
    return OnnxDecoder(tiny_model_dir / "onnx" / "model.onnx")


@pytest.fixture(scope="module")
def padded_prompts(tiny_model_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    prompts = [tokenizer.encode(p) for p in PROMPTS]
    assert len(prompts[0]) != len(prompts[1]), "the batch must need padding"
    return left_padded_batch(prompts, pad_id=tokenizer.pad_token_id)


def test_first_step_with_empty_cache_matches_on_a_left_padded_batch(
    torch_model: PreTrainedModel,
    onnx_decoder: OnnxDecoder,
    padded_prompts: tuple[np.ndarray, np.ndarray],
    record_property: pytest.RecordProperty,
) -> None:
    input_ids, attention_mask = padded_prompts
    assert attention_mask[1, 0] == 0, "second row is left-padded"
    torch_trace = greedy_decode_torch(torch_model, input_ids, attention_mask, steps=1)
    onnx_trace = greedy_decode_onnx(onnx_decoder, input_ids, attention_mask, steps=1)
    difference = max_logit_difference(torch_trace, onnx_trace)
    record_property("first_step_max_abs_logit_diff", difference)
    assert difference < LOGIT_ATOL
    np.testing.assert_array_equal(torch_trace.tokens, onnx_trace.tokens)


def test_twenty_greedy_steps_give_identical_tokens_and_close_logits(
    torch_model: PreTrainedModel,
    onnx_decoder: OnnxDecoder,
    padded_prompts: tuple[np.ndarray, np.ndarray],
    record_property: pytest.RecordProperty,
) -> None:
    input_ids, attention_mask = padded_prompts
    torch_trace = greedy_decode_torch(torch_model, input_ids, attention_mask, steps=GREEDY_STEPS)
    onnx_trace = greedy_decode_onnx(onnx_decoder, input_ids, attention_mask, steps=GREEDY_STEPS)
    difference = max_logit_difference(torch_trace, onnx_trace)
    record_property("greedy_max_abs_logit_diff", difference)
    print(f"\nONNX vs PyTorch, {GREEDY_STEPS} greedy steps, batch 2: max |logit diff| = {difference:.3e}")
    np.testing.assert_array_equal(torch_trace.tokens, onnx_trace.tokens)
    assert difference < LOGIT_ATOL
    # The comparison means something only if the model does not collapse onto one token.
    assert len(np.unique(torch_trace.tokens)) > 5


def test_parity_report_of_the_fixture_export(torch_model: PreTrainedModel, tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    report = check_decoder_parity(
        torch_model,
        tiny_model_dir / "onnx" / "model.onnx",
        [tokenizer.encode(p) for p in PROMPTS],
        pad_id=tokenizer.pad_token_id,
        steps=8,
    )
    assert report.tokens_equal and report.max_abs_logit_diff < LOGIT_ATOL and report.steps == 8


def test_unpadded_single_prompt_matches_the_padded_row(
    onnx_decoder: OnnxDecoder, padded_prompts: tuple[np.ndarray, np.ndarray]
) -> None:
    input_ids, attention_mask = padded_prompts
    real = attention_mask[1] == 1
    alone = greedy_decode_onnx(onnx_decoder, input_ids[1:2, real], attention_mask[1:2, real], steps=5)
    batched = greedy_decode_onnx(onnx_decoder, input_ids, attention_mask, steps=5)
    np.testing.assert_array_equal(alone.tokens[0], batched.tokens[1])


@torch.no_grad()
def test_multi_token_step_on_a_filled_cache_matches(
    torch_model: PreTrainedModel, onnx_decoder: OnnxDecoder, padded_prompts: tuple[np.ndarray, np.ndarray]
) -> None:
    input_ids, attention_mask = padded_prompts
    # Prefill all but the last three columns, then feed those three at once on the cache.
    head_ids, tail_ids = input_ids[:, :-3], input_ids[:, -3:]
    head_mask = attention_mask[:, :-3]
    _, past = onnx_decoder.step(
        head_ids, head_mask, position_ids_for(head_mask, head_ids.shape[1]), onnx_decoder.empty_past(2)
    )
    assert past["past_key_values.0.key"].shape[2] == head_ids.shape[1]
    onnx_logits, present = onnx_decoder.step(tail_ids, attention_mask, position_ids_for(attention_mask, 3), past)
    assert present["past_key_values.1.value"].shape[2] == input_ids.shape[1]
    torch_logits = torch_model(
        input_ids=torch.from_numpy(input_ids),
        attention_mask=torch.from_numpy(attention_mask),
        position_ids=torch.from_numpy(position_ids_for(attention_mask, input_ids.shape[1])),
    ).logits[:, -3:, :]
    np.testing.assert_allclose(onnx_logits, torch_logits.numpy(), atol=LOGIT_ATOL, rtol=0)


def test_export_refuses_a_plain_torch_module(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="PreTrainedModel"):
        export_decoder_onnx(torch.nn.Linear(2, 2), tmp_path)  # type: ignore[arg-type]


def test_export_leaves_the_model_in_its_training_mode(torch_model: PreTrainedModel, tmp_path: Path) -> None:
    torch_model.train()
    try:
        export_decoder_onnx(torch_model, tmp_path)
        assert torch_model.training
    finally:
        torch_model.eval()
    assert (tmp_path / "onnx" / "model.onnx").is_file()


def test_large_models_get_their_weights_in_one_external_data_file(
    torch_model: PreTrainedModel,
    padded_prompts: tuple[np.ndarray, np.ndarray],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Pretend the tiny model is past the protobuf limit, as Qwen2.5-0.5B in fp32 is.
    monkeypatch.setattr(export_onnx, "SINGLE_FILE_LIMIT_BYTES", 0)
    onnx_path = export_decoder_onnx(torch_model, tmp_path)
    assert sorted(p.name for p in onnx_path.parent.iterdir()) == ["model.onnx", "model.onnx_data"]
    assert onnx_path.stat().st_size < (onnx_path.parent / "model.onnx_data").stat().st_size
    input_ids, attention_mask = padded_prompts
    external = greedy_decode_onnx(OnnxDecoder(onnx_path), input_ids, attention_mask, steps=3)
    reference = greedy_decode_torch(torch_model, input_ids, attention_mask, steps=3)
    np.testing.assert_array_equal(external.tokens, reference.tokens)


def test_int8_variant_keeps_the_interface_and_tracks_the_fp32_logits(
    torch_model: PreTrainedModel, padded_prompts: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    fp32_path = export_decoder_onnx(torch_model, tmp_path)
    quantized_path = quantize_decoder_onnx(tmp_path)
    assert quantized_path == tmp_path / "onnx" / "model_quantized.onnx"
    assert quantized_path.stat().st_size < fp32_path.stat().st_size / 2
    fp32, int8 = OnnxDecoder(fp32_path), OnnxDecoder(quantized_path)
    assert [i.name for i in int8.session.get_inputs()] == [i.name for i in fp32.session.get_inputs()]
    assert [o.name for o in int8.session.get_outputs()] == [o.name for o in fp32.session.get_outputs()]
    input_ids, attention_mask = padded_prompts
    reference = greedy_decode_onnx(fp32, input_ids, attention_mask, steps=1).step_logits[0]
    quantized = greedy_decode_onnx(int8, input_ids, attention_mask, steps=1).step_logits[0]
    # Int8 weights perturb the logits but must not scramble them.
    for row in range(reference.shape[0]):
        assert np.corrcoef(reference[row], quantized[row])[0, 1] > 0.95


def test_quantizing_without_an_export_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="export the model first"):
        quantize_decoder_onnx(tmp_path)


def test_decoder_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no ONNX decoder"):
        OnnxDecoder(tmp_path / "onnx" / "model.onnx")


def test_decoder_refuses_a_graph_without_a_kv_cache(tmp_path: Path) -> None:
    node = helper.make_node("Identity", ["input_ids"], ["logits"])
    graph = helper.make_graph(
        [node],
        "not-a-decoder",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"])],
        [helper.make_tensor_value_info("logits", TensorProto.INT64, ["b", "s"])],
    )
    path = tmp_path / "model.onnx"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what onnxruntime of any supported version reads
    onnx.save(model, str(path))
    with pytest.raises(ValueError, match="not a decoder with a KV cache"):
        OnnxDecoder(path)


def test_left_padding_refuses_an_empty_prompt() -> None:
    with pytest.raises(ValueError, match="at least one token"):
        left_padded_batch([[1, 2], []], pad_id=0)
