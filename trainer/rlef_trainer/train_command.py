"""`rlef-train train`: load the config, connect to (or start) the service, load the models, train."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from rlef_trainer.config import load_config


def _log(line: str) -> None:
    print(f"rlef-train train: {line}", file=sys.stderr, flush=True)


def run_train_command(config_path: Path | None, overrides: list[str], *, resume: bool) -> int:
    import torch

    from rlef_trainer.checkpoint import CheckpointError, latest_checkpoint, read_checkpoint_meta
    from rlef_trainer.env_client import EnvClient
    from rlef_trainer.env_service import EnvService, start_env_service
    from rlef_trainer.models import load_models
    from rlef_trainer.task_source import TaskOrder, load_task_file
    from rlef_trainer.train import train

    try:
        config = load_config(config_path, overrides)
    except (OSError, ValueError) as error:
        print(f"rlef-train train: {error}", file=sys.stderr)
        return 2
    if not config.model or not config.tasks:
        print("rlef-train train: the config must name `model` and `tasks` (a JSONL file of tasks)", file=sys.stderr)
        return 2
    tasks = load_task_file(config.tasks)
    found = latest_checkpoint(config.out_dir) if resume else None
    if found is not None:
        try:  # a truncated checkpoint fails here, before the service and the models start
            read_checkpoint_meta(found, hash_state=False)
        except CheckpointError as error:
            print(f"rlef-train train: {error}", file=sys.stderr)
            return 2
    service: EnvService | None = None
    url, token = config.env_url, config.env_token or os.environ.get("RLEF_ENV_TOKEN", "")
    if not url:
        service = start_env_service(workers=config.env_workers or None)
        url, token = service.url, service.token
    try:
        with EnvClient(url, token) as env:
            # Fresh LoRA adapters are drawn from torch's global RNG: seed it so that every start of a run,
            # and a run restarted from scratch, begins from the same weights.
            torch.manual_seed(config.seed)
            models = load_models(config)

            def report(i: int, metrics: dict[str, float], _rollouts: object) -> None:
                print(json.dumps({k: round(v, 5) for k, v in metrics.items()}), flush=True)

            try:
                train(
                    config,
                    models,
                    env,
                    TaskOrder(tasks, max_turns=config.max_turns, random_feedback=config.random_feedback),
                    resume=resume,
                    on_iteration=report,
                    log=_log,
                )
            except CheckpointError as error:
                print(f"rlef-train train: {error}", file=sys.stderr)
                return 2
    finally:
        if service is not None:
            service.stop()
    return 0
