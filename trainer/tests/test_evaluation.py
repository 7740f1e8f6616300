"""Evaluation (MT / ST 1@3, random feedback) through the real service, and its place in the training loop."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rlef_trainer import toy
from rlef_trainer.config import RLEFConfig
from rlef_trainer.env_client import EnvClient
from rlef_trainer.env_service import start_env_service
from rlef_trainer.evaluation import (
    bootstrap_interval,
    evaluate,
    evaluation_subset,
    evaluation_summary,
    submitted_single_turn,
)
from rlef_trainer.models import load_models
from rlef_trainer.rollout import Rollout
from rlef_trainer.task_source import TaskOrder
from rlef_trainer.train import EVAL_FILE, METRICS_FILE, evaluation_due, train

DEMO = Path(__file__).resolve().parents[2] / "models" / "demo"


@pytest.fixture(scope="module")
def env():
    with start_env_service(workers=2) as service, EnvClient(service.url, service.token) as client:
        yield client


def _sample(public_passed: bool, solved: bool) -> Rollout:
    rollout = Rollout(task_id="t", options={})
    rollout.last_step = {"info": {"publicPassed": public_passed}}
    rollout.solved = solved
    return rollout


def test_single_turn_submits_the_first_sample_that_passes_the_public_tests_else_the_last() -> None:
    first_public = _sample(True, False)  # passes the public tests, fails a private one: still the submission
    assert submitted_single_turn([_sample(False, False), first_public, _sample(True, True)]) is first_public
    last = _sample(False, False)
    assert submitted_single_turn([_sample(False, False), _sample(False, False), last]) is last


def test_bootstrap_interval_brackets_the_mean_and_collapses_without_spread() -> None:
    rng = np.random.default_rng(0)
    assert bootstrap_interval(np.full(30, 0.4), rng) == pytest.approx((0.4, 0.4))
    rates = np.array([0.0] * 20 + [1.0] * 20)
    low, high = bootstrap_interval(rates, rng)
    assert 0.25 < low < 0.5 < high < 0.75


def test_the_evaluation_subset_is_fixed_by_the_tasks_not_their_order() -> None:
    tasks = [{"set": "s", "id": str(i)} for i in range(50)]
    picked = evaluation_subset(tasks, 10)
    assert len(picked) == 10 and picked == [t for t in tasks if t in picked]  # kept in the given order
    assert {t["id"] for t in evaluation_subset(tasks[::-1], 10)} == {t["id"] for t in picked}
    assert evaluation_subset(tasks, 0) == tasks


def test_the_demo_policy_reads_feedback_multi_turn_and_not_single_turn_or_with_random_feedback(env) -> None:
    """The paper's findings, measured by the trainer's evaluation on the toy's tasks with the committed policy."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(DEMO, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(DEMO)
    tasks = [toy.secret_task(i, toy.SECRET_VALUES[i % len(toy.SECRET_VALUES)]) for i in range(20)]
    torch.manual_seed(0)
    rates = evaluate(env, model, tokenizer, tasks, draws=1, seed=5, max_new_tokens=16)
    assert rates["problems"] == 20 and rates["draws"] == 1
    assert rates["mt_1at3"] >= 0.8, rates
    assert rates["st_1at3"] <= 0.25 and rates["mt_random_feedback_1at3"] <= 0.3, rates
    assert rates["mt_1at3_low"] <= rates["mt_1at3"] <= rates["mt_1at3_high"]
    # every response is a sample: ST spends exactly 3 per problem, MT between 1 and 3
    assert rates["st_samples"] == 60 and 20 <= rates["mt_samples"] <= 60
    summary = evaluation_summary({"iteration": 0, "toy": rates, "seconds": 1.0})
    assert summary.startswith(f"toy (20 problems): mt {100 * rates['mt_1at3']:.1f}%, st "), summary


def test_evaluations_are_due_before_the_first_every_n_and_after_the_last_iteration() -> None:
    config = RLEFConfig(iterations=7, eval_every=3)
    assert [i for i in range(8) if evaluation_due(config, i)] == [0, 3, 6, 7]
    assert not any(evaluation_due(RLEFConfig(iterations=7, eval_every=0), i) for i in range(8))


def _secret_tasks() -> list[dict[str, object]]:
    return [toy.secret_task(i, toy.SECRET_VALUES[i]) for i in range(4)]


def _run(tmp: Path, tiny_model_dir: Path, env: EnvClient, *, evaluate_too: bool, iterations: int, resume: bool = False):
    config = RLEFConfig(
        model=str(tiny_model_dir),
        mode="lora",
        lora_rank=4,
        lora_lr=1e-2,
        device="cpu",
        dtype="float32",
        deterministic=True,
        torch_threads=1,
        warmup_steps=1,
        rollouts_per_iteration=4,
        minibatch_size=2,
        generation_batch_size=4,
        max_turns=2,
        max_new_tokens=8,
        iterations=iterations,
        checkpoint_every=1,
        eval_every=1 if evaluate_too else 0,
        out_dir=str(tmp),
        seed=3,
    )
    torch.manual_seed(config.seed)
    models = load_models(config)
    tasks = _secret_tasks()

    def evaluator(iteration: int, seed: int) -> dict[str, dict[str, float]]:
        model = models.generation_model().eval()
        return {"valid": evaluate(env, model, models.tokenizer, tasks, draws=1, seed=seed, max_new_tokens=8)}

    train(
        config,
        models,
        env,
        TaskOrder(tasks, max_turns=config.max_turns, random_feedback=False),
        evaluator=evaluator if evaluate_too else None,
        resume=resume,
    )
    return models


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_evaluating_changes_nothing_training_computes_and_resumes_with_the_run(
    tmp_path: Path, tiny_model_dir: Path, env: EnvClient
) -> None:
    plain = _run(tmp_path / "plain", tiny_model_dir, env, evaluate_too=False, iterations=2)
    evaluated = _run(tmp_path / "evaluated", tiny_model_dir, env, evaluate_too=True, iterations=2)
    timing = {"rollout_seconds", "iteration_seconds"}
    strip = lambda rows: [{k: v for k, v in r.items() if k not in timing} for r in rows]  # noqa: E731
    assert strip(_lines(tmp_path / "plain" / METRICS_FILE)) == strip(_lines(tmp_path / "evaluated" / METRICS_FILE))
    for name, weight in plain.trainable_state().items():
        assert torch.equal(weight, evaluated.trainable_state()[name]), name
    assert not (tmp_path / "plain" / EVAL_FILE).read_text()
    evaluations = _lines(tmp_path / "evaluated" / EVAL_FILE)
    assert [e["iteration"] for e in evaluations] == [0, 1, 2]
    assert all(e["valid"]["problems"] == 4 and e["valid"]["st_samples"] == 12 for e in evaluations)

    # stopped after iteration 1 and resumed: the same evaluations, none repeated
    _run(tmp_path / "resumed", tiny_model_dir, env, evaluate_too=True, iterations=1)
    _run(tmp_path / "resumed", tiny_model_dir, env, evaluate_too=True, iterations=2, resume=True)
    resumed = _lines(tmp_path / "resumed" / EVAL_FILE)
    assert [{k: v for k, v in e.items() if k != "seconds"} for e in resumed] == [
        {k: v for k, v in e.items() if k != "seconds"} for e in evaluations
    ]
