"""Image encoder from any timm model, by name (``model: resnet50``, or with a weights tag: ``resnet50.a1_in1k``).

timm builds the model for the image's channels (pretrained weights of a first convolution made for RGB are
adapted to the channels given) with no classifier, so it returns pooled features. Convolutional models take images
of any size; a vision transformer takes the size it was built for.
"""

from __future__ import annotations

import difflib
from typing import Any

from torch import nn

from sweeper.errors import ConfigError
from sweeper.models.encoders import ENCODERS
from sweeper.models.encoders._backbone import BackboneEncoder, import_package
from sweeper.models.encoders._weights import hub_file, url_file


@ENCODERS.register(
    "timm",
    "any timm model by name (model), pooled features projected (depth); pretrained weights from the local cache, "
    "freeze, lr_factor; needs timm",
)
class TimmEncoder(BackboneEncoder):
    kind = "image"
    requires = ("timm",)

    def __init__(
        self,
        input_shape: tuple[int, ...],
        output_dim: int,
        *,
        model: str = "resnet18",
        pretrained: bool = False,
        freeze: bool = False,
        lr_factor: float = 1.0,
        depth: int = 1,
    ) -> None:
        super().__init__(
            input_shape, output_dim, model=model, pretrained=pretrained, freeze=freeze, lr_factor=lr_factor, depth=depth
        )

    def build_backbone(self, model: str, pretrained: bool) -> tuple[nn.Module, int]:
        timm = import_package(self.name, "timm")
        check_model_name(timm, model)
        overlay = {"file": self.weights_file(timm, model)} if pretrained else None
        net = timm.create_model(
            model, pretrained=pretrained, pretrained_cfg_overlay=overlay, num_classes=0, in_chans=self.input_shape[0]
        )
        # Most models return num_features; a few (MobileNetV3) widen the pooled features in a head layer first.
        return net, getattr(net, "head_hidden_size", None) or net.num_features

    def weights_file(self, timm: Any, model: str) -> str:
        """The local file of ``model``'s pretrained weights (see ``_weights``)."""
        cfg = timm.models.get_pretrained_cfg(model)
        weights = f"timm model {model!r}"
        if cfg is not None and cfg.hf_hub_id:
            filenames = [cfg.hf_hub_filename] if cfg.hf_hub_filename else ["model.safetensors", "pytorch_model.bin"]
            return hub_file(self.name, weights, cfg.hf_hub_id, filenames)
        if cfg is not None and cfg.url:
            return url_file(self.name, weights, cfg.url)
        raise ConfigError(f"encoder 'timm': timm model {model!r} has no pretrained weights; use pretrained: false")


def check_model_name(timm: Any, model: str) -> None:
    """Raise a one-line ConfigError unless timm has ``model`` (and, if the name has a tag, weights of that tag)."""
    arch, _, tag = model.partition(".")
    names: list[str] = timm.list_models()
    if arch not in names:
        close = difflib.get_close_matches(arch, names, n=5, cutoff=0.5)
        raise ConfigError(
            f"encoder 'timm': unknown timm model {arch!r}; close matches: {', '.join(close) or 'none'} "
            f"(timm.list_models() lists all {len(names)})"
        )
    tagged: list[str] = timm.list_pretrained(f"{arch}.*")
    if tag and model not in tagged:
        raise ConfigError(
            f"encoder 'timm': timm model {arch!r} has no weights tagged {tag!r}; its tags: "
            f"{', '.join(t.partition('.')[2] for t in tagged) or 'none'}"
        )
