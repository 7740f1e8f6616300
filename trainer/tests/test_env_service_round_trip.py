"""Rollouts through the real environment service (`bin/rlef env serve`, sandboxed runs)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlef_trainer import toy
from rlef_trainer.env_client import EnvClient, EnvServiceError
from rlef_trainer.env_service import EnvService, start_env_service
from rlef_trainer.rollout import EpisodeRequest, collect_rollouts


@pytest.fixture(scope="module")
def service() -> Iterator[EnvService]:
    with start_env_service(workers=2) as running:
        yield running


def test_a_wrong_token_is_refused_with_the_services_error(service: EnvService) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the server closes with 4401; websockets raises on the upgrade or the hello
        EnvClient(service.url, "not-the-token")


def test_a_task_without_public_tests_comes_back_as_invalid_task(service: EnvService) -> None:
    task = toy.secret_task(1, "Q")
    task["publicTests"] = []
    with EnvClient(service.url, service.token) as env, pytest.raises(EnvServiceError) as caught:
        env.reset_batch([{"task": task, "options": {"maxTurns": 3}}])
    assert caught.value.code in ("invalid_task", "invalid_message")


def test_an_untrained_model_plays_three_turns_and_gets_the_services_rewards(
    service: EnvService, tiny_model_dir: Path
) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    torch.manual_seed(0)
    requests = [EpisodeRequest(toy.secret_task(i, toy.SECRET_VALUES[i]), {"maxTurns": 3, "seed": i}) for i in range(2)]
    with EnvClient(service.url, service.token) as env:
        before = env.stats()["resets"]
        rollouts = collect_rollouts(env, model, tokenizer, requests, max_new_tokens=8, temperature=1.0)
        assert env.stats()["resets"] - before == 2
    for rollout in rollouts:
        # Random weights write no fenced code: every turn is invalid (-0.2); the last also fails (-1).
        assert rollout.invalid == [True, True, True]
        assert rollout.turn_rewards == pytest.approx([-0.2, -0.2, -1.2])
        assert rollout.solved is False
        assert len(rollout.turn_prompt_ends) == 3
        assert sum(rollout.policy_mask) == sum(1 for t in rollout.turn_of_token if t >= 0)
        # The format reminder after an invalid turn is in the sequence, outside the policy mask.
        text = tokenizer.decode([t for t, p in zip(rollout.token_ids, rollout.policy_mask, strict=True) if not p])
        assert text.count("<|im_start|>user") == 3


def test_an_oracle_that_reads_the_reported_expected_output_solves_every_secret(service: EnvService) -> None:
    with EnvClient(service.url, service.token) as env:
        assert toy.oracle_ceiling(env, 6, seed=3) == 1.0


def test_random_feedback_shows_a_donors_secret(service: EnvService) -> None:
    rng = np.random.default_rng(5)
    request = toy.SecretEpisodes(random_feedback=True)(0, rng, 1)[0]
    secret = request.task["publicTests"][0]["output"].strip()
    with EnvClient(service.url, service.token) as env:
        reset = env.reset_batch([{"task": request.task, "options": request.options}])[0]
        # "a" is no secret, so the answer is always wrong and the feedback shows a donor's expected output.
        step = env.step_batch([{"episodeId": reset["episodeId"], "response": toy.answer_text("a")}])[0]
    donor = next(d for d in request.options["donorTasks"] if d["id"] == step["info"]["donorTaskId"])
    assert (
        f"Expected output:\n{donor['publicTests'][0]['output'].strip()}\n"
        in step["observation"]["messages"][0]["content"]
    )
    assert step["results"][0]["expected"].strip() == secret


def test_the_toy_tokenizer_shows_a_secret_letter_only_where_a_letter_stands(service: EnvService) -> None:
    """The fixture tokenizer cuts words of the environment's messages ("Give", "Print", "Solve") into a capital
    consonant plus the rest, the very tokens of the secrets, which the toy's start models copied into their
    retries. Built with `toy.environment_corpus`, a retry context holds secret-letter tokens only where a letter
    stands: the expected one and the own guess (in the answer and in "Your output")."""
    from rlef_trainer.fixtures.tiny_model import build_tokenizer

    with EnvClient(service.url, service.token) as env:
        contexts = toy.turn_two_contexts(env)
    corpus = toy.environment_corpus(contexts)
    assert len(corpus) == 2 and toy.STATEMENT in corpus[0] and "Expected output:" in corpus[1]
    text = "\n".join(m["content"] for m in contexts[("Q", "G")])
    letters = set(toy.SECRET_VALUES)
    plain = [t for t in build_tokenizer().encode(text).tokens if t in letters]
    assert "G" in plain and len(plain) > 3, "the fixture tokenizer alone cuts words into secret letters"
    assert sorted(t for t in build_tokenizer(corpus).encode(text).tokens if t in letters) == ["G", "G", "Q"]


def test_a_killed_trainer_leaves_no_service_behind() -> None:
    # the parent holds the service's stdin; SIGKILL gives it no chance to clean up, yet the pipe closes with it
    script = (
        "from rlef_trainer.env_service import start_env_service\n"
        "service = start_env_service(workers=1)\n"
        "print(service.process.pid, flush=True)\n"
        "import time; time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        os.kill(pid, 0)  # the service runs
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return  # gone (it was the killed parent's child, so no zombie of ours stays behind)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
        raise AssertionError(f"the service (pid {pid}) outlived its killed parent by 30 s")
    finally:
        if parent.poll() is None:
            parent.kill()
