"""The proof that RLEF teaches the use of execution feedback (issue item 8), a separate CI stage:

    .venv/bin/python -m pytest trainer/tests -m toy -q -s

Runs `rlef-train toy --seed 2 --start models/toy-start` end to end (the real service and sandbox) and asserts its
findings. The start model is the one the recipe's start search built for seed 2 (its record, models/toy-start/
toy-start.json, lists the draws): the search's floating point differs from one CPU to another, so CI starts from
the committed model, probes and gates it as the search does, and runs both PPO arms from it (trainer/README.md,
"The toy learning run"). The run's results.json and curves.png go to $RLEF_TOY_OUT when it is set (CI keeps them),
else to a temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rlef_trainer import toy

START = Path(__file__).resolve().parents[2] / "models" / "toy-start"
SEED = 2


@pytest.mark.toy
def test_rlef_lifts_multi_turn_solving_only_when_the_feedback_is_real(tmp_path: Path) -> None:
    out = Path(os.environ.get("RLEF_TOY_OUT") or tmp_path)
    results = toy.run_toy(out, seed=SEED, start=START, log=lambda line: print(line, flush=True))
    before, after = results["evaluations"]["before"], results["evaluations"]["after_feedback"]
    after_random = results["evaluations"]["after_random_feedback"]
    chance, ceiling = results["chance"], results["oracle_ceiling"]
    assert results["service"]["episodes"] > 0
    assert abs(before["multi_turn"]["solve_rate"] - chance["multi_turn"]) <= 0.05, "start ignores feedback"
    assert after["multi_turn"]["solve_rate"] >= 0.8 * ceiling, "RLEF lifts the multi-turn rate to 80% of the ceiling"
    assert abs(after["single_turn"]["solve_rate"] - chance["single_turn"]) <= 0.05, "one attempt stays at chance"
    assert abs(after_random["random_feedback"]["solve_rate"] - chance["multi_turn"]) <= 0.05, (
        "training with random feedback stays at blind guessing"
    )
    assert (out / "results.json").is_file() and (out / "curves.png").is_file()
