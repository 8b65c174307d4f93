"""Encoders, one family per modality kind, registered under their YAML name (``encoders: {image: cnn2d}``)."""

from __future__ import annotations

from sweeper.models.encoders._base import Encoder
from sweeper.registry import Registry

ENCODERS: Registry[Encoder] = Registry("encoder")

# The encoder used for a modality kind when the config names none.
DEFAULT_ENCODERS: dict[str, str] = {
    "image": "cnn2d",
    "volume": "cnn3d",
    "tabular": "mlp",
    "signal": "cnn1d",
    "text": "text_transformer",
    "features": "projection",
}

# Imported for their registration side effect; they need ENCODERS above. liquid (ltc, cfc) and spiking are
# optional plug-ins that register only when their package is installed (pip install 'sweeper[plugins]'). timm and
# monai are always registered and import their package only when built (a one-line error says how to install it).
from sweeper.models.encoders import liquid, spiking  # noqa: E402, F401
from sweeper.models.encoders.features import ProjectionEncoder  # noqa: E402
from sweeper.models.encoders.image import CNN2dEncoder  # noqa: E402
from sweeper.models.encoders.image_backbone import TimmEncoder  # noqa: E402
from sweeper.models.encoders.signal import CNN1dEncoder  # noqa: E402
from sweeper.models.encoders.tabular import MLPEncoder  # noqa: E402
from sweeper.models.encoders.text import TextTransformerEncoder  # noqa: E402
from sweeper.models.encoders.volume import CNN3dEncoder  # noqa: E402
from sweeper.models.encoders.volume_backbone import MonaiEncoder  # noqa: E402

__all__ = [
    "DEFAULT_ENCODERS",
    "ENCODERS",
    "CNN1dEncoder",
    "CNN2dEncoder",
    "CNN3dEncoder",
    "Encoder",
    "MLPEncoder",
    "MonaiEncoder",
    "ProjectionEncoder",
    "TextTransformerEncoder",
    "TimmEncoder",
]
