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
    # The toy learning run is its own CI stage: it runs only when `-m` selects it.
    if "toy" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="toy learning run: select it with -m toy")
    for item in items:
        if "toy" in item.keywords:
            item.add_marker(skip)
