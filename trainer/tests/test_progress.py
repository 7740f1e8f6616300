"""The progress line with ETA and the live metrics stream over WebSocket."""

from __future__ import annotations

import io
import json

import pytest
from websockets.sync.client import connect

from rlef_trainer.progress import MetricsStream, Progress


def test_the_progress_line_counts_only_this_process_s_iterations_for_the_eta() -> None:
    progress = Progress(100, start=40, stream=io.StringIO())
    started = progress.started
    # 10 iterations since the resume at 40 took 50 s: 5 s each, 50 left -> 250 s
    line = progress.line(50, now=started + 50.0, extra="solve rate 0.250")
    assert line.startswith("iteration 50/100 [############............] 50% elapsed 0m 50s ETA 4m 10s")
    assert line.endswith("solve rate 0.250")
    assert progress.line(40, now=started + 3.0).endswith("ETA ?")
    long_run = Progress(2000, stream=io.StringIO())  # 3.75 s each, 1,980 left: 7,425 s
    assert long_run.line(20, now=long_run.started + 75.0).endswith("1% elapsed 1m 15s ETA 2h 03m")


def test_without_a_terminal_each_update_is_a_line_and_on_one_it_redraws() -> None:
    log = io.StringIO()
    progress = Progress(3, stream=log)
    progress.update(1)
    progress.update(2)
    assert [line.split(" [")[0] for line in log.getvalue().splitlines()] == ["iteration 1/3", "iteration 2/3"]

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    shown = Progress(2, stream=screen)
    shown.update(1)
    shown.update(2)
    assert screen.getvalue().count("\r\x1b[2K") == 2 and screen.getvalue().endswith("\n")
    assert screen.getvalue().count("\n") == 1


def _receive(url: str, count: int) -> list[dict[str, object]]:
    with connect(url, open_timeout=5) as ws:
        return [json.loads(ws.recv(timeout=5)) for _ in range(count)]


def test_a_client_gets_the_history_then_every_update_then_done() -> None:
    stream = MetricsStream(0, out_dir="runs/x", iterations=3)
    try:
        stream.history([{"iteration": 1.0, "loss": float("nan")}], [{"iteration": 0, "valid": {"mt_1at3": 0.1}}])
        with connect(stream.url, open_timeout=5) as ws:
            hello = json.loads(ws.recv(timeout=5))
            history = json.loads(ws.recv(timeout=5))
            stream.iteration({"iteration": 2.0, "loss": 0.5})
            stream.evaluation({"iteration": 2, "valid": {"mt_1at3": 0.2}})
            stream.done()
            rest = [json.loads(ws.recv(timeout=5)) for _ in range(3)]
        assert hello == {"type": "hello", "protocol": 1, "outDir": "runs/x", "iterations": 3}
        # NaN is not JSON: it travels as null
        assert history == {
            "type": "history",
            "metrics": [{"iteration": 1.0, "loss": None}],
            "evaluations": [{"iteration": 0, "valid": {"mt_1at3": 0.1}}],
        }
        assert rest == [
            {"type": "iteration", "metrics": {"iteration": 2.0, "loss": 0.5}},
            {"type": "evaluation", "evaluation": {"iteration": 2, "valid": {"mt_1at3": 0.2}}},
            {"type": "done"},
        ]
        # a client that comes after the end still gets the whole run, then done
        late = _receive(stream.url, 3)
        assert [m["type"] for m in late] == ["hello", "history", "done"]
        assert [m["iteration"] for m in late[1]["metrics"]] == [1.0, 2.0]  # type: ignore[index]
    finally:
        stream.close()


def test_a_client_that_disconnects_does_not_stop_the_stream() -> None:
    stream = MetricsStream(0, out_dir="runs/x", iterations=2)
    try:
        _receive(stream.url, 2)  # connects, reads hello and history, goes away
        stream.iteration({"iteration": 1.0})
        stream.iteration({"iteration": 2.0})
        messages = _receive(stream.url, 2)
        assert [m["iteration"] for m in messages[1]["metrics"]] == [1.0, 2.0]  # type: ignore[index]
    finally:
        stream.close()


def test_a_port_in_use_is_a_clear_error() -> None:
    stream = MetricsStream(0, out_dir="runs/x", iterations=1)
    try:
        with pytest.raises(OSError):
            MetricsStream(stream.port, out_dir="runs/y", iterations=1)
    finally:
        stream.close()


def test_a_stream_closed_as_soon_as_it_opens_ends_quietly() -> None:
    # A run refused right after its stream opened closes it at once; its server thread must not die with
    # websockets' "Bad file descriptor" (an unhandled thread exception fails the test, pyproject.toml).
    for _ in range(40):
        MetricsStream(0, out_dir="runs/x", iterations=1).close()


def test_metric_lines_are_strict_json_with_nan_and_infinity_as_null_at_any_depth() -> None:
    from rlef_trainer.train import metrics_line

    line = metrics_line({"iteration": 1, "loss": float("nan"), "valid": {"mt_1at3_low": float("inf"), "n": [1.5]}})
    assert json.loads(line) == {"iteration": 1, "loss": None, "valid": {"mt_1at3_low": None, "n": [1.5]}}
    assert "NaN" not in line and "Infinity" not in line
