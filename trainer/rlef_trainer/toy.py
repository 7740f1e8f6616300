"""The toy proof that RLEF teaches a model to use execution feedback.

Task family "secret letter": print a secret capital letter drawn per episode from SECRET_VALUES
(20 consonants; each is one token of the fixture tokenizer, in the answer and in the feedback
alike). Nothing in the problem reveals it; the only way to learn it is the execution feedback of a
failed attempt, where the environment's wrong-answer item shows the expected output. The tasks are
ordinary stdio task records played by `server/env` in its sandbox through the WebSocket service;
this module never judges an answer.

    1. a tiny Qwen2 model gets generic skills, copying from its context (repeated random token
       strings: no chat, no task text) and printing a letter its problem statement names
       ("named letter" problems, single-turn), then the answer format by a short supervised step on
       single-turn examples (a random secret in ```python\\nprint("X")\\n```, half of them named-letter
       problems so the copying stays; no feedback turns); a start gate probes the result on the
       service's retry contexts and measures its multi-turn rate, and draws the format step again (then,
       if need be, the generic steps) until the start ignores the feedback;
    2. its multi-turn, single-turn and random-feedback solve rates are measured (all near chance);
    3. `train` (the production PPO) runs twice from that model: with the true feedback and with
       the service's random-feedback ablation;
    4. the solve rates are measured again, written to results.json, and plotted to curves.png.

    rlef-train toy --out DIR --seed S
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlef_trainer.config import RLEFConfig
from rlef_trainer.env_client import EnvClient
from rlef_trainer.rollout import EpisodeRequest, collect_rollouts
from rlef_trainer.writable import folder_problem

SECRET_VALUES = tuple("BCDFGHJKLMNPQRSTVWXZ")
TOY_SET = "toy-secret"
STATEMENT = "Print the secret letter."
# The recipe's second single-turn family, "named letter": the statement itself names the letter to print.
# It stands in for an instruction-tuned LLM's ability to copy a value its instructions name; it never
# shows feedback, and the start model trained on it still ignores the feedback (measured before RL).
PLAIN_NAMED_STATEMENTS = (
    "Print the letter {x}.",
    "Write a program that prints {x}.",
    "Output {x} and nothing else.",
    "The answer is {x}; print it.",
    "Your program must print the capital letter {x} on one line.",
    "Print {x}.",
)
# Each behind a label letter, "Task K: Print the letter {x}." (every label with every statement; the label is
# drawn apart from the named letter): the base learns to copy the letter its statement names, not the first
# capital letter of the message. With the environment's words whole in the tokenizer and filler chats in the
# format step, every start draw measured kept the retry's format and stayed blind (trainer/README.md).
NAMED_STATEMENTS = tuple(f"Task {label}: {t}" for t in PLAIN_NAMED_STATEMENTS for label in SECRET_VALUES)
# The supervised steps shift each example's position ids by a random 0..POSITION_SHIFT, so the answer
# format is not tied to where the first turn's answer starts (a retry's answer starts hundreds later).
POSITION_SHIFT = 400
MAX_TURNS = 3
DONORS_PER_EPISODE = 4
# The toy's PPO iterations per arm and the share of them that decays the learning rate. The first 30 iterations
# are those of the constant-lr recipe before (2026-11-27): take-off came at ~13, ~15, ~21 and (another PPO seed) ~27
# on seeds 0-3, so 40 leave room for a late one and a decay after it.
TOY_ITERATIONS = 40
TOY_LR_DECAY_FRACTION = 0.25
# The PPO's learning rate, and no gradient clipping (RLEFConfig.max_grad_norm = 0; this model's gradient norms run
# 0.2-30, so the production clip at 1.0 rescaled nearly every step). Measured from the six seeds' starts
# (trainer/README.md): at 4.5e-4 unclipped, 5 of 6 reach 0.8 (4 of 6 at 3e-4 clipped); with the clip, 4.5e-4 and
# 6e-4 each collapsed in one update on seed 1's start (0.93 to 0.08 at 34, and 0.15 to 0.00 at 17), unclipped not.
TOY_LR = 4.5e-4

# The fixture's tiny Qwen2 architecture and tokenizer, widened (4 layers, width 128, ~0.7M parameters).
TOY_SHAPE = {"num_layers": 4, "hidden_size": 128, "num_heads": 4, "num_kv_heads": 4, "intermediate_size": 256}


def chance_single_turn() -> float:
    """One blind guess, uniform over the secrets."""
    return 1.0 / len(SECRET_VALUES)


def chance_multi_turn(turns: int = MAX_TURNS) -> float:
    """`turns` independent uniform guesses: what a sampler that ignores the feedback solves."""
    return 1.0 - (1.0 - chance_single_turn()) ** turns


def secret_task(episode: int, secret: str) -> dict[str, Any]:
    """An ordinary stdio task record whose only public test expects the secret."""
    if secret not in SECRET_VALUES:
        raise ValueError(f"secret {secret!r} is not one of {''.join(SECRET_VALUES)}")
    return {
        "kind": "stdio",
        "id": f"secret-{episode:07d}",
        "set": TOY_SET,
        "language": "python",
        "statement": STATEMENT,
        "publicTests": [{"input": "", "output": f"{secret}\n"}],
        "privateTests": [],
        "checker": {"mode": "tokens"},
        "limits": {"timeMs": 10000, "memoryBytes": 256 * 1024 * 1024},
    }


class SecretEpisodes:
    """Draws the toy's episodes: a fresh secret per episode; donors with their own secrets for the ablation."""

    def __init__(self, *, max_turns: int = MAX_TURNS, random_feedback: bool = False) -> None:
        self.max_turns = max_turns
        self.random_feedback = random_feedback
        self.counter = 0

    def __call__(self, iteration: int, rng: np.random.Generator, count: int) -> list[EpisodeRequest]:
        requests = []
        for _ in range(count):
            self.counter += 1
            base = self.counter * (DONORS_PER_EPISODE + 1)
            secret = str(rng.choice(SECRET_VALUES))
            options: dict[str, Any] = {"maxTurns": self.max_turns, "seed": int(rng.integers(0, 2**31 - 1))}
            if self.random_feedback:
                options["randomFeedback"] = True
                options["donorTasks"] = [
                    secret_task(base + d, str(rng.choice(SECRET_VALUES))) for d in range(1, DONORS_PER_EPISODE + 1)
                ]
            requests.append(EpisodeRequest(task=secret_task(base, secret), options=options))
        return requests


def answer_text(secret: str) -> str:
    return f'```python\nprint("{secret}")\n```'


def environment_corpus(contexts: dict[tuple[str, str], list[dict[str, str]]]) -> list[str]:
    """The environment's own words, as one turn-two context holds them: its first prompt and its feedback.

    The recipe builds the start model's tokenizer with them (`build_start_model`'s `corpus`). The fixture
    tokenizer's corpus alone barely knows these words, so it cuts "Give", "Print" and "Solve" into a capital consonant
    plus the rest, and such a capital is the very token of a secret letter. The start models' letter-copying
    skill lands on them: 2 of 6 format draws from seed 0's base put 0.97-0.99 of their retry letter on the G of
    the feedback's "Give it another try." (near uniform, top letter 0.08-0.11, with that sentence reworded).
    Given as `corpus` to `build_start_model`, the words become whole tokens, as in any real LLM's tokenizer; alone
    that made the base read the feedback's letters instead (seed 0: P(expected) 0.46, P(own guess) 0.49), which the
    labelled named statements and the format step's filler chats undo (trainer/README.md).
    """
    messages = next(iter(contexts.values()))
    return [messages[0]["content"], messages[-1]["content"]]


def build_start_model(out_dir: Path, seed: int, corpus: list[str] | None = None) -> Path:
    """A random-weight Qwen2 model folder with the fixture's tokenizer (its corpus plus `corpus`) and ChatML
    template."""
    from rlef_trainer.fixtures.chatml import CHATML_TEMPLATE
    from rlef_trainer.fixtures.model_shapes import MODEL_SHAPES
    from rlef_trainer.fixtures.tiny_model import CHAT_TEMPLATE_FILE, build_model, build_tokenizer, tokenizer_config

    shape = dataclasses.replace(MODEL_SHAPES["tiny"], name="toy", initializer_range=0.02, **TOY_SHAPE)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(corpus or ())
    tokenizer.save(str(out_dir / "tokenizer.json"))
    (out_dir / "tokenizer_config.json").write_text(json.dumps(tokenizer_config(tokenizer), indent=2) + "\n")
    (out_dir / CHAT_TEMPLATE_FILE).write_text(CHATML_TEMPLATE)
    build_model(shape, tokenizer, seed).save_pretrained(out_dir)
    return out_dir


def generic_copy_pretraining(
    model_dir: Path, seed: int, steps: int, batch: int = 64, length: int = 24
) -> dict[str, float]:
    """A generic skill, standing in for an LLM's pretraining: continue a random token string that repeats.

    Strings of ordinary tokens (no chat markup, no task text), each followed by itself; the loss is on
    the repeat. The toy model reaches accuracy 1.0 within ~100 steps, but the repeat is always one string
    length later, which a positional head solves: this does not yet give content-based copying
    (trainer/README.md, "Status of the toy learning run"). Nothing here mentions secrets, feedback or turns.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    ordinary = min(tokenizer.all_special_ids + list(tokenizer.added_tokens_decoder))
    generator = torch.Generator().manual_seed(seed + 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    model.train()
    loss_value = accuracy = 0.0
    for _ in range(steps):
        half = torch.randint(0, ordinary, (batch, length), generator=generator)
        ids = torch.cat([half, half], dim=1)
        labels = ids.clone()
        labels[:, : length + 1] = -100
        out = model(input_ids=ids, labels=labels)
        optimizer.zero_grad()
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        loss_value = out.loss.item()
        accuracy = (out.logits[:, length:-1].argmax(-1) == ids[:, length + 1 :]).float().mean().item()
    model.eval().save_pretrained(model_dir)
    return {"copy_steps": float(steps), "copy_final_loss": loss_value, "copy_accuracy": accuracy}


def named_prompt(first_prompt: list[dict[str, str]], statement: str) -> list[dict[str, str]]:
    """The environment's first prompt of the toy with another statement in place of STATEMENT."""
    if len(first_prompt) != 1 or first_prompt[0]["content"].count(STATEMENT) != 1:
        raise ValueError("the environment's first prompt does not hold the toy's statement exactly once")
    return [{**first_prompt[0], "content": first_prompt[0]["content"].replace(STATEMENT, statement)}]


# The format step puts a random chat of 0..FILLER_EXCHANGES earlier exchanges (user and assistant messages of
# FILLER_TOKENS random ordinary tokens each; no task, answer or feedback) before the toy's own problem, so the answer
# format does not depend on the problem being the conversation's first message. With the environment's words whole
# and labelled named statements it kept the retry's format in every start draw measured (0.94-0.98 well-formed, 6
# draws from 4 bases), where 5 of 6 broke without it (trainer/README.md, "A format step with filler chats").
FILLER_EXCHANGES = 2
FILLER_TOKENS = (4, 48)


def filler_messages(tokenizer: Any, generator: torch.Generator, exchanges: int) -> list[dict[str, str]]:
    """0..`exchanges` earlier user/assistant exchanges of random ordinary tokens (no code fences): a chat that came
    before the problem. Never a task, an answer or feedback."""
    if exchanges < 0:
        raise ValueError(f"exchanges must be at least 0, got {exchanges}")
    if exchanges == 0:  # draws nothing from the generator: the recipe's format step before the filler
        return []
    ordinary = min(tokenizer.all_special_ids + list(tokenizer.added_tokens_decoder))
    messages = []
    for _ in range(int(torch.randint(exchanges + 1, (1,), generator=generator))):
        for role in ("user", "assistant"):
            length = int(torch.randint(FILLER_TOKENS[0], FILLER_TOKENS[1] + 1, (1,), generator=generator))
            text = tokenizer.decode(torch.randint(0, ordinary, (length,), generator=generator).tolist())
            messages.append({"role": role, "content": text.replace("`", "'").strip() or "."})
    return messages


def _named_examples(
    tokenizer: Any, first_prompt: list[dict[str, str]], picks: list[int], templates: list[int]
) -> list[tuple[list[int], str]]:
    from rlef_trainer.rollout import first_prompt_ids

    return [
        (
            first_prompt_ids(tokenizer, named_prompt(first_prompt, NAMED_STATEMENTS[t].format(x=SECRET_VALUES[k]))),
            SECRET_VALUES[k],
        )
        for k, t in zip(picks, templates, strict=True)
    ]


def instruction_copy_pretraining(
    model_dir: Path,
    first_prompt: list[dict[str, str]],
    seed: int,
    steps: int,
    batch: int = 32,
    position_shift: int = POSITION_SHIFT,
) -> dict[str, float]:
    """A generic skill, standing in for an instruction-tuned LLM's: print the letter the statement names.

    Single-turn "named letter" problems (NAMED_STATEMENTS), loss on the letter only, after the answer's
    fixed opening. No secret, no feedback, no second turn. Accuracy 1.0 within ~50 steps of 32.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    generator = torch.Generator().manual_seed(seed + 2)
    opening = tokenizer.encode(answer_text("X").split("X")[0], add_special_tokens=False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    model.train()
    loss_value = accuracy = 0.0
    for _ in range(steps):
        picks = torch.randint(len(SECRET_VALUES), (batch,), generator=generator).tolist()
        templates = torch.randint(len(NAMED_STATEMENTS), (batch,), generator=generator).tolist()
        rows = [(p + opening, letter) for p, letter in _named_examples(tokenizer, first_prompt, picks, templates)]
        width = max(len(p) for p, _ in rows)
        ids = torch.full((batch, width), tokenizer.pad_token_id)
        attn = torch.zeros((batch, width), dtype=torch.long)
        for row, (p, _) in enumerate(rows):
            ids[row, width - len(p) :] = torch.tensor(p)
            attn[row, width - len(p) :] = 1
        target = torch.tensor([tokenizer.convert_tokens_to_ids(letter) for _, letter in rows])
        shift = torch.randint(position_shift + 1, (batch, 1), generator=generator)
        positions = (attn.cumsum(-1) - 1).clamp(min=0) + shift
        logits = model(input_ids=ids, attention_mask=attn, position_ids=positions).logits[:, -1]
        loss = torch.nn.functional.cross_entropy(logits, target)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        loss_value = loss.item()
        accuracy = (logits.argmax(-1) == target).float().mean().item()
    model.eval().save_pretrained(model_dir)
    return {
        "instruction_copy_steps": float(steps),
        "instruction_copy_loss": loss_value,
        "instruction_copy_accuracy": accuracy,
    }


def supervised_format_step(
    model_dir: Path,
    first_prompt: list[dict[str, str]],
    seed: int,
    steps: int,
    batch: int,
    named_share: float = 0.5,
    position_shift: int = POSITION_SHIFT,
    filler: int = FILLER_EXCHANGES,
) -> dict[str, float]:
    """Teach the answer format: single-turn examples (problem -> ```python print("X")```), no feedback turns.

    Half (1 - `named_share`) are the toy's own problem with X uniform (nothing in it tells the secret), after
    0..`filler` exchanges of random chat; half are "named letter" problems (first messages), so the format step
    keeps the start model's instruction copying (without them, the uniform answers teach the answer slot to
    ignore its context altogether).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rlef_trainer.rollout import first_prompt_ids

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    generator = torch.Generator().manual_seed(seed)
    prompt = first_prompt_ids(tokenizer, first_prompt)
    answers = {
        s: tokenizer.encode(answer_text(s), add_special_tokens=False) + [tokenizer.eos_token_id] for s in SECRET_VALUES
    }
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    model.train()
    loss_value = 0.0
    for _ in range(steps):
        picks = torch.randint(len(SECRET_VALUES), (batch,), generator=generator).tolist()
        templates = torch.randint(len(NAMED_STATEMENTS), (batch,), generator=generator).tolist()
        named = torch.rand((batch,), generator=generator) < named_share
        named_rows = iter(_named_examples(tokenizer, first_prompt, picks, templates))
        rows = []
        for k, is_named in zip(picks, named.tolist(), strict=True):
            p, letter = next(named_rows)
            if is_named:
                rows.append((p, answers[letter]))
            else:
                earlier = filler_messages(tokenizer, generator, filler)
                own = first_prompt_ids(tokenizer, earlier + first_prompt) if earlier else prompt
                rows.append((own, answers[SECRET_VALUES[k]]))
        width = max(len(p) + len(a) for p, a in rows)
        ids = torch.full((batch, width), tokenizer.pad_token_id)
        labels = torch.full((batch, width), -100)
        attn = torch.zeros((batch, width), dtype=torch.long)
        for row, (p, a) in enumerate(rows):
            seq = p + a
            ids[row, : len(seq)] = torch.tensor(seq)
            attn[row, : len(seq)] = 1
            labels[row, len(p) : len(seq)] = torch.tensor(a)
        positions = torch.arange(width)[None, :] + torch.randint(position_shift + 1, (batch, 1), generator=generator)
        loss = model(input_ids=ids, attention_mask=attn, position_ids=positions, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        loss_value = loss.item()
    model.eval().save_pretrained(model_dir)
    return {"sft_steps": float(steps), "sft_final_loss": loss_value}


def first_observation(env: EnvClient) -> list[dict[str, str]]:
    """The environment's own first prompt of a toy task (the problem text is the service's)."""
    reset = env.reset_batch([{"task": secret_task(0, SECRET_VALUES[0]), "options": {"maxTurns": MAX_TURNS}}])[0]
    env.request({"type": "close", "episodeId": reset["episodeId"]}, "close")
    return list(reset["observation"]["messages"])


def turn_two_contexts(env: EnvClient) -> dict[tuple[str, str], list[dict[str, str]]]:
    """The service's turn-two messages for every (secret, wrong guess) pair: 380 episodes, closed after one step."""
    pairs = [(q, g) for q in SECRET_VALUES for g in SECRET_VALUES if g != q]
    resets = env.reset_batch(
        [{"task": secret_task(i, q), "options": {"maxTurns": MAX_TURNS}} for i, (q, _) in enumerate(pairs)]
    )
    steps = env.step_batch(
        [{"episodeId": r["episodeId"], "response": answer_text(g)} for r, (_, g) in zip(resets, pairs, strict=True)]
    )
    contexts = {}
    for reset, step, (q, g) in zip(resets, steps, pairs, strict=True):
        env.request({"type": "close", "episodeId": reset["episodeId"]}, "close")
        contexts[(q, g)] = [
            *reset["observation"]["messages"],
            {"role": "assistant", "content": answer_text(g)},
            *step["observation"]["messages"],
        ]
    return contexts


# A start model must not read the feedback yet, and must answer a retry with a secret letter: on turn-two
# contexts its (teacher-forced) probability of the expected letter and of repeating its own first guess stay
# near uniform (1/20), and the letters hold most of the mass. How a tiny model treats a retry it never saw in
# training varies from draw to draw (2026-11-26, four seeds: two drew P(own guess) 0.38 and 0.57 with
# P(expected) 0.15), so the recipe draws again (seed + 1000 k) until a draw passes this gate. A draw must also
# write its own retries in the answer format (sampled, temperature 1): seed 3's start passed the letter probe
# but only 63% of its second answers were well-formed, and its multi-turn rate fell below blind guessing;
# seed 0's accepted start writes 93.5%. A draw that passes the probes is then measured on the start finding
# itself (its multi-turn rate within 5 points of blind guessing, `near_blind_guessing`): a start that avoids
# the feedback's letter (P(expected) 0.022, under the uniform 0.05) passed the probes but solved 0.067.
START_GATE = {"p_expected_max": 0.08, "p_own_guess_max": 0.12, "p_letters_min": 0.9, "retry_well_formed_min": 0.85}
# A draw is two-level. The generic skills (the base: copying pretraining, named-letter problems) are built
# once per base seed and kept when the base passes BASE_GATE: it learnt its named-letter skill (accuracy on its
# last batch), and it does not already read the feedback's expected letter (teacher-forced on the retry
# contexts, as the start gate's probe: the base knows the answer's opening from its named-letter step). Then
# only the format step is drawn again (format seed + 1000 k) while its start fails the start gate. The format
# step alone moves the retry behaviour a lot: from seed 0's base (P(expected) 0.092, P(own guess) 0.28), format
# seeds 0-5 gave P(expected) 0.02-0.047, P(own guess) 0.04-0.21, well-formed retries 0.74-0.97, and 3 of 6
# passed (trainer/experiments/fixed_base.py), at ~40 s a draw where a whole draw takes ~90 s. But it does not
# undo a base that reads the expected letter: seed 1's base (P(expected) 0.137) gave 0.154 and 0.136 after
# its first two format steps.
BASE_GATE = {"named_accuracy_min": 0.9, "p_expected_max": 0.12}
START_BASES = 4
START_FORMAT_DRAWS = 4


def start_draw_seeds(seed: int) -> list[tuple[int, int]]:
    """The (base seed, format seed) pairs the recipe tries, in order. The first is (seed, seed), the single
    draw of the recipe before the two-level draw, so a seed whose first draw passed builds the same start."""
    return [(seed + 100_000 * base, seed + 1000 * k) for base in range(START_BASES) for k in range(START_FORMAT_DRAWS)]


def retry_batch(
    tokenizer: Any, contexts: dict[tuple[str, str], list[dict[str, str]]], secret: np.ndarray, guess: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Left-padded turn-two prompts (secret index, wrong-guess index) ending in the retry's opening
    ```python\nprint(", so the next token is the retry's letter: input ids, attention mask, position ids."""
    from rlef_trainer.rollout import first_prompt_ids

    opening = tokenizer.encode(answer_text("X").split("X")[0], add_special_tokens=False)
    rows = [
        first_prompt_ids(tokenizer, contexts[(SECRET_VALUES[q], SECRET_VALUES[g])]) + opening
        for q, g in zip(secret, guess, strict=True)
    ]
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), tokenizer.pad_token_id)
    attn = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row) :] = torch.tensor(row)
        attn[i, width - len(row) :] = 1
    return ids, attn, (attn.cumsum(-1) - 1).clamp(min=0)


def retry_pairs(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` random (secret index, wrong first guess index) pairs: the turn-two contexts a probe looks at."""
    rng = np.random.default_rng(seed)
    secret = rng.integers(0, len(SECRET_VALUES), count)
    return secret, (secret + rng.integers(1, len(SECRET_VALUES), count)) % len(SECRET_VALUES)


def retry_letter_probe(
    model: Any, tokenizer: Any, contexts: dict[tuple[str, str], list[dict[str, str]]], count: int = 200, seed: int = 0
) -> dict[str, float]:
    """Teacher-forced probabilities of the retry's letter on `count` random (secret, wrong guess) pairs."""
    letters = torch.tensor([tokenizer.convert_tokens_to_ids(x) for x in SECRET_VALUES])
    secret, guess = retry_pairs(count, seed)
    ids, attn, positions = retry_batch(tokenizer, contexts, secret, guess)
    with torch.no_grad():
        probs = torch.softmax(model(input_ids=ids, attention_mask=attn, position_ids=positions).logits[:, -1], -1)
    index = torch.arange(count)
    among = probs[:, letters] / probs[:, letters].sum(-1, keepdim=True)  # the retry's letter, given it is one
    return {
        "p_expected": float(probs[index, letters[torch.from_numpy(secret)]].mean()),
        "p_own_guess": float(probs[index, letters[torch.from_numpy(guess)]].mean()),
        "p_letters": float(probs[:, letters].sum(-1).mean()),
        # how blind the retry's guess is: the entropy of its letter (ln 20 = 3.0 when uniform) and the mean share
        # of the letter it favours across contexts (a start that copies a capital of the feedback's own words,
        # the G of "Give it another try", puts 0.97 on it)
        "retry_letter_entropy": float(-(among * among.clamp_min(1e-12).log()).sum(-1).mean()),
        "p_top_letter": float(among.mean(0).max()),
    }


def retry_format_probe(
    model: Any, tokenizer: Any, contexts: dict[tuple[str, str], list[dict[str, str]]], count: int = 200, seed: int = 0
) -> dict[str, float]:
    """Sampled retries (temperature 1, as in training) on `count` random turn-two contexts: the share that is a
    well-formed answer (some secret letter in the answer format, then the stop token). Leaves torch's RNG as it was."""
    from rlef_trainer.rollout import first_prompt_ids, response_text, sample_responses

    secret, guess = retry_pairs(count, seed)
    prompts = [
        first_prompt_ids(tokenizer, contexts[(SECRET_VALUES[q], SECRET_VALUES[g])])
        for q, g in zip(secret, guess, strict=True)
    ]
    well_formed = {answer_text(x) for x in SECRET_VALUES}
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        samples = sample_responses(
            model,
            tokenizer,
            prompts,
            max_new_tokens=16,
            temperature=1.0,
            top_p=1.0,
            batch_size=256,
            device=torch.device("cpu"),
            engine="generate",
        )
    good = sum(stopped and response_text(tokenizer, ids, stopped).strip() in well_formed for ids, _, stopped in samples)
    return {"retry_well_formed": good / count}


def load_model(model_dir: Path) -> Any:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()


def load_tokenizer(model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


def near_blind_guessing(multi_turn_rate: float) -> bool:
    """The start finding: a multi-turn solve rate within 5 points of blind guessing in MAX_TURNS attempts."""
    return abs(multi_turn_rate - chance_multi_turn()) <= 0.05


def passes_base_gate(named_accuracy: float, probe: dict[str, float]) -> bool:
    return named_accuracy >= BASE_GATE["named_accuracy_min"] and probe["p_expected"] <= BASE_GATE["p_expected_max"]


def passes_start_gate(probe: dict[str, float]) -> bool:
    return (
        probe["p_expected"] <= START_GATE["p_expected_max"]
        and probe["p_own_guess"] <= START_GATE["p_own_guess_max"]
        and probe["p_letters"] >= START_GATE["p_letters_min"]
        and probe["retry_well_formed"] >= START_GATE["retry_well_formed_min"]
    )


def solve_rate(
    env: EnvClient, model: Any, tokenizer: Any, episodes: int, *, max_turns: int, random_feedback: bool, seed: int
) -> dict[str, float]:
    """Fresh episodes at temperature 1.0; solve rate with a 95% Wilson interval."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    requests = SecretEpisodes(max_turns=max_turns, random_feedback=random_feedback)(0, rng, episodes)
    rollouts = collect_rollouts(env, model, tokenizer, requests, max_new_tokens=16, temperature=1.0, batch_size=256)
    solved = sum(r.solved for r in rollouts)
    return {
        "solve_rate": solved / episodes,
        **wilson_interval(solved, episodes),
        "episodes": float(episodes),
        "invalid_rate": float(np.mean([x for r in rollouts for x in r.invalid])),
    }


def wilson_interval(successes: int, n: int, z: float = 1.96) -> dict[str, float]:
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {"ci_low": max(0.0, centre - half), "ci_high": min(1.0, centre + half)}


def oracle_ceiling(env: EnvClient, episodes: int, seed: int) -> float:
    """A policy that guesses blindly, then answers with the expected output the service reports.

    It reads `results[].expected` (data of the step reply, not the feedback text) and so measures
    what a perfect feedback reader can reach in MAX_TURNS attempts.
    """
    rng = np.random.default_rng(seed)
    requests = SecretEpisodes()(0, rng, episodes)
    resets = env.reset_batch([{"task": r.task, "options": r.options} for r in requests])
    ids = [r["episodeId"] for r in resets]
    answers = {i: answer_text(str(rng.choice(SECRET_VALUES))) for i in ids}
    solved = 0
    while answers:
        steps = env.step_batch([{"episodeId": i, "response": a} for i, a in answers.items()])
        answers = {}
        for step in steps:
            if step["done"]:
                solved += bool(step["info"]["final"]["passed"])
            else:
                expected = step["results"][0]["expected"].strip()
                answers[step["episodeId"]] = answer_text(expected)
    return solved / episodes


def toy_config(out_dir: Path, seed: int, *, random_feedback: bool, iterations: int) -> RLEFConfig:
    """The production RLEFConfig with the toy's scale: small batches, a learning rate fit for a 150k-parameter model."""
    return RLEFConfig(
        model=str(out_dir / "start-model"),
        mode="full",
        device="cpu",
        dtype="float32",
        lr=TOY_LR,
        weight_decay=0.0,
        warmup_steps=2,
        # the last quarter of the iterations lowers the lr linearly: a run that took off then ends on small steps
        # (at a constant lr one took off at 27, held 0.85-0.92 for seven iterations, then fell to 0.40 in one)
        lr_decay_fraction=TOY_LR_DECAY_FRACTION,
        adam_betas=(0.9, 0.99),
        max_grad_norm=0.0,
        rollouts_per_iteration=128,
        minibatch_size=128,
        ppo_epochs=1,
        generation_batch_size=256,
        max_turns=MAX_TURNS,
        max_new_tokens=16,
        temperature=1.0,
        top_p=1.0,
        random_feedback=random_feedback,
        kl_beta=0.05,
        clip_eps=0.2,
        value_clip=0.2,
        iterations=iterations,
        seed=seed,
        out_dir=str(out_dir / ("train-random-feedback" if random_feedback else "train-feedback")),
        checkpoint_every=0,
    )


def lr_decay_span(curve: list[dict[str, float]]) -> tuple[float, float] | None:
    """The first and last iteration of the learning rate's final decay (`RLEFConfig.lr_decay_fraction`): those
    after its peak that run below it. None for a constant rate, or a curve without "lr" (results before it)."""
    rates = [(c["iteration"], c["lr"]) for c in curve if "lr" in c]
    peak = max((lr for _, lr in rates), default=0.0)
    top = next((i for i, (_, lr) in enumerate(rates) if lr == peak), len(rates))
    decaying = [iteration for iteration, lr in rates[top:] if lr < peak]
    return (decaying[0], decaying[-1]) if decaying else None


def plot_curves(path: Path, results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for key, label, colour in (
        ("feedback", "RLEF, true feedback", "tab:blue"),
        ("random_feedback", "RLEF, random feedback", "tab:orange"),
    ):
        curve = results["curves"][key]
        ax.plot(
            [c["iteration"] for c in curve],
            [c["solve_rate"] for c in curve],
            marker="o",
            ms=3,
            color=colour,
            label=f"{label} (training rollouts)",
        )
    span = lr_decay_span(results["curves"]["feedback"])
    if span is not None:
        ax.axvspan(span[0] - 0.5, span[1] + 0.5, color="grey", alpha=0.12, lw=0, label="lr decaying")
    ax.axhline(results["oracle_ceiling"], color="black", ls="-", lw=1, label="oracle ceiling (reads the feedback)")
    ax.axhline(0.8 * results["oracle_ceiling"], color="grey", ls=":", lw=1, label="80% of the ceiling")
    ax.axhline(
        results["chance"]["multi_turn"], color="tab:green", ls="--", lw=1, label=f"blind guessing, {MAX_TURNS} attempts"
    )
    ax.axhline(results["chance"]["single_turn"], color="tab:red", ls="--", lw=1, label="blind guessing, 1 attempt")
    ax.set_xlabel("iteration")
    ax.set_ylabel("solve rate")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Toy 'secret letter' ({len(SECRET_VALUES)} values), seed {results['seed']}")
    ax.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _rates(evaluation: dict[str, dict[str, float]]) -> str:
    return json.dumps({k: round(v["solve_rate"], 3) for k, v in evaluation.items()})


def evaluate_all(env: EnvClient, model: Any, tokenizer: Any, episodes: int, seed: int) -> dict[str, dict[str, float]]:
    model.eval()
    return {
        "multi_turn": solve_rate(
            env, model, tokenizer, episodes, max_turns=MAX_TURNS, random_feedback=False, seed=seed + 11
        ),
        "single_turn": solve_rate(env, model, tokenizer, episodes, max_turns=1, random_feedback=False, seed=seed + 12),
        "random_feedback": solve_rate(
            env, model, tokenizer, episodes, max_turns=MAX_TURNS, random_feedback=True, seed=seed + 13
        ),
    }


# What a start-model folder of the toy records about how the recipe built it (seed, draws, the supervised steps'
# numbers), so that a run can start from it (`run_toy(start=...)`) and still report them.
START_RECORD = "toy-start.json"


def write_start_record(
    model_dir: Path, seed: int, draws: list[dict[str, Any]], sft: dict[str, float], copying: dict[str, float]
) -> None:
    record = {"seed": seed, "start_draws": draws, "sft": sft, "copy_pretraining": copying}
    (model_dir / START_RECORD).write_text(json.dumps(record, indent=2) + "\n")


def read_start_record(model_dir: Path) -> dict[str, Any]:
    """The START_RECORD of a start-model folder, with a clear error for a folder that is not one."""
    path = model_dir / START_RECORD
    if not (model_dir / "config.json").is_file() or not path.is_file():
        raise ValueError(f"{model_dir} is not a toy start model: it needs config.json and {START_RECORD}")
    try:
        record = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    missing = [
        k for k in ("seed", "start_draws", "sft", "copy_pretraining") if not isinstance(record, dict) or k not in record
    ]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}")
    return record


def probe_start(
    env: EnvClient, model_dir: Path, contexts: dict[tuple[str, str], list[dict[str, str]]], episodes: int, seed: int
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """A candidate start model's probes and gate: the retry-letter and retry-format probes, then, when they pass,
    its solve rates (the "before RL" evaluation) and the start finding itself (the probes miss a start that avoids
    the feedback's letter). Returns the probe record (with "accepted") and the rates ({} when the probes failed)."""
    model, tokenizer = load_model(model_dir), load_tokenizer(model_dir)
    probe: dict[str, Any] = retry_letter_probe(model, tokenizer, contexts)
    probe |= retry_format_probe(model, tokenizer, contexts)
    if not passes_start_gate(probe):
        return {**probe, "accepted": False}, {}
    before = evaluate_all(env, model, tokenizer, episodes, seed)
    probe["start_multi_turn"] = before["multi_turn"]["solve_rate"]
    return {**probe, "accepted": near_blind_guessing(probe["start_multi_turn"])}, before


# torch threads of the toy run: its recorded numbers were made with this count (see run_toy). Two use both
# cores of a CI machine during the update (the sandbox is idle then): 10-11 s an iteration instead of 18.
TOY_THREADS = 2


def run_toy(
    out_dir: str | Path,
    seed: int,
    *,
    iterations: int = TOY_ITERATIONS,
    eval_episodes: int = 300,
    sft_steps: int = 150,
    copy_steps: int = 150,
    instruction_steps: int = 150,
    threads: int = TOY_THREADS,
    start: str | Path | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """The whole toy experiment; writes results.json and curves.png into `out_dir` and returns the results.

    Runs with `threads` torch threads (restored afterwards): the thread count changes floating-point
    sums and so the whole run; with a fixed count a run is deterministic. With `start` (a start-model folder an
    earlier run wrote, with its START_RECORD) the recipe's start search is skipped: that model is probed and
    gated as a draw of the search would be, and the PPO runs from it.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _run_toy(
            out_dir, seed, iterations, eval_episodes, sft_steps, copy_steps, instruction_steps, threads, start, log
        )
    finally:
        torch.set_num_threads(before)


def _run_toy(
    out_dir: str | Path,
    seed: int,
    iterations: int,
    eval_episodes: int,
    sft_steps: int,
    copy_steps: int,
    instruction_steps: int,
    threads: int,
    start: str | Path | None,
    log: Any,
) -> dict[str, Any]:
    from rlef_trainer.env_service import start_env_service
    from rlef_trainer.export_model import export_policy
    from rlef_trainer.models import load_models
    from rlef_trainer.train import train

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    torch.manual_seed(seed)
    episodes_started = 0
    with start_env_service() as service, EnvClient(service.url, service.token) as env:
        prompt = first_observation(env)
        episodes_started += 1
        contexts = turn_two_contexts(env)
        episodes_started += len(contexts)
        draws: list[dict[str, Any]] = []
        before: dict[str, dict[str, float]] = {}
        base_dir, model_dir = out / "base-model", out / "start-model"
        if start is not None:
            recorded = read_start_record(Path(start))
            if Path(start).resolve() != model_dir.resolve():
                shutil.rmtree(model_dir, ignore_errors=True)
                shutil.copytree(start, model_dir)
            probe, before = probe_start(env, model_dir, contexts, eval_episodes, seed)
            episodes_started += 3 * eval_episodes if before else 0
            draws.append({"given": str(start), **probe})
            log(f"[toy] given start model {start}: {json.dumps(draws[-1])}")
            if not probe["accepted"]:
                raise RuntimeError(f"the start model {start} does not pass the start gate {START_GATE}: {probe}")
            sft, copying = recorded["sft"], recorded["copy_pretraining"]
        else:
            built_base: int | None = None
            base_ok = False
            for base_seed, format_seed in start_draw_seeds(seed):
                if base_seed != built_base:
                    built_base = base_seed
                    shutil.rmtree(base_dir, ignore_errors=True)
                    build_start_model(base_dir, base_seed, environment_corpus(contexts))
                    copying = generic_copy_pretraining(base_dir, base_seed, copy_steps)
                    log(f"[toy] generic copying pretraining: {copying} ({time.perf_counter() - started:.0f}s)")
                    copying |= instruction_copy_pretraining(base_dir, prompt, base_seed, instruction_steps)
                    log(
                        f"[toy] instruction copying (named-letter problems): {copying} "
                        f"({time.perf_counter() - started:.0f}s)"
                    )
                    base_probe = retry_letter_probe(load_model(base_dir), load_tokenizer(base_dir), contexts)
                    copying |= {f"base_{k}": v for k, v in base_probe.items()}
                    base_ok = passes_base_gate(copying["instruction_copy_accuracy"], base_probe)
                    if not base_ok:
                        draws.append({"base_seed": base_seed, **copying, "accepted": False})
                        log(f"[toy] base (seed {base_seed}) rejected: {json.dumps(draws[-1])}")
                if not base_ok:
                    continue
                shutil.rmtree(model_dir, ignore_errors=True)
                shutil.copytree(base_dir, model_dir)
                sft = supervised_format_step(model_dir, prompt, format_seed, sft_steps, 32)
                log(f"[toy] format-only supervised step: {sft} ({time.perf_counter() - started:.0f}s)")
                probe, before = probe_start(env, model_dir, contexts, eval_episodes, seed)
                episodes_started += 3 * eval_episodes if before else 0
                accepted = probe["accepted"]
                draws.append({"base_seed": base_seed, "seed": format_seed, **probe})
                log(f"[toy] start draw {len(draws)} (base {base_seed}, format {format_seed}): {json.dumps(draws[-1])}")
                if accepted:
                    break
            else:
                raise RuntimeError(
                    f"no start model passed the gates (base {BASE_GATE}, start {START_GATE}) "
                    f"in {len(draws)} draws: {draws}"
                )
            shutil.rmtree(base_dir, ignore_errors=True)
            write_start_record(model_dir, seed, draws, sft, copying)

        curves: dict[str, list[dict[str, float]]] = {}
        evaluations: dict[str, Any] = {}
        ceiling = oracle_ceiling(env, eval_episodes, seed + 7)
        episodes_started += eval_episodes
        for arm, random_feedback in (("feedback", False), ("random_feedback", True)):
            config = toy_config(out, seed, random_feedback=random_feedback, iterations=iterations)
            models = load_models(config)
            if arm == "feedback":
                evaluations["before"] = before  # measured by the start gate, on the same weights
                log(f"[toy] before RL: {_rates(evaluations['before'])}")
            curve: list[dict[str, float]] = []

            def on_iteration(
                i: int, metrics: dict[str, float], _r: Any, curve: list[dict[str, float]] = curve, arm: str = arm
            ) -> None:
                curve.append(
                    {
                        k: metrics[k]
                        for k in (
                            "iteration",
                            "lr",
                            "solve_rate",
                            "mean_turns",
                            "invalid_rate",
                            "kl_per_turn",
                            "approx_kl",
                            "clip_fraction",
                            "entropy",
                            "explained_variance",
                            "value_loss",
                        )
                    }
                )
                log(
                    f"[toy] {arm} iteration {i}: solve rate {metrics['solve_rate']:.3f}, "
                    f"turns {metrics['mean_turns']:.2f}, KL/turn {metrics['kl_per_turn']:.3f}, "
                    f"approx KL {metrics['approx_kl']:.4f}, clip {metrics['clip_fraction']:.3f} "
                    f"({metrics['iteration_seconds']:.1f}s)"
                )

            train(
                config,
                models,
                env,
                SecretEpisodes(random_feedback=random_feedback),
                resume=False,
                on_iteration=on_iteration,
            )
            episodes_started += iterations * config.rollouts_per_iteration
            curves[arm] = curve
            evaluations[f"after_{arm}"] = evaluate_all(
                env, models.generation_model(), models.tokenizer, eval_episodes, seed
            )
            episodes_started += 3 * eval_episodes
            log(f"[toy] after RL ({arm}): {_rates(evaluations[f'after_{arm}'])}")
            if arm == "feedback":
                export_policy(models, out / "policy")
        stats = env.stats()

    if stats["resets"] != episodes_started:
        raise RuntimeError(f"the service counted {stats['resets']} episodes, the toy started {episodes_started}")
    chance = {"single_turn": chance_single_turn(), "multi_turn": chance_multi_turn()}
    before, after, after_rf = evaluations["before"], evaluations["after_feedback"], evaluations["after_random_feedback"]
    findings = {
        "start_ignores_feedback": near_blind_guessing(before["multi_turn"]["solve_rate"]),
        "learns_to_use_feedback": after["multi_turn"]["solve_rate"] >= 0.8 * ceiling,
        "single_turn_stays_at_chance": abs(after["single_turn"]["solve_rate"] - chance["single_turn"]) <= 0.05,
        "random_feedback_stays_at_chance": abs(after_rf["random_feedback"]["solve_rate"] - chance["multi_turn"])
        <= 0.05,
    }
    results = {
        "seed": seed,
        "torch_threads": threads,
        "secret_values": len(SECRET_VALUES),
        "max_turns": MAX_TURNS,
        "iterations": iterations,
        "rollouts_per_iteration": toy_config(
            out, seed, random_feedback=False, iterations=iterations
        ).rollouts_per_iteration,
        "eval_episodes": eval_episodes,
        "oracle_ceiling": ceiling,
        "chance": chance,
        "evaluations": evaluations,
        "curves": curves,
        "findings": findings,
        "sft": sft,
        "copy_pretraining": copying,
        "base_gate": BASE_GATE,
        "start_gate": START_GATE,
        "start_draws": draws,
        # the folder the run started from, or None when the recipe's search built the start (then its START_RECORD
        # is in start-model/)
        "start_model": None if start is None else str(start),
        "service": {
            "episodes": stats["resets"],
            "steps": stats["steps"],
            "isolation": service.isolation,
            "errors": stats.get("errors", {}),
        },
        "seconds": time.perf_counter() - started,
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    plot_curves(out / "curves.png", results)
    log(
        f"[toy] findings: {json.dumps(findings)}; service episodes {stats['resets']}; "
        f"{results['seconds']:.0f}s; wrote {out / 'results.json'}"
    )
    return results


def run_toy_command(
    out: Path,
    seed: int,
    *,
    iterations: int | None,
    eval_episodes: int | None,
    sft_steps: int | None = None,
    copy_steps: int | None = None,
    instruction_steps: int | None = None,
    threads: int | None = None,
    start: Path | None = None,
) -> int:
    from transformers.utils.logging import disable_progress_bar

    disable_progress_bar()
    given = {
        "iterations": iterations,
        "eval_episodes": eval_episodes,
        "sft_steps": sft_steps,
        "copy_steps": copy_steps,
        "instruction_steps": instruction_steps,
        "threads": threads,
    }
    least = {"iterations": 1, "eval_episodes": 1, "sft_steps": 0, "copy_steps": 0, "instruction_steps": 0, "threads": 1}
    problems = [
        f"--{name.replace('_', '-')} must be at least {least[name]}, got {value}"
        for name, value in given.items()
        if value is not None and value < least[name]
    ]
    if not 0 <= seed < 2**32:
        problems.append(f"--seed must be in [0, 2^32), got {seed}")
    unwritable = folder_problem(out)
    if unwritable:
        problems.append(f"--out {out} {unwritable}")
    if start is not None:
        try:
            read_start_record(start)
        except ValueError as error:
            problems.append(f"--start: {error}")
    if problems:
        print("rlef-train toy: " + "; ".join(problems), file=sys.stderr)
        return 2
    kwargs = {name: value for name, value in given.items() if value is not None}
    results = run_toy(out, seed, start=start, log=lambda line: print(line, flush=True), **kwargs)
    return 0 if all(results["findings"].values()) else 1
