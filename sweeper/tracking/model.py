"""The final model in MLflow: the PyTorch module (``mlflow.pytorch``), and a pyfunc model that predicts class names
from rows in the dataset's own format, registered in the Model Registry when asked.

    model = mlflow.pyfunc.load_model("models:/fusion-default/1")
    model.predict(rows)                       # a DataFrame with the manifest's columns -> one column per task
    model.predict(rows, params={"root": "data/"})   # image paths relative to data/ (default: the working folder)

The pyfunc model holds the weights, the model's configuration and the row reader (class names, scalers,
tokenizers): no pickled module, so it loads with any sweeper that has the same fusion and encoders. The PyTorch
flavour is a pickled module (MLflow's safer "pt2" cannot trace a model that takes a dict): load it only from a
store you trust.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import torch
from mlflow.models.signature import ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types.schema import ParamSchema, ParamSpec

from sweeper.data.rows import RowReader
from sweeper.train.final import FinalModel

PREDICTOR = "predictor"  # the pyfunc model's name in the run (the one registered)
TORCH_MODEL = "model"  # the mlflow.pytorch model's name in the run
_WEIGHTS, _CONFIG, _ROWS = "weights.pt", "model_config.json", "rows.json"
# The rows' columns differ per dataset and are checked by the row reader; the one parameter is the paths' root.
_SIGNATURE = ModelSignature(inputs=None, params=ParamSchema([ParamSpec("root", "string", ".")]))


class FusionPredictor(PythonModel):
    """Rows in the dataset's format in; for each task its predicted class name and that class's probability."""

    def load_context(self, context: Any) -> None:
        from sweeper.models import build_model
        from sweeper.models.config import ModelConfig

        folder = Path(context.artifacts["bundle"])
        self.reader = RowReader.from_json((folder / _ROWS).read_text())
        config = ModelConfig(**json.loads((folder / _CONFIG).read_text()))
        self.model = build_model(self.reader.spec, config)
        self.model.load_state_dict(torch.load(folder / _WEIGHTS, map_location="cpu", weights_only=True))
        self.model.eval()

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, str] | None = None) -> pd.DataFrame:
        table = model_input if isinstance(model_input, pa.Table) else pa.Table.from_pandas(model_input)
        inputs = self.reader.read(table, Path((params or {}).get("root") or "."))
        with torch.no_grad():
            logits = self.model(inputs)  # task -> (N, C)
        columns: dict[str, list[Any]] = {}
        for task, values in logits.items():
            probability, best = values.float().softmax(-1).max(-1)
            names = self.reader.classes[task]
            columns[task] = [names[i] for i in best.tolist()]
            columns[f"{task}_probability"] = probability.tolist()
        return pd.DataFrame(columns)


@dataclass
class LoggedModel:
    run_id: str
    model_uri: str  # the pyfunc model's URI, loadable with mlflow.pyfunc.load_model
    registered: str | None = None  # models:/<name>/<version> when registered


def log_final_model(
    final: FinalModel,
    reader: RowReader,
    model_config: Any,
    *,
    experiment_id: str,
    run_name: str,
    params: dict[str, Any],
    tags: dict[str, str],
    register: str | None = None,
) -> LoggedModel:
    """One MLflow run holding the final model's parameters, test metrics and both model flavours."""
    import mlflow.pyfunc
    import mlflow.pytorch

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one bar per artifact otherwise
    requirements = [f"torch=={torch.__version__.split('+')[0]}", f"mlflow=={mlflow.__version__}", "pyarrow", "pandas"]
    with _quiet_mlflow(), mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as run:
        mlflow.log_params({k: str(v) for k, v in params.items()})
        for epoch, loss in enumerate(final.train_losses, start=1):
            mlflow.log_metric("train/loss", loss, step=epoch)
        mlflow.log_metrics(final.test_metrics)
        mlflow.log_dict(reader.classes, "classes.json")
        for name, tokenizer in reader.tokenizers.items():
            mlflow.log_text(tokenizer.to_json(), f"tokenizers/{name}.json")
        # "pickle", not MLflow's default "pt2": pt2 traces forward with positional tensors, and the model takes a
        # {modality: tensor} dict (some fusions also route data-dependently, which torch.export refuses).
        mlflow.pytorch.log_model(
            final.model, name=TORCH_MODEL, pip_requirements=requirements, serialization_format="pickle"
        )
        with tempfile.TemporaryDirectory() as folder:
            bundle = Path(folder)
            torch.save(final.model.state_dict(), bundle / _WEIGHTS)
            (bundle / _CONFIG).write_text(json.dumps(dataclasses.asdict(model_config)))
            (bundle / _ROWS).write_text(reader.to_json())
            info = mlflow.pyfunc.log_model(
                name=PREDICTOR,
                python_model=FusionPredictor(),
                artifacts={"bundle": str(bundle)},
                pip_requirements=requirements,
                registered_model_name=register,
                signature=_SIGNATURE,  # MLflow passes predict() only the params its signature declares
            )
    logged = LoggedModel(run.info.run_id, info.model_uri)
    if register:
        logged.registered = f"models:/{register}/{info.registered_model_version}"
    return logged


@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """Without MLflow's advice that does not apply here: an input example (rows differ per dataset), and
    cloudpickle cautions (the predictor pickles by reference to this module; the PyTorch flavour's pickle is said
    in this module's docstring)."""
    loggers = [logging.getLogger(name) for name in ("mlflow.pytorch", "mlflow.pyfunc")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*input example was not provided", category=UserWarning)
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)
