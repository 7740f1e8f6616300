"""The tiny fixture model folder: layout, loading through transformers, tokenizer, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlef_trainer.cli import main as cli_main
from rlef_trainer.fixtures.chatml import QWEN25_ADDED_TOKENS
from rlef_trainer.fixtures.model_shapes import MODEL_SHAPES
from rlef_trainer.fixtures.tiny_model import build_model, build_tokenizer, write_tiny_model_folder

MODEL_FOLDER_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "onnx/model.onnx",
)


def test_folder_holds_every_file_of_the_model_folder_contract(tiny_model_dir: Path) -> None:
    missing = [name for name in MODEL_FOLDER_FILES if not (tiny_model_dir / name).is_file()]
    assert missing == []


def test_config_is_a_small_qwen2_with_grouped_query_attention(tiny_model_dir: Path) -> None:
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["model_type"] == "qwen2"
    assert config["architectures"] == ["Qwen2ForCausalLM"]
    assert config["num_hidden_layers"] == 2
    assert config["hidden_size"] == 64
    assert config["num_attention_heads"] == 4
    assert config["num_key_value_heads"] == 2
    tokenizer = Tokenizer.from_file(str(tiny_model_dir / "tokenizer.json"))
    assert config["vocab_size"] == tokenizer.get_vocab_size()
    assert 1000 <= config["vocab_size"] <= 2000


def test_generation_config_stops_at_im_end_and_endoftext(tiny_model_dir: Path) -> None:
    generation = json.loads((tiny_model_dir / "generation_config.json").read_text())
    tokenizer = Tokenizer.from_file(str(tiny_model_dir / "tokenizer.json"))
    assert generation["eos_token_id"] == [tokenizer.token_to_id("<|im_end|>"), tokenizer.token_to_id("<|endoftext|>")]
    assert generation["pad_token_id"] == tokenizer.token_to_id("<|endoftext|>")


def test_added_tokens_follow_qwen25_order_and_special_flags(tiny_model_dir: Path) -> None:
    tokenizer = Tokenizer.from_file(str(tiny_model_dir / "tokenizer.json"))
    first = tokenizer.token_to_id(QWEN25_ADDED_TOKENS[0][0])
    assert first == tokenizer.get_vocab_size() - len(QWEN25_ADDED_TOKENS)
    decoder = tokenizer.get_added_tokens_decoder()
    for offset, (content, special) in enumerate(QWEN25_ADDED_TOKENS):
        token = decoder[first + offset]
        assert (token.content, token.special) == (content, special)


def test_transformers_loads_the_folder_and_generates(tiny_model_dir: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    inputs = tokenizer("def add(a, b):", return_tensors="pt")
    output = model.generate(**inputs, max_new_tokens=5, do_sample=False)
    assert output.shape == (1, inputs["input_ids"].shape[1] + 5)


def test_transformers_tokenizer_matches_the_raw_tokenizer_json(tiny_model_dir: Path) -> None:
    text = "<|im_start|>user\ndef reverse(text):\n    return text[::-1]  # 日本語 🙂<|im_end|>\n<tool_call>"
    raw = Tokenizer.from_file(str(tiny_model_dir / "tokenizer.json"))
    loaded = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids = loaded.encode(text)
    assert ids == raw.encode(text).ids
    assert loaded.decode(ids) == text
    # Special markers stay one token each: the chat template depends on it.
    assert loaded.encode("<|im_start|>") == [raw.token_to_id("<|im_start|>")]


def test_tokenizer_training_is_deterministic() -> None:
    assert build_tokenizer().to_str() == build_tokenizer().to_str()


def test_same_seed_gives_same_weights_and_other_seed_differs() -> None:
    tokenizer = build_tokenizer()
    shape = MODEL_SHAPES["tiny"]
    a, b, c = (build_model(shape, tokenizer, seed) for seed in (7, 7, 8))
    weight = "model.layers.0.self_attn.q_proj.weight"
    assert torch.equal(a.state_dict()[weight], b.state_dict()[weight])
    assert not torch.equal(a.state_dict()[weight], c.state_dict()[weight])


def test_onnx_graph_has_the_contract_inputs_outputs_and_dynamic_axes(tiny_model_dir: Path) -> None:
    graph = onnx.load(str(tiny_model_dir / "onnx" / "model.onnx"), load_external_data=False).graph
    inputs = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.input}
    outputs = {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in graph.output}
    assert list(inputs)[:3] == ["input_ids", "attention_mask", "position_ids"]
    assert inputs["input_ids"] == ["batch_size", "sequence_length"]
    assert inputs["attention_mask"] == ["batch_size", "total_sequence_length"]
    for layer in range(2):
        for kind in ("key", "value"):
            assert inputs[f"past_key_values.{layer}.{kind}"] == ["batch_size", 2, "past_sequence_length", 16]
            assert outputs[f"present.{layer}.{kind}"] == ["batch_size", 2, "total_sequence_length", 16]
    assert outputs["logits"][:2] == ["batch_size", "sequence_length"]
    assert len(inputs) == 3 + 4 and len(outputs) == 1 + 4


def test_unknown_shape_is_refused_with_the_known_ones_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown model shape 'gpt5'.*tiny"):
        write_tiny_model_folder(tmp_path / "m", shape="gpt5")


def test_out_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    occupied = tmp_path / "occupied"
    occupied.write_text("not a folder")
    with pytest.raises(NotADirectoryError, match="not a directory"):
        write_tiny_model_folder(occupied)


def test_cli_rejects_an_unknown_shape(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["make-tiny-model", "--out", str(tmp_path), "--shape", "huge"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'huge'" in capsys.readouterr().err


def test_cli_without_a_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main([]) == 0
    out = capsys.readouterr().out
    assert "make-tiny-model" in out and "chat-template-ids" in out


def test_cli_make_tiny_model_writes_a_folder_and_reports_its_size(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert cli_main(["make-tiny-model", "--out", str(tmp_path / "m"), "--seed", "3"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["shape"] == "tiny" and report["seed"] == 3
    assert report["bytes"] == sum(f.stat().st_size for f in (tmp_path / "m").rglob("*") if f.is_file())
    assert (tmp_path / "m" / "onnx" / "model.onnx").is_file()
