"""Volume encoder from MONAI's 3-D ResNets (``model: resnet10`` ... ``resnet200``), with MedicalNet's weights.

The networks are built with MedicalNet's shortcut type for their depth, so ``pretrained: true`` loads those weights
and ``pretrained: false`` trains the same architecture from scratch. The first convolution (7 x 7 x 7, 64 channels)
keeps MONAI's stride 1 unless ``stem_stride`` says otherwise; 2, as MedicalNet trained, costs 8 times less on large
volumes.
MedicalNet read one channel; for a volume of C channels the first convolution's weights are spread evenly over
the C channels, so a constant input gives the same response as before.
"""

from __future__ import annotations

import torch
from torch import nn

from sweeper.errors import ConfigError
from sweeper.models.encoders import ENCODERS
from sweeper.models.encoders._backbone import BackboneEncoder, import_package
from sweeper.models.encoders._weights import hub_file
from sweeper.models.layers import require_positive

# name -> (pooled feature width, MedicalNet's weights file in hub repo TencentMedicalNet/MedicalNet-Resnet<depth>:
# trained on 23 medical datasets up to depth 50, on 8 beyond).
RESNETS: dict[str, tuple[int, str]] = {
    "resnet10": (512, "resnet_10_23dataset.pth"),
    "resnet18": (512, "resnet_18_23dataset.pth"),
    "resnet34": (512, "resnet_34_23dataset.pth"),
    "resnet50": (2048, "resnet_50_23dataset.pth"),
    "resnet101": (2048, "resnet_101.pth"),
    "resnet152": (2048, "resnet_152.pth"),
    "resnet200": (2048, "resnet_200.pth"),
}


@ENCODERS.register(
    "monai",
    "MONAI 3-D ResNet (model: resnet10 ... resnet200, stem_stride), pooled features projected (depth); MedicalNet "
    "weights from the local cache, freeze, lr_factor; needs monai",
)
class MonaiEncoder(BackboneEncoder):
    kind = "volume"
    requires = ("monai",)

    def __init__(
        self,
        input_shape: tuple[int, ...],
        output_dim: int,
        *,
        model: str = "resnet10",
        pretrained: bool = False,
        freeze: bool = False,
        lr_factor: float = 1.0,
        depth: int = 1,
        stem_stride: int = 1,
    ) -> None:
        require_positive("stem_stride", stem_stride)
        self.stem_stride = stem_stride  # set first: the base class's __init__ calls build_backbone, which reads it
        super().__init__(
            input_shape, output_dim, model=model, pretrained=pretrained, freeze=freeze, lr_factor=lr_factor, depth=depth
        )

    def build_backbone(self, model: str, pretrained: bool) -> tuple[nn.Module, int]:
        if model not in RESNETS:
            raise ConfigError(f"encoder 'monai': unknown model {model!r}; known: {', '.join(RESNETS)}")
        resnet = import_package(self.name, "monai.networks.nets.resnet")
        depth = int(model.removeprefix("resnet"))
        bias_downsample, shortcut_type = resnet.get_medicalnet_pretrained_resnet_args(depth)
        net = getattr(resnet, model)(
            spatial_dims=3,
            n_input_channels=self.input_shape[0],
            conv1_t_stride=self.stem_stride,
            shortcut_type=shortcut_type,
            bias_downsample=bias_downsample,
            feed_forward=False,  # no classifier: the network returns its pooled features
        )
        if pretrained:
            self.load_medicalnet(net, model)
        return net, RESNETS[model][0]

    def load_medicalnet(self, net: nn.Module, model: str) -> None:
        """Load MedicalNet's weights for ``model`` from the local cache (downloaded there if missing)."""
        depth = model.removeprefix("resnet")
        filenames = [RESNETS[model][1], f"resnet_{depth}.pth"]
        path = hub_file(self.name, f"MONAI {model}", f"TencentMedicalNet/MedicalNet-Resnet{depth}", filenames)
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        state = {k.removeprefix("module."): v for k, v in checkpoint.get("state_dict", checkpoint).items()}
        conv1 = state.get("conv1.weight")
        if conv1 is not None:
            channels = self.input_shape[0]  # (64, 1, 7, 7, 7) -> (64, C, 7, 7, 7), summing to the same response
            state["conv1.weight"] = conv1.sum(dim=1, keepdim=True).repeat(1, channels, 1, 1, 1) / channels
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:
            first = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
            raise ConfigError(f"encoder 'monai': {path} does not hold MedicalNet {model} weights: {first}") from None
