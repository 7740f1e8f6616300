"""Is a toy start model able to read the feedback at all? A supervised nudge, measured.

Takes a start model (never changed: the probe trains a copy in memory) and the service's turn-two contexts, and
runs a few Adam steps of plain supervised learning on the retry's letter (teacher-forced at the retry's opening
```python\\nprint(", target: the expected letter the feedback shows), printing the start gate's letter probe on
held-out pairs after each. RL's mean gradient on a near-uniform retry letter is this supervised gradient times
P(expected) (about 1/20), so a start that a few such steps teach to read the feedback has the capability latent,
and a PPO run that does not take off from it is short of signal, not of capacity.

    .venv/bin/python trainer/experiments/latent_probe.py --start DIR/start-model [--lr 4.5e-4] [--steps 10]

Results of 2026-11-28 are in trainer/README.md ("The toy learning run", the 2-core AMD EPYC).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from rlef_trainer import toy
from rlef_trainer.env_client import EnvClient
from rlef_trainer.env_service import start_env_service


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=Path, required=True, help="a start-model folder of `rlef-train toy`")
    parser.add_argument("--lr", type=float, default=toy.TOY_LR)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with start_env_service() as service, EnvClient(service.url, service.token) as env:
        contexts = toy.turn_two_contexts(env)
    tokenizer = toy.load_tokenizer(args.start)
    model = toy.load_model(args.start)
    letters = torch.tensor([tokenizer.convert_tokens_to_ids(x) for x in toy.SECRET_VALUES])
    held_out = 99  # the probe's pairs; the training pairs are drawn from seeds 1000 + step

    def report(step: int) -> None:
        probe = toy.retry_letter_probe(model, tokenizer, contexts, seed=held_out)
        print(json.dumps({"step": step, **{k: round(v, 4) for k, v in probe.items()}}), flush=True)

    report(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    for step in range(1, args.steps + 1):
        secret, guess = toy.retry_pairs(args.batch, 1000 + step)
        ids, attention, positions = toy.retry_batch(tokenizer, contexts, secret, guess)
        model.train()
        logits = model(input_ids=ids, attention_mask=attention, position_ids=positions).logits[:, -1]
        loss = torch.nn.functional.cross_entropy(logits, letters[torch.from_numpy(secret)])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        model.eval()
        report(step)


if __name__ == "__main__":
    main()
