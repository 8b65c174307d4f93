"""``sweeper train``: from a sweep's recommendation, or a spec, to one trained model logged in MLflow.

The configuration is the sweep's recommended one (``sweeper export``'s), or a spec's fixed values; ``--set`` changes
any value. The model trains on train + val at the spec's full epoch budget with one seed, is scored on test, and is
logged with its row reader (class names, scalers, tokenizers) as an MLflow pyfunc model that predicts class names
from rows in the dataset's format; ``register`` puts it in the Model Registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sweeper.errors import ConfigError, SweepError
from sweeper.params import ChoiceParam, FixedParam


@dataclass
class TrainRequest:
    target: Path  # a sweep folder or a spec file
    sets: dict[str, Any]  # --set overrides
    register: str | None = None
    tracking_uri: str | None = None
    sweeps_dir: Path = Path("sweeps")  # a spec's model is logged in <sweeps_dir>/<name>'s store by default


@dataclass
class TrainOutcome:
    params: dict[str, Any]
    test_metrics: dict[str, float]
    run_id: str
    model_uri: str
    registered: str | None
    tracking_uri: str


def parse_sets(items: list[str]) -> dict[str, Any]:
    """``["lr=0.001", "fusion=gated"]`` -> ``{"lr": 0.001, "fusion": "gated"}`` (values read as YAML scalars)."""
    sets: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r} is not key=value; expected e.g. --set lr=0.001 or --set fusion=gated")
        sets[key.strip()] = _scalar(text)
    return sets


def _scalar(text: str) -> Any:
    """A YAML scalar, where 1e-3 is a number too (YAML 1.1 wants 1.0e-3)."""
    value = yaml.safe_load(text) if text.strip() else None
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def chosen_params(spec: Any, sets: dict[str, Any]) -> dict[str, Any]:
    """One value per parameter: fixed ones and one-value choices, overridden by ``sets``; a parameter whose ``when``
    does not hold is left out. A searched parameter with no value in ``sets`` is an error naming it."""
    from sweeper.spec import MODEL_KEYS, TRAIN_KEYS

    allowed = sorted({*spec.parameters, *MODEL_KEYS, *TRAIN_KEYS} - {"max_epochs", "objective", "model"})
    unknown = [k for k in sets if k not in allowed]
    if unknown:
        raise ConfigError(f"--set {unknown[0]}: unknown key; known: {', '.join(allowed)}")
    params: dict[str, Any] = {}
    for name, p in spec.parameters.items():
        if name in sets:
            continue
        if isinstance(p, FixedParam):
            params[name] = p.value
        elif isinstance(p, ChoiceParam) and len(p.values) == 1:
            params[name] = p.values[0]
        elif not p.when:
            raise ConfigError(
                f"parameters.{name} is searched ({_searched(p)}); give the value to train with: --set {name}=VALUE"
            )
    params |= sets
    for name, p in spec.parameters.items():  # conditions are checked on the final values
        if p.when and any(params.get(k) not in values for k, values in p.when.items()):
            params.pop(name, None)
        elif p.when and name not in params:
            raise ConfigError(f"parameters.{name} is searched ({_searched(p)}); give it with --set {name}=VALUE")
    return params


def _searched(p: Any) -> str:
    return ", ".join(map(str, p.values)) if isinstance(p, ChoiceParam) else f"{p.low} to {p.high}"


def train_model(request: TrainRequest) -> TrainOutcome:
    """Train, score and log the requested configuration (see the module's docstring)."""
    from sweeper.recommend.export import exported_spec
    from sweeper.recommend.rank import read_spec
    from sweeper.spec import load_spec, parse_spec
    from sweeper.sweep_folder import default_tracking_uri, read_tracking
    from sweeper.tracking.mlflow_tracker import check_tracking_uri

    target = request.target
    if target.is_dir():
        spec = parse_spec(exported_spec(target), f"the recommended configuration of {target}")
        folder, experiment = target, str(read_spec(target).get("name") or target.name)
        tracking_uri = request.tracking_uri or read_tracking(target).get("tracking_uri") or default_tracking_uri(target)
    elif target.is_file():
        spec = load_spec(target)
        folder, experiment = request.sweeps_dir / spec.name, spec.name
        folder.mkdir(parents=True, exist_ok=True)
        tracking_uri = request.tracking_uri or default_tracking_uri(folder)
    else:
        raise SweepError(f"{str(target)!r} is neither a sweep folder nor a spec file; expected e.g. sweeps/demo")
    tracking_uri = check_tracking_uri(tracking_uri)
    params = chosen_params(spec, {"seed": spec.confirm.first_seed} | request.sets)
    config = spec.trial_config(params)  # every value checked before any data is read
    import mlflow
    import torch
    from mlflow.tracking import MlflowClient

    from sweeper.data.manifest.section import ManifestSection
    from sweeper.data.rows import RowReader
    from sweeper.spec import build_dataset
    from sweeper.tracking.model import log_final_model
    from sweeper.tracking.sync import run_name, sweep_experiment
    from sweeper.train.final import train_final
    from sweeper.tune.teacher import with_teacher

    data = build_dataset(spec.data)
    spec.check_dataset(data.spec)
    data = with_teacher(spec, data, folder, quiet=False)
    device = "cuda" if spec.resources.gpu > 0 and torch.cuda.is_available() else "cpu"
    final = train_final(config, data, device)
    reader = RowReader.for_dataset(data, spec.data if isinstance(spec.data, ManifestSection) else None)

    mlflow.set_tracking_uri(tracking_uri)
    experiment_id = sweep_experiment(MlflowClient(tracking_uri), folder, experiment, tracking_uri)
    tags = {"sweeper.stage": "final", "sweeper.source": str(target)}
    logged = log_final_model(
        final,
        reader,
        config.model,
        experiment_id=experiment_id,
        run_name=f"final-{run_name(params)}",
        params=params,
        tags=tags,
        register=request.register,
    )
    return TrainOutcome(params, final.test_metrics, logged.run_id, logged.model_uri, logged.registered, tracking_uri)
