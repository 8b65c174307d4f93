"""Import torchmetrics without the optional packages it imports eagerly, for nothing sweeper calls.

``import torchmetrics`` imports ``scipy.signal`` (a back-compatibility patch for an audio test package) and
``matplotlib.pyplot`` (plot type aliases) whenever they are installed; sweeper needs both elsewhere, so they are.
That is 1.5 s or more of every trial worker's start, for audio and plotting code sweeper never calls
(Lightning-AI/torchmetrics#3457). While torchmetrics is imported, its availability checks for those two packages
answer "not installed"; afterwards they answer truthfully again. If torchmetrics or lightning_utilities change so
that this no longer applies, torchmetrics is imported as it is.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

SKIPPED = ("scipy", "matplotlib")  # imported eagerly by torchmetrics when installed; used by sweeper elsewhere


@contextlib.contextmanager
def lean_import() -> Iterator[None]:
    """Inside: importing torchmetrics (for the first time) leaves out ``scipy.signal`` and ``matplotlib``."""
    if "torchmetrics" in sys.modules:
        yield
        return
    try:
        from lightning_utilities.core import imports
    except ImportError:
        yield
        return
    real_available, real_bool = imports.package_available, imports.RequirementCache.__bool__

    def package_available(name: str) -> bool:
        return False if name in SKIPPED else bool(real_available(name))

    def requirement_bool(self: Any) -> bool:
        name = str(getattr(self, "requirement", None) or getattr(self, "module", None) or "")
        return False if name in SKIPPED else bool(real_bool(self))

    imports.package_available = package_available  # type: ignore[assignment]
    imports.RequirementCache.__bool__ = requirement_bool  # type: ignore[method-assign]
    try:
        yield
    finally:
        imports.package_available = real_available
        imports.RequirementCache.__bool__ = real_bool  # type: ignore[method-assign]
        torchmetrics = sys.modules.get("torchmetrics")
        if torchmetrics is not None and getattr(torchmetrics, "package_available", None) is package_available:
            setattr(torchmetrics, "package_available", real_available)  # noqa: B010  # it imported the name itself
