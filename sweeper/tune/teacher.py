"""The teacher of a distillation sweep: trained once, on the driver, before the search; its logits ride with the data.

``with_teacher`` trains the teacher the spec's ``distill:`` section names (or reads the one a previous run of this
sweep saved, so a resume does not train it again), and returns the dataset with the teacher's logits for every
sample (``MultimodalDataset.teacher``). The dataset goes to Ray's object store once, so every student trial gets
the logits without computing them. ``sweep/teacher/`` holds ``logits.pt`` and ``summary.json`` (its configuration,
size and validation score), which ``sweeper recommend`` shows beside the students'.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweeper.errors import SweepError
from sweeper.recommend.sources import TEACHER_DIR, TEACHER_SUMMARY

if TYPE_CHECKING:  # torch and the training loop load when a teacher is trained; `recommend` reads the summary only
    from sweeper.data import MultimodalDataset
    from sweeper.spec import SweepSpec

LOGITS_FILE = "logits.pt"


def with_teacher(spec: SweepSpec, data: MultimodalDataset, sweep_dir: Path, *, quiet: bool) -> MultimodalDataset:
    """``data`` with the teacher's logits when the spec distils; ``data`` itself otherwise."""
    if spec.distill is None:
        return data
    import torch

    folder = Path(sweep_dir) / TEACHER_DIR
    if not (folder / LOGITS_FILE).is_file():
        train_teacher(spec, data, folder, quiet=quiet)
    logits = torch.load(folder / LOGITS_FILE, map_location="cpu", weights_only=True)
    return dataclasses.replace(data, teacher=logits)


def teacher_params(spec: SweepSpec) -> dict[str, Any]:
    """The teacher's hyperparameters: as written, or the recommended configuration of the sweep named."""
    assert spec.distill is not None
    teacher = spec.distill.teacher
    if isinstance(teacher, dict):
        return dict(teacher)
    from sweeper.recommend import recommend

    rec = recommend(teacher)
    chosen = next((f for f in rec.fusions if f.fusion == rec.default_fusion), None)
    if chosen is None:
        raise SweepError(f"distill.teacher: sweep {teacher!r} names no default fusion yet ({rec.decided_by})")
    return {**chosen.params, "fusion": chosen.fusion}


def train_teacher(spec: SweepSpec, data: MultimodalDataset, folder: Path, *, quiet: bool) -> dict[str, Any]:
    """Train the teacher, write its logits for every sample and its summary into ``folder``; return the summary."""
    import torch

    from sweeper.console import make_console
    from sweeper.models import build_model
    from sweeper.train import TrainState, fit

    assert spec.distill is not None
    params = teacher_params(spec)
    config = spec.trial_config(params)
    config = dataclasses.replace(config, max_epochs=spec.distill.epochs or spec.budget.max_epochs)
    device = "cuda" if spec.resources.gpu > 0 and torch.cuda.is_available() else "cpu"
    console = make_console(quiet=quiet)
    console.print(f"training the teacher ({_describe(params)}) for {config.max_epochs} epochs", highlight=False)
    last: list[TrainState] = []

    def keep(_: dict[str, float], state: TrainState) -> None:
        last[:] = [state]  # the last epoch's weights are the teacher's

    on_device = data.to(device)  # once: for training, then for the logits of every sample
    metrics = fit(config, on_device, keep, device=device)
    model = build_model(data.spec, config.model).to(device)
    model.load_state_dict(last[-1]["model"])
    model.eval()
    rows = torch.arange(len(next(iter(data.targets.values()))), device=device)
    chunks: dict[str, list[torch.Tensor]] = {t: [] for t in data.spec.task_names}
    with torch.no_grad():
        for start in range(0, len(rows), config.batch_size):
            for task, logits in model(on_device.batch_of(rows[start : start + config.batch_size]).inputs).items():
                chunks[task].append(logits.float().cpu())
    logits = {task: torch.cat(parts) for task, parts in chunks.items()}  # task -> (N, C), every sample
    summary = {
        "params": params,
        "epochs": config.max_epochs,
        "parameters": int(metrics["model/parameters"]),
        "metric": spec.objective.metric,
        "score": metrics[spec.objective.metric],
    }
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{LOGITS_FILE}.partial"
    torch.save(logits, partial)
    (folder / TEACHER_SUMMARY).write_text(json.dumps(summary, indent=2))
    partial.replace(folder / LOGITS_FILE)  # last: a teacher whose logits exist is complete
    console.print(f"teacher: {spec.objective.metric}={summary['score']:.4f}, {summary['parameters']} parameters")
    return summary


def _describe(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
