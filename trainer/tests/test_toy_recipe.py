"""The toy recipe's named-letter problems are the environment's own first prompt with one statement swapped."""

from __future__ import annotations

import pytest

from rlef_trainer import toy

PROMPT = [{"role": "user", "content": f"Solve this.\n\n{toy.STATEMENT}\n\nAnswer in a fenced block."}]


def test_named_prompt_swaps_only_the_statement() -> None:
    named = toy.named_prompt(PROMPT, toy.NAMED_STATEMENTS[0].format(x="Q"))
    assert named == [{"role": "user", "content": "Solve this.\n\nPrint the letter Q.\n\nAnswer in a fenced block."}]
    assert PROMPT[0]["content"].count(toy.STATEMENT) == 1, "the environment's prompt is left as it was"


@pytest.mark.parametrize(
    "prompt",
    [
        [{"role": "user", "content": "Solve this.\n\nPrint something else.\n\nAnswer."}],
        [{"role": "user", "content": f"{toy.STATEMENT} {toy.STATEMENT}"}],
        [*PROMPT, {"role": "assistant", "content": "x"}],
    ],
    ids=["statement missing", "statement twice", "not one message"],
)
def test_named_prompt_refuses_a_prompt_it_cannot_rewrite_exactly(prompt: list[dict[str, str]]) -> None:
    with pytest.raises(ValueError, match="exactly once"):
        toy.named_prompt(prompt, "Print Q.")


def test_every_named_statement_names_its_letter_once_and_differs_from_the_secret_statement() -> None:
    for template in toy.NAMED_STATEMENTS:
        text = template.format(x="Q")
        assert text.count("Q") == 1 and text != toy.STATEMENT
