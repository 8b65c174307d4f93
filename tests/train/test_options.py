"""Training options: schedules, warm-up, accumulation, clipping, precision, task weighting, per-task losses."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from sweeper.data import make_synthetic
from sweeper.errors import ConfigError
from sweeper.models import ModelConfig, build_model
from sweeper.train import TrainConfig, fit
from sweeper.train.loop import _train_epoch
from sweeper.train.optim import build_loss, build_optimizer

DATA = make_synthetic(300, seed=2)
N_TRAIN_BATCHES = math.ceil(DATA.split_size("train") / 32)


def _fit(**kwargs: object) -> list[dict[str, float]]:
    config = TrainConfig(model=ModelConfig(hidden_dim=8), batch_size=32, max_epochs=4, **kwargs)  # type: ignore[arg-type]
    reports: list[dict[str, float]] = []
    fit(config, DATA, lambda metrics, state: reports.append({**metrics, "_steps": _adam_steps(state)}))
    return reports


def _adam_steps(state: dict) -> float:
    return float(next(iter(state["optimizer"]["state"].values()))["step"])


def test_cosine_schedule_anneals_the_learning_rate() -> None:
    lrs = [r["train/lr"] for r in _fit(lr=1e-2, schedule="cosine")]
    assert lrs[0] == pytest.approx(1e-2) and lrs == sorted(lrs, reverse=True) and lrs[-1] < 0.2e-2


def test_step_schedule_and_warmup() -> None:
    lrs = [r["train/lr"] for r in _fit(lr=1e-2, schedule="step", step_size=2, lr_decay=0.5)]
    assert lrs == pytest.approx([1e-2, 1e-2, 0.5e-2, 0.5e-2])
    warm = [r["train/lr"] for r in _fit(lr=1e-2, warmup_epochs=2)]
    assert warm[0] == pytest.approx(1e-3) and warm[2:] == pytest.approx([1e-2, 1e-2])


def test_gradient_accumulation_takes_one_step_per_group_of_batches() -> None:
    reports = _fit(accumulate_steps=3)
    assert reports[-1]["_steps"] == 4 * math.ceil(N_TRAIN_BATCHES / 3)
    assert _fit()[-1]["_steps"] == 4 * N_TRAIN_BATCHES


def test_gradient_clipping_bounds_the_norm_at_each_step() -> None:
    config = TrainConfig(model=ModelConfig(hidden_dim=8), batch_size=32, clip_grad_norm=0.05)
    torch.manual_seed(0)
    model = build_model(DATA.spec, config.model)
    criterion = build_loss(DATA.spec, config)
    optimizer = build_optimizer([*model.parameters(), *criterion.parameters()], config)
    norms: list[float] = []

    def record(opt: torch.optim.Optimizer, *_: object) -> None:
        grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
        norms.append(float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))))

    optimizer.register_step_pre_hook(record)
    _train_epoch(model, criterion, optimizer, DATA, config, torch.Generator().manual_seed(0))
    assert len(norms) == N_TRAIN_BATCHES and max(norms) <= 0.05 + 1e-6


def test_bf16_mixed_precision_trains_to_finite_metrics() -> None:
    last = _fit(precision="bf16")[-1]
    assert all(math.isfinite(v) for v in last.values())


def test_uncertainty_weighting_reports_learned_task_weights() -> None:
    reports = _fit(task_weighting="uncertainty", lr=3e-2)
    assert reports[0]["train/weight/agree"] != reports[-1]["train/weight/agree"]
    assert _fit()[-1]["train/weight/grade"] == 1.0


def test_per_task_loss_and_unknown_task_names() -> None:
    assert math.isfinite(_fit(task_losses={"agree": "focal"}, dynamic_alpha=True)[-1]["train/loss"])
    with pytest.raises(ConfigError, match=r"^task_losses names unknown task 'agre'; known: agree, grade$"):
        _fit(task_losses={"agre": "focal"})
    with pytest.raises(ConfigError, match=r"^task_weights names unknown task 'x'; known: agree, grade$"):
        _fit(task_weights={"x": 2.0})


def test_resume_with_schedule_and_learned_weights_matches_a_straight_run() -> None:
    config = TrainConfig(
        model=ModelConfig(hidden_dim=8), batch_size=32, max_epochs=4, schedule="cosine", task_weighting="uncertainty"
    )
    straight: list[dict[str, float]] = []
    fit(config, DATA, lambda m, s: straight.append(m))
    states: list[dict] = []
    fit(config, DATA, lambda m, s: states.append(copy.deepcopy(s)))  # the state holds live tensors
    resumed: list[dict[str, float]] = []
    fit(config, DATA, lambda m, s: resumed.append(m), resume=states[1])
    assert [r["epoch"] for r in resumed] == [3.0, 4.0]
    for key in ("val/mean_macro_f1", "train/lr", "train/weight/agree", "train/loss"):
        assert resumed[-1][key] == pytest.approx(straight[-1][key], abs=1e-5)
