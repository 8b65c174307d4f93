"""Teacher/student distillation: the teacher trained once per sweep, its logits with the data, students that learn
its soft targets, and the recommendation showing both."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sweeper.data import make_synthetic
from sweeper.errors import ConfigError
from sweeper.models import ModelConfig
from sweeper.recommend import recommend
from sweeper.recommend.report import write_report
from sweeper.spec import parse_spec
from sweeper.testing import TINY, tiny_spec
from sweeper.train import TrainConfig, fit
from sweeper.train.losses import distillation_loss
from sweeper.tune import run_sweep
from sweeper.tune import teacher as teacher_module


def test_the_distillation_loss_is_zero_only_when_the_student_matches_the_teacher() -> None:
    teacher = {"a": torch.tensor([[2.0, 0.0, -1.0]]), "b": torch.tensor([[0.5, 0.1]])}
    assert float(distillation_loss(teacher, teacher, 2.0)) == pytest.approx(0.0, abs=1e-6)
    student = {"a": torch.tensor([[0.0, 2.0, -1.0]], requires_grad=True), "b": torch.tensor([[0.5, 0.1]])}
    loss = distillation_loss(student, teacher, 2.0)
    assert loss.item() > 0
    loss.backward()
    assert student["a"].grad is not None and student["a"].grad[0, 0] < 0 < student["a"].grad[0, 1]  # toward it


def test_a_student_with_alpha_one_learns_the_teacher_not_the_labels() -> None:
    data = make_synthetic(300, seed=0)
    # A "teacher" that always says class 0, whatever the labels say.
    teacher = {t.name: torch.tensor([[6.0] + [0.0] * (t.num_classes - 1)]).expand(300, -1) for t in data.spec.tasks}
    student = TrainConfig(model=ModelConfig(hidden_dim=8), max_epochs=3, batch_size=64, lr=1e-2, distill_alpha=1.0)
    import dataclasses

    last = fit(student, dataclasses.replace(data, teacher=teacher), lambda m, s: None)
    plain = fit(dataclasses.replace(student, distill_alpha=0.0), data, lambda m, s: None)
    assert last["val/mean_acc"] < plain["val/mean_acc"]  # it followed the teacher's (wrong) answers


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"train": {"distill_alpha": 0.7}},
            "train.distill_alpha: applies only with a distill: section naming a teacher",
        ),
        ({"distill": {"teacher": {"fusoin": "concat"}}}, "distill.teacher: unknown key 'fusoin'; allowed: fusion,"),
        ({"distill": {"teacher": "no/such/sweep"}}, "'no/such/sweep' is not a sweep folder (no spec.yaml)"),
    ],
)
def test_a_distill_mistake_is_one_line(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_spec({**TINY, **changes}, "s.yaml")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_distillation_sweep_trains_its_teacher_once_and_reports_it(
    ray_session: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tiny_spec(
        name="students",
        distill={"teacher": {"fusion": "transformer", "fusion_layers": 2, "hidden_dim": 16}, "epochs": 2},
        parameters={
            "fusion": {"type": "choice", "values": ["concat", "gated"]},
            "distill_alpha": {"type": "float", "low": 0.2, "high": 0.8},
        },
        budget={**TINY["budget"], "num_samples": 3, "max_epochs": 2},
        confirm={"seeds": 1, "folds": 2},
    )
    sweep = tmp_path / "students"
    run_sweep(spec, sweep, quiet=True)

    logits = torch.load(sweep / "teacher" / "logits.pt", weights_only=True)
    assert {k: tuple(v.shape) for k, v in logits.items()} == {"agree": (400, 2), "grade": (400, 3)}
    rec = recommend(sweep, n_boot=200)
    assert rec.teacher is not None and rec.teacher["params"]["fusion"] == "transformer"
    assert rec.teacher["parameters"] > max(f.parameters or 0 for f in rec.fusions)  # hidden 16 against 8
    markdown = write_report(rec, sweep / "report").path.read_text()
    assert "## Teacher and students" in markdown and "| teacher |" in markdown

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the teacher was trained again")

    monkeypatch.setattr(teacher_module, "train_teacher", refuse)
    data = teacher_module.with_teacher(spec, make_synthetic(400, seed=0), sweep, quiet=True)
    assert torch.equal(data.teacher["agree"], logits["agree"])  # read back, as a resume does
