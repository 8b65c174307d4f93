"""Pretrained weights from the local cache, downloaded where they are missing; where that fails too (an offline
machine), a one-line ConfigError says exactly where to put the file.

timm's and MONAI's weights live in hub repos (``timm/resnet18.a1_in1k``, ``TencentMedicalNet/MedicalNet-Resnet10``),
which huggingface_hub caches under its HF_HUB_CACHE folder as ``models--<owner>--<name>/snapshots/<revision>/<file>``;
a file put under the revision folder ``main`` is found with no other bookkeeping. A few older timm weights are plain
URLs, which torch.hub caches as ``<torch hub dir>/checkpoints/<file>``. On a Ray cluster every node reads its own
cache, so the file must be on each node (or in a shared HF_HUB_CACHE).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

import torch

from sweeper.errors import ConfigError
from sweeper.models.encoders._backbone import import_package


def hub_file(encoder: str, weights: str, repo: str, filenames: Sequence[str]) -> str:
    """The local path of the first of ``filenames`` in hub repo ``repo``: from the cache, else downloaded.

    ``weights`` says whose weights they are, for the message ("timm model 'resnet18'").
    """
    hub = import_package(encoder, "huggingface_hub")
    from huggingface_hub.errors import LocalEntryNotFoundError

    cache = hub.constants.HF_HUB_CACHE  # read now, not at import: HF_HOME or HF_HUB_CACHE may point elsewhere
    for name in filenames:
        cached = hub.try_to_load_from_cache(repo, name, cache_dir=cache)
        if isinstance(cached, str):
            return cached
    error: Exception | None = None
    for name in filenames:  # a repo may hold only one of them
        try:
            return str(hub.hf_hub_download(repo, name, cache_dir=cache))
        except LocalEntryNotFoundError as exc:  # no connection: the other names will not come either
            error = exc
            break
        except Exception as exc:  # the hub's many errors (missing file, gated repo, HTTP): all end in the same advice
            error = exc
    where = Path(cache) / f"models--{repo.replace('/', '--')}" / "snapshots" / "main" / filenames[0]
    raise ConfigError(
        f"encoder {encoder!r}: no pretrained weights for {weights} in the local cache, and they could not be "
        f"downloaded ({type(error).__name__}); put the file {filenames[0]} of hub repo {repo} at {where}"
    )


def url_file(encoder: str, weights: str, url: str) -> str:
    """The local path of the file at ``url`` in torch.hub's cache, downloaded there if it is missing."""
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(url, str(path), progress=False)
        except Exception as exc:  # offline: URLError; the message is the same for every cause
            raise ConfigError(
                f"encoder {encoder!r}: no pretrained weights for {weights} in the local cache, and they could not "
                f"be downloaded ({type(exc).__name__}); put the file {path.name} at {path}"
            ) from None
    return str(path)
