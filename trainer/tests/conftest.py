"""Shared fixtures: one tiny model folder per test session (built in a few seconds), and a tiny run's config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlef_trainer.fixtures.tiny_model import write_tiny_model_folder

REPO_ROOT = Path(__file__).resolve().parents[2]
CHAT_TEMPLATE_FIXTURES = REPO_ROOT / "test" / "fixtures" / "chat-templates"


def tiny_run_config(tmp_path: Path, model: str | Path, **settings: object) -> Path:
    """Writes four of the toy's secret-letter tasks and a config for a seconds-long `rlef-train train` run of
    `model` on them (out_dir `tmp_path / "run"` unless given); `settings` override any field."""
    from rlef_trainer.toy import SECRET_VALUES, secret_task

    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(secret_task(i, s)) + "\n" for i, s in enumerate(SECRET_VALUES[:4])))
    config = {
        "model": str(model),
        "tasks": str(tasks),
        "out_dir": str(tmp_path / "run"),
        "device": "cpu",
        "dtype": "float32",
        "rollouts_per_iteration": 4,
        "minibatch_size": 4,
        "generation_batch_size": 4,
        "max_turns": 2,
        "max_new_tokens": 8,
        "iterations": 1,
        "env_workers": 1,
        "valid_fraction": 0.0,
        **settings,
    }
    path = tmp_path / f"{Path(str(config['out_dir'])).name}.json"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model_folder(tmp_path_factory.mktemp("tiny-qwen2"), shape="tiny", seed=0)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "toy: the toy RLEF learning run (minutes); selected with -m toy")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The toy learning run (minutes) is its own stage: it runs only when `-m toy` selects it. Elsewhere it is
    # deselected, which pytest reports in its summary line ("1 deselected"); .ci/run runs it as its own stage.
    if "toy" in (config.getoption("-m") or ""):
        return
    toy = [item for item in items if "toy" in item.keywords]
    if toy:
        config.hook.pytest_deselected(items=toy)
        items[:] = [item for item in items if "toy" not in item.keywords]
