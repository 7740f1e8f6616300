"""`rlef-train sessions`: what a session log holds and what training on it would use; `--tasks-out` writes the
distinct trainable tasks as a task file (`tasks` in a config). Exit 0, or 2 with one line for a folder that
cannot be read or a `--tasks-out` that cannot be written (then nothing is written)."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from rlef_trainer.session_log import (
    SessionLog,
    SessionLogError,
    not_trainable_because,
    read_session_log,
    session_log_folder,
    session_tasks,
    untrainable_reasons,
)
from rlef_trainer.writable import folder_problem

OUTCOMES = ("solved", "failed", "cancelled")
SHOWN_PROBLEMS = 20  # in the text summary; --json lists every one


def _refuse(line: str) -> int:
    print(f"rlef-train sessions: {line}", file=sys.stderr)
    return 2


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} bytes"
    return f"{count / 1024:.1f} KiB" if count < 1024**2 else f"{count / 1024**2:.1f} MiB"


def summary(log: SessionLog, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    """The command's --json object."""
    outcomes = Counter(s["outcome"] for s in log.sessions)
    decisions = Counter(log.reviews.values())
    return {
        "folder": str(log.folder),
        "exists": log.exists,
        "files": [str(f) for f in log.files],
        "bytes": log.bytes,
        "sessions": len(log.sessions),
        "outcomes": {name: outcomes.get(name, 0) for name in OUTCOMES},
        "trainable": sum(1 for s in log.sessions if not_trainable_because(s) is None),
        "notTrainable": dict(untrainable_reasons(log).most_common()),
        "reviews": {"accepted": decisions.get("accepted", 0), "rejected": decisions.get("rejected", 0)},
        "distinctTasks": len(tasks),
        "problems": [{"file": p.file, "line": p.line, "message": p.message} for p in log.problems],
    }


def summary_text(info: dict[str, Any]) -> str:
    lines = []
    if not info["exists"]:
        lines.append(
            f"session log: {info['folder']} (does not exist: nothing has been logged there; the log is off until "
            "turned on in the editor, or `rlef solve --log`)"
        )
    else:
        files = len(info["files"])
        lines.append(f"session log: {info['folder']} ({files} file{'s' if files != 1 else ''}, {_size(info['bytes'])})")
    outcomes = ", ".join(f"{name} {n}" for name, n in info["outcomes"].items())
    lines.append(f"sessions: {info['sessions']} ({outcomes})")
    lines.append(f"trainable: {info['trainable']} of {info['sessions']}")
    if info["notTrainable"]:
        lines.append("not trainable:")
        lines += [f"  {n:>5}  {reason}" for reason, n in info["notTrainable"].items()]
    reviews = info["reviews"]
    lines.append(f"reviews: {reviews['accepted']} accepted, {reviews['rejected']} rejected")
    lines.append(f"distinct trainable tasks: {info['distinctTasks']}")
    problems = info["problems"]
    if problems:
        lines.append(f"problems: {len(problems)} line{'s' if len(problems) != 1 else ''} skipped")
        for p in problems[:SHOWN_PROBLEMS]:
            where = f"{p['file']}:{p['line']}" if p["line"] else p["file"]
            lines.append(f"  {where}: {p['message']}")
        if len(problems) > SHOWN_PROBLEMS:
            lines.append(f"  ... and {len(problems) - SHOWN_PROBLEMS} more (--json lists every one)")
    else:
        lines.append("problems: none")
    return "\n".join(lines)


def tasks_out_problem(path: Path, force: bool) -> str | None:
    """Why `--tasks-out path` cannot be written, or None."""
    if path.is_dir():
        return "is a folder"
    if path.exists() or path.is_symlink():
        return None if force else "exists; --force replaces it"
    unwritable = folder_problem(path.parent)
    return f"cannot be written: the folder {path.parent} {unwritable}" if unwritable else None


def write_tasks(path: Path, tasks: list[dict[str, Any]]) -> None:
    """One task a line, written to a temporary sibling and renamed: a reader sees the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(task) + "\n" for task in tasks)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def run_sessions_command(folder: str, tasks_out: Path | None, *, as_json: bool, force: bool) -> int:
    where = session_log_folder(folder)
    try:
        log = read_session_log(where)
    except SessionLogError as error:
        return _refuse(str(error))
    tasks = session_tasks(log)
    if tasks_out is not None:
        if not tasks:
            return _refuse(f"--tasks-out {tasks_out}: the log has no trainable task; nothing written")
        problem = tasks_out_problem(tasks_out, force)
        if problem:
            return _refuse(f"--tasks-out {tasks_out} {problem}; nothing written")
        try:
            write_tasks(tasks_out, tasks)
        except OSError as error:
            return _refuse(f"--tasks-out {tasks_out} cannot be written: {error.strerror or error}; nothing written")
    info = summary(log, tasks)
    if tasks_out is not None:
        info["tasksOut"] = str(tasks_out)
    if as_json:
        print(json.dumps(info))
    else:
        print(summary_text(info))
        if tasks_out is not None:
            print(f"wrote {len(tasks)} task{'s' if len(tasks) != 1 else ''} to {tasks_out} (`tasks` in a config)")
    return 0
