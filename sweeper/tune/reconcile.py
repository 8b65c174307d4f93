"""Bring Tune's saved search state into line with its experiment state before a stage is resumed.

Tune saves an experiment checkpoint as three files: the experiment state (every trial and its status), the search
generator's state (how many trials it created, and ConcurrencyLimiter's live trials) and the searcher's state
(Optuna's trials by Ray trial id). It writes them to a staging folder, then a background thread copies that folder
to the storage path file by file, in parallel. A driver killed during that copy leaves the three files from
different checkpoints, and Tune restores each as it finds it. A resume could then create one trial too few (the
generator counted a trial that the experiment state never saved: the trial and its Optuna twin are lost), one too
many, or never tell Optuna how a trial ended (the limiter ignores the end of a trial it does not hold live).

The experiment state is the truth: it lists the trials that exist. ``align_generator`` rewrites the generator's
state to match it before Tune restores; ``PruningAwareOptunaSearch.restore_from_dir`` aligns the searcher with it.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from sweeper.tune.storage import SweepStorage

STATE_PREFIX = "experiment_state-"
GENERATOR_PREFIX = "search_gen_state-"
ENDED = ("TERMINATED", "ERROR")  # Tune's statuses of trials it will not run again


@dataclass(frozen=True)
class SavedTrial:
    """One trial as Tune's experiment state holds it."""

    status: str
    last_result: dict[str, Any]

    @property
    def ended(self) -> bool:
        return self.status in ENDED


def saved_trials(state_json: str) -> dict[str, SavedTrial]:
    """The trials of a Tune experiment state file's text, by trial id, in the order Tune created them."""
    trials = {}
    for trial_json, metadata_json in json.loads(state_json)["trial_data"]:
        trial, metadata = json.loads(trial_json), json.loads(metadata_json)
        trials[trial["trial_id"]] = SavedTrial(trial["status"], metadata.get("last_result") or {})
    return trials


def align_generator(storage: SweepStorage, experiment: str) -> bool:
    """Make the newest search generator state agree with the newest experiment state; True if it had to change.

    Its trial counter becomes the number of saved trials (so the stage ends with exactly ``num_samples``), and the
    concurrency limiter holds live exactly the saved trials that have not ended.
    """
    import ray.cloudpickle as cloudpickle

    states, generators = storage.names(STATE_PREFIX, experiment), storage.names(GENERATOR_PREFIX, experiment)
    if not states or not generators:
        return False
    trials = saved_trials(storage.read_text(experiment, max(states)))  # the files Tune restores from: newest name
    with storage.fs.open_input_stream(storage.path(experiment, max(generators))) as stream:
        generator = cloudpickle.loads(stream.read())
    live = {trial_id for trial_id, trial in trials.items() if not trial.ended}
    limiter = generator.get("name:ConcurrencyLimiter")
    if generator["counter"] == len(trials) and (limiter is None or limiter["live_trials"] == live):
        return False
    generator["counter"] = len(trials)
    if limiter is not None:
        limiter["live_trials"], limiter["num_unfinished_live_trials"] = live, len(live)
    buffer = io.BytesIO()
    cloudpickle.dump(generator, buffer)
    with storage.fs.open_output_stream(storage.path(experiment, max(generators))) as stream:
        stream.write(buffer.getvalue())
    return True
