"""Policy / reference / value networks in full and LoRA mode, LoRA merge for export, checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rlef_trainer import ppo
from rlef_trainer.checkpoint import (
    META_FILE,
    STATE_FILE,
    CheckpointError,
    complete_checkpoints,
    latest_checkpoint,
    load_checkpoint,
    remove_interrupted_writes,
    save_checkpoint,
    weights_digest,
)
from rlef_trainer.config import RLEFConfig, config_to_dict
from rlef_trainer.models import MasterWeightAdamW, load_models, make_optimizer
from rlef_trainer.train import config_changes, restore_source_state, rewrite_metrics, source_state


@pytest.mark.parametrize(
    ("mode", "targets"), [("full", "all-linear"), ("lora", "all-linear"), ("lora", "q_proj,v_proj")]
)
def test_a_policy_step_moves_the_policy_but_never_the_reference(mode: str, targets: str, tiny_model_dir: Path) -> None:
    config = RLEFConfig(model=str(tiny_model_dir), mode=mode, device="cpu", lora_rank=4, seed=1, lora_targets=targets)
    models = load_models(config)
    ids = torch.randint(0, 1000, (2, 12))
    attn = torch.ones_like(ids)
    ref_before = models.reference_logits(ids, attn).clone()
    assert torch.allclose(models.policy_logits(ids, attn), ref_before, atol=1e-5)
    values = models.values(ids, attn)
    assert values.shape == (2, 12)
    params = [p for _, p in models.trainable_named_parameters()]
    optimizer = torch.optim.SGD(params, lr=1.0 if mode == "lora" else 0.1)
    (models.policy_logits(ids, attn)[:, :, 5].sum() + models.values(ids, attn).sum()).backward()
    optimizer.step()
    assert not torch.allclose(models.policy_logits(ids, attn), ref_before, atol=1e-4)
    assert torch.equal(models.reference_logits(ids, attn), ref_before)
    assert not torch.allclose(models.values(ids, attn), values)
    # The exported policy (LoRA merged into the base) computes the trained policy.
    # (to fp32 rounding, which grows with the adapters' size: here one SGD step at lr 1.0)
    merged = models.merged_policy()
    with torch.no_grad():
        trained = models.policy_logits(ids, attn)
        error = (merged(input_ids=ids, attention_mask=attn).logits - trained).norm() / trained.norm()
    assert error < 1e-4  # a wrong merge (scaling, a missing projection) is off by 1e-2 and more


def test_lora_targets_adapt_exactly_the_named_projections_and_refuse_unknown_names(tiny_model_dir: Path) -> None:
    def adapted(models: object) -> set[str]:
        names = {n for n, _ in models.policy.named_parameters() if "lora_A.policy" in n}  # type: ignore[attr-defined]
        return {n.split(".lora_A")[0].rsplit(".", 1)[-1] for n in names}

    every = load_models(RLEFConfig(model=str(tiny_model_dir), mode="lora", device="cpu", lora_rank=4))
    attention = load_models(
        RLEFConfig(model=str(tiny_model_dir), mode="lora", device="cpu", lora_rank=4, lora_targets="q_proj,o_proj")
    )
    assert adapted(every) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert adapted(attention) == {"q_proj", "o_proj"}
    # the value adapter adapts the same projections, and only adapters train
    value = {n for n, p in attention.trainable_named_parameters() if "lora_A" in n and ".value" in n}
    assert value and all(("q_proj" in n) or ("o_proj" in n) for n in value)
    for bad in ("q_proj,qproj", "lm_head", "embed_tokens"):  # a typo, the LM head, not a linear layer
        with pytest.raises(ValueError, match="no linear layer of; its linear layers: down_proj, gate_proj"):
            load_models(RLEFConfig(model=str(tiny_model_dir), mode="lora", device="cpu", lora_rank=4, lora_targets=bad))


def test_checkpoints_are_written_atomically_and_restore_the_weights(tiny_model_dir: Path, tmp_path: Path) -> None:
    config = RLEFConfig(model=str(tiny_model_dir), mode="lora", device="cpu", lora_rank=4)
    models = load_models(config)
    state = models.trainable_state()
    save_checkpoint(tmp_path, 3, {"iteration": 3, "weights": state})
    (tmp_path / ".checkpoint-00000004.tmp-1").mkdir()  # an interrupted write
    found = latest_checkpoint(tmp_path)
    assert found is not None and found.name == "checkpoint-00000003"
    with torch.no_grad():
        for _, p in models.trainable_named_parameters():
            p.add_(1.0)
    models.load_trainable_state(load_checkpoint(found)["weights"])
    assert all(torch.equal(models.trainable_state()[k], v) for k, v in state.items())


def test_a_checkpoint_of_another_model_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    models = load_models(RLEFConfig(model=str(tiny_model_dir), mode="lora", device="cpu", lora_rank=4))
    with pytest.raises(ValueError, match="does not match the model"):
        models.load_trainable_state({"policy.nonsense": torch.zeros(1)})
    (tmp_path / "checkpoint-00000001").mkdir()
    assert latest_checkpoint(tmp_path) is None


def _two_checkpoints(root: Path) -> tuple[Path, Path]:
    weights = {"w": torch.arange(6, dtype=torch.float32), "b": torch.ones(2, dtype=torch.bfloat16)}
    older = save_checkpoint(root, 4, {"iteration": 4, "weights": weights})
    newer = save_checkpoint(root, 5, {"iteration": 5, "weights": {k: v + 1 for k, v in weights.items()}})
    return older, newer


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "file", "says"),
    [
        (_truncate, STATE_FILE, "truncated"),
        (_flip_a_byte, STATE_FILE, "damaged (sha256"),
        (lambda p: p.write_text("{not json"), META_FILE, "unreadable checkpoint metadata"),
        (lambda p: p.write_text('{"iteration": "five"}'), META_FILE, "no integer 'iteration'"),
        (
            lambda p: p.write_text('{"iteration": 9}'),
            META_FILE,
            "says iteration 9 but the folder is checkpoint-00000005",
        ),
    ],
)
def test_a_damaged_checkpoint_is_refused_naming_the_file_and_the_way_back(
    tmp_path: Path, damage: object, file: str, says: str
) -> None:
    # Decision: never fall back silently; a named checkpoint was complete when renamed, so damage is external.
    older, newer = _two_checkpoints(tmp_path)
    damage(newer / file)  # type: ignore[operator]
    assert latest_checkpoint(tmp_path) == newer
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(newer)
    message = str(caught.value)
    assert str(newer / file) in message and says in message
    assert f"delete {newer} to resume from {older.name}" in message
    assert load_checkpoint(older)["iteration"] == 4


def test_a_pickle_that_is_not_a_trainer_state_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoint-00000001"
    folder.mkdir()
    torch.save([1, 2, 3], folder / STATE_FILE)
    (folder / META_FILE).write_text('{"iteration": 1}')
    with pytest.raises(CheckpointError, match="is not an RLEF trainer checkpoint"):
        load_checkpoint(folder)


def test_killed_writes_and_deletions_are_never_loaded_and_are_cleaned_up(tmp_path: Path) -> None:
    older, newer = _two_checkpoints(tmp_path)
    save_checkpoint(tmp_path, 6, {"iteration": 6}, keep=2)
    assert [p.name for p in complete_checkpoints(tmp_path)] == ["checkpoint-00000005", "checkpoint-00000006"]
    assert not older.exists()
    killed_write = tmp_path / ".checkpoint-00000007.tmp-4242"
    killed_delete = tmp_path / ".checkpoint-00000003.deleting-4242"
    not_ours = tmp_path / "checkpoint-notes"
    for folder in (killed_write, killed_delete, not_ours):
        folder.mkdir()
        (folder / STATE_FILE).write_bytes(b"")
        (folder / META_FILE).write_text('{"iteration": 7}')
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint-00000006"
    assert sorted(remove_interrupted_writes(tmp_path)) == sorted([killed_write, killed_delete])
    assert not killed_write.exists() and not killed_delete.exists() and not_ours.exists() and newer.exists()


def test_the_weights_digest_sees_every_value_name_and_dtype() -> None:
    weights = {"a": torch.zeros(3), "b": torch.ones(2, dtype=torch.bfloat16)}
    digest = weights_digest(weights)
    assert weights_digest({"b": weights["b"].clone(), "a": weights["a"].clone()}) == digest
    assert weights_digest({**weights, "a": torch.tensor([0.0, 0.0, 1e-30])}) != digest
    assert weights_digest({"a2": weights["a"], "b": weights["b"]}) != digest
    assert weights_digest({**weights, "b": weights["b"].float()}) != digest


class _CountingSource:
    def __init__(self) -> None:
        self.counter = 0
        self.random_feedback = False
        self.tasks = [{"id": "x"}]

    def __call__(self, iteration: int, rng: np.random.Generator, count: int) -> list[object]:
        self.counter += count
        return []


class _ExplicitSource(_CountingSource):
    def state_dict(self) -> dict[str, int]:
        return {"episodes": self.counter * 10}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.counter = state["episodes"] // 10


@pytest.mark.parametrize("kind", [_CountingSource, _ExplicitSource])
def test_the_episode_source_state_survives_a_restart(kind: type[_CountingSource]) -> None:
    before = kind()
    before(0, np.random.default_rng(0), 5)
    saved = source_state(before)  # type: ignore[arg-type]
    after = kind()
    restore_source_state(after, saved)  # type: ignore[arg-type]
    assert after.counter == 5 and after.tasks == [{"id": "x"}]


def test_resuming_with_other_settings_is_refused_but_run_control_may_change() -> None:
    saved = config_to_dict(RLEFConfig(lr=1e-3, iterations=10, out_dir="a"))
    assert config_changes(saved, RLEFConfig(lr=1e-3, iterations=20, out_dir="b", torch_threads=2)) == []
    assert config_changes(saved, RLEFConfig(lr=2e-3, iterations=10, out_dir="a", seed=1)) == [
        "lr 0.001 -> 0.002",
        "seed 0 -> 1",
    ]


def test_metrics_are_cut_back_to_the_checkpoints_history(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"iteration": 1.0}\n{"iteration": 2.0}\n{"iteration": 3.0}\n{"itera')  # torn last line
    rewrite_metrics(path, [{"iteration": 1.0, "x": float("nan")}, {"iteration": 2.0, "x": 0.5}])
    assert path.read_text() == '{"iteration": 1.0, "x": null}\n{"iteration": 2.0, "x": 0.5}\n'


@pytest.mark.parametrize("mode", ["full", "lora"])
def test_model_log_probs_through_the_fused_head_equal_those_of_the_full_logits(mode: str, tiny_model_dir: Path) -> None:
    torch.manual_seed(0)  # the ids and the selection (the test's outcome must not depend on the tests before it)
    config = RLEFConfig(model=str(tiny_model_dir), mode=mode, device="cpu", lora_rank=4, seed=1)
    models = load_models(config)
    params = [p for _, p in models.trainable_named_parameters()]
    torch.optim.SGD(params, lr=0.5).zero_grad()
    (models.policy_logits(ids := torch.randint(0, 1000, (2, 12)), torch.ones_like(ids))[:, :, 3].sum()).backward()
    torch.optim.SGD(params, lr=0.5).step()  # policy != reference from here
    attn = torch.ones_like(ids)
    select = torch.rand(2, 12) < 0.7
    keep = select.clone()
    keep[:, 0] = False
    for reference, logits_fn in ((False, models.policy_logits), (True, models.reference_logits)):
        lp, ent = models.token_logprobs(ids, attn, select, 0.8, reference=reference)
        with torch.no_grad():
            logits = logits_fn(ids, attn)
        assert torch.allclose(lp, torch.where(keep, ppo.token_logprobs(logits, ids, 0.8), 0.0), atol=1e-5)
        # an entropy sums p log p over the whole vocabulary, chunked here and not there: fp32 order differs
        assert torch.allclose(ent, torch.where(keep, ppo.token_entropy(logits, 0.8), 0.0), atol=1e-4)
    assert not torch.allclose(
        models.token_logprobs(ids, attn, select, 1.0)[0],
        models.token_logprobs(ids, attn, select, 1.0, reference=True)[0],
    )


@pytest.mark.parametrize("mode", ["full", "lora"])
def test_bf16_training_steps_on_fp32_master_weights(mode: str, tiny_model_dir: Path) -> None:
    """At the paper's lr a bf16 weight cannot take the step; the masters take it and carry it to resume."""
    config = RLEFConfig(
        model=str(tiny_model_dir), mode=mode, device="cpu", dtype="bfloat16", lora_rank=4, warmup_steps=1, seed=1
    )
    models = load_models(config)
    named = models.trainable_named_parameters()
    assert {p.dtype for n, p in named if not n.startswith("value_head")} == {torch.bfloat16}
    optimizer, _ = make_optimizer(models, config)
    assert isinstance(optimizer, MasterWeightAdamW)
    ids = torch.randint(0, 1000, (2, 12))
    attn = torch.ones_like(ids)
    select = torch.ones_like(ids, dtype=torch.bool)

    def loss() -> torch.Tensor:
        lp, _ = models.token_logprobs(ids, attn, select, 1.0)
        return -lp.sum() + models.values(ids, attn).square().sum()

    start = [p.detach().float().clone() for _, p in named]
    plain = torch.optim.AdamW([p.detach().clone().requires_grad_(True) for _, p in named], lr=config.effective_lr())
    optimizer.zero_grad()
    loss().backward()
    for twin, (_, p) in zip(plain.param_groups[0]["params"], named, strict=True):
        twin.grad = p.grad.clone()
    plain.step()
    optimizer.step()

    def moved(after: list[torch.Tensor]) -> float:
        changed = sum(int((a.float() != s).sum()) for a, s in zip(after, start, strict=True))
        return changed / sum(s.numel() for s in start)

    assert moved(optimizer.masters) > 0.5  # rows of unseen tokens get no gradient
    if mode == "full":  # lr 2e-7: plain bf16 AdamW rounds nearly every step away
        assert moved(plain.param_groups[0]["params"]) < 0.05
    for (_, p), m in zip(named, optimizer.masters, strict=True):
        assert torch.equal(p, m.to(p.dtype))  # the model holds the rounded masters
    saved = optimizer.state_dict()
    again, _ = make_optimizer(models, config)
    again.load_state_dict(saved)
    assert all(torch.equal(a, b) for a, b in zip(again.masters, optimizer.masters, strict=True))
    with pytest.raises(ValueError, match="master weights"):
        again.load_state_dict({k: v for k, v in saved.items() if k != "master_params"})


def test_compiled_decoder_layers_score_and_train_as_the_eager_ones_and_sampling_stays_eager(
    tiny_model_dir: Path,
) -> None:
    """compile_layers (LoRA: one compiled layer graph under the policy adapter, the value adapter and none)."""
    from rlef_trainer.rollout import sample_responses

    results = []
    for compiled in ("off", "on"):
        torch.manual_seed(0)
        config = RLEFConfig(
            model=str(tiny_model_dir), mode="lora", device="cpu", lora_rank=4, seed=1, compile_layers=compiled
        )
        models = load_models(config)
        layers = [m for m in models.policy.modules() if getattr(m, "_compiled_call_impl", None) is not None]
        assert len(layers) == (models.policy.config.num_hidden_layers if compiled == "on" else 0)
        ids = torch.randint(0, 1000, (2, 12))
        attn = torch.ones_like(ids)
        select = torch.ones_like(ids, dtype=torch.bool)
        logprobs, _ = models.token_logprobs(ids, attn, select, 1.0)
        reference, _ = models.token_logprobs(ids, attn, select, 1.0, reference=True)
        values = models.values(ids, attn)
        (logprobs.sum() + values.sum()).backward()
        grads = [p.grad.clone() for _, p in models.trainable_named_parameters() if p.grad is not None]
        torch.manual_seed(3)
        with torch.compiler.set_stance("fail_on_recompile"):  # the sampler's new shapes must not be traced
            samples = sample_responses(
                models.generation_model(),
                models.tokenizer,
                [[5, 6, 7, 8], [9, 10]],
                max_new_tokens=6,
                temperature=1.0,
                top_p=1.0,
                batch_size=2,
                device=torch.device("cpu"),
            )
        merged = models.merged_policy()
        assert all(getattr(m, "_compiled_call_impl", None) is None for m in merged.modules())
        with torch.no_grad():
            merged_logits = merged(input_ids=ids, attention_mask=attn).logits
        results.append((logprobs, reference, values, grads, samples, merged_logits))
    eager, compiled_run = results
    for a, b in zip(eager[:3], compiled_run[:3], strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    assert len(eager[3]) == len(compiled_run[3]) > 0
    for a, b in zip(eager[3], compiled_run[3], strict=True):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)
    assert eager[4] == compiled_run[4]
    assert torch.allclose(eager[5], compiled_run[5], atol=1e-5)


def _random_rollouts(count: int, seed: int) -> list:  # type: ignore[type-arg]
    """Two-turn episodes of random tokens: a prompt, a sampled answer, feedback, a second answer."""
    from rlef_trainer.rollout import Rollout

    rng = np.random.default_rng(seed)
    rollouts = []
    for i in range(count):
        rollout = Rollout(task_id=f"t{i}", options={})
        rollout.append(rng.integers(5, 1000, int(rng.integers(6, 12))).tolist(), policy=False)
        for turn in range(2):
            rollout.turn_prompt_ends.append(len(rollout.token_ids) - 1)
            answer = rng.integers(5, 1000, int(rng.integers(2, 6))).tolist()
            rollout.append(answer, policy=True, logprobs=(-rng.random(len(answer)) * 5).tolist(), turn=turn)
            rollout.turn_rewards.append(0.0 if turn == 0 else float(rng.choice([-1.0, 1.0])))
            if turn == 0:
                rollout.append(rng.integers(5, 1000, 4).tolist(), policy=False)
        rollouts.append(rollout)
    return rollouts


def test_a_single_step_update_reads_old_log_probs_from_its_own_forward_with_the_same_result(
    tiny_model_dir: Path,
) -> None:
    """One optimiser step per iteration skips scoring's old-policy pass; the step must come out the same."""
    from rlef_trainer.ppo_step import build_batch, ppo_update, score_rollouts, single_step

    config = RLEFConfig(
        model=str(tiny_model_dir), device="cpu", seed=1, rollouts_per_iteration=6, minibatch_size=6, warmup_steps=1
    )
    assert single_step(config, 6)
    results = []
    for precomputed in (False, True):
        torch.manual_seed(0)
        models = load_models(config)
        optimizer, scheduler = make_optimizer(models, config)
        batch = build_batch(_random_rollouts(6, seed=2), models.tokenizer.pad_token_id)
        scored = score_rollouts(models, batch, config, forward_batch=4)
        assert "old_lp" not in scored
        if precomputed:  # what scoring computed before: the policy's log-probs at the sampled tokens
            with torch.no_grad():
                scored["old_lp"], _ = models.token_logprobs(
                    batch.input_ids, batch.attention_mask, batch.policy_mask, config.temperature
                )
        metrics = ppo_update(models, optimizer, scheduler, batch, scored, config, np.random.default_rng(3), 4)
        weights = {k: v.detach().clone() for k, v in models.trainable_state().items()}
        results.append((metrics, weights))
    (skipped, skipped_weights), (computed, computed_weights) = results
    assert skipped["approx_kl"] == 0.0 and skipped["clip_fraction"] == 0.0
    for key in ("policy_loss", "value_loss", "entropy", "grad_norm", "is_weight"):
        assert skipped[key] == pytest.approx(computed[key], rel=1e-6, abs=1e-7), key
    assert skipped_weights.keys() == computed_weights.keys()
    for name, value in skipped_weights.items():
        assert torch.allclose(value, computed_weights[name], atol=1e-6), name
    assert any(not torch.equal(v, w) for v, w in zip(skipped_weights.values(), _initial_weights(config), strict=True))


def test_max_grad_norm_zero_means_no_clipping_not_zero_gradients(tiny_model_dir: Path) -> None:
    """0 turns clipping off (the toy's setting): the step equals an unclippable limit's, the norm is still logged,
    and a tight limit gives another step; `clip_grad_norm_` taken literally at 0 would zero every gradient."""
    from rlef_trainer.ppo_step import build_batch, ppo_update, score_rollouts

    def step(max_grad_norm: float) -> tuple[dict[str, float], list[torch.Tensor]]:
        config = RLEFConfig(
            model=str(tiny_model_dir), device="cpu", seed=1, rollouts_per_iteration=6, minibatch_size=6,
            warmup_steps=1, weight_decay=0.0, lr=1e-3, max_grad_norm=max_grad_norm,
        )  # fmt: skip
        torch.manual_seed(0)
        models = load_models(config)
        optimizer, scheduler = make_optimizer(models, config)
        batch = build_batch(_random_rollouts(6, seed=2), models.tokenizer.pad_token_id)
        scored = score_rollouts(models, batch, config, forward_batch=4)
        metrics = ppo_update(models, optimizer, scheduler, batch, scored, config, np.random.default_rng(3), 4)
        return metrics, [v.detach().clone() for v in models.trainable_state().values()]

    start = _initial_weights(RLEFConfig(model=str(tiny_model_dir), device="cpu", seed=1))
    off, off_weights = step(0.0)
    huge, huge_weights = step(1e12)
    tight, tight_weights = step(1e-3)
    assert off["grad_norm"] == pytest.approx(huge["grad_norm"]) == pytest.approx(tight["grad_norm"])
    assert off["grad_norm"] > 1e-3  # so 1e-3 does clip
    assert all(torch.equal(a, b) for a, b in zip(off_weights, huge_weights, strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(off_weights, start, strict=True))  # it learnt
    assert any(not torch.allclose(a, b) for a, b in zip(off_weights, tight_weights, strict=True))


def _initial_weights(config: RLEFConfig) -> list[torch.Tensor]:
    torch.manual_seed(0)
    return list(load_models(config).trainable_state().values())


def test_the_optimiser_follows_the_configs_learning_rate_schedule(tiny_model_dir: Path) -> None:
    config = RLEFConfig(
        model=str(tiny_model_dir), device="cpu", lr=1e-3, warmup_steps=2, iterations=4, lr_decay_fraction=0.5,
        rollouts_per_iteration=2, minibatch_size=2,
    )  # fmt: skip
    optimizer, scheduler = make_optimizer(load_models(config), config)
    seen = []
    for _ in range(4):
        seen.append([group["lr"] for group in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    assert seen == [[pytest.approx(1e-3 * f)] * len(optimizer.param_groups) for f in (0.5, 1.0, 1.0, 0.5)]


def test_an_update_of_several_steps_without_old_log_probs_is_refused(tiny_model_dir: Path) -> None:
    from rlef_trainer.ppo_step import build_batch, ppo_update, score_rollouts

    config = RLEFConfig(model=str(tiny_model_dir), device="cpu", seed=1, rollouts_per_iteration=6, minibatch_size=3)
    models = load_models(config)
    optimizer, scheduler = make_optimizer(models, config)
    batch = build_batch(_random_rollouts(6, seed=2), models.tokenizer.pad_token_id)
    scored = score_rollouts(models, batch, config, forward_batch=4)
    assert "old_lp" in scored  # two steps: the second one's ratio needs the policy before the first
    del scored["old_lp"]
    with pytest.raises(ValueError, match="more than one step"):
        ppo_update(models, optimizer, scheduler, batch, scored, config, np.random.default_rng(3), 4)


@pytest.mark.parametrize("minibatch_size", [4, 8])
def test_an_updates_statistics_and_gradients_do_not_depend_on_how_it_is_cut_into_forward_batches(
    minibatch_size: int, tiny_model_dir: Path
) -> None:
    """Forward batches are cut to their longest sequence and grouped by length; the logged means are the
    minibatch's own (token- or turn-weighted), not means of the batches' means. Two steps of 4 episodes
    (the second off-policy) or one of 8 (whose gradient, left in .grad, is taken at the same weights)."""
    from rlef_trainer.ppo_step import build_batch, ppo_update, score_rollouts

    config = RLEFConfig(
        model=str(tiny_model_dir),
        device="cpu",
        seed=1,
        lr=1e-3,
        rollouts_per_iteration=8,
        minibatch_size=minibatch_size,
        warmup_steps=1,
    )
    results = []
    for forward_batch in (1, 3, 8):
        torch.manual_seed(0)
        models = load_models(config)
        optimizer, scheduler = make_optimizer(models, config)
        batch = build_batch(_random_rollouts(8, seed=5), models.tokenizer.pad_token_id)
        scored = score_rollouts(models, batch, config, forward_batch)
        rng = np.random.default_rng(3)
        metrics = ppo_update(models, optimizer, scheduler, batch, scored, config, rng, forward_batch)
        grads = [p.grad.clone() for _, p in models.trainable_named_parameters()]
        results.append((scored, metrics, grads))
    (scored, metrics, grads), *others = results
    if minibatch_size == 4:
        assert metrics["approx_kl"] > 0  # the second step's ratio is not 1
    for other_scored, other_metrics, other_grads in others:
        assert scored.keys() == other_scored.keys()
        for key, value in scored.items():
            assert torch.allclose(value, other_scored[key], atol=1e-6), key
        for key, value in metrics.items():
            assert other_metrics[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
        if minibatch_size == 8:
            for grad, other in zip(grads, other_grads, strict=True):
                assert torch.allclose(grad, other, rtol=1e-4, atol=1e-7)
