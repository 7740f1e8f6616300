"""The toy recipe's named-letter problems are the environment's own first prompt with one statement swapped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlef_trainer import toy

# The start model CI's toy run trains from (trainer/tests/test_toy_learning.py).
COMMITTED_START = Path(__file__).resolve().parents[2] / "models" / "toy-start"

PROMPT = [{"role": "user", "content": f"Solve this.\n\n{toy.STATEMENT}\n\nAnswer in a fenced block."}]


def test_named_prompt_swaps_only_the_statement() -> None:
    named = toy.named_prompt(PROMPT, toy.PLAIN_NAMED_STATEMENTS[0].format(x="Q"))
    assert named == [{"role": "user", "content": "Solve this.\n\nPrint the letter Q.\n\nAnswer in a fenced block."}]
    assert PROMPT[0]["content"].count(toy.STATEMENT) == 1, "the environment's prompt is left as it was"


@pytest.mark.parametrize(
    "prompt",
    [
        [{"role": "user", "content": "Solve this.\n\nPrint something else.\n\nAnswer."}],
        [{"role": "user", "content": f"{toy.STATEMENT} {toy.STATEMENT}"}],
        [*PROMPT, {"role": "assistant", "content": "x"}],
    ],
    ids=["statement missing", "statement twice", "not one message"],
)
def test_named_prompt_refuses_a_prompt_it_cannot_rewrite_exactly(prompt: list[dict[str, str]]) -> None:
    with pytest.raises(ValueError, match="exactly once"):
        toy.named_prompt(prompt, "Print Q.")


def test_every_named_statement_names_its_letter_once_and_differs_from_the_secret_statement() -> None:
    for template in toy.PLAIN_NAMED_STATEMENTS:
        text = template.format(x="Q")
        assert text.count("Q") == 1 and text != toy.STATEMENT
    # the recipe's: each plain statement behind each label letter
    assert len(toy.NAMED_STATEMENTS) == len(toy.PLAIN_NAMED_STATEMENTS) * len(toy.SECRET_VALUES)
    for template in toy.NAMED_STATEMENTS:
        label, plain = template.removeprefix("Task ").split(": ", 1)
        assert label in toy.SECRET_VALUES and plain in toy.PLAIN_NAMED_STATEMENTS


@pytest.mark.parametrize(
    ("probe", "accepted"),
    [
        ({"p_expected": 0.05, "p_own_guess": 0.05, "p_letters": 0.99, "retry_well_formed": 0.95}, True),
        ({"p_expected": 0.08, "p_own_guess": 0.12, "p_letters": 0.9, "retry_well_formed": 0.85}, True),
        # reads the feedback already
        ({"p_expected": 0.15, "p_own_guess": 0.05, "p_letters": 0.99, "retry_well_formed": 0.95}, False),
        # repeats its own guess
        ({"p_expected": 0.05, "p_own_guess": 0.57, "p_letters": 0.99, "retry_well_formed": 0.95}, False),
        # does not answer with a letter
        ({"p_expected": 0.01, "p_own_guess": 0.01, "p_letters": 0.36, "retry_well_formed": 0.95}, False),
        # letters fine when forced, but its own retries break the format (seed 3's start: 0.63)
        ({"p_expected": 0.05, "p_own_guess": 0.045, "p_letters": 0.99, "retry_well_formed": 0.63}, False),
    ],
)
def test_the_start_gate_accepts_only_a_model_that_neither_reads_the_feedback_nor_repeats(
    probe: dict[str, float], accepted: bool
) -> None:
    assert toy.passes_start_gate(probe) is accepted


@pytest.mark.parametrize(
    ("rate", "near"),
    [(0.143, True), (0.15, True), (0.10, True), (0.19, True), (0.067, False), (0.077, False), (0.2, False)],
)
def test_the_start_finding_asks_for_a_multi_turn_rate_within_five_points_of_blind_guessing(
    rate: float, near: bool
) -> None:
    # blind guessing in three attempts: 1 - (19/20)^3 = 0.1426; a start that avoids the feedback's letter
    # (0.067) fails it from below as one that reads the feedback fails it from above
    assert toy.chance_multi_turn() == pytest.approx(0.142625)
    assert toy.near_blind_guessing(rate) is near


def test_a_retry_batch_ends_each_row_at_the_retry_letter(tiny_model_dir) -> None:
    import numpy as np
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    contexts = {
        (q, g): [*PROMPT, {"role": "assistant", "content": toy.answer_text(g)}, {"role": "user", "content": f"exp {q}"}]
        for q, g in (("Q", "G"), ("B", "Z"))
    }
    secret, guess = np.array([toy.SECRET_VALUES.index("Q"), 0]), np.array([toy.SECRET_VALUES.index("G"), 19])
    ids, attn, positions = toy.retry_batch(tokenizer, contexts, secret, guess)
    opening = tokenizer.encode('```python\nprint("', add_special_tokens=False)
    for row in range(2):
        assert ids[row, -len(opening) :].tolist() == opening
        assert positions[row, -1].item() == attn[row].sum().item() - 1
    assert "exp Q" in tokenizer.decode(ids[0][attn[0].bool()].tolist())
    assert 'print("Z")' in tokenizer.decode(ids[1][attn[1].bool()].tolist()), "row 1 is the (B, Z) context"


def test_the_retry_format_probe_counts_well_formed_sampled_retries(tiny_model_dir) -> None:
    """A random-weight model never writes the answer format: its share is 0, and torch's RNG is left alone."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    contexts = {
        (q, g): [*PROMPT, {"role": "assistant", "content": toy.answer_text(g)}, {"role": "user", "content": f"exp {q}"}]
        for q in toy.SECRET_VALUES
        for g in toy.SECRET_VALUES
        if g != q
    }
    torch.manual_seed(5)
    expected_next = torch.rand(1)
    torch.manual_seed(5)
    assert toy.retry_format_probe(model, tokenizer, contexts, count=8) == {"retry_well_formed": 0.0}
    assert torch.equal(torch.rand(1), expected_next)


def test_start_draws_redraw_the_format_step_on_one_base_before_building_another() -> None:
    draws = toy.start_draw_seeds(7)
    # the first draw is the recipe's single draw of before the two-level gate, so seed 0's start is unchanged
    assert draws[0] == (7, 7)
    assert len(draws) == len(set(draws)) == toy.START_BASES * toy.START_FORMAT_DRAWS
    bases = [base for base, _ in draws]
    assert bases == sorted(bases), "a base is used for all its format draws, then never again"
    assert bases[: toy.START_FORMAT_DRAWS] == [7] * toy.START_FORMAT_DRAWS
    assert len(set(bases)) == toy.START_BASES
    # the seeds of another toy seed's draws never coincide with these (seeds 0-99 are all distinct)
    assert not {seed for pair in draws for seed in pair} & {seed for pair in toy.start_draw_seeds(8) for seed in pair}


@pytest.mark.parametrize(
    ("named_accuracy", "p_expected", "kept"),
    [
        (1.0, 0.092, True),  # seed 0's base: its format steps bring P(expected) to 0.02-0.047
        (1.0, 0.137, False),  # seed 1's base: after its format steps still 0.136-0.154
        (0.38, 0.05, False),  # did not learn to print the letter a statement names
        (0.9, 0.12, True),
    ],
)
def test_the_base_gate_keeps_a_base_that_learnt_its_skill_and_does_not_read_the_feedback(
    named_accuracy: float, p_expected: float, kept: bool
) -> None:
    probe = {"p_expected": p_expected, "p_own_guess": 0.3, "p_letters": 0.99}
    assert toy.passes_base_gate(named_accuracy, probe) is kept


def test_filler_is_a_random_chat_of_whole_exchanges_without_code_fences(tiny_model_dir) -> None:
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    counts = set()
    for seed in range(40):
        messages = toy.filler_messages(tokenizer, torch.Generator().manual_seed(seed), 2)
        assert [m["role"] for m in messages] == ["user", "assistant"] * (len(messages) // 2)
        assert all(m["content"] and "`" not in m["content"] for m in messages)
        counts.add(len(messages) // 2)
        assert toy.filler_messages(tokenizer, torch.Generator().manual_seed(seed), 2) == messages
    assert counts == {0, 1, 2}
    generator = torch.Generator().manual_seed(0)
    state = generator.get_state()
    assert toy.filler_messages(tokenizer, generator, 0) == []
    assert torch.equal(generator.get_state(), state), "no filler draws nothing: the recipe's format step is unchanged"
    with pytest.raises(ValueError, match="at least 0"):
        toy.filler_messages(tokenizer, generator, -1)


def test_the_plot_shades_the_iterations_whose_learning_rate_decays(tmp_path) -> None:
    lrs = [1.5e-4, 3e-4, 3e-4, 3e-4, 2e-4, 1e-4]  # warm-up, constant, the final decay
    curve = [{"iteration": float(i + 1), "lr": lr, "solve_rate": 0.1} for i, lr in enumerate(lrs)]
    assert toy.lr_decay_span(curve) == (5.0, 6.0)
    assert toy.lr_decay_span([{**c, "lr": 3e-4} for c in curve]) is None  # constant: nothing to shade
    assert toy.lr_decay_span([{"iteration": c["iteration"], "solve_rate": 0.1} for c in curve]) is None  # older files
    results = {
        "seed": 0,
        "curves": {"feedback": curve, "random_feedback": curve},
        "oracle_ceiling": 1.0,
        "chance": {"multi_turn": toy.chance_multi_turn(), "single_turn": toy.chance_single_turn()},
    }
    toy.plot_curves(tmp_path / "curves.png", results)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _start_folder(root: Path, record: object | None, config: bool = True) -> Path:
    folder = root / "start"
    folder.mkdir()
    if config:
        (folder / "config.json").write_text("{}")
    if record is not None:
        path = folder / toy.START_RECORD
        if isinstance(record, bytes):
            path.write_bytes(record)
        else:
            path.write_text(record if isinstance(record, str) else json.dumps(record))
    return folder


GOOD_RECORD = {"seed": 2, "start_draws": [{"accepted": True}], "sft": {"sft_steps": 150.0}, "copy_pretraining": {}}


def test_a_start_record_written_by_a_run_reads_back(tmp_path: Path) -> None:
    folder = _start_folder(tmp_path, None)
    toy.write_start_record(folder, 2, GOOD_RECORD["start_draws"], GOOD_RECORD["sft"], GOOD_RECORD["copy_pretraining"])
    assert toy.read_start_record(folder) == GOOD_RECORD


@pytest.mark.parametrize(
    ("record", "config", "message"),
    [
        (None, True, "is not a toy start model"),
        (GOOD_RECORD, False, "is not a toy start model"),
        ("{not json", True, "is not valid JSON"),
        (b"\xff\xfe{}", True, "is not valid JSON"),
        ([1, 2], True, "lacks seed, start_draws, sft, copy_pretraining"),
        ({"seed": 2, "sft": {}}, True, "lacks start_draws, copy_pretraining"),
    ],
)
def test_a_folder_without_a_valid_start_record_is_refused_by_name(
    tmp_path: Path, record: object, config: bool, message: str
) -> None:
    folder = _start_folder(tmp_path, record, config)
    with pytest.raises(ValueError, match=message):
        toy.read_start_record(folder)


def test_rlef_train_toy_refuses_a_start_that_is_not_one_before_running_anything(tmp_path: Path, capsys) -> None:
    folder = _start_folder(tmp_path, None)
    out = tmp_path / "out"
    assert toy.run_toy_command(out, 0, iterations=None, eval_episodes=None, start=folder) == 2
    assert f"--start: {folder} is not a toy start model" in capsys.readouterr().err
    assert not out.exists()


def test_the_committed_start_model_carries_its_record() -> None:
    record = toy.read_start_record(COMMITTED_START)
    assert record["start_draws"][-1]["accepted"] is True
    assert (COMMITTED_START / "model.safetensors").is_file()
