"""Where training episodes come from, and which tasks are held out for validation.

`tasks` in the config is either built-in set names of the service (`"codecontests,apps,codejam,mbpp"`)
or a JSONL file whose lines are inline task objects (docs/env-protocol.md, "Tasks") or references to a
built-in set, `{"set": "codecontests", "id": "1548_A"}`. The service says what each set's licence allows
(`listTasks`): a set that may not be trained on (HumanEval, HumanEval+, MBPP+, LeetCode, MultiPL-E,
xCodeEval, ...) is refused, and of MBPP only the tasks whose ids are not in MBPP+ are used. Inline tasks are
the user's own and are taken as they are.

The train / valid split is a property of each task: a task is held out when a hash of its set and id falls
below `valid_fraction`, so the split never depends on the seed, the order of the file or which other tasks
are listed, and a held-out task is never trained on. Training draws the train split in seeded epochs.

`session_log` adds the tasks of the editor's session log (rlef_trainer/session_log.py): inline tasks like a task
file's, after the file's or the sets' tasks, each `(set, id)` once, through the same split.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rlef_trainer.env_client import EnvClient
from rlef_trainer.rollout import EpisodeRequest

MAX_DONORS = 64  # random-feedback donors sent with an inline task (the others of its set)


def load_task_file(path: str | Path) -> list[dict[str, Any]]:
    tasks = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            task = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: not JSON: {error}") from None
        if not isinstance(task, dict) or not isinstance(task.get("id"), str) or not isinstance(task.get("set"), str):
            raise ValueError(f"{path}:{number}: a task needs string fields 'set' and 'id'")
        tasks.append(task)
    if not tasks:
        raise ValueError(f"{path}: no tasks")
    return tasks


def is_task_file(tasks: str) -> bool:
    """Whether the config's `tasks` names a file rather than built-in sets."""
    return tasks.endswith((".jsonl", ".json")) or "/" in tasks or Path(tasks).is_file()


def set_names(names: str) -> list[str]:
    """The built-in set names of a comma-separated list, each once, in order."""
    listed = [name.strip() for name in names.split(",")]
    if not names.strip() or any(not name for name in listed):
        raise ValueError(f"expected comma-separated built-in set names, got {names!r}")
    return list(dict.fromkeys(listed))


def task_hash(task: dict[str, Any]) -> float:
    """A number in [0, 1) fixed by the task's set and id alone."""
    digest = hashlib.sha256(f"{task['set']}\0{task['id']}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def held_out(task: dict[str, Any], valid_fraction: float) -> bool:
    """Whether `task` belongs to the valid split."""
    return task_hash(task) < valid_fraction


@dataclass
class TaskSplit:
    train: list[dict[str, Any]]
    valid: list[dict[str, Any]]
    # per built-in set: tasks left out because their licence forbids training (MBPP's MBPP+ ids)
    not_trainable: dict[str, int] = field(default_factory=dict)
    from_session_log: int = 0  # tasks (train and valid) that came from the session log

    def describe(self) -> str:
        text = f"{len(self.train)} training tasks, {len(self.valid)} held out for validation"
        if self.from_session_log:
            text += f" ({self.from_session_log} of them from the session log)"
        if self.not_trainable:
            text += "; left out by licence: " + ", ".join(f"{n} of {s}" for s, n in sorted(self.not_trainable.items()))
        return text


def _set_listing(env: EnvClient, name: str, listings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if name not in listings:
        listings[name] = env.list_tasks(name)
    return listings[name]


def _trainable_set_tasks(env: EnvClient, name: str, listings: dict[str, dict[str, Any]]) -> tuple[list[str], int]:
    listing = _set_listing(env, name, listings)
    if listing.get("trainable") is False:
        raise ValueError(
            f"set {name!r} may not be trained on (its licence, or it is an evaluation set); the trainable sets are "
            "codecontests, apps, apps_call, codejam and mbpp (its tasks outside MBPP+); name evaluation sets in "
            "eval_sets instead"
        )
    ids = [t["id"] for t in listing["tasks"] if t["trainable"]]
    return ids, len(listing["tasks"]) - len(ids)


def _check_references(env: EnvClient, tasks: list[dict[str, Any]], listings: dict[str, dict[str, Any]]) -> None:
    """Every `{set, id}` reference of a task file names a task its set has and its licence lets us train on."""
    refused: list[str] = []
    by_set: dict[str, dict[str, bool]] = {}  # set -> task id -> trainable, built once per set
    for task in tasks:
        if "kind" in task:
            continue  # an inline task: the user's own
        if task["set"] not in by_set:
            by_set[task["set"]] = {t["id"]: t["trainable"] for t in _set_listing(env, task["set"], listings)["tasks"]}
        trainable = by_set[task["set"]]
        if task["id"] not in trainable:
            raise ValueError(f"set {task['set']!r} has no task {task['id']!r}")
        if not trainable[task["id"]]:
            refused.append(f"{task['set']}:{task['id']}")
    if refused:
        shown = ", ".join(refused[:5]) + (f" and {len(refused) - 5} more" if len(refused) > 5 else "")
        raise ValueError(f"the task file names {len(refused)} task(s) whose licence forbids training: {shown}")


def resolve_tasks(
    env: EnvClient, tasks: str, valid_fraction: float, logged: list[dict[str, Any]] | None = None
) -> TaskSplit:
    """The config's `tasks` (may be empty when `logged` is given), checked against the sets' licences (asked of the
    service), then the session log's inline tasks `logged` (rlef_trainer/session_log.py, `session_tasks`) that are
    not already among them by set and id, all split alike."""
    listings: dict[str, dict[str, Any]] = {}
    not_trainable: dict[str, int] = {}
    chosen: list[dict[str, Any]] = []
    if not tasks.strip() and logged:
        pass
    elif is_task_file(tasks):
        chosen = load_task_file(tasks)
        _check_references(env, chosen, listings)
    else:
        for name in set_names(tasks):
            ids, left_out = _trainable_set_tasks(env, name, listings)
            chosen += [{"set": name, "id": task_id} for task_id in ids]
            if left_out:
                not_trainable[name] = left_out
    have = {(t["set"], t["id"]) for t in chosen}
    added = [t for t in logged or [] if (t["set"], t["id"]) not in have]  # a file written by `rlef-train sessions`
    chosen += added
    train, valid = [], []
    for task in chosen:
        (valid if held_out(task, valid_fraction) else train).append(task)
    if not train:
        raise ValueError(
            f"no training tasks left after holding out valid_fraction={valid_fraction} of {len(chosen)} (a hash of "
            "each task's set and id picks the held-out ones; a lower valid_fraction keeps more)"
        )
    return TaskSplit(train, valid, not_trainable, from_session_log=len(added))


def evaluation_tasks(env: EnvClient, eval_sets: str) -> dict[str, list[dict[str, Any]]]:
    """Every task of each named built-in set (evaluation-only sets such as humaneval_plus or mbpp_plus)."""
    if not eval_sets.strip():
        return {}
    listed = {name: env.list_tasks(name)["tasks"] for name in set_names(eval_sets)}
    return {name: [{"set": name, "id": t["id"]} for t in tasks] for name, tasks in listed.items()}


def episode_options(
    task: dict[str, Any], tasks: list[dict[str, Any]], *, max_turns: int, seed: int, random_feedback: bool
) -> dict[str, Any]:
    """The reset options of one episode; random feedback draws its donors from the other tasks of the set
    (the service finds them itself for a built-in set, an inline task brings them)."""
    options: dict[str, Any] = {"maxTurns": max_turns, "seed": seed}
    if random_feedback:
        options["randomFeedback"] = True
        if "kind" in task:
            donors = (t for t in tasks if t is not task and "kind" in t and t["set"] == task["set"])
            options["donorTasks"] = list(itertools.islice(donors, MAX_DONORS))
    return options


class TaskOrder:
    """Epochs over the tasks, each in a fresh permutation from the run's rng (saved with checkpoints)."""

    def __init__(
        self,
        tasks: list[dict[str, Any]],
        *,
        max_turns: int,
        random_feedback: bool,
        donors: list[dict[str, Any]] | None = None,
    ) -> None:
        self.tasks, self.max_turns, self.random_feedback = tasks, max_turns, random_feedback
        self.donors = tasks if donors is None else donors  # random feedback's donor pool (all tasks of the run)

    def __call__(self, iteration: int, rng: np.random.Generator, count: int) -> list[EpisodeRequest]:
        picks: list[int] = []
        while len(picks) < count:
            picks += rng.permutation(len(self.tasks)).tolist()
        requests = []
        for index in picks[:count]:
            task = self.tasks[index]
            seed = int(rng.integers(0, 2**31 - 1))
            options = episode_options(
                task, self.donors, max_turns=self.max_turns, seed=seed, random_feedback=self.random_feedback
            )
            requests.append(EpisodeRequest(task=task, options=options))
        return requests
