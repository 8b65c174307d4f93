"""The pure PyTorch training loop: what it reports, resuming, objectives, learning, and its imports."""

from __future__ import annotations

import copy
import math
import subprocess
import sys
from typing import Any

import pytest

from sweeper.data import MultimodalDataset, make_synthetic
from sweeper.errors import ConfigError
from sweeper.models import ModelConfig, build_model
from sweeper.train import TrainConfig, TrainState, fit

TASKS = ("agree", "grade")
TASK_METRICS = ("loss", "acc", "macro_f1", "auroc")
EPOCH_KEYS = {
    "train/loss",
    "val/mean_macro_f1",
    "time/train_s",
    "model/parameters",
    *(f"val/{task}/{metric}" for task in TASKS for metric in TASK_METRICS),
}
TEST_KEYS = {"test/mean_macro_f1", *(f"test/{task}/{metric}" for task in TASKS for metric in TASK_METRICS)}


class Recorder:
    """A ``report`` callable that keeps every epoch's metrics and a copy of its state."""

    def __init__(self) -> None:
        self.metrics: list[dict[str, float]] = []
        self.states: list[TrainState] = []

    def __call__(self, metrics: dict[str, float], state: TrainState) -> None:
        self.metrics.append(dict(metrics))
        self.states.append(copy.deepcopy(state))  # the state holds live tensors that later epochs update

    @property
    def epochs(self) -> list[int]:
        return [int(m["epoch"]) for m in self.metrics]


def _config(fusion: str = "concat", dropout: float = 0.0, **train: Any) -> TrainConfig:
    model = ModelConfig(fusion=fusion, hidden_dim=8, dropout=dropout)
    return TrainConfig(model=model, **{"max_epochs": 3, "batch_size": 64, "lr": 1e-2, **train})


@pytest.fixture(scope="module")
def data() -> MultimodalDataset:
    return make_synthetic(300, seed=0)


@pytest.fixture(scope="module")
def three_epochs(data: MultimodalDataset) -> tuple[Recorder, dict[str, float]]:
    recorder = Recorder()
    last = fit(_config(), data, recorder)
    return recorder, last


def test_reports_once_per_epoch(three_epochs: tuple[Recorder, dict[str, float]]) -> None:
    recorder, last = three_epochs
    assert recorder.epochs == [1, 2, 3]
    assert [s["epoch"] for s in recorder.states] == [1, 2, 3]
    assert last == recorder.metrics[-1]


def test_every_epoch_reports_train_val_time_and_size(three_epochs: tuple[Recorder, dict[str, float]]) -> None:
    recorder, _ = three_epochs
    for metrics in recorder.metrics:
        assert metrics.keys() >= EPOCH_KEYS, sorted(EPOCH_KEYS - metrics.keys())


def test_test_metrics_only_at_the_last_epoch(three_epochs: tuple[Recorder, dict[str, float]]) -> None:
    recorder, _ = three_epochs
    *earlier, last = recorder.metrics
    for metrics in earlier:
        assert not [k for k in metrics if k.startswith("test/")], metrics
    assert last.keys() >= TEST_KEYS, sorted(TEST_KEYS - last.keys())


def test_reported_values_are_finite_and_in_range(
    data: MultimodalDataset, three_epochs: tuple[Recorder, dict[str, float]]
) -> None:
    recorder, _ = three_epochs
    expected_parameters = build_model(data.spec, _config().model).num_parameters()
    previous_time = 0.0
    for metrics in recorder.metrics:
        for key, value in metrics.items():
            assert isinstance(value, float) and math.isfinite(value), (key, value)
            if key.endswith(("/acc", "/macro_f1", "/auroc")):
                assert 0.0 <= value <= 1.0, (key, value)
            if key.endswith("loss"):
                assert value > 0.0, (key, value)
        assert metrics["model/parameters"] == expected_parameters
        assert metrics["time/train_s"] >= previous_time
        previous_time = metrics["time/train_s"]
        for split in {k.split("/")[0] for k in metrics} & {"val", "test"}:
            mean = sum(metrics[f"{split}/{task}/macro_f1"] for task in TASKS) / len(TASKS)
            assert metrics[f"{split}/mean_macro_f1"] == pytest.approx(mean)


def _resume_matches(data: MultimodalDataset, config: TrainConfig) -> None:
    straight = Recorder()
    final = fit(config, data, straight)

    first_half = Recorder()
    fit(_with_epochs(config, 2), data, first_half)
    resumed = Recorder()
    resumed_final = fit(config, data, resumed, resume=first_half.states[-1])

    assert resumed.epochs == [3, 4]
    assert resumed_final.keys() == final.keys()
    for key in final:
        if not key.startswith(("time/", "cost/")):  # measurements, not results
            assert resumed_final[key] == pytest.approx(final[key], abs=1e-5), key
    assert resumed.metrics[0]["train/loss"] == pytest.approx(straight.metrics[2]["train/loss"], abs=1e-5)


def _with_epochs(config: TrainConfig, max_epochs: int) -> TrainConfig:
    return TrainConfig(**{**config.__dict__, "max_epochs": max_epochs})


# Resuming does not depend on the architecture; a few kinds of state (attention, factors, per-modality heads).
@pytest.mark.parametrize("fusion", ["concat", "cross_attention", "low_rank", "late"])
def test_resume_gives_the_same_result_as_training_straight(data: MultimodalDataset, fusion: str) -> None:
    _resume_matches(data, _config(fusion, max_epochs=4))


def test_resume_with_dropout_gives_the_same_result(data: MultimodalDataset) -> None:
    _resume_matches(data, _config("concat", dropout=0.1, max_epochs=4))


def test_unknown_objective_lists_known_val_metrics(data: MultimodalDataset) -> None:
    recorder = Recorder()
    with pytest.raises(ConfigError) as info:
        fit(_config(objective="val/accuracy", max_epochs=2), data, recorder)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("unknown objective 'val/accuracy'; known: "), message
    known = message.split("known: ")[1].split(", ")
    assert {"val/mean_macro_f1", "val/agree/auroc", "val/grade/acc"} <= set(known)
    assert all(k.startswith("val/") for k in known), known
    assert recorder.metrics == []


def test_any_val_metric_is_a_valid_objective(data: MultimodalDataset) -> None:
    recorder = Recorder()
    fit(_config(objective="val/agree/auroc", max_epochs=1), data, recorder)
    assert recorder.epochs == [1]


@pytest.mark.parametrize("field", ["max_epochs", "batch_size"])
def test_invalid_budget_is_a_config_error(data: MultimodalDataset, field: str) -> None:
    config = _config()
    setattr(config, field, 0)
    with pytest.raises(ConfigError, match=f"{field}=0"):
        fit(config, data, Recorder())


def test_training_learns_the_grade_task() -> None:
    data = make_synthetic(600, seed=0)
    recorder = Recorder()
    config = TrainConfig(model=ModelConfig(hidden_dim=16, dropout=0.0), max_epochs=8, batch_size=64, lr=1e-2)
    fit(config, data, recorder)
    first, last = recorder.metrics[0], recorder.metrics[-1]
    assert last["val/mean_macro_f1"] > first["val/mean_macro_f1"] + 0.05
    assert last["val/grade/acc"] > 0.6  # chance is 1/3
    assert last["train/loss"] < first["train/loss"]


@pytest.mark.slow  # a fresh interpreter
def test_training_loop_does_not_import_ray_or_mlflow() -> None:
    code = "import sweeper.train, sys; assert 'ray' not in sys.modules and 'mlflow' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_a_nan_loss_fails_the_trial_with_its_reason() -> None:
    from sweeper.errors import TrainingDiverged

    data = make_synthetic(200, seed=0)
    config = TrainConfig(model=ModelConfig(hidden_dim=8), lr=1e30, max_epochs=2)  # the first step overflows
    with pytest.raises(TrainingDiverged, match=r"train/loss became nan at epoch 1 \(lr=1e\+30\): training diverged"):
        fit(config, data, lambda metrics, state: None)


def test_predictions_are_kept_only_at_the_last_epoch_and_match_the_metrics() -> None:
    import numpy as np

    from sweeper.recommend import stats

    data = make_synthetic(300, seed=0)
    states: list[dict] = []
    metrics = fit(
        TrainConfig(model=ModelConfig(hidden_dim=8), max_epochs=2),
        data,
        lambda m, s: states.append(dict(s)),
        predictions=True,
    )
    assert "predictions" not in states[0] and set(states[1]["predictions"]) == {"val", "test"}
    val = states[1]["predictions"]["val"]
    for task in data.spec.task_names:
        probs, labels = val["probs"][task].numpy(), val["labels"][task].numpy()
        recomputed = stats.metric_values("macro_f1", probs, labels, np.ones((1, len(labels))))[0]
        assert recomputed == pytest.approx(metrics[f"val/{task}/macro_f1"], abs=1e-6)


def test_every_epoch_reports_the_cost_of_the_model_and_its_fusion(data: MultimodalDataset) -> None:
    from sweeper.models import build_model
    from sweeper.models.layers import count_parameters

    recorder = Recorder()
    last = fit(_config("low_rank", max_epochs=1), data, recorder)
    model = build_model(data.spec, _config("low_rank").model)
    assert last["model/parameters"] == count_parameters(model)
    assert 0 < last["model/fusion_parameters"] == count_parameters(model.fusion) < last["model/parameters"]
    assert last["cost/peak_memory_mb"] >= 0.0
    n_test = len(data.splits["test"])
    assert last["time/infer_us_per_sample"] == pytest.approx(
        last["time/infer_ms"] * 1000 * -(-n_test // 64) / n_test, rel=1e-6
    )  # the same forward passes, per sample instead of per batch


@pytest.mark.parametrize("fusion", ["cross_attention", "transformer"])
def test_attention_fusions_report_the_attention_each_modality_received(data: MultimodalDataset, fusion: str) -> None:
    last = fit(_config(fusion, max_epochs=1), data, Recorder())
    shares = {m: last[f"val/attention/{m}"] for m in data.spec.modality_names}
    assert all(0.0 <= w <= 1.0 for w in shares.values()) and sum(shares.values()) == pytest.approx(1.0, abs=1e-4)
    assert not any(k.startswith("val/attention/") for k in fit(_config("concat", max_epochs=1), data, Recorder()))
