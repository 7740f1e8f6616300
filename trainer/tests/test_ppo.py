"""The RLEF equations (rlef_trainer/ppo.py) against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from rlef_trainer import ppo


def test_token_logprobs_align_each_token_with_the_distribution_that_produced_it() -> None:
    logits = torch.zeros(1, 3, 4)
    logits[0, 0, 2] = math.log(3.0)  # position 0 predicts token 1: p(2) = 3/6
    ids = torch.tensor([[0, 2, 1]])
    lp = ppo.token_logprobs(logits, ids)
    assert lp[0, 0].item() == 0.0
    assert lp[0, 1].item() == pytest.approx(math.log(3 / 6))
    assert lp[0, 2].item() == pytest.approx(math.log(1 / 4))


def test_turn_kl_is_the_mean_over_the_turns_policy_tokens_only() -> None:
    per_token = torch.tensor([[9.0, 1.0, 2.0, 9.0, 4.0], [9.0, 0.5, 9.0, 9.0, 9.0]])
    turn_index = torch.tensor([[-1, 0, 0, -1, 1], [-1, 2, -1, -1, -1]])
    assert ppo.turn_means(per_token, turn_index, 4).tolist() == [1.5, 4.0, 0.5, 0.0]


def test_returns_are_undiscounted_sums_of_kl_shaped_rewards_within_each_episode() -> None:
    rewards = torch.tensor([0.0, 0.0, -1.0, 1.0])
    kl = torch.tensor([0.2, 0.4, 0.0, 0.1])
    episode = torch.tensor([0, 0, 0, 1])
    returns = ppo.turn_returns(rewards, kl, episode, beta=0.5)
    assert returns.tolist() == pytest.approx([-1.3, -1.2, -1.0, 0.95])


def test_advantages_are_normalised_over_the_batchs_turns() -> None:
    assert ppo.normalise_advantages(torch.tensor([1.0, 3.0])).tolist() == pytest.approx(
        [-1 / math.sqrt(2), 1 / math.sqrt(2)]
    )
    assert ppo.normalise_advantages(torch.tensor([5.0])).tolist() == [0.0]


def test_every_policy_token_of_a_turn_gets_the_turns_advantage_and_others_get_zero() -> None:
    turn_index = torch.tensor([[-1, 0, 0, -1, 1, 1]])
    tokens = ppo.broadcast_to_tokens(torch.tensor([0.5, -2.0]), turn_index)
    assert tokens.tolist() == [[0.0, 0.5, 0.5, 0.0, -2.0, -2.0]]


def test_clipped_surrogate_takes_the_pessimistic_side_and_token_means_over_policy_tokens() -> None:
    old = torch.zeros(1, 4)
    new = torch.log(torch.tensor([[1.0, 1.5, 0.5, 0.5]]))
    adv = torch.tensor([[7.0, 1.0, 1.0, -1.0]])
    mask = torch.tensor([[False, True, True, True]])
    stats = ppo.policy_loss(new, old, old, adv, mask, clip_eps=0.2)
    # min(1.5, 1.2) = 1.2; min(0.5, 0.8) = 0.5; min(-0.5, -0.8) = -0.8; position 0 is not a policy token.
    assert stats.loss.item() == pytest.approx(-(1.2 + 0.5 - 0.8) / 3)
    assert stats.clip_fraction.item() == pytest.approx(1.0)


def test_truncated_importance_weight_only_shrinks_tokens_the_sampler_favoured() -> None:
    new = old = torch.zeros(1, 2)
    behaviour = torch.log(torch.tensor([[2.0, 0.5]]))  # pi_old / pi_behaviour = 0.5 and 2
    adv = torch.ones(1, 2)
    mask = torch.ones(1, 2, dtype=torch.bool)
    stats = ppo.policy_loss(new, old, behaviour, adv, mask, clip_eps=0.2)
    assert stats.loss.item() == pytest.approx(-(0.5 + 1.0) / 2)
    assert stats.is_weight_mean.item() == pytest.approx(0.75)
    off = ppo.policy_loss(new, old, behaviour, adv, mask, clip_eps=0.2, truncated_is=False)
    assert off.loss.item() == pytest.approx(-1.0)


def test_value_loss_is_clipped_squared_error_mean_over_turns() -> None:
    stats = ppo.value_loss(torch.tensor([1.0, 0.6]), torch.tensor([0.5, 0.5]), torch.tensor([2.0, 0.0]), clip=0.2)
    # turn 1: max((1-2)^2, (0.7-2)^2) = 1.69; turn 2: 0.36 both ways; 0.5 * mean.
    assert stats.loss.item() == pytest.approx(0.5 * (1.69 + 0.36) / 2)
    assert stats.clip_fraction.item() == pytest.approx(0.5)


def test_explained_variance() -> None:
    target = torch.tensor([1.0, 2.0, 3.0])
    assert ppo.explained_variance(target, target) == pytest.approx(1.0)
    assert ppo.explained_variance(torch.full((3,), 2.0), target) == pytest.approx(0.0)
    assert math.isnan(ppo.explained_variance(target, torch.ones(3)))


def _gradient_outside_policy_tokens(loss_fn) -> float:  # type: ignore[no-untyped-def]
    """Largest |d loss / d logits| at positions whose token is not a policy token."""
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 5, requires_grad=True)
    ids = torch.randint(5, (2, 6))
    policy = torch.tensor([[False, False, True, True, False, False], [False, True, False, False, True, True]])
    attention = torch.ones_like(policy)
    adv = torch.randn(2, 6)
    with torch.no_grad():
        old = ppo.token_logprobs(logits, ids) + 0.1
    loss = loss_fn(ppo.token_logprobs(logits, ids), old, adv, policy, attention)
    loss.backward()
    assert logits.grad is not None
    # logits[:, i] produce token i + 1: positions predicting non-policy tokens must get no gradient.
    predicts_non_policy = ~policy[:, 1:]
    return float(logits.grad[:, :-1][predicts_non_policy].abs().max())


def test_policy_loss_gets_no_gradient_from_prompt_feedback_or_padding_tokens() -> None:
    def production(new, old, adv, policy, attention):  # type: ignore[no-untyped-def]
        return ppo.policy_loss(new, old, old, adv, policy, 0.2).loss

    assert _gradient_outside_policy_tokens(production) == 0.0


def test_the_mask_check_catches_feedback_tokens_leaking_into_the_loss() -> None:
    # The deliberate bug: masking with the attention mask puts feedback and prompt tokens in the loss.
    def feedback_in_loss(new, old, adv, policy, attention):  # type: ignore[no-untyped-def]
        return ppo.policy_loss(new, old, old, adv, attention, 0.2).loss

    assert _gradient_outside_policy_tokens(feedback_in_loss) > 1e-4


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_the_fused_head_gives_the_log_probs_entropies_and_gradients_of_the_full_logits(temperature: float) -> None:
    torch.manual_seed(0)
    hidden = torch.randn(3, 9, 8, requires_grad=True)
    weight = torch.randn(50, 8, requires_grad=True)
    ids = torch.randint(0, 50, (3, 9))
    select = torch.rand(3, 9) < 0.6
    select[:, 0] = True  # position 0 has no predicting state: it must come back as 0
    # chunk 4 < 14-ish selected tokens: the chunk boundaries are crossed
    lp, ent = ppo.head_logprobs(hidden, weight, ids, select, temperature, chunk=4)
    logits = hidden @ weight.t()
    keep = select.clone()
    keep[:, 0] = False
    full_lp = torch.where(keep, ppo.token_logprobs(logits, ids, temperature), 0.0)
    full_ent = torch.where(keep, ppo.token_entropy(logits, temperature), 0.0)
    assert torch.allclose(lp, full_lp, atol=1e-5)
    assert torch.allclose(ent, full_ent, atol=1e-5)
    assert (lp[~keep] == 0).all() and (ent[~keep] == 0).all()
    upstream = torch.randn(3, 9)
    fused = torch.autograd.grad((lp * upstream).sum(), (hidden, weight))
    reference = torch.autograd.grad((full_lp * upstream).sum(), (hidden, weight))
    for got, want in zip(fused, reference, strict=True):
        assert torch.allclose(got, want, atol=1e-5)


def test_the_fused_head_skips_the_weight_gradient_of_a_frozen_head() -> None:
    hidden = torch.randn(2, 5, 4, requires_grad=True)
    weight = torch.randn(7, 4)  # frozen, as the LM head is under LoRA
    lp, _ = ppo.head_logprobs(hidden, weight, torch.randint(0, 7, (2, 5)), torch.ones(2, 5, dtype=torch.bool))
    lp.sum().backward()
    assert hidden.grad is not None and weight.grad is None
