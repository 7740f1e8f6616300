"""The committed demo policy (models/demo) is the toy RLEF run's trained model and still uses the feedback.

Its multi-turn solve rate on fresh toy episodes, through the real environment service and sandbox, must stay
at or above 80% of the oracle ceiling (the toy's threshold), while one attempt stays near chance.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rlef_trainer import toy
from rlef_trainer.env_client import EnvClient
from rlef_trainer.env_service import start_env_service

DEMO = Path(__file__).resolve().parents[2] / "models" / "demo"


@pytest.fixture(scope="module")
def demo_model():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (DEMO / "model.safetensors").is_file():
        pytest.fail(f"the demo policy's weights are missing from {DEMO} (models/demo/README.md says how to make them)")
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_pretrained(DEMO, dtype=torch.float32).eval(), AutoTokenizer.from_pretrained(DEMO)


def test_the_committed_demo_policy_meets_the_toy_multi_turn_threshold(demo_model) -> None:
    model, tokenizer = demo_model
    with start_env_service() as service, EnvClient(service.url, service.token) as env:
        ceiling = toy.oracle_ceiling(env, 100, seed=101)
        multi = toy.solve_rate(env, model, tokenizer, 200, max_turns=toy.MAX_TURNS, random_feedback=False, seed=102)
        single = toy.solve_rate(env, model, tokenizer, 200, max_turns=1, random_feedback=False, seed=103)
    assert ceiling == 1.0
    assert multi["solve_rate"] >= 0.8 * ceiling, multi
    assert abs(single["solve_rate"] - toy.chance_single_turn()) <= 0.05, single
