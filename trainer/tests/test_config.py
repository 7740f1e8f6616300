"""RLEFConfig: paper defaults, file loading, --set overrides and the errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlef_trainer.config import RLEFConfig, load_config


def test_full_mode_defaults_are_the_papers() -> None:
    c = RLEFConfig()
    assert (c.lr, c.weight_decay, c.warmup_steps, c.temperature) == (2e-7, 0.1, 50, 1.0)
    assert c.lr_decay_fraction == 0.0  # the paper has no decay: the project's option is off
    assert (c.kl_beta, c.clip_eps, c.value_clip, c.max_turns) == (0.05, 0.2, 0.2, 3)
    assert (c.rollouts_per_iteration, c.minibatch_size, c.updates_per_iteration()) == (1024, 256, 4)
    assert RLEFConfig(mode="lora").effective_lr() == RLEFConfig().lora_lr != c.effective_lr()


def test_json_and_toml_files_and_set_overrides(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"mode": "lora", "lora_rank": 8, "kl_beta": 0.1}))
    (tmp_path / "b.toml").write_text('mode = "lora"\nlora_rank = 8\nkl_beta = 0.1\nadam_betas = [0.9, 0.99]\n')
    a = load_config(tmp_path / "a.json", ["lora_rank=4", "random_feedback=true", "temperature=0.7"])
    assert (a.mode, a.lora_rank, a.kl_beta, a.random_feedback, a.temperature) == ("lora", 4, 0.1, True, 0.7)
    b = load_config(tmp_path / "b.toml")
    assert (b.lora_rank, b.adam_betas) == (8, (0.9, 0.99))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["no_such_key=1"], "unknown config keys: no_such_key"),
        (["lora_rank=3.5"], "lora_rank must be an integer"),
        (["mode=half"], "mode must be one of"),
        (["compile_layers=true"], "compile_layers must be one of 'auto', 'on', 'off'"),
        (["random_feedback=maybe"], "random_feedback must be a boolean"),
        (["lr=fast"], "lr must be a number"),
        (["minibatch_size=300"], "multiple of minibatch_size"),
        (["temperature=0"], "temperature must be positive"),
        (["max_turns=0"], "max_turns must be in 1..100"),
        (["lr_decay_fraction=1.5"], "lr_decay_fraction must be in"),
        (["lr_decay_fraction=-0.1"], "lr_decay_fraction must be in"),
        (["novalue"], "--set expects key=value"),
        (["lora_targets="], "lora_targets must be 'all-linear' or a comma-separated list"),
        (["lora_targets=q_proj,,v_proj"], "lora_targets must be 'all-linear' or a comma-separated list"),
        (["lora_targets=q_proj;rm -rf"], "lora_targets must be 'all-linear' or a comma-separated list"),
    ],
)
def test_bad_settings_are_refused_with_a_message_naming_the_field(overrides: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_config(None, overrides)


def test_lora_targets_parse_to_layer_names() -> None:
    assert RLEFConfig().lora_target_names() is None  # all-linear
    assert load_config(None, ["lora_targets= q_proj, v_proj ,q_proj"]).lora_target_names() == ["q_proj", "v_proj"]


def test_the_learning_rate_schedule_warms_up_then_decays_over_the_last_fraction_of_the_steps() -> None:
    constant = RLEFConfig(warmup_steps=2, iterations=5, rollouts_per_iteration=8, minibatch_size=4)
    assert [constant.lr_factor(s) for s in range(10)] == [0.5] + [1.0] * 9  # off by default
    # 10 steps (5 iterations x 2 updates), the last 40% (4 steps) decaying: 4/4, 3/4, 2/4, 1/4 on steps 6..9
    decaying = RLEFConfig(
        warmup_steps=2, iterations=5, rollouts_per_iteration=8, minibatch_size=4, lr_decay_fraction=0.4
    )
    assert [decaying.lr_factor(s) for s in range(10)] == [0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25]
    assert decaying.lr_factor(10) == 0.0  # past the run's end (a run resumed with more iterations recomputes it)
    whole = RLEFConfig(warmup_steps=0, iterations=4, rollouts_per_iteration=4, minibatch_size=4, lr_decay_fraction=1)
    assert [whole.lr_factor(s) for s in range(4)] == [1.0, 0.75, 0.5, 0.25]


def test_malformed_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "bad.toml").write_text("mode = ")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_config(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="object of settings"):
        load_config(tmp_path / "list.json")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")


def test_compile_layers_auto_compiles_on_cuda_only() -> None:
    import torch

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert (RLEFConfig().compiles(cpu), RLEFConfig().compiles(cuda)) == (False, True)
    assert RLEFConfig(compile_layers="on").compiles(cpu) and not RLEFConfig(compile_layers="off").compiles(cuda)
