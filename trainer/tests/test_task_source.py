"""Training tasks: built-in sets checked against their licences (asked of the service), task files, the split."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rlef_trainer.env_client import EnvClient, EnvServiceError
from rlef_trainer.env_service import start_env_service
from rlef_trainer.task_source import (
    TaskOrder,
    evaluation_tasks,
    held_out,
    is_task_file,
    resolve_tasks,
)


@pytest.fixture(scope="module")
def env():
    with start_env_service(workers=1) as service, EnvClient(service.url, service.token) as client:
        yield client


def _mbpp_plus_numbers(env: EnvClient) -> set[str]:
    return {t["id"].split("/")[1] for t in env.list_tasks("mbpp_plus")["tasks"]}


def test_built_in_sets_give_their_trainable_tasks_split_into_train_and_valid(env: EnvClient) -> None:
    split = resolve_tasks(env, "codecontests, mbpp", valid_fraction=0.1)
    chosen = split.train + split.valid
    in_plus = _mbpp_plus_numbers(env)
    mbpp = [t for t in chosen if t["set"] == "mbpp"]
    # MBPP: only the tasks whose number is not one of MBPP+'s (spec: MBPP+ is evaluation only)
    assert mbpp and all(t["id"].split("/")[1] not in in_plus for t in mbpp)
    assert len(mbpp) + split.not_trainable["mbpp"] == len(env.list_tasks("mbpp")["tasks"])
    assert split.not_trainable["mbpp"] > 300
    assert sum(t["set"] == "codecontests" for t in chosen) == 136 and "codecontests" not in split.not_trainable
    # the split: disjoint, about the fraction asked, the same whatever the order or company of the tasks
    keys = lambda tasks: {(t["set"], t["id"]) for t in tasks}  # noqa: E731
    assert not keys(split.train) & keys(split.valid)
    assert 0.05 < len(split.valid) / len(chosen) < 0.15
    alone = resolve_tasks(env, "mbpp", valid_fraction=0.1)
    assert keys(alone.valid) == {k for k in keys(split.valid) if k[0] == "mbpp"}
    assert "held out for validation" in split.describe() and "of mbpp" in split.describe()


@pytest.mark.parametrize("name", ["humaneval", "humaneval_plus", "mbpp_plus", "leetcode", "multipl_e_js", "xcodeeval"])
def test_sets_whose_licence_forbids_training_are_refused(env: EnvClient, name: str) -> None:
    with pytest.raises(ValueError, match=f"set '{name}' may not be trained on"):
        resolve_tasks(env, f"codecontests,{name}", valid_fraction=0.1)


def test_an_unknown_set_is_the_service_s_error(env: EnvClient) -> None:
    with pytest.raises(EnvServiceError, match="unknown_set"):
        resolve_tasks(env, "codecontests,no_such_set", valid_fraction=0.1)
    with pytest.raises(ValueError, match="comma-separated"):
        resolve_tasks(env, "codecontests,,mbpp", valid_fraction=0.1)


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_task_file_s_references_are_checked_and_its_inline_tasks_taken_as_they_are(
    env: EnvClient, tmp_path: Path
) -> None:
    in_plus = sorted(_mbpp_plus_numbers(env), key=int)
    trainable_mbpp = next(t["id"] for t in env.list_tasks("mbpp")["tasks"] if t["trainable"])
    inline = {"kind": "stdio", "set": "mine", "id": "double", "statement": "Double it.", "publicTests": []}
    good = _write(
        tmp_path / "good.jsonl",
        [{"set": "codecontests", "id": "116_c_party_7303"}, {"set": "mbpp", "id": trainable_mbpp}, inline],
    )
    split = resolve_tasks(env, str(good), valid_fraction=0.0)
    assert split.train[2] == inline and len(split.train) == 3 and not split.valid

    refused = _write(
        tmp_path / "refused.jsonl",
        [{"set": "humaneval", "id": "HumanEval/0"}, {"set": "mbpp", "id": f"mbpp/{in_plus[0]}"}, inline],
    )
    with pytest.raises(
        ValueError, match=r"names 2 task\(s\) whose licence forbids training: humaneval:HumanEval/0, mbpp:mbpp/"
    ):
        resolve_tasks(env, str(refused), valid_fraction=0.0)
    unknown = _write(tmp_path / "unknown.jsonl", [{"set": "codecontests", "id": "no-such-task"}])
    with pytest.raises(ValueError, match="set 'codecontests' has no task 'no-such-task'"):
        resolve_tasks(env, str(unknown), valid_fraction=0.0)
    with pytest.raises(ValueError, match="no training tasks left"):
        resolve_tasks(env, str(good), valid_fraction=0.999999)


def test_task_file_or_set_names() -> None:
    assert is_task_file("tasks.jsonl") and is_task_file("data/train") and not is_task_file("codecontests,apps")


def test_held_out_depends_on_set_and_id_only() -> None:
    task = {"set": "codecontests", "id": "116_c_party_7303", "extra": 1}
    assert held_out(task, 0.5) == held_out({"set": "codecontests", "id": "116_c_party_7303"}, 0.5)
    assert not held_out(task, 0.0) and held_out(task, 1.0 - 1e-12)
    share = np.mean([held_out({"set": "s", "id": str(i)}, 0.2) for i in range(5000)])
    assert 0.18 < share < 0.22


def test_evaluation_sets_take_every_task(env: EnvClient) -> None:
    sets = evaluation_tasks(env, "humaneval_plus")
    assert len(sets["humaneval_plus"]) == 164 and evaluation_tasks(env, " ") == {}


def test_task_order_draws_only_the_tasks_it_is_given() -> None:
    tasks = [{"set": "s", "id": str(i), "kind": "stdio"} for i in range(5)]
    donors = tasks + [{"set": "s", "id": "held", "kind": "stdio"}]
    order = TaskOrder(tasks[:3], max_turns=3, random_feedback=True)
    requests = order(0, np.random.default_rng(0), 7)
    assert {r.task["id"] for r in requests} == {"0", "1", "2"}
    assert all(r.options["randomFeedback"] and r.task not in r.options["donorTasks"] for r in requests)
    assert all("held" not in {d["id"] for d in r.options["donorTasks"]} for r in requests)
    assert (
        TaskOrder(tasks[:1], max_turns=3, random_feedback=True, donors=donors)(0, np.random.default_rng(0), 1)[
            0
        ].options["donorTasks"]
        == donors[1:]
    )


def _train(tmp_path: Path, tiny_model_dir: Path, tasks: str, **extra: object) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.json"
    out = tmp_path / "run"
    settings = {"model": str(tiny_model_dir), "tasks": tasks, "out_dir": str(out), "device": "cpu", **extra}
    config.write_text(json.dumps(settings))
    return subprocess.run(
        [sys.executable, "-m", "rlef_trainer.cli", "train", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_rlef_train_refuses_an_evaluation_set_before_it_writes_anything(tmp_path: Path, tiny_model_dir: Path) -> None:
    done = _train(tmp_path, tiny_model_dir, "codejam,humaneval_plus")
    assert done.returncode == 2, done.stderr
    assert "set 'humaneval_plus' may not be trained on" in done.stderr
    assert not (tmp_path / "run").exists()
    overlap = _train(tmp_path, tiny_model_dir, "codejam", eval_sets="codejam")
    assert overlap.returncode == 2 and "eval_sets names training sets (codejam)" in overlap.stderr
    assert not (tmp_path / "run").exists()


def test_a_metrics_port_in_use_is_refused_before_anything_starts(tmp_path: Path, tiny_model_dir: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _train(tmp_path, tiny_model_dir, "codejam", metrics_port=port)
    assert done.returncode == 2 and f"metrics_port {port}: cannot listen" in done.stderr, done.stderr
    assert not (tmp_path / "run").exists()
