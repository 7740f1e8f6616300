"""`rlef-train export`: a run's checkpoint becomes a checked model folder the editor loads, or nothing changes.

The runs here are made without training: the tiny model's trainable weights (LoRA adapters, or every weight in
full mode) are moved at random and saved with `save_checkpoint`, as train.py saves them. The trained policy's
logits are kept, so an export that used the base weights, or another checkpoint, is caught.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from rlef_trainer.checkpoint import STATE_FILE, save_checkpoint
from rlef_trainer.cli import main as cli_main
from rlef_trainer.config import RLEFConfig, config_to_dict
from rlef_trainer.decoder_parity import OnnxDecoder, ParityReport, left_padded_batch, position_ids_for
from rlef_trainer.export_model import (
    EXPORT_INFO_FILE,
    against_start,
    export_policy,
)
from rlef_trainer.models import RLEFModels, load_models

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO = REPO_ROOT / "models" / "demo"
# The exported fp32 weights against the trained policy, both run in float64: the storage rounding of the merged
# weights only (observed ~2e-6 for LoRA, 0 in full mode).
MERGE_ATOL = 1e-5
# fp32 onnxruntime against fp32 PyTorch, as in test_onnx_parity.py.
ONNX_ATOL = 1e-3
ITERATIONS = (2, 4)


class TrainedRun:
    """A run folder with two checkpoints and the logits of the policy each one holds."""

    def __init__(self, root: Path, model_dir: Path, mode: str, evaluations: list[dict] | None = None) -> None:
        self.dir = root / f"run-{mode}"
        self.mode = mode
        config = RLEFConfig(model=str(model_dir), mode=mode, device="cpu", lora_rank=4, seed=1, out_dir=str(self.dir))
        self.dir.mkdir()
        (self.dir / "config.json").write_text(json.dumps(config_to_dict(config), indent=2) + "\n")
        torch.manual_seed(1)  # the fresh adapters' draw
        models = load_models(config)
        # a left-padded batch: the second row starts with 5 pads, as the editor's batches may
        input_ids, attention_mask = left_padded_batch(
            [torch.randint(0, 1000, (n,), generator=torch.Generator().manual_seed(n)).tolist() for n in (12, 7)],
            pad_id=0,
        )
        self.input_ids, self.attention_mask = torch.from_numpy(input_ids), torch.from_numpy(attention_mask)
        self.position_ids = torch.from_numpy(position_ids_for(attention_mask, input_ids.shape[1]))
        self.real = self.attention_mask.bool()  # positions whose logits mean something
        self.base_logits = self._logits(models)
        self.trained_logits: dict[int, torch.Tensor] = {}
        generator = torch.Generator().manual_seed(11)
        for iteration in ITERATIONS:
            with torch.no_grad():
                for _, param in models.trainable_named_parameters():
                    param.add_(torch.randn(param.shape, generator=generator) * (0.005 if mode == "lora" else 0.002))
            self.trained_logits[iteration] = self._logits(models)
            state = {
                "iteration": iteration,
                "history": [],
                "weights": models.trainable_state(),
                "config": config_to_dict(config),
            }
            if evaluations is not None:  # as train.py keeps them: those made up to the checkpoint
                state["evaluations"] = [e for e in evaluations if e["iteration"] <= iteration]
            save_checkpoint(self.dir, iteration, state, keep=0)

    def _logits(self, models: RLEFModels) -> torch.Tensor:
        # float64, so the comparison sees the exported weights, not the rounding of two fp32 forward passes
        # (the adapters' x A^T B^T against the merged W + B A: ~1e-5 apart in fp32, ~2e-6 in float64)
        return self.forward(copy.deepcopy(models.generation_model()).double().eval())

    def forward(self, model: torch.nn.Module) -> torch.Tensor:
        """`model`'s logits at the batch's real (unpadded) positions, [tokens, vocab]."""
        with torch.no_grad():
            logits = model(
                input_ids=self.input_ids,
                attention_mask=self.attention_mask,
                position_ids=self.position_ids,
                use_cache=False,
            ).logits
        return logits[self.real]

    def checkpoint(self, iteration: int) -> Path:
        return self.dir / f"checkpoint-{iteration:08d}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Callable[[str], TrainedRun]:
    built: dict[str, TrainedRun] = {}

    def run_of(mode: str) -> TrainedRun:
        if mode not in built:
            built[mode] = TrainedRun(tmp_path_factory.mktemp("runs"), tiny_model_dir, mode)
        return built[mode]

    return run_of


@pytest.fixture(scope="module", params=["lora", "full"])
def run(request: pytest.FixtureRequest, runs: Callable[[str], TrainedRun]) -> TrainedRun:
    return runs(request.param)


@pytest.fixture
def lora_run(runs: Callable[[str], TrainedRun]) -> TrainedRun:
    """For behaviour that does not depend on the mode."""
    return runs("lora")


@pytest.fixture(scope="module")
def exported(run: TrainedRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("exports") / f"model-{run.mode}"
    assert cli_main(["export", "--run", str(run.dir), "--out", str(out)]) == 0
    return out


def export(run_dir: Path, out: Path, *extra: str) -> int:
    return cli_main(["export", "--run", str(run_dir), "--out", str(out), *extra])


def exported_logits(model_dir: Path, run: TrainedRun) -> torch.Tensor:
    from transformers import AutoModelForCausalLM

    return run.forward(AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float64).eval())


def siblings(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name != out.name)


def test_the_exported_weights_compute_the_newest_checkpoints_policy_not_the_base(
    run: TrainedRun, exported: Path
) -> None:
    logits = exported_logits(exported, run)
    trained = run.trained_logits[ITERATIONS[-1]]
    assert (logits - trained).abs().max() < MERGE_ATOL
    # the checkpoint moved the policy far beyond that tolerance, so base weights (or the older checkpoint) fail
    assert (trained - run.base_logits).abs().max() > 0.1
    assert (trained - run.trained_logits[ITERATIONS[0]]).abs().max() > 0.1


def test_the_exported_onnx_decoder_computes_the_trained_policy_from_the_empty_cache_step(
    run: TrainedRun, exported: Path
) -> None:
    decoder = OnnxDecoder(exported / "onnx" / "model.onnx")
    logits, _ = decoder.step(
        run.input_ids.numpy(), run.attention_mask.numpy(), run.position_ids.numpy(), decoder.empty_past(2)
    )
    trained = run.trained_logits[ITERATIONS[-1]].float().numpy()
    assert np.abs(logits[run.real.numpy()] - trained).max() < ONNX_ATOL


def test_rlef_export_json_records_the_source_and_a_passed_parity_check(run: TrainedRun, exported: Path) -> None:
    info = json.loads((exported / EXPORT_INFO_FILE).read_text())
    assert info["run_dir"] == str(run.dir.resolve())
    assert info["checkpoint"] == str(run.checkpoint(ITERATIONS[-1]).resolve())
    assert info["iteration"] == ITERATIONS[-1]
    assert info["mode"] == run.mode
    assert info["base_model"] == json.loads((run.dir / "config.json").read_text())["model"]
    assert len(info["weights_sha256"]) == 64 and info["exported_at"]
    parity = info["parity"]
    assert parity["tokens_equal"] is True and parity["steps"] == 20
    assert parity["first_step_max_abs_logit_diff"] <= parity["max_abs_logit_diff"] < ONNX_ATOL


def test_the_folder_has_the_demo_models_layout_and_what_the_editors_onnx_loader_reads(exported: Path) -> None:
    demo = {str(p.relative_to(DEMO)) for p in DEMO.rglob("*") if p.is_file()} - {"README.md"}
    written = {str(p.relative_to(exported)) for p in exported.rglob("*") if p.is_file()}
    assert written == demo | {EXPORT_INFO_FILE}
    # server/policy/onnx/model-folder.ts: these config fields, a chat template, stop ids, the cache's inputs
    config = json.loads((exported / "config.json").read_text())
    for key in ("num_hidden_layers", "num_attention_heads", "num_key_value_heads", "hidden_size"):
        assert isinstance(config[key], int) and config[key] > 0
    assert (exported / "chat_template.jinja").read_text().strip()
    assert json.loads((exported / "generation_config.json").read_text())["eos_token_id"]
    session = ort.InferenceSession(str(exported / "onnx" / "model.onnx"), providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    assert {"input_ids", "attention_mask", "position_ids", "past_key_values.0.key", "past_key_values.0.value"} <= names
    assert f"past_key_values.{config['num_hidden_layers'] - 1}.value" in names


def test_export_policy_writes_what_the_toy_wrote_for_the_demo_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    models = load_models(RLEFConfig(model=str(tiny_model_dir), mode="lora", device="cpu", lora_rank=4))
    export_policy(models, tmp_path / "policy")
    demo = {str(p.relative_to(DEMO)) for p in DEMO.rglob("*") if p.is_file()} - {"README.md"}
    assert {str(p.relative_to(tmp_path / "policy")) for p in (tmp_path / "policy").rglob("*") if p.is_file()} == demo


def test_a_named_checkpoint_is_exported_instead_of_the_newest(
    lora_run: TrainedRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "older"
    older = lora_run.checkpoint(ITERATIONS[0])
    assert export(lora_run.dir, out, "--checkpoint", older.name, "--no-parity") == 0
    assert (exported_logits(out, lora_run) - lora_run.trained_logits[ITERATIONS[0]]).abs().max() < MERGE_ATOL
    info = json.loads((out / EXPORT_INFO_FILE).read_text())
    assert info["iteration"] == ITERATIONS[0] and info["parity"] is None
    summary = capsys.readouterr().out.strip().splitlines()
    assert len(summary) == 1 and summary[0].startswith(f"rlef-train export: wrote {out}")
    assert "parity not checked" in summary[0]
    assert siblings(out) == []


def test_an_existing_folder_is_refused_without_force_and_left_untouched(
    lora_run: TrainedRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert export(lora_run.dir, out) == 2
    error = capsys.readouterr().err
    assert "rlef-train export:" in error and f"{out} exists and is not empty; pass --force" in error
    assert [p.name for p in out.iterdir()] == ["keep.txt"] and (out / "keep.txt").read_text() == "mine"
    assert siblings(out) == []


def test_force_replaces_an_existing_folder_with_the_new_export(lora_run: TrainedRun, tmp_path: Path) -> None:
    out = tmp_path / "model"
    (out / "onnx").mkdir(parents=True)
    (out / "stale.txt").write_text("old export")
    assert export(lora_run.dir, out, "--force", "--no-parity") == 0
    assert not (out / "stale.txt").exists() and (out / "onnx" / "model.onnx").is_file()
    assert siblings(out) == []


def test_a_failed_parity_check_leaves_nothing_at_the_out_folder(
    lora_run: TrainedRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from rlef_trainer import export_model

    failed = ParityReport(tokens_equal=False, max_abs_logit_diff=3.5, steps=20, first_step_max_abs_logit_diff=0.1)
    monkeypatch.setattr(export_model, "check_export_parity", lambda *_args, **_kw: failed)
    out = tmp_path / "model"
    assert export(lora_run.dir, out) == 1
    assert "does not match PyTorch" in capsys.readouterr().err
    assert not out.exists() and siblings(out) == []


def _damage_newest_state(run_dir: Path) -> None:
    state = run_dir / f"checkpoint-{ITERATIONS[-1]:08d}" / STATE_FILE
    data = bytearray(state.read_bytes())
    data[len(data) // 2] ^= 0xFF
    state.write_bytes(bytes(data))


def _set_config(**values: object) -> Callable[[Path], None]:
    def change(run_dir: Path) -> None:
        path = run_dir / "config.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **values}))

    return change


def _base_is_an_empty_folder(run_dir: Path) -> None:
    (run_dir / "not-a-model").mkdir()
    _set_config(model=str(run_dir / "not-a-model"))(run_dir)


def _base_is_no_model(run_dir: Path) -> None:
    (run_dir / "not-a-model").mkdir()
    (run_dir / "not-a-model" / "config.json").write_text("{}")
    _set_config(model=str(run_dir / "not-a-model"))(run_dir)


def _remove_checkpoints(run_dir: Path) -> None:
    for folder in run_dir.glob("checkpoint-*"):
        shutil.rmtree(folder)


@pytest.mark.parametrize(
    ("breakage", "says"),
    [
        (lambda run_dir: shutil.rmtree(run_dir), "does not exist"),
        (lambda run_dir: (run_dir / "config.json").unlink(), "config.json is missing"),
        (lambda run_dir: (run_dir / "config.json").write_text("{not json"), "not valid JSON"),
        (_set_config(lora_rank="many"), "lora_rank must be an integer"),
        (_set_config(colour="blue"), "unknown config keys: colour"),
        (_remove_checkpoints, "holds no complete checkpoint"),
        (_damage_newest_state, "damaged (sha256"),  # and names the older one to export instead
        (_set_config(model="/nonexistent/base-model"), "base model folder /nonexistent/base-model named in"),
        (_base_is_an_empty_folder, "not-a-model named in"),
        (_base_is_no_model, "cannot load the model"),
    ],
    ids=[
        "missing-run",
        "no-config",
        "malformed-config",
        "mistyped-config",
        "unknown-config-key",
        "no-checkpoint",
        "damaged-checkpoint",
        "missing-base-folder",
        "empty-base-folder",
        "unloadable-base-model",
    ],
)
def test_a_broken_run_is_refused_with_a_clear_error_and_no_out_folder(
    lora_run: TrainedRun,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    breakage: Callable[[Path], None],
    says: str,
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(lora_run.dir, run_dir)
    breakage(run_dir)
    out = tmp_path / "exports" / "model"
    assert export(run_dir, out) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("rlef-train export: ") and says in error, error
    assert not out.parent.exists()


def test_a_missing_named_checkpoint_lists_the_complete_ones(
    lora_run: TrainedRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert export(lora_run.dir, tmp_path / "model", "--checkpoint", "checkpoint-00000099") == 2
    error = capsys.readouterr().err
    assert "checkpoint-00000099 does not exist" in error and lora_run.checkpoint(ITERATIONS[0]).name in error


def test_an_out_folder_that_cannot_be_written_is_refused_before_the_export_starts(
    lora_run: TrainedRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    assert export(lora_run.dir, blocker / "model") == 2
    error = capsys.readouterr().err.strip().splitlines()
    says = f"cannot write {blocker / 'model'}: its folder {blocker} exists and is not a folder"
    assert error == [f"rlef-train export: {says}"]
    # root writes through mode bits, so a folder no one can create one in: /proc
    locked = Path("/proc") if os.geteuid() == 0 else tmp_path / "locked"
    if locked != Path("/proc"):
        locked.mkdir(mode=0o555)
    assert export(lora_run.dir, locked / "model") == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1, error
    assert error[0].startswith(f"rlef-train export: cannot write {locked / 'model'}: its folder {locked} "), error
    assert blocker.read_text() == "keep me"


def evaluation(iteration: int, mt: float, split: str = "valid") -> dict:
    """An eval.jsonl record as train.py writes it."""
    return {
        "iteration": iteration,
        split: {"mt_1at3": mt, "mt_1at3_low": mt / 2, "mt_1at3_high": (1 + mt) / 2, "st_1at3": 0.1, "problems": 8},
        "seconds": 1.5,
    }


def test_the_comparison_with_the_starting_model_takes_the_newest_evaluation_up_to_the_checkpoint() -> None:
    runs = [evaluation(0, 0.25), evaluation(10, 0.5), evaluation(20, 0.125)]
    assert against_start(runs, 15) == {
        "split": "valid",
        "rate": "mt_1at3",
        "start": {"iteration": 0, "value": 0.25, "low": 0.125, "high": 0.625},
        "checkpoint": {"iteration": 10, "value": 0.5, "low": 0.25, "high": 0.75},
        "worse": False,
    }
    assert against_start(runs, 20)["worse"] is True
    assert against_start(runs, 9) is None, "no evaluation after the start yet"
    assert against_start([evaluation(10, 0.5)], 10) is None, "no evaluation of the starting model"
    assert against_start(None, 10) is None and against_start([], 10) is None
    # without a valid split (valid_fraction 0), the first evaluated set
    other = [evaluation(0, 0.5, "mbpp_plus"), evaluation(10, 0.5, "mbpp_plus")]
    assert against_start(other, 10)["split"] == "mbpp_plus"
    assert against_start(other, 10)["worse"] is False, "equal is not worse"
    assert against_start([evaluation(0, float("nan")), evaluation(10, 0.5)], 10) is None


def test_a_checkpoint_worse_than_the_starting_model_is_refused_unless_allowed(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = TrainedRun(tmp_path, tiny_model_dir, "lora", [evaluation(0, 0.5), evaluation(2, 0.75), evaluation(4, 0.25)])
    out = tmp_path / "model"
    assert export(run.dir, out, "--no-parity") == 2
    err = capsys.readouterr().err
    assert (
        f"{run.checkpoint(4)} is worse than the model the run started from (valid MT 1@3 0.500 at iteration 0 (the "
        f"starting model) -> 0.250 at iteration 4); nothing was written to {out}" in err
    )
    assert siblings(out) == ["run-lora"] and not out.exists()

    assert export(run.dir, out, "--no-parity", "--checkpoint", str(run.checkpoint(2))) == 0
    info = json.loads((out / EXPORT_INFO_FILE).read_text())
    assert (info["iteration"], info["against_start"]["checkpoint"]["value"], info["against_start"]["worse"]) == (
        2,
        0.75,
        False,
    )
    assert "valid MT 1@3 0.500 at iteration 0 (the starting model) -> 0.750 at iteration 2" in capsys.readouterr().err

    assert export(run.dir, out, "--no-parity", "--force", "--allow-worse") == 0
    info = json.loads((out / EXPORT_INFO_FILE).read_text())
    assert (info["iteration"], info["against_start"]["worse"]) == (4, True)


def test_a_run_without_evaluations_exports_and_says_it_was_not_compared(
    lora_run: TrainedRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "model"
    assert export(lora_run.dir, out, "--no-parity") == 0
    assert json.loads((out / EXPORT_INFO_FILE).read_text())["against_start"] is None
    assert "not compared with the starting model" in capsys.readouterr().err
