"""`rlef-train train`: load the config, connect to (or start) the service, load the models, train."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

from rlef_trainer.config import load_config
from rlef_trainer.writable import folder_problem


def _log(line: str) -> None:
    print(f"rlef-train train: {line}", file=sys.stderr, flush=True)


class _Terminated(BaseException):
    """SIGTERM, raised where the run is, so that it stops as Ctrl-C does: the service and the stream closed."""


def _terminate(_signum: int, _frame: object) -> None:
    raise _Terminated()


def run_train_command(config_path: Path | None, overrides: list[str], *, resume: bool) -> int:
    """Runs `rlef-train train`; Ctrl-C (exit 130) or SIGTERM (143) stop it with one line saying what resumes."""
    seen: dict[str, object] = {}
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return _train_command(config_path, overrides, resume=resume, seen=seen)
    except (KeyboardInterrupt, _Terminated) as stop:
        code = 130 if isinstance(stop, KeyboardInterrupt) else 143
        how = "interrupted" if code == 130 else "terminated"
        if sys.stderr.isatty():
            sys.stderr.write("\n")  # after the progress line that redraws in place
        print(f"rlef-train train: {how}{_resume_note(seen, config_path)}", file=sys.stderr, flush=True)
        return code
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _resume_note(seen: dict[str, object], config_path: Path | None) -> str:
    """Where the stop left the run: its last iteration and the checkpoint a restart resumes from."""
    from rlef_trainer.checkpoint import CHECKPOINT_NAME, latest_checkpoint

    out_dir = seen.get("out_dir")
    if not isinstance(out_dir, str):
        return " before the run started"
    at = f" after iteration {seen['iteration']}" if "iteration" in seen else " before the first iteration ended"
    found = latest_checkpoint(out_dir)
    command = f"rlef-train train --config {config_path}" if config_path else "the same command"
    if found is None:
        return f"{at}; {out_dir} has no complete checkpoint yet, so {command} starts the run over"
    match = CHECKPOINT_NAME.match(found.name)
    iteration = int(match.group(1)) if match else "?"
    return f"{at}; {command} resumes from {found} (iteration {iteration})"


SHOWN_PROBLEMS = 3  # lines of the session log that could not be read, named in the run's log (the rest counted)


def _session_log_tasks(setting: str, checkpoint: Path | None) -> tuple[list[dict[str, object]], str]:
    """The session log's tasks for this run and the record its checkpoints keep of them. A fresh run takes the
    log's distinct trainable tasks as they are now; a resumed one the tasks its checkpoint recorded, found in the
    log (sessions logged since are named and left for a fresh run). Raises SessionLogError with one line."""
    from rlef_trainer.session_log import (
        RUN_TASKS_FILE,
        SessionLogError,
        describe_untrainable,
        read_session_log,
        recorded_run_tasks,
        run_tasks_record,
        session_log_folder,
        session_tasks,
    )

    folder = session_log_folder(setting)
    log = read_session_log(folder)
    for problem in log.problems[:SHOWN_PROBLEMS]:
        _log(f"warning: session log line skipped: {problem}")
    if len(log.problems) > SHOWN_PROBLEMS:
        _log(
            f"warning: {len(log.problems) - SHOWN_PROBLEMS} more session log lines skipped "
            f"(rlef-train sessions --dir {folder} lists them)"
        )
    tasks = session_tasks(log)
    if checkpoint is not None:
        recorded = checkpoint / RUN_TASKS_FILE
        if not recorded.is_file():
            raise SessionLogError(
                f"{checkpoint} has no record of the session-log tasks its run trains on (written without "
                "session_log); resume with the same settings, use another out_dir, or start fresh with --no-resume"
            )
        try:
            record = recorded.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise SessionLogError(f"{recorded}: cannot be read ({error})") from None
        tasks, newer = recorded_run_tasks(tasks, record, str(recorded))
        if newer:
            _log(
                f"session log: {len(newer)} trainable task(s) logged since this run started are not in it (a run "
                "keeps the tasks it started with); a fresh run (--no-resume, or another out_dir) trains on them"
            )
    elif not tasks:
        raise SessionLogError(f"{folder}: {describe_untrainable(log)}; nothing to train on")
    _log(f"session log {folder}: {len(log.sessions)} sessions, {len(tasks)} distinct trainable tasks used")
    return tasks, run_tasks_record(folder, tasks)


def _train_command(config_path: Path | None, overrides: list[str], *, resume: bool, seen: dict[str, object]) -> int:
    import torch
    from websockets.exceptions import WebSocketException

    from rlef_trainer.checkpoint import CheckpointError, latest_checkpoint, read_checkpoint_meta
    from rlef_trainer.env_client import EnvClient, EnvServiceError
    from rlef_trainer.env_service import EnvService, start_env_service
    from rlef_trainer.evaluation import evaluate, evaluation_subset, evaluation_summary
    from rlef_trainer.models import (
        LoraTargetError,
        device_problem,
        load_models,
        model_folder_problem,
        model_load_problem,
    )
    from rlef_trainer.progress import MetricsStream, Progress
    from rlef_trainer.task_source import TaskOrder, evaluation_tasks, resolve_tasks
    from rlef_trainer.train import TrainState, train

    try:
        config = load_config(config_path, overrides)
    except (OSError, ValueError) as error:
        print(f"rlef-train train: {error}", file=sys.stderr)
        return 2
    if not config.model or not (config.tasks.strip() or config.session_log.strip()):
        print(
            "rlef-train train: the config must name `model` and `tasks` (built-in sets or a JSONL file of tasks) "
            'or `session_log` (a session-log folder, or "default")',
            file=sys.stderr,
        )
        return 2
    seen["out_dir"] = config.out_dir
    problem = model_folder_problem(config.model)
    if problem:
        print(f"rlef-train train: the model folder {config.model} {problem}", file=sys.stderr)
        return 2
    problem = device_problem(config)
    if not problem and (unwritable := folder_problem(config.out_dir)):
        problem = f"out_dir {config.out_dir} {unwritable}"
    if problem:
        print(f"rlef-train train: {problem}", file=sys.stderr)
        return 2
    found = latest_checkpoint(config.out_dir) if resume else None
    if found is not None:
        try:  # a truncated checkpoint fails here, before the service and the models start
            read_checkpoint_meta(found, hash_state=False)
        except CheckpointError as error:
            print(f"rlef-train train: {error}", file=sys.stderr)
            return 2
    logged: list[dict[str, object]] | None = None
    checkpoint_files: dict[str, str] | None = None
    if config.session_log.strip():
        from rlef_trainer.session_log import RUN_TASKS_FILE, SessionLogError

        try:  # the log is read before the service and the models start: an unusable one costs nothing
            logged, record = _session_log_tasks(config.session_log.strip(), found)
        except SessionLogError as error:
            print(f"rlef-train train: session_log: {error}", file=sys.stderr)
            return 2
        checkpoint_files = {RUN_TASKS_FILE: record}
    stream: MetricsStream | None = None
    if config.metrics_port >= 0:
        try:
            stream = MetricsStream(config.metrics_port, out_dir=config.out_dir, iterations=config.iterations)
        except OSError as error:
            print(f"rlef-train train: metrics_port {config.metrics_port}: cannot listen: {error}", file=sys.stderr)
            return 2
        _log(f"metrics stream: {stream.url}")
    service: EnvService | None = None
    url, token = config.env_url, config.env_token or os.environ.get("RLEF_ENV_TOKEN", "")
    try:
        if not url:
            service = start_env_service(workers=config.env_workers or None)
            url, token = service.url, service.token
        try:
            client = EnvClient(url, token)
        except (OSError, TimeoutError, EnvServiceError, WebSocketException) as error:
            print(f"rlef-train train: cannot reach the environment service at {url}: {error}", file=sys.stderr)
            return 2
        with client as env:
            try:  # the sets' licences come from the service: the one place that knows the sets
                split = resolve_tasks(env, config.tasks, config.valid_fraction, logged)
                eval_sets = evaluation_tasks(env, config.eval_sets)
            except (OSError, ValueError, EnvServiceError) as error:
                print(f"rlef-train train: tasks: {error}", file=sys.stderr)
                return 2
            overlap = sorted({t["set"] for t in split.train + split.valid} & set(eval_sets))
            if overlap:
                print(
                    f"rlef-train train: eval_sets names training sets ({', '.join(overlap)}); their held-out tasks "
                    "are the valid split",
                    file=sys.stderr,
                )
                return 2
            _log(split.describe())
            # Fresh LoRA adapters are drawn from torch's global RNG: seed it so that every start of a run,
            # and a run restarted from scratch, begins from the same weights.
            torch.manual_seed(config.seed)
            _log(f"loading the model {config.model} ({config.mode} mode)")
            try:  # a Hub id downloads here, into the Hugging Face cache (HF_HOME, HF_ENDPOINT, HF_TOKEN apply)
                models = load_models(config)
            except LoraTargetError as error:
                print(f"rlef-train train: {error}", file=sys.stderr)
                return 2
            except (OSError, ValueError) as error:
                print(f"rlef-train train: {model_load_problem(config.model, error)}", file=sys.stderr)
                return 2

            progress: Progress | None = None

            def started(state: TrainState) -> None:
                nonlocal progress
                progress = Progress(config.iterations, start=state.iteration)
                if stream is not None:
                    stream.history(state.history, state.evaluations)

            def report(i: int, metrics: dict[str, float], _rollouts: object) -> None:
                seen["iteration"] = i
                print(json.dumps({k: round(v, 5) for k, v in metrics.items()}), flush=True)
                if stream is not None:
                    stream.iteration(metrics)
                if progress is not None:
                    progress.update(i, f"solve rate {metrics['solve_rate']:.3f}")

            evaluated = {"valid": split.valid, **eval_sets} if split.valid else eval_sets
            evaluated = {name: evaluation_subset(tasks, config.eval_max_problems) for name, tasks in evaluated.items()}

            def evaluator(iteration: int, seed: int) -> dict[str, dict[str, float]]:
                model = models.generation_model().eval()
                return {
                    name: evaluate(
                        env,
                        model,
                        models.tokenizer,
                        tasks,
                        draws=config.eval_draws,
                        seed=seed,
                        max_new_tokens=config.max_new_tokens,
                        batch_size=config.generation_batch_size,
                        device=models.device,
                        engine=config.rollout_engine,
                        random_feedback=config.eval_random_feedback,
                        donors=split.train + split.valid if name == "valid" else tasks,
                    )
                    for name, tasks in evaluated.items()
                }

            def reported(record: dict[str, object]) -> None:
                _log(f"evaluation at iteration {record['iteration']}: " + evaluation_summary(record))
                if stream is not None:
                    stream.evaluation(record)

            try:
                train(
                    config,
                    models,
                    env,
                    TaskOrder(split.train, max_turns=config.max_turns, random_feedback=config.random_feedback),
                    resume=resume,
                    on_iteration=report,
                    evaluator=evaluator if evaluated else None,
                    on_start=started,
                    on_evaluation=reported,
                    log=_log,
                    checkpoint_files=checkpoint_files,
                )
            except CheckpointError as error:
                print(f"rlef-train train: {error}", file=sys.stderr)
                return 2
            if stream is not None:
                stream.done()
    finally:
        if stream is not None:
            stream.close()
        if service is not None:
            service.stop()
    return 0
