"""The session log read for training (rlef_trainer/session_log.py): the cross-language cases, problems with file:line,
hostile input, the distinct trainable tasks and their ids, `rlef-train sessions`, and `session_log` in a config:
refusals, a real tiny run on logged tasks only, and what resuming it does when the log has grown or been cleared."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rlef_trainer.cli import main
from rlef_trainer.session_log import (
    MAX_LINE_BYTES,
    RUN_TASKS_FILE,
    SessionLogError,
    default_session_log_dir,
    describe_untrainable,
    line_problem,
    parse_line,
    read_session_log,
    recorded_run_tasks,
    run_tasks_record,
    session_log_folder,
    session_log_schema,
    session_tasks,
    task_content_hash,
)
from rlef_trainer.task_source import held_out, load_task_file

from .conftest import tiny_run_config

REPO_ROOT = Path(__file__).resolve().parents[2]
CASES = json.loads((REPO_ROOT / "test/fixtures/session-log/cases.json").read_text(encoding="utf-8"))
SOLVED, FUNCTION, WORKSPACE, REVIEW = CASES["valid"]
LOG = "sessions-2026-11.jsonl"


def _session(task: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A valid session record (the cases file's first) with another task or fields."""
    record = copy.deepcopy(SOLVED)
    if task is not None:
        record["task"] = task
    record.update(fields)
    return record


def _stdio(statement: str, output: str, *, task_id: str = "problem.md", tests: bool = True) -> dict[str, Any]:
    task = copy.deepcopy(SOLVED["task"])
    task.update(id=task_id, statement=statement, publicTests=[{"input": "", "output": output}] if tests else [])
    return task


def _write(folder: Path, lines: list[Any], name: str = LOG) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


# --- the schema and one line --------------------------------------------------------------------------------------


def test_the_cross_language_cases_valid_lines_are_accepted_and_invalid_ones_refused(tmp_path: Path) -> None:
    for line in CASES["valid"]:
        assert line_problem(parse_line(json.dumps(line))) is None, line
    for case in CASES["invalid"]:
        assert line_problem(parse_line(json.dumps(case["line"]))) is not None, case["why"]
    # the same through the folder reader: every invalid line a problem at its own line number, the valid ones read
    _write(tmp_path, CASES["valid"] + [case["line"] for case in CASES["invalid"]])
    log = read_session_log(tmp_path)
    assert [p.line for p in log.problems] == list(range(5, 5 + len(CASES["invalid"])))
    assert log.sessions == CASES["valid"][:3] and log.reviews == {REVIEW["session"]: "accepted"}
    assert "update RLEF" in log.problems[0].message  # "a newer version" is the first invalid case


def test_patterns_are_read_as_javascript_reads_them() -> None:
    # Python's `$` matches before a final newline and its \d, \w match other scripts' digits and letters; ajv's do not
    review = {**REVIEW, "at": "2026-11-28T07:12:09Z\n"}
    assert "line.at must match pattern" in str(line_problem(review))
    assert line_problem({**REVIEW, "at": "\u0662026-11-28T07:12:09Z"}) is not None  # an Arabic-Indic digit
    function = copy.deepcopy(FUNCTION)
    function["task"]["entryPoint"] = "add_\u00e9"
    assert "entryPoint must match pattern" in str(line_problem(function))
    function["task"]["entryPoint"] = "Solution().add$"
    assert line_problem(function) is None


def test_the_schema_is_the_generated_package_file_and_a_wheel_ships_it(tmp_path: Path) -> None:
    package = REPO_ROOT / "trainer"
    assert session_log_schema() == json.loads((package / "rlef_trainer/session_log.schema.json").read_text())
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(package / name, source / name)
    shutil.copytree(package / "rlef_trainer", source / "rlef_trainer", ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", str(source)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    import zipfile

    (wheel,) = tmp_path.glob("rlef_trainer-*.whl")
    assert "rlef_trainer/session_log.schema.json" in zipfile.ZipFile(wheel).namelist()


# --- the folder -------------------------------------------------------------------------------------------------


def test_problems_name_file_and_line_and_the_good_lines_around_them_load(tmp_path: Path) -> None:
    newer = {**REVIEW, "version": 2}
    bad_reward = copy.deepcopy(SOLVED)
    bad_reward["turns"][0]["reward"] = "high"
    november = _write(tmp_path, [SOLVED, "{not json", "", "   ", bad_reward, newer, FUNCTION])
    # CRLF line ends read as the TypeScript reader reads them; files in name order; other names are not the log's
    december = tmp_path / "sessions-2026-12.jsonl"
    december.write_bytes(json.dumps(WORKSPACE).encode() + b"\r\n" + json.dumps(REVIEW).encode() + b"\r\n")
    october = _write(tmp_path, [{**REVIEW, "decision": "rejected"}], name="sessions-2026-10.jsonl")
    for other in ("sessions-2026-1.jsonl", "notes.txt", "sessions-2026-11.jsonl.bak"):
        (tmp_path / other).write_text("garbage\n")
    log = read_session_log(tmp_path)
    assert log.files == [october, november, december]
    assert log.bytes == sum(p.stat().st_size for p in log.files)
    assert [s["id"] for s in log.sessions] == [SOLVED["id"], FUNCTION["id"], WORKSPACE["id"]]
    assert log.reviews == {REVIEW["session"]: "accepted"}  # the last decision (December's) wins
    assert [str(p) for p in log.problems] == [
        f"{november}:2: not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        f"{november}:5: line.turns[0].reward must be number",
        f"{november}:6: line has version 2, newer than this version of RLEF reads (1); update RLEF",
    ]


def test_hostile_input_is_a_reported_problem_or_one_clear_error_never_a_crash(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(SessionLogError, match=f"^the session log folder {a_file} is not a folder$"):
        read_session_log(a_file)
    missing = read_session_log(tmp_path / "nowhere")  # a folder that does not exist is an empty log
    assert not missing.exists and not missing.sessions and not missing.problems

    folder = tmp_path / "log"
    folder.mkdir()
    (folder / "sessions-2026-01.jsonl").write_bytes(b"")  # 0 bytes
    (folder / "sessions-2026-02.jsonl").mkdir()  # unreadable whatever the user (CI runs as root)
    (folder / "sessions-2026-03.jsonl").symlink_to(folder / "gone")  # a dangling link
    os.mkfifo(folder / "sessions-2026-05.jsonl")  # a pipe, whose read would wait for a writer for ever
    huge = _session(client="x" * 5_000_000)  # far over the schema's 500 characters
    deep = "[" * 100_000 + "]" * 100_000
    lines = [
        json.dumps(huge).encode(),
        b'{"type": "review\xff\xfe", "version": 1}',  # not UTF-8
        b'{"type": "review", "version": NaN}',
        b'{"type": "review", "version": 1e400}',  # JSON.parse makes it Infinity, which ajv refuses
        b'{"type": "review", "version": ' + b"9" * 5000 + b"}",  # over Python's 4,300 digits of an int
        deep.encode(),
        b"\xef\xbb\xbf",  # a line that is only a byte order mark is blank, as JavaScript's trim() has it
        b"x" * (MAX_LINE_BYTES + 10),
        json.dumps(SOLVED).encode(),
    ]
    bad = folder / "sessions-2026-04.jsonl"
    bad.write_bytes(b"\n".join(lines))  # no newline at the end
    log = read_session_log(folder)
    assert [s["id"] for s in log.sessions] == [SOLVED["id"]], "the line after the hostile ones still loads"
    said = {(Path(p.file).name, p.line): p.message for p in log.problems}
    assert said.pop(("sessions-2026-02.jsonl", 0)) == "cannot be read: not a regular file"
    assert said.pop(("sessions-2026-05.jsonl", 0)) == "cannot be read: not a regular file"
    assert said.pop(("sessions-2026-03.jsonl", 0)).startswith("cannot be read: ")
    assert said == {
        (bad.name, 1): "line.client must not have more than 500 characters",
        (bad.name, 2): "not UTF-8 text (byte 17 of the line)",
        (bad.name, 3): "not JSON: NaN is not JSON",
        (bad.name, 4): "not JSON: the number 1e400 is too large for a JSON number",
        (bad.name, 5): said[(bad.name, 5)],
        (bad.name, 6): said[(bad.name, 6)],
        (bad.name, 8): "the line is over 32 MiB",
    }
    assert said[(bad.name, 5)].startswith("not JSON: ") and len(said[(bad.name, 5)]) < 300
    assert said[(bad.name, 6)] in ("not JSON: nested too deeply", "line is nested too deeply")
    assert all(len(p.message) < 400 for p in log.problems)


def test_default_folder_and_the_config_s_name_for_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from rlef_trainer.config import RLEFConfig, load_config

    assert RLEFConfig().session_log == "" and load_config(None, ["session_log=default"]).session_log == "default"
    assert default_session_log_dir({"XDG_STATE_HOME": "/state"}) == Path("/state/rlef/sessions")
    assert default_session_log_dir({"XDG_STATE_HOME": ""}) == Path.home() / ".local/state/rlef/sessions"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert session_log_folder("default") == tmp_path / "rlef/sessions"
    assert session_log_folder("./default") == Path("default")
    assert session_log_folder("~/logs") == Path.home() / "logs"


# --- the tasks ----------------------------------------------------------------------------------------------------


def test_each_distinct_task_once_with_an_id_that_keeps_the_logged_one_and_a_content_hash(tmp_path: Path) -> None:
    double, triple = _stdio("Print 2n.", "6\n"), _stdio("Print 3n.", "9\n")  # two files both called problem.md
    renamed = {**double, "id": "copy-of-problem.md"}  # the same problem under another name
    sessions = [_session(double, id=f"run-{i}") for i in range(5)] + [_session(triple), _session(renamed)]
    _write(tmp_path / "a", sessions)
    tasks = session_tasks(read_session_log(tmp_path / "a"))
    assert [t["id"] for t in tasks] == [
        f"problem.md#{task_content_hash(double)}",
        f"problem.md#{task_content_hash(triple)}",
    ]
    assert tasks[0]["id"] != tasks[1]["id"] and len(tasks[0]["id"]) == len("problem.md#") + 12
    assert all(t["set"] == "user" for t in tasks)
    assert {k: v for k, v in tasks[0].items() if k != "id"} == {k: v for k, v in double.items() if k != "id"}
    # stable: the same ids (so the same held-out tasks) whatever else the log holds and in whatever order
    _write(tmp_path / "b", [_session(_stdio("Print 4n.", "12\n")), _session(triple), _session(double)])
    again = {t["id"] for t in session_tasks(read_session_log(tmp_path / "b"))}
    assert {t["id"] for t in tasks} <= again
    assert [held_out(t, 0.5) for t in tasks] == [held_out({**t}, 0.5) for t in tasks]


def test_untrainable_sessions_are_skipped_with_their_reasons(tmp_path: Path) -> None:
    redacted = _session(
        trainable=False,
        notTrainableBecause="redaction replaced text in the task (api-key), so its tests may no longer hold",
    )
    no_tests = _session(
        _stdio("Print.", "", tests=False),
        trainable=False,
        notTrainableBecause="the task has no public tests (no feedback to learn from)",
    )
    # a line that says trainable for a workspace task is still not replayed (no files): the reader checks too
    says_trainable = copy.deepcopy(WORKSPACE)
    says_trainable.update(trainable=True)
    del says_trainable["notTrainableBecause"]
    # so is a built-in set's task (an inline task would skip the set's licence check), and one without tests
    benchmark = _session({**_stdio("Print.", "1\n"), "set": "humaneval"})
    bare = _session(_stdio("Print.", "", tests=False))
    _write(tmp_path, [WORKSPACE, WORKSPACE, redacted, no_tests, says_trainable, benchmark, bare])
    log = read_session_log(tmp_path)
    assert not log.problems and session_tasks(log) == []
    assert describe_untrainable(log) == (
        "7 sessions, 0 trainable: 3 workspace tasks (logged without their files), "
        "2 tasks without public tests, 1 tasks where redaction replaced text, 1 tasks of built-in sets"
    )
    assert describe_untrainable(read_session_log(tmp_path / "none")).startswith(
        "0 sessions, 0 trainable (the folder does not exist"
    )


def test_a_resumed_run_keeps_the_tasks_it_recorded_and_refuses_when_the_log_lost_some() -> None:
    a, b, c = ({"set": "user", "id": f"{n}#0", "kind": "stdio", "n": n} for n in "abc")
    record = run_tasks_record(Path("/log"), [a, b])
    assert recorded_run_tasks([c, b, a], record, "x") == ([a, b], [c])  # the run's order; c logged since
    with pytest.raises(SessionLogError, match=r"no longer holds 1 of the 2 tasks this run trains on \(b#0; "):
        recorded_run_tasks([a, c], record, "x")
    with pytest.raises(SessionLogError, match="differ from those this run recorded"):
        recorded_run_tasks([{**a, "n": "changed"}, b], record, "x")
    with pytest.raises(SessionLogError, match="not a record"):
        recorded_run_tasks([a], "{}", "x")


# --- rlef-train sessions ------------------------------------------------------------------------------------------


def test_the_sessions_command_summarises_and_writes_a_task_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "log"
    path = _write(folder, [SOLVED, SOLVED, FUNCTION, WORKSPACE, "oops", {**REVIEW, "decision": "rejected"}])
    _write(folder, [REVIEW, {**REVIEW, "session": "run-2"}], name="sessions-2026-12.jsonl")
    assert main(["sessions", "--dir", str(folder)]) == 0
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert capsys.readouterr().out.splitlines() == [
        f"session log: {folder} (2 files, {size / 1024:.1f} KiB)",
        "sessions: 4 (solved 3, failed 1, cancelled 0)",
        "trainable: 3 of 4",
        "not trainable:",
        "      1  a workspace task is logged without the workspace's files, so it cannot be replayed",
        "reviews: 2 accepted, 0 rejected",
        "distinct trainable tasks: 2",
        "problems: 1 line skipped",
        f"  {path}:5: not JSON: Expecting value: line 1 column 1 (char 0)",
    ]

    tasks_out = tmp_path / "out" / "tasks.jsonl"  # its folder is made
    assert main(["sessions", "--dir", str(folder), "--tasks-out", str(tasks_out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["sessions"] == 4 and info["trainable"] == 3 and info["distinctTasks"] == 2
    assert info["reviews"] == {"accepted": 2, "rejected": 0} and info["problems"][0]["line"] == 5
    assert info["tasksOut"] == str(tasks_out)
    written = load_task_file(tasks_out)  # usable as `tasks` in a config
    assert written == session_tasks(read_session_log(folder)) and [t["kind"] for t in written] == ["stdio", "function"]

    # never overwritten without --force, refused with one line and exit 2, nothing written
    tasks_out.write_text("mine\n")
    assert main(["sessions", "--dir", str(folder), "--tasks-out", str(tasks_out)]) == 2
    assert capsys.readouterr().err == (
        f"rlef-train sessions: --tasks-out {tasks_out} exists; --force replaces it; nothing written\n"
    )
    assert tasks_out.read_text() == "mine\n"
    assert main(["sessions", "--dir", str(folder), "--tasks-out", str(tasks_out), "--force"]) == 0
    assert load_task_file(tasks_out) == written
    blocker = tmp_path / "a-file"
    blocker.write_text("keep")
    for target, says in [
        (blocker / "tasks.jsonl", f"cannot be written: the folder {blocker} exists and is not a folder"),
        (tmp_path, "is a folder"),
    ]:
        capsys.readouterr()
        assert main(["sessions", "--dir", str(folder), "--tasks-out", str(target)]) == 2
        captured = capsys.readouterr()
        assert captured.err == f"rlef-train sessions: --tasks-out {target} {says}; nothing written\n"
        assert captured.out == ""
    assert blocker.read_text() == "keep" and not list(tmp_path.glob(".*.tmp-*"))
    _write(tmp_path / "untrainable", [WORKSPACE])
    assert main(["sessions", "--dir", str(tmp_path / "untrainable"), "--tasks-out", str(tmp_path / "t.jsonl")]) == 2
    assert "no trainable task; nothing written" in capsys.readouterr().err and not (tmp_path / "t.jsonl").exists()
    assert main(["sessions", "--dir", str(blocker)]) == 2
    assert capsys.readouterr().err == f"rlef-train sessions: the session log folder {blocker} is not a folder\n"


# --- session_log in a training config ----------------------------------------------------------------------------


def _train(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`rlef-train train --config CONFIG` in this process (the other tests run it as a subprocess; here three runs
    would pay torch's import three times): exit code and stderr."""
    capsys.readouterr()
    code = main(["train", "--config", str(config)])
    return code, capsys.readouterr().err


def test_a_config_without_tasks_or_a_usable_session_log_is_refused_with_one_line(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    neither = tiny_run_config(tmp_path, tiny_model_dir, tasks="")
    assert main(["train", "--config", str(neither)]) == 2
    assert capsys.readouterr().err == (
        "rlef-train train: the config must name `model` and `tasks` (built-in sets or a JSONL file of tasks) or "
        '`session_log` (a session-log folder, or "default")\n'
    )
    log = tmp_path / "log"
    _write(log, [WORKSPACE, WORKSPACE, "oops"])
    useless = tiny_run_config(tmp_path, tiny_model_dir, tasks="", session_log=str(log))
    assert main(["train", "--config", str(useless)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        f"rlef-train train: warning: session log line skipped: {log / LOG}:3: not JSON: Expecting value: line 1 "
        "column 1 (char 0)",
        f"rlef-train train: session_log: {log}: 2 sessions, 0 trainable: 2 workspace tasks (logged without their "
        f"files); 1 line(s) could not be read, the first {log / LOG}:3: not JSON: Expecting value: line 1 column 1 "
        "(char 0); nothing to train on",
    ]
    # with `tasks` too, a named log that gives nothing is still refused: it was named for a reason
    also = tiny_run_config(tmp_path, tiny_model_dir, session_log=str(tmp_path / "a-file"))
    (tmp_path / "a-file").write_text("")
    assert main(["train", "--config", str(also)]) == 2
    assert capsys.readouterr().err == (
        f"rlef-train train: session_log: the session log folder {tmp_path / 'a-file'} is not a folder\n"
    )
    assert not out.exists()


def test_a_tiny_run_trains_on_a_session_log_alone_and_resumes_with_the_tasks_it_started_with(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rlef_trainer.env_client import EnvClient
    from rlef_trainer.env_service import start_env_service
    from rlef_trainer.toy import STATEMENT

    # four of the toy's secret-letter problems, each solved (or not) twice in the editor, and an untrainable run
    log = tmp_path / "sessions"
    letters = "BCDF"
    sessions = [_session(_stdio(STATEMENT, f"{s}\n"), id=f"run-{s}-{k}") for s in letters for k in range(2)]
    _write(log, [*sessions, WORKSPACE, REVIEW])
    out = tmp_path / "run"
    with start_env_service(workers=1) as service, EnvClient(service.url, service.token) as client:
        settings = {"tasks": "", "session_log": str(log), "env_url": service.url, "env_token": service.token}
        config = tiny_run_config(tmp_path, tiny_model_dir, iterations=2, checkpoint_every=1, **settings)
        code, err = _train(config, capsys)
        assert code == 0, err[-3000:]
        assert f"session log {log}: 9 sessions, 4 distinct trainable tasks used" in err
        assert "4 training tasks, 0 held out for validation (4 of them from the session log)" in err
        metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        assert [m["iteration"] for m in metrics] == [1, 2] and all(m["policy_tokens"] > 0 for m in metrics)
        assert client.stats()["resets"] == 2 * 4, "the service played every episode: 4 per iteration"
        recorded = json.loads((out / "checkpoint-00000002" / RUN_TASKS_FILE).read_text())
        assert len(recorded["ids"]) == 4 and all(i.startswith("problem.md#") for i in recorded["ids"])

        # the editor logs on while the run is stopped: the resumed run keeps its four tasks and says so
        _write(log, [_session(_stdio(STATEMENT, "G\n"), id="later")], name="sessions-2026-12.jsonl")
        config = tiny_run_config(tmp_path, tiny_model_dir, iterations=3, checkpoint_every=1, **settings)
        code, err = _train(config, capsys)
        assert code == 0, err[-3000:]
        assert "resuming from" in err and "5 distinct" not in err
        assert "1 trainable task(s) logged since this run started are not in it" in err
        assert json.loads((out / "checkpoint-00000003" / RUN_TASKS_FILE).read_text())["ids"] == recorded["ids"]
        assert client.stats()["resets"] == 3 * 4

        # the log cleared: the run's tasks are gone, so resuming is refused, one line, exit 2
        (log / LOG).unlink()
        config = tiny_run_config(tmp_path, tiny_model_dir, iterations=4, checkpoint_every=1, **settings)
        code, err = _train(config, capsys)
        assert code == 2, err[-3000:]
        assert (
            err.strip()
            .splitlines()[-1]
            .startswith(
                "rlef-train train: session_log: the session log no longer holds 4 of the 4 tasks this run trains on"
            )
        )
        assert len((out / "metrics.jsonl").read_text().splitlines()) == 3
