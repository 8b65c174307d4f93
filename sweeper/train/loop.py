"""The training loop: pure PyTorch, no Ray and no MLflow.

``fit`` trains one multimodal multi-task model and hands every epoch's metrics and its resumable state to a
``report`` callable; the caller decides what to do with them (Ray Tune reports them and stores a checkpoint,
a test collects them). Given the state of an earlier epoch it continues from the next one.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any

import torch

from sweeper.data.dataset import MultimodalDataset
from sweeper.errors import ConfigError, TrainingDiverged
from sweeper.models import build_model
from sweeper.models.layers import count_parameters
from sweeper.train.augment import augment
from sweeper.train.config import TrainConfig
from sweeper.train.losses import MultiTaskLoss, distillation_loss
from sweeper.train.metrics import evaluate
from sweeper.train.optim import build_loss, build_optimizer, build_schedule, parameter_groups

TrainState = dict[str, Any]  # model, optimizer, schedule, loss, RNG states and epoch: all a resume needs
# report(metrics, state) is called once per epoch. The state's tensors are the live ones (no copy is made, so a
# large model costs nothing extra): serialise it (torch.save) or deep-copy it before training goes on.
Report = Callable[[dict[str, float], TrainState], None]


def fit(
    config: TrainConfig,
    data: MultimodalDataset,
    report: Report,
    *,
    resume: TrainState | None = None,
    device: str | torch.device = "cpu",
    predictions: bool = False,
) -> dict[str, float]:
    """Train for ``config.max_epochs`` epochs (from ``resume['epoch'] + 1`` if given); return the last metrics.

    With ``predictions``, the last epoch's state also holds ``"predictions"``: per split (val, test) the sample
    indices, labels and class probabilities (see ``evaluate``), for paired comparisons across runs.
    A non-finite training loss or objective raises ``TrainingDiverged``: such a trial has no score to rank.
    """
    if min(config.max_epochs, config.batch_size, config.accumulate_steps) < 1:
        raise ConfigError(
            "max_epochs, batch_size and accumulate_steps must be >= 1, but got "
            f"{config.max_epochs=}, {config.batch_size=}, {config.accumulate_steps=}"
        )
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    model = build_model(data.spec, config.model).to(device)
    criterion = build_loss(data.spec, config).to(device)
    optimizer = build_optimizer(parameter_groups([model, criterion], config.lr), config)
    schedule = build_schedule(optimizer, config)
    generator = torch.Generator().manual_seed(config.seed)
    sizes = {"model/parameters": float(count_parameters(model))}
    if isinstance(fusion := getattr(model, "fusion", None), torch.nn.Module):
        sizes["model/fusion_parameters"] = float(count_parameters(fusion))
    memory = PeakMemory(device)
    first_epoch = 1
    if resume is not None:
        model.load_state_dict(resume["model"])
        criterion.load_state_dict(resume["loss"])
        optimizer.load_state_dict(resume["optimizer"])
        schedule.load_state_dict(resume["schedule"])
        generator.set_state(resume["generator"])
        torch.set_rng_state(resume["torch_rng"])  # dropout masks continue as if never interrupted
        first_epoch = resume["epoch"] + 1

    metrics: dict[str, float] = {}
    reporting_s = 0.0  # time spent inside report(): the caller's overhead, not training
    for epoch in range(first_epoch, config.max_epochs + 1):
        epoch_start = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        train_loss = _train_epoch(model, criterion, optimizer, data, config, generator)
        schedule.step()
        metrics = {"epoch": float(epoch), "train/loss": train_loss, "train/lr": lr}
        metrics |= {f"train/weight/{t}": w for t, w in criterion.task_weights().items()}
        metrics |= sizes
        last = epoch == config.max_epochs
        outputs: dict[str, Any] | None = {} if predictions and last else None
        with _autocast(device, config.precision):
            metrics |= evaluate(model, data, "val", config.batch_size, outputs)
            if last:
                metrics |= evaluate(model, data, "test", config.batch_size, outputs)
        if config.objective not in metrics:
            known = ", ".join(k for k in metrics if k.startswith("val/"))
            raise ConfigError(f"unknown objective {config.objective!r}; known: {known}")
        _check_finite(metrics, config, epoch)
        metrics["cost/peak_memory_mb"] = memory.peak_mb()
        now = time.perf_counter()
        metrics["time/epoch_s"] = now - epoch_start
        metrics["time/train_s"] = now - started - reporting_s  # cumulative time in this process, reports excluded
        state = {
            "epoch": epoch,
            "model": model.state_dict(),
            "loss": criterion.state_dict(),
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "generator": generator.get_state(),
            "torch_rng": torch.get_rng_state(),
        }
        if outputs is not None:
            state["predictions"] = outputs
        report(metrics, state)
        reporting_s += time.perf_counter() - now
    return metrics


def _check_finite(metrics: dict[str, float], config: TrainConfig, epoch: int) -> None:
    for key in ("train/loss", config.objective):
        if not math.isfinite(metrics[key]):
            raise TrainingDiverged(
                f"{key} became {metrics[key]} at epoch {epoch} (lr={config.lr:g}): training diverged; "
                "a lower learning rate, gradient clipping or fp32 may help"
            )


def _train_epoch(
    model: torch.nn.Module,
    criterion: MultiTaskLoss,
    optimizer: torch.optim.Optimizer,
    data: MultimodalDataset,
    config: TrainConfig,
    generator: torch.Generator,
) -> float:
    """One pass over the training split; returns the mean loss per sample.

    The running loss stays on the device and is read once at the end: ``float(loss)`` per batch would wait for the
    GPU every batch. Batches are made one at a time (a list of them would copy the whole split).
    """
    model.train()
    device = next(model.parameters()).device
    total, seen = torch.zeros((), device=device), 0
    optimizer.zero_grad(set_to_none=True)
    n_batches = math.ceil(data.split_size("train") / config.batch_size)
    kinds = {m.name: m.kind for m in data.spec.modalities}
    for i, batch in enumerate(data.batches("train", config.batch_size, shuffle=True, generator=generator)):
        inputs = augment(batch.inputs, kinds, config, generator)
        with _autocast(device, config.precision):
            outputs = model(inputs)  # {task: (B, C)} logits
            loss = criterion(outputs, batch.targets)
            if batch.teacher and config.distill_alpha > 0:  # a student: the teacher's soft targets too
                soft = distillation_loss(outputs, batch.teacher, config.distill_temperature)
                loss = (1 - config.distill_alpha) * loss + config.distill_alpha * soft
            if (extra := getattr(getattr(model, "fusion", None), "auxiliary_loss", None)) is not None:
                loss = loss + extra  # a routing fusion's balance or compute penalty, part of what is minimised
        (loss / config.accumulate_steps).backward()
        if (i + 1) % config.accumulate_steps == 0 or i + 1 == n_batches:
            if config.clip_grad_norm > 0:
                params = [p for group in optimizer.param_groups for p in group["params"]]
                torch.nn.utils.clip_grad_norm_(params, config.clip_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        total += loss.detach().float() * len(batch)
        seen += len(batch)
    return float(total) / seen


def _autocast(device: str | torch.device, precision: str) -> torch.autocast:
    device_type = torch.device(device).type
    return torch.autocast(device_type, dtype=torch.bfloat16, enabled=precision == "bf16")


class PeakMemory:
    """The memory a trial adds, in MB, at its peak so far: CUDA's max allocated on a GPU; on a CPU, the process's
    resident memory sampled at each epoch's end, above what it was when training started (an estimate: a reused
    worker's earlier trials may have left memory that this one reuses)."""

    def __init__(self, device: str | torch.device) -> None:
        self.cuda = torch.device(device).type == "cuda"
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(device)
            self.device = device
            return
        self.start = self.peak = _resident_bytes()

    def peak_mb(self) -> float:
        if self.cuda:
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        self.peak = max(self.peak, _resident_bytes())
        return (self.peak - self.start) / 2**20


def _resident_bytes() -> int:
    """This process's resident memory now (Linux); elsewhere its peak so far."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux
