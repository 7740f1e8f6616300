"""The proof that RLEF teaches the use of execution feedback (issue item 8), a separate CI stage:

    .venv/bin/python -m pytest trainer/tests -m toy -q

Runs `rlef-train toy` end to end (the real service and sandbox) and asserts its findings.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rlef_trainer import toy


@pytest.mark.toy
def test_rlef_lifts_multi_turn_solving_only_when_the_feedback_is_real(tmp_path: Path) -> None:
    results = toy.run_toy(tmp_path, seed=0, log=lambda _line: None)
    before, after = results["evaluations"]["before"], results["evaluations"]["after_feedback"]
    after_random = results["evaluations"]["after_random_feedback"]
    chance, ceiling = results["chance"], results["oracle_ceiling"]
    assert results["service"]["episodes"] > 0
    assert abs(before["multi_turn"]["solve_rate"] - chance["multi_turn"]) <= 0.05
    assert after["multi_turn"]["solve_rate"] >= 0.8 * ceiling
    assert abs(after["single_turn"]["solve_rate"] - chance["single_turn"]) <= 0.05
    assert abs(after_random["random_feedback"]["solve_rate"] - chance["multi_turn"]) <= 0.05
    assert (tmp_path / "results.json").is_file() and (tmp_path / "curves.png").is_file()
