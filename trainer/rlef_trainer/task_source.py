"""Where training episodes come from: a JSONL file of tasks, drawn in a seeded, resumable order.

Each line is either an inline task object (docs/env-protocol.md, "Tasks") or a reference to a
built-in set of the service, `{"set": "codecontests", "id": "1548_A"}`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rlef_trainer.rollout import EpisodeRequest


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


class TaskOrder:
    """Epochs over the tasks, each in a fresh permutation from the run's rng (saved with checkpoints)."""

    def __init__(self, tasks: list[dict[str, Any]], *, max_turns: int, random_feedback: bool) -> None:
        self.tasks, self.max_turns, self.random_feedback = tasks, max_turns, random_feedback

    def __call__(self, iteration: int, rng: np.random.Generator, count: int) -> list[EpisodeRequest]:
        picks: list[int] = []
        while len(picks) < count:
            picks += rng.permutation(len(self.tasks)).tolist()
        requests = []
        for index in picks[:count]:
            options: dict[str, Any] = {"maxTurns": self.max_turns, "seed": int(rng.integers(0, 2**31 - 1))}
            task = self.tasks[index]
            if self.random_feedback:
                options["randomFeedback"] = True
                if "kind" in task:  # inline tasks bring their donors: the others of the same set
                    options["donorTasks"] = [t for t in self.tasks if t is not task and t["set"] == task["set"]][:64]
            requests.append(EpisodeRequest(task=task, options=options))
        return requests
