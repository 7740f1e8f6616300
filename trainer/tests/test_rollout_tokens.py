"""Token-in/token-out bookkeeping: feedback deltas, turn boundaries and the rollout batch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from rlef_trainer.ppo_step import build_batch
from rlef_trainer.rollout import Rollout, feedback_delta_ids, first_prompt_ids

PROBLEM = [{"role": "user", "content": "Print the secret number."}]
RESPONSE = "```python\nprint(17)\n```"
FEEDBACK = [{"role": "user", "content": "Your code failed the following tests:\nExpected output:\n23\n"}]


def _two_turn_rollout(tokenizer, stopped: bool) -> Rollout:  # type: ignore[no-untyped-def]
    rollout = Rollout(task_id="t", options={})
    rollout.append(first_prompt_ids(tokenizer, PROBLEM), policy=False)
    for turn in range(2):
        rollout.turn_prompt_ends.append(len(rollout.token_ids) - 1)
        sampled = tokenizer.encode(RESPONSE, add_special_tokens=False) + ([tokenizer.eos_token_id] if stopped else [])
        rollout.append(sampled, policy=True, logprobs=[-0.5] * len(sampled), turn=turn)
        rollout.turn_rewards.append(0.0 if turn == 0 else 1.0)
        if turn == 0:
            history = list(PROBLEM)
            rollout.append(feedback_delta_ids(tokenizer, history, FEEDBACK, stopped), policy=False)
    return rollout


def test_sequence_equals_the_template_rendering_of_the_whole_conversation(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    rollout = _two_turn_rollout(tokenizer, stopped=True)
    conversation = [
        *PROBLEM,
        {"role": "assistant", "content": RESPONSE},
        *FEEDBACK,
        {"role": "assistant", "content": RESPONSE},
    ]
    rendered = tokenizer.apply_chat_template(conversation, tokenize=False)
    # The template closes the last assistant turn with "<|im_end|>\n"; the sampler stopped at <|im_end|>.
    assert tokenizer.decode(rollout.token_ids) + "\n" == rendered


def test_each_turn_boundary_is_the_last_token_of_the_generation_prompt(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    rollout = _two_turn_rollout(tokenizer, stopped=True)
    for turn, end in enumerate(rollout.turn_prompt_ends):
        assert tokenizer.decode(rollout.token_ids[: end + 1]).endswith("<|im_start|>assistant\n")
        assert rollout.policy_mask[end] is False and rollout.policy_mask[end + 1] is True
        assert rollout.turn_of_token[end + 1] == turn
    feedback_text = tokenizer.decode([t for t, p in zip(rollout.token_ids, rollout.policy_mask, strict=True) if not p])
    assert "Expected output:\n23" in feedback_text
    assert "print(17)" not in feedback_text


def test_a_response_cut_by_the_length_cap_gets_the_end_of_turn_token_from_the_template(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    delta = feedback_delta_ids(tokenizer, PROBLEM, FEEDBACK, stopped_with_eos=False)
    assert delta[0] == tokenizer.eos_token_id
    assert feedback_delta_ids(tokenizer, PROBLEM, FEEDBACK, stopped_with_eos=True)[0] != tokenizer.eos_token_id


def test_a_template_that_rewrites_the_response_is_refused(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] | upper }}{% endfor %}"
    with pytest.raises(ValueError, match="verbatim"):
        feedback_delta_ids(tokenizer, PROBLEM, FEEDBACK, stopped_with_eos=True)


def test_batch_keeps_feedback_out_of_the_policy_mask_and_numbers_turns_across_episodes(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    first, second = _two_turn_rollout(tokenizer, True), _two_turn_rollout(tokenizer, True)
    second.token_ids, second.policy_mask = second.token_ids[:-3], second.policy_mask[:-3]
    second.sampler_logprobs, second.turn_of_token = second.sampler_logprobs[:-3], second.turn_of_token[:-3]
    batch = build_batch([first, second], tokenizer.pad_token_id)
    assert batch.num_turns == 4
    assert batch.episode_of_turn.tolist() == [0, 0, 1, 1]
    assert set(batch.turn_index[1][batch.policy_mask[1]].tolist()) == {2, 3}
    assert bool((batch.turn_index[~batch.policy_mask] == -1).all())
    assert batch.attention_mask[1].sum().item() == len(second.token_ids)
    assert torch.equal(
        batch.behaviour_logprobs[0][batch.policy_mask[0]], torch.full((int(batch.policy_mask[0].sum()),), -0.5)
    )


def test_batch_refuses_a_rollout_with_inconsistent_fields(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    broken = _two_turn_rollout(tokenizer, True)
    broken.turn_prompt_ends.pop()
    with pytest.raises(ValueError, match="turn boundaries"):
        build_batch([broken], tokenizer.pad_token_id)
