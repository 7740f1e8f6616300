"""The trainer's own sampler (rlef_trainer/sampler.py), on CPU without CUDA graphs: same step, same cache."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from transformers import AutoModelForCausalLM

from rlef_trainer.rollout import _SAMPLERS, sample_responses
from rlef_trainer.sampler import StaticSampler


@pytest.fixture(scope="module")
def model(tiny_model_dir: Path) -> torch.nn.Module:
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()


def forced_logprobs(model: torch.nn.Module, prompt: list[int], ids: list[int], temperature: float) -> torch.Tensor:
    full = torch.tensor([prompt + ids])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=full).logits[0].float() / temperature, dim=-1)
    return logp[len(prompt) - 1 : -1].gather(-1, full[0, len(prompt) :, None]).squeeze(-1)


def test_stored_log_probs_are_those_of_the_model_on_the_sampled_text(model: torch.nn.Module) -> None:
    # prompts of different lengths share one left-padded batch
    prompts = [[5, 6, 7, 8, 9], [10, 11], [12, 13, 14, 15, 16, 17, 18, 19, 20]]
    sampler = StaticSampler(model, stop_ids={1}, pad_id=0, temperature=0.9, top_p=1.0)
    torch.manual_seed(3)
    out = sampler.sample(prompts, max_new_tokens=24, batch_size=8)
    assert len(out) == 3
    for prompt, (ids, logprobs, stopped) in zip(prompts, out, strict=True):
        assert len(ids) == len(logprobs) and 1 <= len(ids) <= 24
        assert stopped == (ids[-1] == 1)
        assert torch.allclose(torch.tensor(logprobs), forced_logprobs(model, prompt, ids, 0.9), atol=1e-5)


def test_a_row_ends_at_its_first_stop_token_and_others_go_on(model: torch.nn.Module) -> None:
    # half the vocabulary stops: rows end after a few tokens, at different steps
    stops = set(range(0, model.config.vocab_size, 2))
    sampler = StaticSampler(model, stop_ids=stops, pad_id=3, temperature=1.0, top_p=1.0, sync_every=2)
    torch.manual_seed(0)
    out = sampler.sample([[5, 6, 7]] * 12, max_new_tokens=40, batch_size=12)
    lengths = {len(ids) for ids, _, _ in out}
    assert len(lengths) > 1
    for ids, logprobs, stopped in out:
        assert stopped and ids[-1] in stops and not any(t in stops for t in ids[:-1])
        assert torch.allclose(torch.tensor(logprobs), forced_logprobs(model, [5, 6, 7], ids, 1.0), atol=1e-5)


def test_the_draws_follow_the_models_distribution(model: torch.nn.Module) -> None:
    """Gumbel-max sampling: first-token frequencies over 3,000 rows against softmax(logits / T)."""
    prompt = [7, 8, 9, 10]
    with torch.no_grad():
        probs = torch.softmax(model(input_ids=torch.tensor([prompt])).logits[0, -1] / 2.0, dim=-1)
    sampler = StaticSampler(model, stop_ids={1}, pad_id=0, temperature=2.0, top_p=1.0)
    torch.manual_seed(1)
    first = [ids[0] for ids, _, _ in sampler.sample([prompt] * 3000, max_new_tokens=1, batch_size=1000)]
    counts = torch.bincount(torch.tensor(first), minlength=probs.numel()).float()
    top = torch.topk(probs, 5).indices
    expected = probs[top] * 3000
    # each of the 5 likeliest tokens within 4 standard deviations of its binomial count
    spread = (expected * (1 - probs[top])).sqrt()
    assert ((counts[top] - expected).abs() < 4 * spread + 1).all(), (counts[top], expected)


def test_top_p_samples_only_the_nucleus_and_renormalises_its_log_probs(model: torch.nn.Module) -> None:
    prompt = [7, 8, 9, 10]
    with torch.no_grad():
        probs = torch.softmax(model(input_ids=torch.tensor([prompt])).logits[0, -1], dim=-1)
    ranked, order = torch.sort(probs, descending=True)
    size = int((torch.cumsum(ranked, 0) < 0.5).sum()) + 1  # smallest set holding half the mass
    nucleus = set(order[:size].tolist())
    sampler = StaticSampler(model, stop_ids={1}, pad_id=0, temperature=1.0, top_p=0.5)
    torch.manual_seed(2)
    out = sampler.sample([prompt] * 400, max_new_tokens=1, batch_size=400)
    mass = float(ranked[:size].sum())
    for ids, logprobs, _ in out:
        assert ids[0] in nucleus
        assert logprobs[0] == pytest.approx(float(torch.log(probs[ids[0]] / mass)), abs=1e-5)


def test_sample_responses_static_engine_keeps_the_rollout_contract(model: torch.nn.Module) -> None:
    tokenizer = SimpleNamespace(eos_token_id=1, pad_token_id=0)
    prompts = [[5, 6, 7], [8, 9, 10, 11, 12], [13]]
    out = sample_responses(
        model,
        tokenizer,
        prompts,
        max_new_tokens=6,
        temperature=1.0,
        top_p=1.0,
        batch_size=2,  # two chunks
        device=torch.device("cpu"),
        engine="static",
    )
    assert len(out) == 3
    for ids, logprobs, stopped in out:
        assert isinstance(ids, list) and isinstance(logprobs, list) and isinstance(stopped, bool)
        assert len(ids) == len(logprobs) <= 6
    with pytest.raises(ValueError, match="rollout engine"):
        sample_responses(
            model, tokenizer, prompts, max_new_tokens=2, temperature=1.0, top_p=1.0, batch_size=2,
            device=torch.device("cpu"), engine="vllm",
        )  # fmt: skip


def test_bad_settings_and_empty_prompts_are_refused(model: torch.nn.Module) -> None:
    with pytest.raises(ValueError, match="temperature"):
        StaticSampler(model, stop_ids={1}, pad_id=0, temperature=0.0, top_p=1.0)
    with pytest.raises(ValueError, match="top_p"):
        StaticSampler(model, stop_ids={1}, pad_id=0, temperature=1.0, top_p=1.5)
    sampler = StaticSampler(model, stop_ids={1}, pad_id=0, temperature=1.0, top_p=1.0)
    with pytest.raises(ValueError, match="at least one token"):
        sampler.sample([[5, 6], []], max_new_tokens=3, batch_size=4)


def test_the_model_is_left_as_it_was(model: torch.nn.Module) -> None:
    before = model.config._attn_implementation
    StaticSampler(model, stop_ids={1}, pad_id=0, temperature=1.0, top_p=1.0).sample([[5, 6]], 3, 1)
    assert model.config._attn_implementation == before
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([[5, 6, 7]])).logits
    assert torch.isfinite(logits).all()


def test_shapes_keep_their_cache_up_to_max_shapes_and_the_sampler_is_reused(model: torch.nn.Module) -> None:
    sampler = StaticSampler(model, stop_ids={1}, pad_id=0, temperature=1.0, top_p=1.0, max_shapes=2)
    sampler.sample([[5] * 10], 4, 1)
    first = next(iter(sampler._slots.values())).cache
    sampler.sample([[5] * 200], 4, 1)  # another cache-length bucket
    sampler.sample([[5] * 12], 4, 1)  # the first bucket again: its cache is reused
    assert len(sampler._slots) == 2 and any(s.cache is first for s in sampler._slots.values())
    sampler.sample([[5] * 400], 4, 1)  # a third bucket evicts the least recently used (the 200-token one)
    assert len(sampler._slots) == 2 and any(s.cache is first for s in sampler._slots.values())

    tokenizer = SimpleNamespace(eos_token_id=1, pad_token_id=0)
    cpu = torch.device("cpu")

    def call(temperature: float) -> None:
        sample_responses(
            model, tokenizer, [[5, 6]], max_new_tokens=2, temperature=temperature, top_p=1.0, batch_size=1,
            device=cpu, engine="static",
        )  # fmt: skip

    call(1.0)
    held = _SAMPLERS[model][1]
    call(1.0)
    assert _SAMPLERS[model][1] is held
    call(0.5)
    assert _SAMPLERS[model][1] is not held and _SAMPLERS[model][1].temperature == 0.5


def test_a_model_that_has_sampled_can_be_copied_and_dropped(tiny_model_dir: Path) -> None:
    """Export and the full mode deep-copy models; a sampler's CUDA graph cannot be copied (seen on an H200)."""
    import copy
    import gc
    import threading
    import weakref

    fresh = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    tokenizer = SimpleNamespace(eos_token_id=1, pad_token_id=0)
    sample_responses(
        fresh, tokenizer, [[5, 6]], max_new_tokens=2, temperature=1.0, top_p=1.0, batch_size=1,
        device=torch.device("cpu"), engine="static",
    )  # fmt: skip
    sampler = _SAMPLERS[fresh][1]
    sampler._slots[next(iter(sampler._slots))].graph = threading.Lock()  # like a CUDA graph: cannot be copied
    twin = copy.deepcopy(fresh)
    assert twin not in _SAMPLERS
    gone = weakref.ref(fresh)
    del fresh, twin, sampler
    gc.collect()
    assert gone() is None  # the cached sampler does not keep its model alive


Samples = list[tuple[list[int], list[float], bool]]


def _next_turn(prompts: list[list[int]], first: Samples, seed: int) -> list[list[int]]:
    """Each prompt + its sampled response + a few "feedback" tokens of its own length."""
    g = torch.Generator().manual_seed(seed)
    return [
        p + ids + torch.randint(5, 300, (3 + i % 4,), generator=g).tolist()
        for i, (p, (ids, _, _)) in enumerate(zip(prompts, first, strict=True))
    ]


@pytest.mark.parametrize("batch_size", [16, 5])
def test_a_next_turn_continued_from_the_cached_prefix_samples_as_a_fresh_prefill(
    model: torch.nn.Module, batch_size: int
) -> None:
    """The "generate" engine keeps each row's K/V for its next turn and prefills only the new tokens: same
    draws and log-probs as prefilling the whole prompt again (rows of several lengths, some cut by the cap)."""
    from rlef_trainer.rollout import sample_turn

    tokenizer = SimpleNamespace(eos_token_id=1, pad_token_id=0)
    g = torch.Generator().manual_seed(0)
    prompts = [torch.randint(5, 300, (int(n),), generator=g).tolist() for n in torch.randint(3, 30, (12,), generator=g)]
    kwargs = dict(max_new_tokens=6, temperature=1.0, top_p=1.0, batch_size=batch_size, device=torch.device("cpu"))
    torch.manual_seed(1)
    first, left = sample_turn(model, tokenizer, prompts, None, engine="generate", **kwargs)  # type: ignore[arg-type]
    assert any(not stopped for _, _, stopped in first)  # some rows hit the length cap
    for prompt, (ids, _, _), prefix in zip(prompts, first, left, strict=True):
        assert prefix is not None and len(prompt) <= prefix.length <= len(prompt) + len(ids)
    second = _next_turn(prompts, first, seed=2)
    torch.manual_seed(3)
    continued, _ = sample_turn(model, tokenizer, second, left, engine="generate", **kwargs)  # type: ignore[arg-type]
    torch.manual_seed(3)
    fresh, _ = sample_turn(model, tokenizer, second, None, engine="generate", **kwargs)  # type: ignore[arg-type]
    for prompt, (ids, logprobs, stopped), (fresh_ids, fresh_logprobs, fresh_stopped) in zip(
        second, continued, fresh, strict=True
    ):
        assert (ids, stopped) == (fresh_ids, fresh_stopped)
        assert torch.allclose(torch.tensor(logprobs), torch.tensor(fresh_logprobs), atol=1e-5)
        assert torch.allclose(torch.tensor(logprobs), forced_logprobs(model, prompt, ids, 1.0), atol=1e-5)


def test_a_chunk_with_a_row_that_has_no_cached_prefix_is_prefilled_whole(model: torch.nn.Module) -> None:
    from rlef_trainer.rollout import _continued_cache, sample_turn

    tokenizer = SimpleNamespace(eos_token_id=1, pad_token_id=0)
    prompts = [[5, 6, 7, 8], [9, 10, 11]]
    kwargs = dict(max_new_tokens=4, temperature=1.0, top_p=1.0, batch_size=4, device=torch.device("cpu"))
    torch.manual_seed(0)
    first, left = sample_turn(model, tokenizer, prompts, None, engine="generate", **kwargs)  # type: ignore[arg-type]
    second = _next_turn(prompts, first, seed=1)
    width = max(map(len, second))
    assert _continued_cache(model, second, left, width, torch.device("cpu")) is not None
    assert _continued_cache(model, second, [left[0], None], width, torch.device("cpu")) is None
    out, _ = sample_turn(model, tokenizer, second, [left[0], None], engine="generate", **kwargs)  # type: ignore[arg-type]
    for prompt, (ids, logprobs, _) in zip(second, out, strict=True):
        assert torch.allclose(torch.tensor(logprobs), forced_logprobs(model, prompt, ids, 1.0), atol=1e-5)


def test_the_static_engine_leaves_no_cached_prefix(model: torch.nn.Module) -> None:
    from rlef_trainer.rollout import sample_turn

    tokenizer = SimpleNamespace(eos_token_id=1, pad_token_id=0)
    kwargs = dict(max_new_tokens=3, temperature=1.0, top_p=1.0, batch_size=4, device=torch.device("cpu"))
    _, left = sample_turn(model, tokenizer, [[5, 6, 7]], None, engine="static", **kwargs)  # type: ignore[arg-type]
    assert left == [None]


def test_the_generate_engine_samples_the_policy_itself_not_the_model_folders_chat_defaults(
    model: torch.nn.Module,
) -> None:
    """The fixture's generation_config.json is Qwen2.5's (repetition_penalty 1.1, top_k 20, top_p 0.8, temperature
    0.7); the trainer's draws and stored log-probs must be those of softmax(logits / T) alone."""
    assert model.generation_config.repetition_penalty == 1.1 and model.generation_config.top_k == 20
    tokenizer = SimpleNamespace(eos_token_id=1, pad_token_id=0)
    prompts = [[5, 6, 7, 5, 6, 7, 5], [8, 9, 10, 11, 8, 9, 10, 11]]  # repeated tokens: a penalty would move them
    torch.manual_seed(4)
    out = sample_responses(
        model,
        tokenizer,
        prompts,
        max_new_tokens=8,
        temperature=1.3,
        top_p=1.0,
        batch_size=2,
        device=torch.device("cpu"),
        engine="generate",
    )
    for prompt, (ids, logprobs, _) in zip(prompts, out, strict=True):
        assert torch.allclose(torch.tensor(logprobs), forced_logprobs(model, prompt, ids, 1.3), atol=1e-5)
    assert model.generation_config.repetition_penalty == 1.1  # the model's own config is left as it was
