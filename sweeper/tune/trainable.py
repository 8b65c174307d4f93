"""The function Ray Tune runs for each trial: it adapts the pure PyTorch ``fit`` to Ray's report/checkpoint API.

A search trial's config is the sampled hyperparameters. A confirmation run's config is ``{"confirm": run}``, where
``run`` holds the configuration to re-train (``params``), its ``seed`` and, for cross-validation, ``fold`` of
``folds``; it also writes its per-sample predictions next to its final checkpoint.

Tune's function API holds a trial at each report until the driver has handled it (~30 ms with its checkpoint). So a
trial reports at once only the epochs a decision waits on (ASHA's milestones, and the last epoch); the others ride
along with the next report (``EARLIER_EPOCHS_KEY``), unless ``budget.report_every_s`` has passed since the last
one. ASHA therefore counts epochs (``result["epoch"]``), not Tune's ``training_iteration``, which counts reports.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from sweeper.data import MultimodalDataset
from sweeper.data.folds import with_fold
from sweeper.errors import SweeperError
from sweeper.spec import SweepSpec
from sweeper.tracking.predictions import PREDICTIONS_FILE, predictions_table, write_predictions
from sweeper.train import TrainState, fit
from sweeper.tune.scheduler import decision_epochs

STATE_FILE = "state.pt"
CONFIRM_KEY = "confirm"
# A mistake in the trial's configuration (e.g. a diverging learning rate) is reported under this key, not raised: Tune
# retries every exception (FailureConfig), and retrying a deterministic mistake only repeats it.
USER_ERROR_KEY = "sweeper_error"
# The metrics of the epochs a result stands for before its own (each a dict, oldest first): see report_every_s.
EARLIER_EPOCHS_KEY = "sweeper_earlier_epochs"
# Where the trial ran, reported with every epoch (Tune adds `node_ip` and `hostname` itself): a retried trial may move.
NODE_ID_KEY, DEVICE_KEY = "node_id", "device"


def reported_epochs(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The epochs a Tune result stands for, oldest first: those it held back, then its own unless it reports a
    mistake (``USER_ERROR_KEY``, which carries no epoch)."""
    own = [] if USER_ERROR_KEY in result else [result]
    return [*result.get(EARLIER_EPOCHS_KEY, []), *own]


def train_trial(config: dict[str, Any], *, data: MultimodalDataset, spec: SweepSpec) -> None:
    """Train one configuration; report its epochs to Tune with a checkpoint, resume from Tune's checkpoint."""
    from ray import tune

    torch.set_num_threads(max(1, int(spec.resources.cpu)))  # two trials on two cores must not both take both
    device = "cuda" if spec.resources.gpu > 0 else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        # Ray gave this trial a GPU, but this node's torch cannot use one: training on its CPU instead would be
        # silently slow, and its timings would be compared with GPU trials'.
        import ray

        node = ray.get_runtime_context().get_node_id()[:8]
        built = f"torch {torch.__version__}" + ("" if torch.backends.cuda.is_built() else ", built without CUDA")
        message = f"resources.gpu={spec.resources.gpu:g}, but node {node} has no usable CUDA device ({built})"
        tune.report({spec.objective.metric: float("nan"), USER_ERROR_KEY: f"SweepError: {message}"})
        return
    run = config.get(CONFIRM_KEY)
    params = config
    if run is not None:
        params = {**run["params"], "seed": run["seed"]}
        if run.get("folds"):
            data = with_fold(data, run["fold"], run["folds"], seed=run["seed"])
    resume = None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        # Read in place, not through as_directory(): see TrackerBridge.on_checkpoint.
        with checkpoint.filesystem.open_input_file(f"{checkpoint.path}/{STATE_FILE}") as state:
            resume = torch.load(state, map_location="cpu", weights_only=False)

    import ray

    where = {NODE_ID_KEY: ray.get_runtime_context().get_node_id(), DEVICE_KEY: device}

    # Each hand-over to Tune holds the trial until the driver has taken it, so epochs that no decision waits on
    # are sent with the next one that does (or once report_every_s has passed), with its checkpoint.
    decisions = {spec.budget.max_epochs} if run is not None else decision_epochs(spec.budget)
    held: list[dict[str, float]] = []
    last_sent = time.monotonic()

    def with_held(result: dict[str, Any]) -> dict[str, Any]:
        return {**result, EARLIER_EPOCHS_KEY: list(held)} if held else result

    def report(metrics: dict[str, float], state: TrainState) -> None:
        nonlocal last_sent
        if int(metrics["epoch"]) not in decisions and time.monotonic() - last_sent < spec.budget.report_every_s:
            held.append(dict(metrics))
            return
        outputs = state.pop("predictions", None)
        with tempfile.TemporaryDirectory() as folder:
            torch.save(state, Path(folder) / STATE_FILE)
            if outputs is not None:
                write_predictions(predictions_table(outputs), Path(folder) / PREDICTIONS_FILE)
            tune.report(with_held({**metrics, **where}), checkpoint=tune.Checkpoint.from_directory(folder))
        held.clear()
        last_sent = time.monotonic()

    trial, confirm = spec.trial_config(params), run is not None
    try:
        fit(trial, data.to(device), report, resume=resume, device=device, predictions=confirm)
    except SweeperError as exc:
        # The objective (NaN) keeps Tune's strict metric check quiet; the tracker bridge records the trial as failed.
        error = {spec.objective.metric: float("nan"), USER_ERROR_KEY: f"{type(exc).__name__}: {exc}"}
        tune.report(with_held(error))  # with the epochs it trained first


def ray_trainable(spec: SweepSpec, data: MultimodalDataset) -> Any:
    """``train_trial`` with the dataset in Ray's object store once, and the spec's resources per trial."""
    from ray import tune

    return tune.with_resources(
        tune.with_parameters(train_trial, data=data, spec=spec),
        {"cpu": spec.resources.cpu, "gpu": spec.resources.gpu},
    )


def run_config(name: str, sweep_dir: Path, bridge: Any, max_retries: int, *more_callbacks: Any) -> Any:
    """Tune's run settings for one stage: its experiment folder in the sweep's storage, the trackers (and
    ``more_callbacks``), one checkpoint, and ``max_retries`` restarts from that checkpoint of a trial whose worker
    died."""
    from ray import tune

    from sweeper.tune.storage import sweep_storage

    storage = sweep_storage(sweep_dir)  # the sweep folder, or <--storage>/<sweep name>
    return tune.RunConfig(
        name=name,
        storage_path=storage.root,
        storage_filesystem=storage.fs,
        callbacks=[bridge, *more_callbacks],
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
        failure_config=tune.FailureConfig(max_failures=max_retries),
        verbose=0,
    )
