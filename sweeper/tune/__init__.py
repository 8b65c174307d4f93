"""Search space -> Optuna define-by-run; searcher, scheduler, resources; run a sweep on Ray Tune.

Importing this package imports none of its modules until a name is used; ``run_sweep`` imports Ray when a sweep
starts, and ``sample_configs`` (``sweeper check``) needs Optuna only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sweeper._lazy import lazy_exports

if TYPE_CHECKING:
    from sweeper.tune.runner import SweepOutcome, run_sweep
    from sweeper.tune.space import define_by_run, sample_configs

__all__ = ["SweepOutcome", "define_by_run", "run_sweep", "sample_configs"]
__getattr__, __dir__ = lazy_exports(__name__, __file__)
