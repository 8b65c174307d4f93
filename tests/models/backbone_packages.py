"""The optional packages of the backbone encoders, for their tests: a test skips where one does not import, naming
it; under CI (CI=true), which installs the dev extra, a package of that extra must import, so there it fails.

timm is not in the dev extra. It needs torchvision, and the only torchvision the package registry has for torch
2.13.0 is the CUDA build: with the CPU torch that CI installs, its compiled ops do not load and ``import torchvision``
raises, which also breaks torchmetrics (it imports torchvision when it is installed), and so sweeper. The timm tests
therefore run where timm and a matching torchvision are installed, and skip, naming why, everywhere else.
"""

from __future__ import annotations

import importlib
import os

import pytest

IN_DEV_EXTRA = {"monai", "huggingface_hub"}


def require(*packages: str) -> None:
    for package in packages:
        try:
            importlib.import_module(package)
        except (ImportError, RuntimeError) as exc:  # RuntimeError: torchvision built for another torch (timm)
            reason = f"needs {package}, which does not import here ({type(exc).__name__}: {exc})"
            if os.environ.get("CI") == "true" and package in IN_DEV_EXTRA:
                pytest.fail(f"{reason}; CI installs it with the dev extra")
            pytest.skip(reason)
