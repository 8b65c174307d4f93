"""The backbone encoders: timm (any timm model) and monai (MONAI's 3-D ResNets), with pretrained weights from the
local cache, freeze and lr_factor.

No weights can be downloaded here, so the pretrained tests first take the offline error, then put a checkpoint in
the upstream format (MedicalNet's, timm's safetensors) exactly where that error says, and load it from there.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from backbone_packages import require
from torch import nn

from sweeper.data import make_synthetic
from sweeper.errors import ConfigError
from sweeper.models import ModelConfig, build_model
from sweeper.models.encoders import ENCODERS
from sweeper.testing import NO_CONFIRM, tiny_spec
from sweeper.train import TrainConfig, fit
from sweeper.train.optim import build_optimizer, parameter_groups

VOLUME = (2, 8, 12, 10)  # (C, D, H, W)


@pytest.fixture
def monai() -> None:
    require("monai")


@pytest.fixture
def timm() -> None:
    require("timm")


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty hub cache and no connection to the hub: the state of a machine that has never downloaded weights."""
    require("huggingface_hub")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return tmp_path / "hub"


def _where_to_put(error: pytest.ExceptionInfo[ConfigError], cache: Path) -> Path:
    message = str(error.value)
    assert "\n" not in message
    path = Path(re.search(r" at (\S+)$", message)[1])  # type: ignore[index]
    assert path.is_relative_to(cache) and path.name in message.split(" at ")[-2]
    return path


# --- monai -------------------------------------------------------------------------------------------------------


def _medicalnet_resnet10(seed: int) -> nn.Module:
    """A one-channel MONAI resnet10 as MedicalNet trained it (shortcut B, no downsample bias, no classifier)."""
    from monai.networks.nets import resnet10

    torch.manual_seed(seed)
    return resnet10(spatial_dims=3, n_input_channels=1, shortcut_type="B", bias_downsample=False, feed_forward=False)


@pytest.mark.usefixtures("monai")
def test_monai_pretrained_weights_load_from_the_file_the_offline_error_names(offline_hub: Path) -> None:
    with pytest.raises(ConfigError, match=r"^encoder 'monai': no pretrained weights for MONAI resnet10 in the local"):
        ENCODERS.create("monai", VOLUME, 8, pretrained=True)
    with pytest.raises(ConfigError) as error:
        ENCODERS.create("monai", VOLUME, 8, pretrained=True)
    path = _where_to_put(error, offline_hub)
    assert path.name == "resnet_10_23dataset.pth" and "hub repo TencentMedicalNet/MedicalNet-Resnet10" in str(
        error.value
    )

    reference = _medicalnet_resnet10(seed=1)
    path.parent.mkdir(parents=True)
    torch.save({"state_dict": {f"module.{k}": v for k, v in reference.state_dict().items()}}, path)

    one = ENCODERS.create("monai", (1, *VOLUME[1:]), 8, pretrained=True)
    for key, value in reference.state_dict().items():
        assert torch.equal(one.backbone.net.state_dict()[key], value), key
    two = ENCODERS.create("monai", VOLUME, 8, pretrained=True)
    conv1 = two.backbone.net.state_dict()["conv1.weight"]  # (64, 2, 7, 7, 7), spread over the two channels
    assert conv1.shape[1] == 2 and torch.allclose(conv1.sum(dim=1), reference.state_dict()["conv1.weight"][:, 0])
    assert torch.equal(
        two.backbone.net.state_dict()["layer4.0.conv2.weight"], reference.state_dict()["layer4.0.conv2.weight"]
    )
    scratch = ENCODERS.create("monai", VOLUME, 8)
    assert not torch.equal(
        scratch.backbone.net.state_dict()["layer4.0.conv2.weight"], reference.state_dict()["layer4.0.conv2.weight"]
    )


@pytest.mark.usefixtures("monai")
def test_monai_weights_of_another_network_are_one_line(offline_hub: Path) -> None:
    from monai.networks.nets import resnet18

    path = offline_hub / "models--TencentMedicalNet--MedicalNet-Resnet10" / "snapshots" / "main" / "resnet_10.pth"
    path.parent.mkdir(parents=True)
    torch.save({"state_dict": resnet18(spatial_dims=3, n_input_channels=1, feed_forward=False).state_dict()}, path)
    with pytest.raises(ConfigError, match=rf"^encoder 'monai': {re.escape(str(path))} does not hold MedicalNet "):
        ENCODERS.create("monai", VOLUME, 8, pretrained=True)


@pytest.mark.usefixtures("monai")
def test_monai_options_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"^encoder 'monai': unknown model 'resnet11'; known: resnet10, resnet18, "):
        ENCODERS.create("monai", VOLUME, 8, model="resnet11")
    with pytest.raises(
        ConfigError, match=r"^encoder 'monai': lr_factor must be a finite number > 0, but got lr_factor=0"
    ):
        ENCODERS.create("monai", VOLUME, 8, lr_factor=0.0)
    with pytest.raises(ConfigError, match=r"^stem_stride must be an integer >= 1, but got stem_stride=0$"):
        ENCODERS.create("monai", VOLUME, 8, stem_stride=0)
    strided = ENCODERS.create("monai", VOLUME, 8, stem_stride=2)
    assert strided(torch.randn(2, *VOLUME)).shape == (2, 8)


def _train_steps(encoder: nn.Module, steps: int = 2) -> None:
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(parameter_groups([encoder], lr=1e-2))
    encoder.train()
    for _ in range(steps):
        optimizer.zero_grad()
        encoder(torch.randn(4, *VOLUME)).square().mean().backward()
        optimizer.step()


@pytest.mark.usefixtures("monai")
@pytest.mark.parametrize("freeze", [True, False])
def test_a_frozen_backbone_keeps_its_weights_and_statistics_while_the_projection_learns(freeze: bool) -> None:
    torch.manual_seed(0)
    encoder = ENCODERS.create("monai", VOLUME, 8, freeze=freeze, stem_stride=2)
    backbone = {k: v.clone() for k, v in encoder.backbone.state_dict().items()}
    projection = {k: v.clone() for k, v in encoder.project.state_dict().items()}
    _train_steps(encoder)
    after = encoder.backbone.state_dict()
    unchanged = [k for k, v in backbone.items() if torch.equal(after[k], v)]
    # BatchNorm running statistics included: a frozen backbone stays in eval mode even under encoder.train().
    assert (len(unchanged) == len(backbone)) is freeze
    assert encoder.backbone.training is not freeze and encoder.project.training
    assert all(not torch.equal(encoder.project.state_dict()[k], v) for k, v in projection.items())
    trainable = sum(p.numel() for p in encoder.project.parameters())
    assert (encoder.num_parameters() == trainable) is freeze
    x = torch.randn(2, *VOLUME, requires_grad=True)
    encoder(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # the gradient still reaches the input


def test_parameter_groups_give_each_lr_factor_its_rate_and_leave_frozen_parameters_out() -> None:
    slow, frozen, plain = nn.Linear(3, 3), nn.Linear(3, 3), nn.Linear(3, 3)
    slow.lr_factor = 0.1
    frozen.requires_grad_(False)
    groups = parameter_groups([nn.Sequential(slow, frozen, plain), nn.Linear(2, 2)], lr=0.01)
    assert [(g["lr"], g["lr_factor"], len(g["params"])) for g in groups] == [
        (0.01, 1.0, 4),
        (pytest.approx(1e-3), 0.1, 2),
    ]
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in slow.parameters()}
    assert not {id(p) for p in frozen.parameters()} & {id(p) for g in groups for p in g["params"]}
    assert parameter_groups([nn.Linear(2, 2)], lr=0.01)[0]["lr"] == 0.01  # no factor: one group


@pytest.mark.usefixtures("monai")
@pytest.mark.parametrize("encoder", [{"lr_factor": 0.1}, {"freeze": True}], ids=["lr_factor", "freeze"])
def test_training_with_a_monai_backbone_honours_lr_factor_and_freeze(encoder: dict[str, Any]) -> None:
    data = make_synthetic(64, scenario="rare_disease_3d", seed=0)
    model = ModelConfig(hidden_dim=8, encoders={"volume": {"name": "monai", "stem_stride": 2, **encoder}})
    config = TrainConfig(model=model, batch_size=32, max_epochs=2, lr=1e-2, schedule="cosine")
    torch.manual_seed(config.seed)
    initial = build_model(data.spec, model).state_dict()  # fit builds the same model from the same seed
    reports: list[dict[str, Any]] = []
    fit(config, data, lambda metrics, state: reports.append({"metrics": metrics, **state}))

    assert len(reports) == 2 and all(torch.isfinite(torch.tensor(r["metrics"]["val/loss"])) for r in reports)
    final = reports[-1]["model"]
    backbone = [k for k in initial if k.startswith("encoders._volume.backbone.")]
    assert backbone and any(k.endswith("running_mean") for k in backbone)
    changed = [k for k in backbone if not torch.equal(final[k], initial[k])]
    lrs = [[g["lr"] for g in r["optimizer"]["param_groups"]] for r in reports]
    if "freeze" in encoder:
        assert not changed and all(len(epoch) == 1 for epoch in lrs)
    else:  # the backbone learns at a tenth of the rate, through the cosine schedule
        assert changed and all(slow == pytest.approx(0.1 * base) for base, slow in lrs)
        assert lrs[1][0] < lrs[0][0]


def test_a_missing_package_is_one_line_naming_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "monai.networks.nets.resnet", None)  # None in sys.modules: the import fails
    with pytest.raises(
        ConfigError, match=r"^encoder 'monai' needs monai, which is not installed: pip install 'sweeper\[backbones\]'$"
    ):
        ENCODERS.create("monai", VOLUME, 8)
    monkeypatch.setitem(sys.modules, "timm", None)
    with pytest.raises(ConfigError) as error:
        ENCODERS.create("timm", (3, 32, 32), 8)
    major, minor, patch = (int(v) for v in re.findall(r"\d+", torch.__version__)[:3])
    assert (
        str(error.value).startswith(
            f"encoder 'timm' needs timm, which is not installed: pip install timm torchvision==0.{minor + 15}.{patch}, "
            f"the torchvision of torch {torch.__version__}"
        )
        and major == 2
        and "\n" not in str(error.value)
    )


@pytest.mark.slow  # a fresh Python process
def test_listing_the_encoders_imports_neither_backbone_package() -> None:
    code = (
        "import sys\n"
        "from sweeper.catalog import catalog\n"
        "rows = {r['name']: r for r in catalog()['encoders']}\n"
        "assert rows['timm']['kind'] == 'image' and rows['monai']['kind'] == 'volume', rows\n"
        "assert rows['timm']['hyperparameters']['model'] == 'resnet18'\n"
        "assert rows['monai']['hyperparameters']['lr_factor'] == 1.0\n"
        "print(sorted(m for m in ('timm', 'monai', 'torchvision', 'huggingface_hub') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_a_spec_naming_an_unknown_monai_model_fails_on_its_data_in_one_line() -> None:
    require("monai")
    spec = tiny_spec(
        data={"scenario": "rare_disease_3d", "n_samples": 80, "seed": 0},
        model={"hidden_dim": 8, "encoders": {"volume": {"name": "monai", "model": "resnet11"}}},
    )
    with pytest.raises(ConfigError, match=r"^encoder 'monai': unknown model 'resnet11'; known: resnet10, "):
        spec.check_dataset(make_synthetic(80, scenario="rare_disease_3d", seed=0).spec)


def test_a_short_sweep_with_a_monai_backbone(ray_session: None, tmp_path: Path) -> None:
    require("monai")
    from sweeper.tracking import read_trials
    from sweeper.tune import run_sweep

    spec = tiny_spec(
        name="monai",
        data={"scenario": "rare_disease_3d", "n_samples": 120, "seed": 0},
        model={"hidden_dim": 8, "encoders": {"volume": {"name": "monai", "lr_factor": 0.1, "stem_stride": 2}}},
        parameters={"fusion": {"type": "choice", "values": ["concat", "gated"]}},
        budget={"num_samples": 2, "max_epochs": 2, "grace_period": 2, "max_concurrent": 1},
        confirm=NO_CONFIRM,
    )
    run_sweep(spec, tmp_path / "monai", quiet=True)
    trials = read_trials(tmp_path / "monai").to_pylist()
    assert len(trials) == 2 and {t["status"] for t in trials} == {"completed"}
    # resnet10 alone has 14.4 million parameters: the trials trained the MONAI backbone, not cnn3d.
    assert all(t["model/parameters"] > 14e6 for t in trials)


# --- timm --------------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("timm")
def test_timm_unknown_names_and_tags_suggest_what_exists() -> None:
    with pytest.raises(ConfigError, match=r"^encoder 'timm': unknown timm model 'resnet5'; close matches: resnet50"):
        ENCODERS.create("timm", (3, 32, 32), 8, model="resnet5")
    with pytest.raises(
        ConfigError, match=r"^encoder 'timm': timm model 'resnet18' has no weights tagged 'zz'; its tags: .*a1_in1k"
    ):
        ENCODERS.create("timm", (3, 32, 32), 8, model="resnet18.zz")


@pytest.mark.usefixtures("timm")
def test_timm_pretrained_weights_load_from_the_file_the_offline_error_names(offline_hub: Path) -> None:
    import timm
    from safetensors.torch import save_file

    with pytest.raises(ConfigError) as error:
        ENCODERS.create("timm", (3, 32, 32), 8, model="test_resnet", pretrained=True)
    path = _where_to_put(error, offline_hub)
    assert path.name == "model.safetensors" and "hub repo timm/test_resnet.r160_in1k" in str(error.value)

    torch.manual_seed(1)
    reference = timm.create_model("test_resnet").state_dict()  # as published: RGB, with its 1000-class classifier
    path.parent.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in reference.items()}, str(path))
    encoder = ENCODERS.create("timm", (3, 32, 32), 8, model="test_resnet", pretrained=True, freeze=True)
    loaded = encoder.backbone.net.state_dict()
    assert all(torch.equal(loaded[k], reference[k]) for k in loaded) and "fc.weight" not in loaded
    gray = ENCODERS.create("timm", (1, 32, 32), 8, model="test_resnet", pretrained=True)
    stem = next(k for k in reference if k.endswith("weight") and reference[k].dim() == 4)
    assert gray.backbone.net.state_dict()[stem].shape[1] == 1  # timm adapted the RGB stem to one channel
    assert encoder.num_parameters() == sum(p.numel() for p in encoder.project.parameters())


@pytest.mark.usefixtures("timm")
def test_timm_features_are_the_pooled_width_even_where_a_head_layer_widens_them() -> None:
    encoder = ENCODERS.create("timm", (2, 40, 36), 8, model="mobilenetv3_small_050", depth=2)
    assert encoder.project[0].in_features == 1024  # MobileNetV3's head conv, not its 288 num_features
    assert encoder(torch.randn(3, 2, 40, 36)).shape == (3, 8)
    model = ModelConfig(hidden_dim=8, encoders={"image": {"name": "timm", "model": "test_resnet", "lr_factor": 0.5}})
    built = build_model(make_synthetic(60, seed=0).spec, model)
    groups = parameter_groups([built], lr=0.01)
    assert [g["lr_factor"] for g in groups] == [1.0, 0.5]
    assert build_optimizer(groups, TrainConfig(model=model)).param_groups[1]["lr"] == pytest.approx(0.005)
