"""Multi-turn rollouts through the environment service, token-in/token-out.

Each episode's sequence grows by exactly the ids the sampler produced and, after a failed
turn, the ids of the chat-template delta that carries the feedback message; earlier turns
are never re-tokenised. The service decides everything about the episode (code extraction,
tests, feedback text, reward); this module only samples and bookkeeps.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from transformers import PreTrainedTokenizerBase

if TYPE_CHECKING:  # the GPU benchmark imports this module without websockets installed
    from rlef_trainer.env_client import EnvClient

ROLLOUT_ENGINES = ("auto", "static", "generate")

# A private-use placeholder marks where the response text sits in the rendered template.
RESPONSE_PLACEHOLDER = "\ue000rlef response\ue000"


@dataclass
class EpisodeRequest:
    """What to reset: a task object or set reference, and the protocol's reset options."""

    task: dict[str, Any]
    options: dict[str, Any]


@dataclass
class Rollout:
    """One episode as the trainer sees it (the design's "rollout record")."""

    task_id: str
    options: dict[str, Any]
    token_ids: list[int] = field(default_factory=list)
    sampler_logprobs: list[float] = field(default_factory=list)  # log pi_behaviour per token, 0 off-policy
    policy_mask: list[bool] = field(default_factory=list)  # True where the policy sampled the token
    turn_of_token: list[int] = field(default_factory=list)  # turn number (0-based) of policy tokens, -1 elsewhere
    turn_prompt_ends: list[int] = field(default_factory=list)  # index of the last prompt token of each turn
    turn_rewards: list[float] = field(default_factory=list)  # r_t from the service, one per turn played
    responses: list[str] = field(default_factory=list)
    invalid: list[bool] = field(default_factory=list)
    solved: bool = False  # final code passed all public and private tests
    messages: list[dict[str, str]] = field(default_factory=list)  # the conversation, for logs only
    last_step: dict[str, Any] | None = None

    @property
    def num_turns(self) -> int:
        return len(self.turn_rewards)

    def append(self, ids: list[int], *, policy: bool, logprobs: list[float] | None = None, turn: int = -1) -> None:
        self.token_ids += ids
        self.policy_mask += [policy] * len(ids)
        self.sampler_logprobs += logprobs if logprobs is not None else [0.0] * len(ids)
        self.turn_of_token += [turn if policy else -1] * len(ids)


def _render(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]], generation_prompt: bool) -> str:
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)
    if not isinstance(text, str):
        raise TypeError("apply_chat_template(tokenize=False) must return text")
    return text


def first_prompt_ids(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]]) -> list[int]:
    return tokenizer.encode(_render(tokenizer, messages, True), add_special_tokens=False)


def feedback_delta_ids(
    tokenizer: PreTrainedTokenizerBase,
    history: list[dict[str, str]],
    feedback: list[dict[str, str]],
    stopped_with_eos: bool,
) -> list[int]:
    """Ids to append after a sampled response so the sequence reads as the template renders
    history + [that response] + feedback with a generation prompt.

    The template is rendered once with a placeholder response; everything after the
    placeholder is the delta. When the sampler already produced the end-of-turn token, the
    delta's leading copy of it is dropped; a response cut by the length cap keeps it.
    """
    text = _render(tokenizer, [*history, {"role": "assistant", "content": RESPONSE_PLACEHOLDER}, *feedback], True)
    at = text.rfind(RESPONSE_PLACEHOLDER)
    if at < 0:
        raise ValueError("the chat template does not render the assistant's content verbatim")
    suffix = text[at + len(RESPONSE_PLACEHOLDER) :]
    if stopped_with_eos:
        eos_text = tokenizer.decode([tokenizer.eos_token_id])
        if not suffix.startswith(eos_text):
            raise ValueError(f"the chat template does not end an assistant turn with the eos token {eos_text!r}")
        suffix = suffix[len(eos_text) :]
    return tokenizer.encode(suffix, add_special_tokens=False)


def stop_token_ids(tokenizer: PreTrainedTokenizerBase, model: Any) -> set[int]:
    ids = {tokenizer.eos_token_id}
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(configured)
    return {i for i in ids if i is not None}


# One StaticSampler per model, so its caches and CUDA graphs outlive a call. Held beside the model, not on
# it: a model is deep-copied (export, the full mode's networks) and a CUDA graph cannot be; the sampler
# refers to its model weakly, so dropping the model drops both.
_SAMPLERS: weakref.WeakKeyDictionary[Any, tuple[Any, Any]] = weakref.WeakKeyDictionary()


def _static_sampler(model: Any, stops: set[int], pad: int, temperature: float, top_p: float) -> Any:
    from rlef_trainer.sampler import StaticSampler

    key = (frozenset(stops), pad, temperature, top_p)
    held = _SAMPLERS.get(model)
    if held is None or held[0] != key:
        held = (key, StaticSampler(model, stop_ids=stops, pad_id=pad, temperature=temperature, top_p=top_p))
        _SAMPLERS[model] = held
    return held[1]


@dataclass
class CachedPrefix:
    """The K/V of the first `length` tokens of a row's sequence, per layer [kv heads, length, head dim],
    left by the generate call that sampled the row's last turn: its next turn prefills only the rest."""

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    length: int


@torch.no_grad()
def sample_responses(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[list[int]],
    *,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    batch_size: int,
    device: torch.device,
    engine: str = "auto",
) -> list[tuple[list[int], list[float], bool]]:
    """Sample one response per prompt.

    Returns (sampled ids up to and including the first stop token, the sampler's log-prob of
    each under the processed sampling distribution, whether it stopped with a stop token).
    `engine`: "static" is the trainer's own sampler (`sampler.py`: static KV cache, CUDA graphs
    on GPU); "generate" is KV-cached HF generate with left padding; "auto" picks "static" on
    CUDA and "generate" on CPU, where the host loop costs little and the toy run's recorded
    seeds were made. Either draws from softmax(logits / temperature) within top-p, nothing else.
    """
    return sample_turn(
        model,
        tokenizer,
        prompts,
        None,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        batch_size=batch_size,
        device=device,
        engine=engine,
    )[0]


def uses_generate(engine: str, device: torch.device) -> bool:
    if engine not in ROLLOUT_ENGINES:
        raise ValueError(f"rollout engine must be one of {ROLLOUT_ENGINES}, got {engine!r}")
    return engine == "generate" or (engine == "auto" and device.type != "cuda")


@torch.no_grad()
def sample_turn(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[list[int]],
    prefixes: list[CachedPrefix | None] | None,
    *,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    batch_size: int,
    device: torch.device,
    engine: str = "auto",
) -> tuple[list[tuple[list[int], list[float], bool]], list[CachedPrefix | None]]:
    """`sample_responses`, continuing from each prompt's `CachedPrefix` where one is given, and returning
    the prefix each prompt + response leaves for a next turn (the "generate" engine; the "static" engine
    prefills every prompt and leaves none)."""
    stops = stop_token_ids(tokenizer, model)
    pad = tokenizer.pad_token_id
    if not uses_generate(engine, device):
        sampler = _static_sampler(model, stops, pad, temperature, top_p)
        return sampler.sample(prompts, max_new_tokens, batch_size), [None] * len(prompts)
    out: list[tuple[list[int], list[float], bool]] = []
    left: list[CachedPrefix | None] = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        chunk_prefixes = prefixes[start : start + batch_size] if prefixes is not None else [None] * len(chunk)
        width = max(len(p) for p in chunk)
        input_ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        attention = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, ids in enumerate(chunk):
            input_ids[row, width - len(ids) :] = torch.tensor(ids)
            attention[row, width - len(ids) :] = 1
        cache = _continued_cache(model, chunk, chunk_prefixes, width, device)
        # decoder layers compiled for the update only; the policy's own distribution, not the model folder's
        # sampling defaults (generation_config.json: a repetition penalty, top-k, ...), which generate would
        # otherwise apply to every field not given here
        with torch.compiler.set_stance("force_eager"), _plain_generation_config(model):
            generated = model.generate(
                input_ids=input_ids.to(device),
                attention_mask=attention.to(device),
                past_key_values=cache,
                do_sample=True,
                temperature=temperature,
                top_p=top_p,
                top_k=0,
                max_new_tokens=max_new_tokens,
                eos_token_id=sorted(stops),
                pad_token_id=pad,
                return_dict_in_generate=True,
                output_scores=True,
            )
        new_ids = generated.sequences[:, width:].cpu()
        # scores are the processed logits the sampler drew from (temperature, top-p applied).
        logprobs = torch.stack([torch.log_softmax(s.float(), dim=-1) for s in generated.scores], dim=1).cpu()
        picked = logprobs.gather(-1, new_ids.unsqueeze(-1)).squeeze(-1)
        fed = new_ids.shape[1] - 1  # the last drawn token was never fed back, so it has no K/V
        layers = _cache_tensors(generated.past_key_values)
        for row in range(len(chunk)):
            ids = new_ids[row].tolist()
            stop_at = next((i for i, t in enumerate(ids) if t in stops), None)
            cut = len(ids) if stop_at is None else stop_at + 1
            out.append((ids[:cut], picked[row, :cut].tolist(), stop_at is not None))
            begin, length = width - len(chunk[row]), len(chunk[row]) + min(cut, fed)
            left.append(
                None
                if layers is None
                else CachedPrefix(
                    [k[row, :, begin : begin + length] for k, _ in layers],
                    [v[row, :, begin : begin + length] for _, v in layers],
                    length,
                )
            )
    return out, left


@contextmanager
def _plain_generation_config(model: Any) -> Iterator[None]:
    """`model.generation_config` set to transformers' global defaults for the duration, so that a sampler call
    draws from softmax(logits / temperature) within top-p and nothing else. A model folder's generation config
    (Qwen2.5's: repetition_penalty 1.1, top_k 20, top_p 0.8, temperature 0.7) is meant for chatting; in RL the
    spec samples the policy itself, and the stored log-probs must be those of the distribution drawn from."""
    from transformers import GenerationConfig

    saved = model.generation_config
    model.generation_config = GenerationConfig()
    try:
        yield
    finally:
        model.generation_config = saved


def _cache_tensors(cache: Any) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
    """A DynamicCache's per-layer (keys, values) [batch, kv heads, length, head dim], or None for another kind
    of cache (sliding windows, quantised), which a next turn then prefills again."""
    layers = getattr(cache, "layers", None)
    if type(cache).__name__ != "DynamicCache" or not layers or any(getattr(x, "is_sliding", False) for x in layers):
        return None
    return [(layer.keys, layer.values) for layer in layers]


def _continued_cache(
    model: Any, prompts: list[list[int]], prefixes: list[CachedPrefix | None], width: int, device: torch.device
) -> Any:
    """A DynamicCache holding, for every left-padded row, the K/V of its cached prefix at the row's own columns,
    over the columns that all rows have cached; generate then runs only the columns after it. None (a plain
    prefill) when some row has no prefix, so a chunk never mixes cached and uncached rows."""
    from transformers import DynamicCache

    if not prefixes or any(p is None for p in prefixes):
        return None
    rows = list(zip(prompts, prefixes, strict=True))
    # every row keeps at least its last token uncached: generate needs one input column to run
    shared = width - max(len(ids) - min(p.length, len(ids) - 1) for ids, p in rows)  # type: ignore[union-attr]
    if shared <= 0:
        return None
    first = prefixes[0]
    assert first is not None
    data = []
    for layer in range(len(first.keys)):
        heads, dim = first.keys[layer].shape[0], first.keys[layer].shape[-1]
        keys = first.keys[layer].new_zeros((len(rows), heads, shared, dim))
        values = first.values[layer].new_zeros((len(rows), heads, shared, dim))
        for b, (ids, prefix) in enumerate(rows):
            assert prefix is not None
            pad = width - len(ids)
            if pad < shared:
                keys[b, :, pad:] = prefix.keys[layer][:, : shared - pad]
                values[b, :, pad:] = prefix.values[layer][:, : shared - pad]
        data.append((keys.to(device), values.to(device)))
    return DynamicCache(ddp_cache_data=data, config=model.config)


def response_text(tokenizer: PreTrainedTokenizerBase, ids: list[int], stopped: bool) -> str:
    return tokenizer.decode(ids[:-1] if stopped else ids, skip_special_tokens=False)


def collect_rollouts(
    env: EnvClient,
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    requests: list[EpisodeRequest],
    *,
    max_new_tokens: int,
    temperature: float,
    top_p: float = 1.0,
    batch_size: int = 256,
    device: torch.device | None = None,
    engine: str = "auto",
) -> list[Rollout]:
    """Play every requested episode to the end through the service; all turns batched across episodes.

    With the "generate" engine each turn continues from the K/V its episode's previous turn left
    (`CachedPrefix`), so only the response's last token and the feedback are prefilled."""
    device = device or torch.device("cpu")
    resets = env.reset_batch([{"task": r.task, "options": r.options} for r in requests])
    rollouts: list[Rollout] = []
    episode_ids: list[str] = []
    for request, reset in zip(requests, resets, strict=True):
        rollout = Rollout(task_id=str(reset["taskId"]), options=request.options)
        rollout.messages = list(reset["observation"]["messages"])
        rollout.append(first_prompt_ids(tokenizer, rollout.messages), policy=False)
        rollouts.append(rollout)
        episode_ids.append(str(reset["episodeId"]))

    active = list(range(len(rollouts)))
    prefixes: list[CachedPrefix | None] = [None] * len(rollouts)
    turn = 0
    while active:
        for i in active:
            rollouts[i].turn_prompt_ends.append(len(rollouts[i].token_ids) - 1)
        samples, left = sample_turn(
            model,
            tokenizer,
            [rollouts[i].token_ids for i in active],
            [prefixes[i] for i in active],
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            batch_size=batch_size,
            device=device,
            engine=engine,
        )
        texts = [response_text(tokenizer, ids, stopped) for ids, _, stopped in samples]
        steps = env.step_batch(
            [{"episodeId": episode_ids[i], "response": t} for i, t in zip(active, texts, strict=True)]
        )
        still_active = []
        for i, prefix in zip(active, left, strict=True):
            prefixes[i] = prefix
        for i, (ids, logprobs, stopped), text, step in zip(active, samples, texts, steps, strict=True):
            rollout = rollouts[i]
            rollout.append(ids, policy=True, logprobs=logprobs, turn=turn)
            rollout.responses.append(text)
            rollout.turn_rewards.append(float(step["reward"]))
            rollout.invalid.append(bool(step["info"]["invalid"]))
            history = list(rollout.messages)
            rollout.messages.append({"role": "assistant", "content": text})
            if step["done"]:
                rollout.solved = bool(step["info"]["final"]["passed"])
                rollout.last_step = step
                prefixes[i] = None
                continue
            feedback = list(step["observation"]["messages"])
            rollout.append(feedback_delta_ids(tokenizer, history, feedback, stopped), policy=False)
            rollout.messages += feedback
            still_active.append(i)
        active = still_active
        turn += 1
    return rollouts
