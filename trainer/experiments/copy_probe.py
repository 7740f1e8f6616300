"""An idealised probe of the toy: can a learner that only picks the turn-two letter find the copy?

Builds the toy's start model with the recipe of `rlef_trainer.toy` (or the format step alone), then
plays REINFORCE on the second turn's letter only: the context is the environment's real turn-two
prompt (first prompt, a blind `print("G")`, the service's feedback for secret Q, the answer's fixed
opening), the letter is sampled among the 20 secrets, reward 1 when it is Q, batch-normalised. It
is not the trainer (no format tokens, no value network, no KL): it bounds what RL can find from a
start model, in contexts, so the production PPO's numbers can be read against it.

    .venv/bin/python trainer/experiments/copy_probe.py --out /tmp/probe --recipe named --lr 3e-4

Prints the start model's teacher-forced P(expected) and P(own guess), then the reward every 10 steps.
Results of 2026-11-26 are in trainer/README.md ("Status of the toy learning run").
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from rlef_trainer import toy
from rlef_trainer.env_client import EnvClient
from rlef_trainer.env_service import start_env_service


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--recipe", choices=["named", "format-only"], default="named")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--steps", type=int, default=400, help="REINFORCE steps of 64 contexts")
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    started = time.perf_counter()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with start_env_service() as service, EnvClient(service.url, service.token) as env:
        prompt = toy.first_observation(env)
        contexts = toy.turn_two_contexts(env)
    model_dir = toy.build_start_model(args.out / "start-model", args.seed)
    print(toy.generic_copy_pretraining(model_dir, args.seed, 150))
    if args.recipe == "named":
        print(toy.instruction_copy_pretraining(model_dir, prompt, args.seed, 150))
    print(
        toy.supervised_format_step(
            model_dir, prompt, args.seed, 150, 32, named_share=0.5 if args.recipe == "named" else 0.0
        )
    )
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    letters = torch.tensor([tokenizer.convert_tokens_to_ids(x) for x in toy.SECRET_VALUES])
    rng = np.random.default_rng(args.seed)

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        q = rng.integers(0, 20, n)
        g = (q + rng.integers(1, 20, n)) % 20
        ids, attn, _ = toy.retry_batch(tokenizer, contexts, q, g)
        return ids, attn, torch.from_numpy(q), torch.from_numpy(g)

    def last_logprobs(ids: torch.Tensor, attn: torch.Tensor) -> torch.Tensor:
        positions = (attn.cumsum(-1) - 1).clamp(min=0)
        return torch.log_softmax(model(input_ids=ids, attention_mask=attn, position_ids=positions).logits[:, -1], -1)

    with torch.no_grad():
        ids, attn, q, g = batch(200)
        p = last_logprobs(ids, attn).exp()
        rows = torch.arange(200)
        print(
            f"start model, teacher-forced on 200 turn-two contexts: P(expected) {p[rows, letters[q]].mean():.3f}, "
            f"P(own guess) {p[rows, letters[g]].mean():.3f}, P(any secret letter) {p[:, letters].sum(-1).mean():.3f}"
        )
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    for step in range(args.steps):
        ids, attn, q, _ = batch(64)
        logprobs = last_logprobs(ids, attn)
        choice = torch.distributions.Categorical(logits=logprobs[:, letters]).sample()
        reward = (choice == q).float()
        advantage = (reward - reward.mean()) / (reward.std() + 1e-6)
        loss = -(advantage * logprobs[torch.arange(64), letters[choice]]).mean()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % 10 == 0 or step == args.steps - 1:
            print(
                f"step {step}: contexts {64 * (step + 1)}, reward {reward.mean():.3f} "
                f"({time.perf_counter() - started:.0f}s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
