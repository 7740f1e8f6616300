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
