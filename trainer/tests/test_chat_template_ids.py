"""Rendering conversations to token ids through transformers (the Python side of the parity test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from rlef_trainer.chat_template_ids import (
    ChatTemplateError,
    Conversation,
    load_chat_template,
    parse_conversation,
    render_chat_token_ids,
)
from rlef_trainer.cli import main as cli_main

from .conftest import CHAT_TEMPLATE_FIXTURES

QWEN25_CONFIG = CHAT_TEMPLATE_FIXTURES / "qwen2.5" / "tokenizer_config.json"
CONVERSATIONS = sorted((CHAT_TEMPLATE_FIXTURES / "conversations").glob("*.json"))
QWEN_DEFAULT_SYSTEM = (
    "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
)


def decode(model_dir: Path, ids: list[int]) -> str:
    return Tokenizer.from_file(str(model_dir / "tokenizer.json")).decode(ids, skip_special_tokens=False)


def encode(model_dir: Path, text: str) -> list[int]:
    return Tokenizer.from_file(str(model_dir / "tokenizer.json")).encode(text).ids


def conversation_of(*messages: dict[str, object]) -> Conversation:
    return parse_conversation(list(messages))


def test_tiny_chatml_template_renders_each_turn_between_im_markers(tiny_model_dir: Path) -> None:
    conversation = conversation_of(
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Sum two ints."},
        {"role": "assistant", "content": "def add(a, b):\n    return a + b"},
    )
    ids = render_chat_token_ids(tiny_model_dir, conversation)
    expected = (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nSum two ints.<|im_end|>\n"
        "<|im_start|>assistant\ndef add(a, b):\n    return a + b<|im_end|>\n"
    )
    assert ids == encode(tiny_model_dir, expected)


def test_generation_prompt_appends_the_assistant_header(tiny_model_dir: Path) -> None:
    conversation = conversation_of({"role": "user", "content": "hi"})
    without = render_chat_token_ids(tiny_model_dir, conversation)
    with_prompt = render_chat_token_ids(tiny_model_dir, conversation, add_generation_prompt=True)
    assert with_prompt[: len(without)] == without
    assert decode(tiny_model_dir, with_prompt[len(without) :]) == "<|im_start|>assistant\n"


def test_the_files_generation_prompt_flag_wins_over_the_argument(tiny_model_dir: Path) -> None:
    conversation = parse_conversation({"messages": [{"role": "user", "content": "hi"}], "add_generation_prompt": False})
    ids = render_chat_token_ids(tiny_model_dir, conversation, add_generation_prompt=True)
    assert not decode(tiny_model_dir, ids).endswith("assistant\n")


def test_qwen25_template_adds_its_default_system_prompt(tiny_model_dir: Path) -> None:
    template = load_chat_template(QWEN25_CONFIG)
    ids = render_chat_token_ids(
        tiny_model_dir, conversation_of({"role": "user", "content": "hi"}), chat_template=template
    )
    assert decode(tiny_model_dir, ids) == QWEN_DEFAULT_SYSTEM + "<|im_start|>user\nhi<|im_end|>\n"


def test_qwen25_template_renders_tools_tool_calls_and_grouped_tool_responses(tiny_model_dir: Path) -> None:
    document = json.loads((CHAT_TEMPLATE_FIXTURES / "conversations" / "tool-calls.json").read_text())
    ids = render_chat_token_ids(
        tiny_model_dir, parse_conversation(document), chat_template=load_chat_template(QWEN25_CONFIG)
    )
    text = decode(tiny_model_dir, ids)
    tool_json = json.dumps(document["tools"][0], ensure_ascii=False)
    assert text.startswith(
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n# Tools\n\n"
    )
    assert f"<tools>\n{tool_json}\n</tools>" in text
    assert (
        '<|im_start|>assistant\n<tool_call>\n{"name": "run_tests", "arguments": '
        '{"path": "tests/test_math.py", "verbose": true}}\n</tool_call><|im_end|>\n'
    ) in text
    # Consecutive tool results share one user turn.
    assert (
        "<|im_start|>user\n<tool_response>\n1 failed, 2 passed\n</tool_response>\n"
        "<tool_response>\nFAILED tests/test_math.py::test_add - assert 6 == 5\n</tool_response><|im_end|>\n"
    ) in text
    assert text.endswith("<|im_start|>assistant\nOne test fails: add returns 6 for 2 + 3.<|im_end|>\n")
    tool_call_id = Tokenizer.from_file(str(tiny_model_dir / "tokenizer.json")).token_to_id("<tool_call>")
    assert ids.count(tool_call_id) == 3  # the instructions' example, the schema line and the call


def test_qwen25_template_trailing_newline_is_not_rendered(tiny_model_dir: Path) -> None:
    template = load_chat_template(QWEN25_CONFIG)
    assert template.endswith("{%- endif %}\n")
    ids = render_chat_token_ids(
        tiny_model_dir,
        conversation_of({"role": "user", "content": "x"}),
        add_generation_prompt=True,
        chat_template=template,
    )
    assert decode(tiny_model_dir, ids).endswith("<|im_start|>assistant\n")


@pytest.mark.parametrize("path", CONVERSATIONS, ids=[p.stem for p in CONVERSATIONS])
def test_every_fixture_conversation_renders_with_both_templates(tiny_model_dir: Path, path: Path) -> None:
    conversation = parse_conversation(json.loads(path.read_text(encoding="utf-8")))
    for template in (None, load_chat_template(QWEN25_CONFIG)):
        ids = render_chat_token_ids(tiny_model_dir, conversation, chat_template=template)
        text = decode(tiny_model_dir, ids)
        for message in conversation.messages:
            assert message["content"] in text


def test_cli_prints_the_ids_as_a_json_array(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conversation_file = tmp_path / "conversation.json"
    conversation_file.write_text(json.dumps([{"role": "user", "content": "hi"}]))
    code = cli_main(
        ["chat-template-ids", "--model", str(tiny_model_dir), "--conversation", str(conversation_file)]
        + ["--add-generation-prompt"]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == encode(tiny_model_dir, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "at messages: .*should be non-empty"),
        ([{"content": "no role"}], "at messages/0: 'role' is a required property"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "at messages/0/role: 'wizard' is not one of"),
        ({"messages": [{"role": "user", "content": 42}]}, "at messages/0/content: 42 is not of type"),
        ({"messages": [{"role": "user"}]}, "at messages/0: .*'content' is a required property"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": 0.7}, "'temperature' was unexpected"),
        ("just a string", "at \\(top level\\): 'just a string' is not of type 'object'"),
    ],
    ids=["empty", "no-role", "unknown-role", "content-not-string", "no-content", "unknown-key", "not-a-conversation"],
)
def test_malformed_conversations_are_refused(document: object, message: str) -> None:
    with pytest.raises(ChatTemplateError, match=message):
        parse_conversation(document)


def test_cli_reports_invalid_json_with_exit_code_2(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('[{"role": "user", "content": "unterminated')
    assert cli_main(["chat-template-ids", "--model", str(tiny_model_dir), "--conversation", str(broken)]) == 2
    assert "conversation is not valid JSON" in capsys.readouterr().err


def test_cli_reports_a_missing_conversation_file(tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["chat-template-ids", "--model", str(tiny_model_dir), "--conversation", "/nonexistent.json"]) == 2
    assert "cannot read conversation" in capsys.readouterr().err


def test_a_folder_without_tokenizer_is_not_a_model_folder(tmp_path: Path) -> None:
    with pytest.raises(ChatTemplateError, match="tokenizer.json is missing"):
        render_chat_token_ids(tmp_path, conversation_of({"role": "user", "content": "hi"}))


def test_tokenizer_config_without_a_template_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "tokenizer_config.json"
    config.write_text(json.dumps({"eos_token": "<|im_end|>"}))
    with pytest.raises(ChatTemplateError, match="no chat_template string"):
        load_chat_template(config)


def test_template_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "tokenizer_config.json"
    config.write_text("{not json")
    with pytest.raises(ChatTemplateError, match="not valid JSON"):
        load_chat_template(config)


def test_a_template_that_raises_is_reported_as_a_render_failure(tiny_model_dir: Path) -> None:
    template = "{{ raise_exception('roles must alternate') }}"
    with pytest.raises(ChatTemplateError, match="roles must alternate"):
        render_chat_token_ids(tiny_model_dir, conversation_of({"role": "user", "content": "x"}), chat_template=template)


def test_null_content_where_the_template_concatenates_it_is_a_render_failure(tiny_model_dir: Path) -> None:
    with pytest.raises(ChatTemplateError, match="failed to render"):
        render_chat_token_ids(tiny_model_dir, conversation_of({"role": "user", "content": None}))


def test_qwen25_template_accepts_null_content_on_a_tool_calling_turn(tiny_model_dir: Path) -> None:
    call = {"type": "function", "function": {"name": "ls", "arguments": {}}}
    conversation = conversation_of(
        {"role": "user", "content": "list"}, {"role": "assistant", "content": None, "tool_calls": [call]}
    )
    text = decode(
        tiny_model_dir,
        render_chat_token_ids(tiny_model_dir, conversation, chat_template=load_chat_template(QWEN25_CONFIG)),
    )
    assert text.endswith(
        '<|im_start|>assistant\n<tool_call>\n{"name": "ls", "arguments": {}}\n</tool_call><|im_end|>\n'
    )


def test_named_default_template_is_read_from_a_list(tmp_path: Path) -> None:
    config = tmp_path / "tokenizer_config.json"
    config.write_text(
        json.dumps({"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]})
    )
    assert load_chat_template(config) == "D"
