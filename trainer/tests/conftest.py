"""Shared fixtures: one tiny model folder per test session (built in a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlef_trainer.fixtures.tiny_model import write_tiny_model_folder

REPO_ROOT = Path(__file__).resolve().parents[2]
CHAT_TEMPLATE_FIXTURES = REPO_ROOT / "test" / "fixtures" / "chat-templates"


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
