"""The editor's opt-in session log, read for training: what the user ran, and the tasks the trainer may use.

The editor, the LSP server and the `rlef` CLI append one JSON object per line to `sessions-YYYY-MM.jsonl` files
in a log folder (default `$XDG_STATE_HOME/rlef/sessions`, else `~/.local/state/rlef/sessions`): a `session`
record per agent run (its task, turns, outcome, whether the trainer may use the task and why not) and a `review`
record per accept/reject of a run's proposal. The one definition is server/session-log/record.ts; its JSON Schema
(draft-07) is generated into `session_log.schema.json` next to this file, and this reader follows the TypeScript
one (server/session-log/log.ts): files in name order, blank lines skipped, a line that is not JSON, fails the
schema or is of a newer version reported with its file and line number and skipped, never raised.

Where this reader is stricter than the TypeScript one, it is about bytes the writer never produces: a line that is
not UTF-8 is reported (Node would decode it with U+FFFD in place of the bad bytes, silently changing a test's
text), as is a number JSON cannot hold (NaN, or too large for a double).

`session_tasks(log)` gives the tasks of the trainable sessions, each distinct task once, with an id that keeps
the logged one and adds a hash of the task's content (`double.md#3f2a9c1b0d4e`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema import Draft7Validator

SESSION_LOG_VERSION = 1
SCHEMA_FILE = "session_log.schema.json"
# A line longer than this is reported and skipped (the writer refuses to write one); read in bounded memory.
MAX_LINE_BYTES = 32 * 1024**2
LOG_FILE = re.compile(r"^sessions-(\d{4})-(\d{2})\.jsonl$")
DEFAULT = "default"  # the config's and the command's name for the default folder
HASH_CHARS = 12  # hex characters of the content hash in a logged task's id
# What JavaScript's String.prototype.trim() removes: a line of only these is blank, as in the TypeScript reader.
_JS_SPACE = " \t\n\r\v\f\xa0\ufeff\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
_MAX_DOUBLE = 1.7976931348623157e308


class SessionLogError(ValueError):
    """The session log folder cannot be read at all (not a folder, no permission); one line."""


@dataclass(frozen=True)
class SessionLogProblem:
    """A line (or, with line 0, a whole file) of the log that could not be used, and why."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


@dataclass
class SessionLog:
    folder: Path
    exists: bool = False
    # session records in the order they were written (files by month, lines in order)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    # the last review decision ("accepted" / "rejected") of each session id
    reviews: dict[str, str] = field(default_factory=dict)
    problems: list[SessionLogProblem] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    bytes: int = 0


def default_session_log_dir(env: dict[str, str] | None = None) -> Path:
    """`$XDG_STATE_HOME/rlef/sessions`, else `~/.local/state/rlef/sessions` (server/session-log/log.ts)."""
    env = os.environ if env is None else env  # type: ignore[assignment]
    base = Path(env["XDG_STATE_HOME"]) if env.get("XDG_STATE_HOME") else Path.home() / ".local" / "state"
    return base / "rlef" / "sessions"


def session_log_folder(value: str | Path) -> Path:
    """The folder a config or `--dir` names: "default" is the default folder (write ./default for one so named)."""
    if str(value) == DEFAULT:
        return default_session_log_dir()
    return Path(value).expanduser()


# --- one line ---------------------------------------------------------------------------------------------------


@cache
def session_log_schema() -> dict[str, Any]:
    """The generated schema, shipped in the package (package-data), not a copy."""
    return json.loads(resources.files("rlef_trainer").joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))


def _js_pattern(pattern: str) -> re.Pattern[str]:
    """A JSON Schema pattern as ECMAScript (ajv) reads it: `\\d` and `\\w` are ASCII, and `$` outside a character
    class is the end of the text only (Python's `$` also matches before a final newline)."""
    out, in_class, i = [], False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        out.append(r"\Z" if char == "$" and not in_class else char)
        i += 1
    return re.compile("".join(out), re.ASCII)


@cache
def _compiled_pattern(pattern: str) -> re.Pattern[str]:
    return _js_pattern(pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Any:
    if validator.is_type(instance, "string") and not _compiled_pattern(pattern).search(instance):
        yield jsonschema.ValidationError(f"does not match {pattern!r}")


_Validator = jsonschema.validators.extend(Draft7Validator, {"pattern": _pattern})


@cache
def _validator() -> Any:
    schema = session_log_schema()
    Draft7Validator.check_schema(schema)
    return _Validator(schema)


def _where(path: Any) -> str:
    text = "line"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(error: jsonschema.ValidationError) -> str:
    """One schema error as the TypeScript reader words it ("line.turns[0].reward must be number"), never quoting
    the (possibly huge) value itself."""
    where, kind = _where(error.absolute_path), error.validator
    expected, instance = error.validator_value, error.instance
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = set(error.schema.get("properties", {}))
        unknown = sorted(k for k in instance if k not in known)
        return f"{where} has an unknown field {_short(unknown[0])}" if unknown else f"{where} is invalid"
    if kind == "required" and isinstance(instance, dict):
        missing = [name for name in expected if name not in instance]
        return f"{where} must have required property {_short(missing[0] if missing else expected[0])}"
    words = {
        "type": lambda: "must be " + (",".join(expected) if isinstance(expected, list) else str(expected)),
        "enum": lambda: "must be one of " + ", ".join(_short(v) for v in expected),
        "const": lambda: f"must be {_short(expected)}",
        "minLength": lambda: f"must not have fewer than {expected} characters",
        "maxLength": lambda: f"must not have more than {expected} characters",
        "minItems": lambda: f"must not have fewer than {expected} items",
        "maxItems": lambda: f"must not have more than {expected} items",
        "minimum": lambda: f"must be >= {expected}",
        "maximum": lambda: f"must be <= {expected}",
        "pattern": lambda: f"must match pattern {_short(expected)}",
        "uniqueItems": lambda: "must not have duplicate items",
    }
    if kind in words:
        return f"{where} {words[kind]()}"
    message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
    return f"{where} {message}"


def _parse_int(text: str) -> int | float:
    value = int(text)
    if abs(value) > _MAX_DOUBLE:
        raise ValueError(f"the number {text[:20]}... is too large for a JSON number")
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large for a JSON number")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_line(text: str) -> Any:
    """JSON as JavaScript's JSON.parse reads it (no NaN or Infinity, every number a finite double)."""
    return json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_no_constant)


def line_problem(value: Any) -> str | None:
    """Why a parsed line is not a record of this version of the log, or None (record.ts's parseSessionLogLine)."""
    if not isinstance(value, dict):
        return "line must be a JSON object"
    version = value.get("version")
    if isinstance(version, (int, float)) and not isinstance(version, bool) and version > SESSION_LOG_VERSION:
        return f"line has version {version}, newer than this version of RLEF reads ({SESSION_LOG_VERSION}); update RLEF"
    try:
        error = jsonschema.exceptions.best_match(_validator().iter_errors(value))
    except RecursionError:
        return "line is nested too deeply"
    return None if error is None else _describe(error)


# --- the folder -------------------------------------------------------------------------------------------------


def _lines(handle: Any) -> Any:
    """(number, bytes of the line without its end, or None when over MAX_LINE_BYTES), in bounded memory."""
    number = 0
    while True:
        chunk = handle.readline(MAX_LINE_BYTES + 2)
        if not chunk:
            return
        number += 1
        if chunk.endswith(b"\n") or len(chunk) <= MAX_LINE_BYTES:
            body = chunk[:-1] if chunk.endswith(b"\n") else chunk
            body = body[:-1] if body.endswith(b"\r") else body
            yield number, (body if len(body) <= MAX_LINE_BYTES else None)
            continue
        while chunk and not chunk.endswith(b"\n"):  # the rest of an over-long line, a block at a time
            chunk = handle.readline(1 << 20)
        yield number, None


def _log_files(folder: Path) -> list[str]:
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        raise SessionLogError(f"the session log folder {folder} is not a folder") from None
    except OSError as error:
        raise SessionLogError(f"cannot read the session log folder {folder}: {error.strerror or error}") from None
    return sorted(name for name in names if LOG_FILE.match(name))


def read_session_log(folder: str | Path) -> SessionLog:
    """Every log file of `folder`, in name order (a folder that does not exist is an empty log). A line that cannot
    be used is a problem with its file and 1-based line number, and a file that cannot be read one with line 0;
    only a folder that exists and cannot be listed raises (SessionLogError)."""
    root = Path(folder)
    log = SessionLog(folder=root)
    names = _log_files(root)
    log.exists = root.is_dir()
    for name in names:
        path = root / name
        log.files.append(path)
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):  # a folder, or a pipe that would block the read
                raise OSError(0, "not a regular file")
            with open(path, "rb") as handle:
                log.bytes += os.fstat(handle.fileno()).st_size
                for number, raw in _lines(handle):
                    _read_line(log, str(path), number, raw)
        except OSError as error:
            log.problems.append(SessionLogProblem(str(path), 0, f"cannot be read: {error.strerror or error}"))
    return log


def _read_line(log: SessionLog, file: str, number: int, raw: bytes | None) -> None:
    def problem(message: str) -> None:
        log.problems.append(SessionLogProblem(file, number, message))

    if raw is None:
        problem(f"the line is over {MAX_LINE_BYTES // 1024**2} MiB")
        return
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        problem(f"not UTF-8 text (byte {error.start + 1} of the line)")
        return
    if not text.strip(_JS_SPACE):
        return
    try:
        value = parse_line(text)
    except RecursionError:
        problem("not JSON: nested too deeply")
        return
    except ValueError as error:  # JSONDecodeError, a number out of range, Python's limit on an int's digits
        problem(f"not JSON: {str(error)[:200]}")
        return
    message = line_problem(value)
    if message is not None:
        problem(message)
    elif value["type"] == "session":
        log.sessions.append(value)
    else:
        log.reviews[value["session"]] = value["decision"]


# --- what the trainer uses --------------------------------------------------------------------------------------

USER_SET = "user"  # the set of the user's own problem files, the only logged tasks the trainer takes
WORKSPACE_REASON = "a workspace task is logged without the workspace's files, so it cannot be replayed"
NO_TESTS_REASON = "the task has no public tests (no feedback to learn from)"


def not_trainable_because(session: dict[str, Any]) -> str | None:
    """Why the trainer may not use a session's task, or None. The writer decides (`trainable`,
    `notTrainableBecause`, server/session-log/log.ts); its rules are applied here again, whatever a line says: a
    workspace task cannot be replayed, a built-in set's task would bypass that set's licence check, a task without
    public tests gives no feedback."""
    if not session.get("trainable"):
        return str(session.get("notTrainableBecause") or "marked not trainable")
    task = session["task"]
    if task.get("kind") == "workspace":
        return WORKSPACE_REASON
    if task.get("set") != USER_SET:  # an inline task skips the licence check a set's tasks get: only the user's own
        return f"a task of the built-in set {task.get('set')}: train on the set itself, where its licence allows"
    if not task.get("publicTests"):
        return NO_TESTS_REASON
    return None


def reason_label(reason: str) -> str:
    """A short plural label for a count of sessions not trainable for `reason`."""
    if reason == WORKSPACE_REASON:
        return "workspace tasks (logged without their files)"
    if reason == NO_TESTS_REASON:
        return "tasks without public tests"
    if reason.startswith("a task of the built-in set "):
        return "tasks of built-in sets"
    if reason.startswith("redaction replaced text in the task"):
        return "tasks where redaction replaced text"
    return reason


def untrainable_reasons(log: SessionLog) -> Counter[str]:
    """How many sessions are not trainable, by reason."""
    return Counter(why for s in log.sessions if (why := not_trainable_because(s)) is not None)


def task_content_hash(task: dict[str, Any]) -> str:
    """sha256 of a task without its id (canonical JSON), the first HASH_CHARS hex characters."""
    content = {k: v for k, v in task.items() if k != "id"}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:HASH_CHARS]


def session_tasks(log: SessionLog) -> list[dict[str, Any]]:
    """The tasks of the log's trainable sessions, each distinct task once (by its content without the id; the
    first session's id names it), in the order they were first logged. Each task's id becomes `ID#HASH`, the
    logged id and its content hash, so two files both called problem.md do not collide and the valid split (a hash
    of set and id) does not move when the log grows. The set stays as logged ("user")."""
    seen: set[str] = set()
    tasks = []
    for session in log.sessions:
        if not_trainable_because(session) is not None:
            continue
        task = session["task"]
        digest = task_content_hash(task)
        if digest in seen:
            continue
        seen.add(digest)
        tasks.append({**task, "id": f"{task['id']}#{digest}"})
    return tasks


def describe_untrainable(log: SessionLog) -> str:
    """ "5 sessions, 0 trainable: 3 workspace tasks (...), 2 tasks without public tests", for a refusal."""
    count = len(log.sessions)
    trainable = sum(1 for s in log.sessions if not_trainable_because(s) is None)
    text = f"{count} session{'s' if count != 1 else ''}, {trainable} trainable"
    reasons = untrainable_reasons(log)
    if reasons:
        text += ": " + ", ".join(f"{n} {reason_label(r)}" for r, n in reasons.most_common())
    if not log.exists:
        text += " (the folder does not exist: nothing has been logged there; the session log is off by default)"
    elif not log.files:
        text += " (no sessions-YYYY-MM.jsonl files in it)"
    if log.problems:
        text += f"; {len(log.problems)} line(s) could not be read, the first {log.problems[0]}"
    return text


# --- a run's frozen list ----------------------------------------------------------------------------------------

RUN_TASKS_FILE = "session-tasks.json"  # in each checkpoint of a run with `session_log`: the tasks it trains on


def tasks_digest(tasks: list[dict[str, Any]]) -> str:
    text = json.dumps(tasks, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def run_tasks_record(folder: Path, tasks: list[dict[str, Any]]) -> str:
    """What a checkpoint keeps of the run's logged tasks: their ids in order and a digest of their content."""
    return json.dumps({"folder": str(folder), "ids": [t["id"] for t in tasks], "sha256": tasks_digest(tasks)}) + "\n"


def recorded_run_tasks(
    current: list[dict[str, Any]], record_text: str, where: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The run's logged tasks as a checkpoint recorded them, found in the log as it is now: (the run's tasks, in
    the run's order; the log's trainable tasks the run does not have). The log only grows, so they are normally
    all there; a task that is gone (the log cleared, a month's file deleted) raises SessionLogError."""
    try:
        record = json.loads(record_text)
        ids, digest = list(record["ids"]), str(record["sha256"])
    except (ValueError, KeyError, TypeError):
        raise SessionLogError(f"{where}: not a record of a run's session-log tasks") from None
    by_id = {t["id"]: t for t in current}
    missing = [i for i in ids if i not in by_id]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise SessionLogError(
            f"the session log no longer holds {len(missing)} of the {len(ids)} tasks this run trains on ({shown}; "
            "was it cleared or a file moved?): restore it, or start fresh with --no-resume"
        )
    tasks = [by_id[i] for i in ids]
    if tasks_digest(tasks) != digest:
        raise SessionLogError(f"{where}: the session log's tasks differ from those this run recorded")
    chosen = set(ids)
    return tasks, [t for t in current if t["id"] not in chosen]
