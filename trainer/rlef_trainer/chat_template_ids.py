"""Render a conversation with a model folder's chat template and print the token ids.

The Python half of the chat-template parity check: TypeScript renders the same
conversation with @huggingface/jinja and the same tokenizer.json and must get the same ids.
The template is the model's own unless `--template` names a tokenizer_config.json (its
`chat_template` field) or a .jinja file.

    python -m rlef_trainer.chat_template_ids --model DIR --conversation conv.json \
        [--template FILE] [--add-generation-prompt]

The conversation file is either a list of messages or an object
{"messages": [...], "tools": [...]?, "add_generation_prompt": bool?}.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jsonschema
from transformers import AutoTokenizer

MESSAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    # content is required (null where an assistant turn only calls tools) so a missing
    # field is caught here rather than as a template error.
    "required": ["role", "content"],
    "properties": {
        "role": {"enum": ["system", "user", "assistant", "tool"]},
        "content": {"type": ["string", "null"]},
        "tool_calls": {"type": "array", "items": {"type": "object"}},
        "name": {"type": "string"},
        "tool_call_id": {"type": "string"},
    },
}

# A bare list of messages is accepted too and read as {"messages": [...]}.
CONVERSATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["messages"],
    "additionalProperties": False,
    "properties": {
        "messages": {"type": "array", "minItems": 1, "items": MESSAGE_SCHEMA},
        "tools": {"type": "array", "items": {"type": "object"}},
        "add_generation_prompt": {"type": "boolean"},
    },
}


class ChatTemplateError(ValueError):
    """The conversation, template or model folder given is unusable; the message says why."""


@dataclass(frozen=True)
class Conversation:
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    add_generation_prompt: bool | None


def parse_conversation(document: Any) -> Conversation:
    """Validate a decoded conversation JSON document against CONVERSATION_SCHEMA."""
    if isinstance(document, list):
        document = {"messages": document}
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(CONVERSATION_SCHEMA).iter_errors(document))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ChatTemplateError(f"invalid conversation at {where}: {error.message}")
    return Conversation(
        messages=document["messages"],
        tools=document.get("tools"),
        add_generation_prompt=document.get("add_generation_prompt"),
    )


def load_chat_template(path: str | Path) -> str:
    """The template text from a tokenizer_config.json's `chat_template` or a .jinja file."""
    file = Path(path)
    if not file.is_file():
        raise ChatTemplateError(f"no chat template file at {file}")
    text = file.read_text(encoding="utf-8")
    if file.suffix != ".json":
        return text
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ChatTemplateError(f"{file} is not valid JSON: {error}") from None
    template = config.get("chat_template") if isinstance(config, dict) else None
    if not isinstance(template, str):
        # Named templates (a list of {name, template}) exist upstream; only "default" matters here.
        if isinstance(template, list):
            named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
            if isinstance(named.get("default"), str):
                return named["default"]
        raise ChatTemplateError(f"{file} has no chat_template string")
    return template


def render_chat_token_ids(
    model_dir: str | Path,
    conversation: Conversation,
    *,
    add_generation_prompt: bool = False,
    chat_template: str | None = None,
) -> list[int]:
    """Token ids of `conversation` rendered by the model folder's (or the given) template."""
    folder = Path(model_dir)
    if not (folder / "tokenizer.json").is_file():
        raise ChatTemplateError(f"{folder} is not a model folder: tokenizer.json is missing")
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    if chat_template is None and tokenizer.chat_template is None:
        raise ChatTemplateError(f"model folder {model_dir} has no chat template")
    generation_prompt = (
        conversation.add_generation_prompt if conversation.add_generation_prompt is not None else add_generation_prompt
    )
    try:
        encoded = tokenizer.apply_chat_template(
            conversation.messages,
            tools=conversation.tools,
            chat_template=chat_template,
            add_generation_prompt=generation_prompt,
            tokenize=True,
            return_dict=True,
        )
    except (jinja2.TemplateError, TypeError) as error:
        # TypeError is what Jinja raises for e.g. `'text' + none` inside a template.
        raise ChatTemplateError(f"the chat template failed to render: {error}") from None
    return [int(i) for i in encoded["input_ids"]]


def run_chat_template_ids(args: argparse.Namespace) -> int:
    try:
        raw = sys.stdin.read() if args.conversation == "-" else Path(args.conversation).read_text(encoding="utf-8")
    except OSError as error:
        print(f"error: cannot read conversation: {error}", file=sys.stderr)
        return 2
    try:
        try:
            document = json.loads(raw)
        except json.JSONDecodeError as error:
            raise ChatTemplateError(f"conversation is not valid JSON: {error}") from None
        conversation = parse_conversation(document)
        template = load_chat_template(args.template) if args.template is not None else None
        ids = render_chat_token_ids(
            args.model, conversation, add_generation_prompt=args.add_generation_prompt, chat_template=template
        )
    except ChatTemplateError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(ids))
    return 0


def main(argv: list[str] | None = None) -> int:
    from rlef_trainer.cli import main as cli_main

    return cli_main(["chat-template-ids", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
