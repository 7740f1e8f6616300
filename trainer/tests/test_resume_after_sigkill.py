"""SIGKILL the real `rlef-train train` at random moments, restart it, and it ends as if never interrupted.

One run goes uninterrupted. A second, identical run is killed (SIGKILL to its whole process
group: the trainer and the environment service it started; nothing it started may survive) three
times at moments drawn from a
seeded RNG, one of them provably in the middle of a checkpoint write (the test-only pause hook of
`checkpoint.py` holds the write between the complete temp folder and its rename), and restarted
with resume after each kill. Every metric of every iteration must then equal the uninterrupted
run's within 1e-5 relative (wall-clock timings aside), each iteration logged once, and the final
weights' sha256 must match.

The policy is the tiny fixture model (LoRA mode) given the answer format by a few supervised steps,
so its answers are real programs run in the service's sandbox (some right, some wrong, some
invalid). Deterministic CPU settings: `deterministic = true`, `torch_threads = 1`, PYTHONHASHSEED=0.
RLEF_RESUME_TEST_SEED=N draws other kill moments.
"""

from __future__ import annotations

import functools
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlef_trainer.checkpoint import (
    META_FILE,
    PAUSE_BEFORE_RENAME_ENV,
    STATE_FILE,
    checkpoint_iteration,
    complete_checkpoints,
    latest_checkpoint,
    load_checkpoint,
    weights_digest,
)
from rlef_trainer.env_client import EnvClient
from rlef_trainer.env_service import start_env_service
from rlef_trainer.rollout import first_prompt_ids

REPO_ROOT = Path(__file__).resolve().parents[2]
PLAN_SEED = int(os.environ.get("RLEF_RESUME_TEST_SEED", "20261126"))  # another seed: other moments
ITERATIONS = 6
SECRETS = (11, 17, 23, 29)
TIMING_METRICS = {"rollout_seconds", "iteration_seconds"}  # wall clock: differs between any two runs
RELATIVE_TOLERANCE = 1e-5
WAIT_LIMIT_S = 180.0


def secret_task(secret: int) -> dict[str, object]:
    """A stdio task whose only test expects `secret` (the toy family's shape, written out here)."""
    return {
        "kind": "stdio",
        "id": f"resume-secret-{secret}",
        "set": "toy-secret",
        "language": "python",
        "statement": f"Print the secret number (one of {', '.join(map(str, SECRETS))}).",
        "publicTests": [{"input": "", "output": f"{secret}\n"}],
        "privateTests": [],
        "checker": {"mode": "tokens"},
        "limits": {"timeMs": 10000, "memoryBytes": 256 * 1024 * 1024},
    }


def teach_answer_format(model_dir: Path, first_prompt: list[dict[str, str]]) -> None:
    """A few supervised steps on ```python print(N)``` answers, so rollouts run real code in the sandbox."""
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    prompt = first_prompt_ids(tokenizer, first_prompt)
    answers = [
        tokenizer.encode(f"```python\nprint({n})\n```", add_special_tokens=False) + [tokenizer.eos_token_id]
        for n in SECRETS
    ]
    width = len(prompt) + max(map(len, answers))
    ids = torch.full((len(answers), width), tokenizer.pad_token_id)
    labels = torch.full_like(ids, -100)
    attention = torch.zeros_like(ids)
    for row, answer in enumerate(answers):
        sequence = prompt + answer
        ids[row, : len(sequence)] = torch.tensor(sequence)
        attention[row, : len(sequence)] = 1
        labels[row, len(prompt) : len(sequence)] = torch.tensor(answer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    model.train()
    for _ in range(20):
        loss = model(input_ids=ids, attention_mask=attention, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval().save_pretrained(model_dir)


def process_table() -> dict[int, tuple[str, int, int, str]]:
    """pid -> (state, parent pid, process group, start time) of every process, from /proc."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        table[int(stat.parent.name)] = (fields[0], int(fields[1]), int(fields[2]), fields[19])
    return table


def descendants(root: int) -> set[tuple[int, str]]:
    """(pid, start time) of `root` and everything it started that still runs, its detached sandboxes included."""
    table = process_table()
    found, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (_s, ppid, _g, _t) in table.items() if ppid == parent and pid not in found]
        found.update(children)
        frontier += children
    return {(pid, table[pid][3]) for pid in found if pid in table}


def still_running(processes: set[tuple[int, str]], process_group: int) -> list[int]:
    """Which of `processes`, or of the process group, still run (zombies awaiting their reaper do not count)."""
    table = process_table()
    alive = {pid for pid, started in processes if pid in table and table[pid][3] == started and table[pid][0] != "Z"}
    alive |= {pid for pid, (state, _p, group, _t) in table.items() if group == process_group and state != "Z"}
    return sorted(alive)


@dataclass
class Trainer:
    """One `rlef-train train` process, in a session of its own so a kill of its group reaches its children."""

    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def reported_iterations(self) -> list[int]:
        lines = self.stdout.read_text().splitlines() if self.stdout.exists() else []
        return [int(json.loads(line)["iteration"]) for line in lines if line.startswith("{") and line.endswith("}")]

    def has_reported(self, iteration: int) -> bool:
        return iteration in self.reported_iterations()

    def reached(self, moment: float, iteration: int) -> bool:
        return time.monotonic() >= moment or self.has_reported(iteration)

    def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_LIMIT_S
        while not condition():
            if self.process.poll() is not None:
                raise AssertionError(f"rlef-train exited ({self.process.returncode}) before {what}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {WAIT_LIMIT_S:.0f} s:\n{self.log()}")
            time.sleep(0.02)

    def kill_group(self) -> None:
        """SIGKILL the trainer's whole process group, then check that nothing it started survives."""
        assert self.process.poll() is None, "the kill must land while the trainer runs"
        started = descendants(self.process.pid)
        assert len(started) >= 2, "the trainer should have started the environment service"
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        deadline = time.monotonic() + 10
        while still_running(started, self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert still_running(started, self.process.pid) == [], "processes of the killed trainer survived"

    def finish(self) -> None:
        assert self.process.wait(timeout=WAIT_LIMIT_S) == 0, self.log()

    def log(self) -> str:
        return (self.stdout.read_text() + self.stderr.read_text())[-4000:]


def start_trainer(config: Path, logs: Path, name: str, *, pause_marker: Path | None = None) -> Trainer:
    env = {k: v for k, v in os.environ.items() if k != PAUSE_BEFORE_RENAME_ENV}
    env.update(PYTHONHASHSEED="0", OMP_NUM_THREADS="1", TRANSFORMERS_VERBOSITY="error", HF_HUB_OFFLINE="1")
    if pause_marker is not None:
        env[PAUSE_BEFORE_RENAME_ENV] = str(pause_marker)
    stdout, stderr = logs / f"{name}.out", logs / f"{name}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "rlef_trainer.cli", "train", "--config", str(config)],
            stdout=out,
            stderr=err,
            cwd=REPO_ROOT,
            env=env,
            start_new_session=True,
        )
    return Trainer(process, stdout, stderr)


def write_config(path: Path, model: Path, tasks: Path, out_dir: Path) -> Path:
    path.write_text(
        json.dumps(
            {
                "model": str(model),
                "tasks": str(tasks),
                "out_dir": str(out_dir),
                # LoRA: its fresh adapters come from torch's global RNG, one more thing a restart must reproduce.
                "mode": "lora",
                "lora_lr": 1e-2,
                "lora_rank": 4,
                "device": "cpu",
                "dtype": "float32",
                "deterministic": True,
                "torch_threads": 1,
                "lr": 1e-3,
                "warmup_steps": 2,
                "rollouts_per_iteration": 4,
                "minibatch_size": 2,
                "generation_batch_size": 4,
                "max_turns": 2,
                "max_new_tokens": 12,
                "iterations": ITERATIONS,
                "checkpoint_every": 1,
                "keep_checkpoints": 2,
                "env_workers": 1,
                "seed": 3,
                # one of the four secrets (11) is held out and evaluated every 2 iterations: evaluations resume too
                "valid_fraction": 0.3,
                "eval_every": 2,
            }
        )
    )
    return path


def read_metrics(out_dir: Path) -> list[dict[str, float | None]]:
    return [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]


@dataclass
class Start:
    """One start of the interrupted run: what it should resume from and what it should clean up."""

    trainer: Trainer
    resume_from: Path | None
    leftover: Path | None


@dataclass
class Runs:
    uninterrupted: Path
    interrupted: Path
    config: Path
    kills: list[str]
    starts: list[Start]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Runs:
    root = tmp_path_factory.mktemp("resume")
    model = shutil.copytree(tiny_model_dir, root / "model")
    tasks = root / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(secret_task(s)) + "\n" for s in SECRETS))
    with start_env_service(workers=1) as service, EnvClient(service.url, service.token) as env:
        reset = env.reset_batch([{"task": secret_task(SECRETS[0]), "options": {"maxTurns": 2}}])[0]
        env.request({"type": "close", "episodeId": reset["episodeId"]}, "close")
    teach_answer_format(model, list(reset["observation"]["messages"]))

    whole = root / "uninterrupted"
    whole_config = write_config(root / "uninterrupted.json", model, tasks, whole)
    start_trainer(whole_config, root, "uninterrupted").finish()
    iteration_s = statistics.median(float(m["iteration_seconds"] or 0) for m in read_metrics(whole))

    out = root / "interrupted"
    config = write_config(root / "interrupted.json", model, tasks, out)
    plan = random.Random(PLAN_SEED)
    mid_write = plan.randrange(3)  # which of the three kills lands inside a checkpoint write
    kills: list[str] = []
    starts: list[Start] = []
    leftover: Path | None = None
    for k in range(3):
        before = latest_checkpoint(out)
        done = checkpoint_iteration(before) if before is not None else 0
        assert done is not None
        if k == mid_write:
            marker = root / f"paused-{k}"
            trainer = start_trainer(config, root, f"kill-{k}", pause_marker=marker)
            starts.append(Start(trainer, before, leftover))
            trainer.wait_until(marker.exists, "paused checkpoint write")
            tmp = Path(marker.read_text().strip())
            writing = checkpoint_iteration(tmp.name[1:].split(".tmp-")[0])
            assert (tmp / STATE_FILE).is_file() and (tmp / META_FILE).is_file()
            assert writing == done + 1 and not (out / f"checkpoint-{writing:08d}").exists()
            trainer.kill_group()
            assert tmp.is_dir(), "the killed write's temp folder stays behind"
            assert latest_checkpoint(out) == before, "a temp folder was taken for a checkpoint"
            kills.append(f"inside the write of checkpoint {writing}")
            leftover = tmp
            continue
        else:
            # A moment drawn anywhere inside one of the next two iterations (or the checkpoint write between them).
            target = min(done + plan.randint(1, 2), ITERATIONS - 2)
            delay = plan.uniform(0.0, 1.0) * iteration_s
            trainer = start_trainer(config, root, f"kill-{k}")
            starts.append(Start(trainer, before, leftover))
            trainer.wait_until(functools.partial(trainer.has_reported, target), f"iteration {target}")
            # Cut short at the next report, so the moment stays inside the run whatever the machine's load.
            moment = time.monotonic() + delay
            trainer.wait_until(functools.partial(trainer.reached, moment, target + 1), "the kill moment")
            trainer.kill_group()
            kills.append(f"{delay:.2f} s after iteration {target} was reported")
        leftover = None
    final = start_trainer(config, root, "final")
    starts.append(Start(final, latest_checkpoint(out), leftover))
    final.finish()
    return Runs(whole, out, config, kills, starts)


def test_every_metric_of_every_iteration_matches_the_uninterrupted_run(runs: Runs) -> None:
    expected, resumed = read_metrics(runs.uninterrupted), read_metrics(runs.interrupted)
    assert [m["iteration"] for m in expected] == list(range(1, ITERATIONS + 1))
    assert [m["iteration"] for m in resumed] == list(range(1, ITERATIONS + 1)), f"kills: {runs.kills}"
    for want, got in zip(expected, resumed, strict=True):
        assert want.keys() == got.keys()
        for name in sorted(set(want) - TIMING_METRICS):
            a, b = want[name], got[name]
            same = a == b or (
                isinstance(a, float) and isinstance(b, float) and math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE)
            )
            assert same, f"iteration {want['iteration']}: {name} {b} after kills ({runs.kills}), {a} uninterrupted"
    # The comparison has teeth: the policy changes over the run and the sandbox judged real programs.
    assert len({m["value_mean"] for m in expected}) == ITERATIONS
    assert any((m["invalid_rate"] or 0) < 1 for m in expected)
    assert any((m["solve_rate"] or 0) > 0 for m in expected)


def test_the_evaluations_match_the_uninterrupted_run(runs: Runs) -> None:
    def evaluations(out: Path) -> list[dict[str, object]]:
        lines = (out / "eval.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]

    expected = evaluations(runs.uninterrupted)
    assert [e["iteration"] for e in expected] == list(range(0, ITERATIONS + 1, 2))
    assert all(e["valid"]["problems"] == 1 for e in expected)  # type: ignore[index]
    assert evaluations(runs.interrupted) == expected, f"kills: {runs.kills}"


def test_the_final_weights_match_the_uninterrupted_run(runs: Runs) -> None:
    digests = []
    for out in (runs.uninterrupted, runs.interrupted):
        final = latest_checkpoint(out)
        assert final is not None and final.name == f"checkpoint-{ITERATIONS:08d}"
        recorded = json.loads((final / META_FILE).read_text())["weights_sha256"]
        assert weights_digest(load_checkpoint(final)["weights"]) == recorded
        digests.append(recorded)
    assert digests[0] == digests[1]


def test_the_restarts_resumed_from_complete_checkpoints_and_cleaned_up(runs: Runs) -> None:
    assert len(runs.kills) == 3 and sum("inside the write" in k for k in runs.kills) == 1
    for start in runs.starts:
        notes = start.trainer.stderr.read_text()
        if start.resume_from is None:
            assert "resuming from" not in notes, notes
        else:
            assert f"resuming from {start.resume_from} " in notes, notes
        if start.leftover is not None:
            assert f"removed {start.leftover}" in notes, notes
    assert sum(start.leftover is not None for start in runs.starts) == 1
    assert [p.name for p in complete_checkpoints(runs.interrupted)] == [
        f"checkpoint-{ITERATIONS - 1:08d}",
        f"checkpoint-{ITERATIONS:08d}",
    ]
    leftovers = [p.name for p in runs.interrupted.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_a_truncated_checkpoint_is_refused_naming_the_file(runs: Runs, tmp_path: Path) -> None:
    out = shutil.copytree(runs.uninterrupted, tmp_path / "run")
    config = json.loads(runs.config.read_text())
    config["out_dir"] = str(out)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    state = out / f"checkpoint-{ITERATIONS:08d}" / STATE_FILE
    data = state.read_bytes()
    state.write_bytes(data[: len(data) // 2])
    trainer = start_trainer(config_path, tmp_path, "truncated")
    assert trainer.process.wait(timeout=WAIT_LIMIT_S) == 2
    message = trainer.stderr.read_text()
    assert str(state) in message and "truncated" in message
    assert f"checkpoint-{ITERATIONS - 1:08d}" in message  # the way back: the previous complete checkpoint
