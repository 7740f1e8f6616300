"""Policy / reference / value networks in full and LoRA mode, LoRA merge for export, checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rlef_trainer.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from rlef_trainer.config import RLEFConfig
from rlef_trainer.models import load_models


@pytest.mark.parametrize("mode", ["full", "lora"])
def test_a_policy_step_moves_the_policy_but_never_the_reference(mode: str, tiny_model_dir: Path) -> None:
    config = RLEFConfig(model=str(tiny_model_dir), mode=mode, device="cpu", lora_rank=4, seed=1)
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
    merged = models.merged_policy()
    with torch.no_grad():
        assert torch.allclose(
            merged(input_ids=ids, attention_mask=attn).logits, models.policy_logits(ids, attn), atol=1e-4
        )


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
