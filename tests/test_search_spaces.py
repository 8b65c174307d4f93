"""Every ready-made search space under search_spaces/ validates, fits its data, and runs a short real sweep."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweeper.recommend import recommend
from sweeper.spec import build_dataset, load_spec
from sweeper.tracking import read_trials
from sweeper.tune import run_sweep, sample_configs

SPACES = sorted((Path(__file__).resolve().parent.parent / "search_spaces").glob("*.yaml"))


@pytest.mark.parametrize("path", SPACES, ids=[p.stem for p in SPACES])
def test_space_validates_and_fits_its_data(path: Path) -> None:
    spec = load_spec(path)
    assert spec.name == path.stem, "a space's name is its file name, so sweeps/<name> is easy to find"
    data = build_dataset(spec.data)
    spec.check_dataset(data.spec)
    for config in sample_configs(spec, 20, seed=1):  # every sampled configuration builds a valid trial config
        spec.trial_config(config)


@pytest.mark.parametrize("path", SPACES, ids=[p.stem for p in SPACES])
def test_space_runs_a_short_sweep(ray_session: None, tmp_path: Path, path: Path) -> None:
    spec = load_spec(path)
    small = {
        "data": spec.data.model_copy(update={"n_samples": 300}),
        "budget": spec.budget.model_copy(
            update={"num_samples": 3, "max_epochs": 2, "grace_period": 1, "max_concurrent": 2}
        ),
        # One seed on the fixed validation split: the confirmation stage runs; its statistics are tested elsewhere.
        "confirm": spec.confirm.model_copy(update={"seeds": 1, "folds": None, "small_val": 0}),
    }
    spec = spec.model_copy(update=small)
    run_sweep(spec, tmp_path / spec.name, quiet=True)
    trials = read_trials(tmp_path / spec.name).to_pylist()
    assert all(t["status"] != "failed" for t in trials), [t["error"] for t in trials]
    assert sum(t["stage"] == "search" for t in trials) == 3
    rec = recommend(tmp_path / spec.name)
    assert rec.confirmed and rec.default_fusion is not None
