"""Check that a sweep folder is whole and consistent: what the kill-and-resume tests and ``benchmarks/chaos.py`` assert.

A sweep is whole when its search holds exactly ``num_samples`` trials (at most that many, where its time limit ended
it) and no confirmation run twice, every trial
has every epoch it reports once in Parquet, and MLflow and Optuna agree with Parquet: one active child run per
trial with one value per epoch, nothing left RUNNING, and each Optuna trial in the state of its Ray trial.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sweeper.sweep_folder import search_timed_out
from sweeper.tracking import TrialStatus, read_epochs, read_trials
from sweeper.tracking.parquet import EPOCHS_DIR, TRIALS_LOG_DIR
from sweeper.tracking.results_log import JOURNAL, PART_GLOB

_OPTUNA_STATE = {"completed": "COMPLETE", "pruned": "PRUNED", "failed": "FAIL", "running": "RUNNING"}


@dataclass
class Audit:
    """Counts of everything that should be zero, and what each one was about."""

    lost_trials: int = 0  # search trials short of num_samples, or trials not ended
    duplicate_trials: int = 0  # search trials beyond num_samples, or a confirmation run (config, seed, fold) twice
    lost_epochs: int = 0  # epochs 1..n a trial reports but Parquet lacks
    duplicate_epochs: int = 0  # a (trial, epoch) row twice in the Parquet files on disk
    mlflow: int = 0  # runs missing, extra, RUNNING, or with an epoch logged twice
    optuna: int = 0  # Optuna trials RUNNING, or in another state than their Ray trial
    details: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(
            (self.lost_trials, self.duplicate_trials, self.lost_epochs, self.duplicate_epochs, self.mlflow, self.optuna)
        )

    def add(self, kind: str, count: int, what: str) -> None:
        if count:
            setattr(self, kind, getattr(self, kind) + count)
            self.details.append(f"{kind} +{count}: {what}")


def audit_sweep(sweep_dir: Path, *, mlflow: bool = True, optuna: bool = True) -> Audit:
    """Audit a finished (or resumed-to-the-end) sweep folder."""
    from sweeper.tune.runner import load_sweep_spec, optuna_url

    sweep_dir = Path(sweep_dir)
    spec = load_sweep_spec(sweep_dir)
    audit = Audit()
    trials = read_trials(sweep_dir).to_pylist()
    search = [t for t in trials if t["stage"] == "search"]
    n = spec.budget.num_samples
    if not search_timed_out(sweep_dir):  # a search its time limit (budget.timeout_s) ended has fewer, as it should
        audit.add("lost_trials", max(0, n - len(search)), f"{len(search)} search trials of {n}")
    audit.add("duplicate_trials", max(0, len(search) - n), f"{len(search)} search trials of {n}")
    runs = Counter((t["source_trial"], t["seed"], t["fold"]) for t in trials if t["stage"] == "confirm")
    audit.add("duplicate_trials", sum(c - 1 for c in runs.values()), "a confirmation run twice")
    open_trials = [t["trial_id"] for t in trials if not TrialStatus(t["status"]).ended]
    audit.add("lost_trials", len(open_trials), f"trials not ended: {open_trials}")

    epochs = read_epochs(sweep_dir).to_pylist()
    have = Counter(e["trial_id"] for e in epochs)
    for t in trials:
        missing = t["epochs"] - have.get(t["trial_id"], 0)
        audit.add("lost_epochs", max(0, missing), f"trial {t['trial_id']} has {have.get(t['trial_id'], 0)} of "
                  f"{t['epochs']} epochs")  # fmt: skip
    raw = _raw_rows(sweep_dir / EPOCHS_DIR, ("trial_id", "epoch"))
    audit.add("duplicate_epochs", sum(c - 1 for c in raw.values()), "(trial, epoch) rows on disk twice")
    raw_trials = _raw_rows(sweep_dir / TRIALS_LOG_DIR, ("trial_id",))
    audit.add("duplicate_trials", sum(c - 1 for c in raw_trials.values()), "trial rows on disk twice")
    if mlflow:
        _audit_mlflow(sweep_dir, spec.objective.metric, trials, audit)
    if optuna:
        discarded = {t["trial_id"] for t in read_trials(sweep_dir, discarded=True).to_pylist()} - {
            t["trial_id"] for t in trials
        }
        _audit_optuna(optuna_url(sweep_dir), spec.name, search, discarded, audit)
    return audit


def _raw_rows(folder: Path, key: tuple[str, ...]) -> Counter:
    """Every key as stored in the Parquet parts and the journal, without the readers' deduplication."""
    import json

    import pyarrow.parquet as pq

    counts: Counter = Counter()
    for part in sorted(folder.glob(PART_GLOB)):
        table = pq.read_table(part, columns=list(key))
        counts.update(zip(*(table[k].to_pylist() for k in key), strict=True))
    if (folder / JOURNAL).is_file():
        for line in (folder / JOURNAL).read_text().splitlines():
            row = json.loads(line)
            counts[tuple(row[k] for k in key)] += 1
    return counts


def _audit_mlflow(sweep_dir: Path, objective: str, trials: list[dict[str, Any]], audit: Audit) -> None:
    from mlflow.tracking import MlflowClient

    from sweeper.sweep_folder import read_tracking

    saved = read_tracking(sweep_dir)
    client = MlflowClient(saved["tracking_uri"])
    parent = client.get_run(saved["parent_run_id"])
    query = f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    runs = client.search_runs([parent.info.experiment_id], query, max_results=5000)
    by_trial = Counter(r.data.tags.get("sweeper.trial_id") for r in runs)
    ids = {t["trial_id"] for t in trials}
    audit.add("mlflow", len(ids - set(by_trial)), f"trials without a run: {sorted(ids - set(by_trial))}")
    audit.add("mlflow", len(set(by_trial) - ids), f"runs of no trial: {sorted(set(by_trial) - ids)}")  # type: ignore[type-var]
    audit.add("mlflow", sum(c - 1 for c in by_trial.values()), "a trial with two runs")
    running = [r.info.run_id for r in runs if r.info.status == "RUNNING"]
    audit.add("mlflow", len(running) + (parent.info.status == "RUNNING"), f"RUNNING runs: {running}")
    for run in runs:
        steps = Counter(m.step for m in client.get_metric_history(run.info.run_id, objective))
        audit.add("mlflow", sum(c - 1 for c in steps.values()), f"run {run.info.run_id} logged an epoch twice")


def _audit_optuna(
    storage: str, study_name: str, search: list[dict[str, Any]], discarded: set[str], audit: Audit
) -> None:
    """Each Optuna trial in the state of its Ray trial; none RUNNING.

    A trial with no Ray trial is FAIL (closed by a resume), or any finished state if its Ray trial was discarded:
    it ran to its end after Tune last saved, and Optuna keeps what it learned from it.
    """
    import optuna

    study = optuna.load_study(study_name=study_name, storage=storage)
    status = {t["trial_id"]: t["status"] for t in search}
    for trial in study.trials:
        trial_id = trial.user_attrs.get("trial_id")
        if trial.state.name == "RUNNING":
            audit.add("optuna", 1, f"Optuna trial {trial.number} ({trial_id}) RUNNING")
        elif trial_id in status and _OPTUNA_STATE.get(status[trial_id]) != trial.state.name:
            audit.add("optuna", 1, f"Optuna trial {trial.number}: {trial.state.name}, Ray trial {status[trial_id]}")
        elif trial_id not in status and trial_id not in discarded and trial.state.name != "FAIL":
            audit.add("optuna", 1, f"Optuna trial {trial.number} ({trial_id}): {trial.state.name}, no Ray trial")
