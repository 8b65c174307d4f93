"""Search space -> Optuna define-by-run; searcher, scheduler, resources; run a sweep on Ray Tune.

Importing this package does not import Ray: ``run_sweep`` imports it when a sweep starts.
"""

from sweeper.tune.runner import SweepOutcome, run_sweep
from sweeper.tune.space import define_by_run, sample_configs

__all__ = ["SweepOutcome", "define_by_run", "run_sweep", "sample_configs"]
