"""The typed sweep spec, loaded from YAML and validated with pydantic.

Unknown keys are errors everywhere. Every problem becomes one ``ConfigError`` line naming the file, the key, the
value given and what is allowed. ``SweepSpec.trial_config`` turns one sampled set of hyperparameters into the
``TrainConfig`` a trial trains with.

The configurations live with their owners: ``ModelConfig`` in ``sweeper.models.config``, ``TrainConfig`` (which
holds a ModelConfig) in ``sweeper.train.config``, a manifest's data section in ``sweeper.data.manifest.section``;
this module holds the sweep spec that fills them from YAML. Checking a spec imports no torch: registry names and
hyperparameters come from ``sweeper.names``. What only the data can tell (``check_dataset``) builds encoders and
losses, so it needs the dataset, and torch, loaded.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import Field, TypeAdapter, ValidationError, field_validator, model_serializer, model_validator

from sweeper.data.manifest import section as manifest_section
from sweeper.data.manifest.section import ManifestSection, resolve_paths
from sweeper.errors import ConfigError, RegistryError
from sweeper.models.config import ModelConfig, check_fusion_name, fusion_options
from sweeper.names import registry
from sweeper.params import ChoiceParam, FixedParam, Param, Scalar
from sweeper.schema import StrictModel, Union, first_error, parse_mapping
from sweeper.train.config import TrainConfig

if TYPE_CHECKING:
    from sweeper.data.dataset import DatasetSpec, MultimodalDataset

# A fusion's own hyperparameters (sketch_dim, conditioner, gate, ...) are written like model keys; they reach the
# fusion through ModelConfig.fusion_options.
FUSION_OPTIONS = tuple(sorted(fusion_options()))
# YAML names kept for fields renamed in the code: `head` is ModelConfig.task_head (`heads` are attention heads).
MODEL_ALIASES = {"head": "task_head"}
MODEL_KEYS = (
    tuple(f.name for f in dataclasses.fields(ModelConfig) if f.name != "fusion_options")
    + tuple(MODEL_ALIASES)
    + FUSION_OPTIONS
)
TRAIN_KEYS = tuple(
    f.name for f in dataclasses.fields(TrainConfig) if f.name not in ("model", "objective", "max_epochs")
)
# Hyperparameters a search space may name: the scalar fields of ModelConfig and TrainConfig (mappings such as
# encoders or task_losses are set in the model/train sections).
SEARCHABLE = (
    tuple(
        f.name
        for cls in (ModelConfig, TrainConfig)
        for f in dataclasses.fields(cls)
        if f.name in MODEL_KEYS + TRAIN_KEYS and f.default_factory is dataclasses.MISSING
    )
    + tuple(MODEL_ALIASES)
    + FUSION_OPTIONS
)


class DataSection(StrictModel):
    source: Literal["synthetic"] = "synthetic"  # the built-in generator (sweeper.data.synthetic)
    scenario: str = "default"  # which built-in scenario: default, rare_disease, eeg_audio, four_modal, wound, ...
    n_samples: int = Field(3000, ge=60)
    # Sizes, used by the scenarios that take them; naming one a scenario does not take is an error.
    image_size: int = Field(16, ge=4)  # side of every 2-D image
    signal_length: int = Field(64, ge=8)  # samples per signal channel ('default' scenario only)
    label_noise: float = Field(0.05, ge=0, le=1)  # fraction of each task's labels redrawn at random
    seed: int = 0

    @field_validator("scenario")
    @classmethod
    def _known_scenario(cls, value: str) -> str:
        scenarios = registry("SCENARIOS")
        if value not in scenarios:
            raise ValueError(f"unknown scenario {value!r}; known: {', '.join(scenarios.names())}")
        return value

    @model_validator(mode="after")
    def _sizes_fit_the_scenario(self) -> DataSection:
        takes = _scenario_sizes(self.scenario)
        for name in ("image_size", "signal_length"):
            if name in self.model_fields_set and name not in takes:
                allowed = f"; it takes: {', '.join(takes)}" if takes else ", whose shapes are fixed"
                given = f"{name}={getattr(self, name)}"
                raise ValueError(f"{given} does not apply to scenario {self.scenario!r}{allowed}")
        return self

    @model_serializer(mode="wrap")
    def _without_sizes_it_does_not_take(self, handler: Any) -> Any:
        """A dumped spec (a sweep's spec.yaml) must validate again: sizes the scenario ignores are left out."""
        data = handler(self)
        takes = _scenario_sizes(self.scenario)
        return {k: v for k, v in data.items() if k not in ("image_size", "signal_length") or k in takes}


def _scenario_sizes(scenario: str) -> dict[str, Any]:
    """What ``sweeper.data.synthetic.scenario_sizes`` says of a known scenario, read without importing torch."""
    return dict(registry("SCENARIOS").get(scenario).hyperparameters)


class ObjectiveSection(StrictModel):
    metric: str = "val/mean_macro_f1"  # any reported val metric, e.g. val/agree/auroc
    mode: Literal["max", "min"] = "max"

    @field_validator("metric")
    @classmethod
    def _validation_only(cls, value: str) -> str:
        if not value.startswith("val/"):
            raise ValueError(
                f"the objective must be a validation metric (val/...), but got {value!r}; "
                "test metrics are reported, never used to choose"
            )
        return value

    @model_validator(mode="after")
    def _direction_fits_the_metric(self) -> ObjectiveSection:
        natural = "min" if self.metric.endswith("loss") else "max"
        if self.mode != natural:
            raise ValueError(f"mode {self.mode!r} does not fit metric {self.metric!r}; expected mode: {natural}")
        return self


class ConfirmSection(StrictModel):
    """The confirmation stage: the best configuration of every fusion family re-trained at full budget, k seeds."""

    enabled: bool = True  # off: the sweep ends after the search (`sweeper confirm` can run it later)
    seeds: int = Field(5, ge=1)  # training seeds per configuration (model initialisation and batch order)
    per_fusion: int = Field(1, ge=1)  # configurations confirmed per fusion family, best first
    # Stratified k-fold cross-validation over train+val, times the seeds; test is never touched. None = automatic:
    # 5 folds when the validation split has fewer than `small_val` samples, else the fixed validation split.
    folds: int | None = Field(None, ge=2)
    small_val: int = Field(500, ge=0)  # below this many validation samples, automatic folds become 5
    first_seed: int = Field(1000, ge=0)  # seeds are first_seed, first_seed + 1, ...; apart from the search's seed


class DistillSection(StrictModel):
    """Teacher/student distillation: a teacher is trained once per sweep (or taken from a finished sweep), its logits
    go to every trial with the data, and every trial is a student that also learns the teacher's soft targets
    (``distill_alpha``, ``distill_temperature``: train keys, searchable like any parameter)."""

    # The teacher's hyperparameters, written as a trial's parameters (fusion, fusion_layers, heads, hidden_dim, lr,
    # ...; the spec's model and train sections fill the rest), or a finished sweep's folder: its recommended one.
    teacher: dict[str, Scalar] | str
    epochs: int | None = Field(None, ge=1)  # the teacher's training epochs; default: budget.max_epochs

    @field_validator("teacher")
    @classmethod
    def _a_sweep_folder(cls, value: dict[str, Scalar] | str) -> dict[str, Scalar] | str:
        if isinstance(value, str):
            folder = Path(value).expanduser().resolve()  # kept absolute: a resume may run from elsewhere
            if not (folder / "spec.yaml").is_file():
                raise ValueError(f"{value!r} is not a sweep folder (no spec.yaml); expected a finished sweep's folder")
            return str(folder)
        return value


class FailureSection(StrictModel):
    """What happens when a trial's worker process or node dies."""

    # Times a trial is restarted from its last checkpoint after its worker died (Ray Tune's FailureConfig). A
    # mistake in the configuration (a diverging learning rate, a bad hyperparameter) is never retried.
    max_retries: int = Field(2, ge=0)


class BudgetSection(StrictModel):
    num_samples: int = Field(12, ge=1)  # trials Optuna proposes
    max_epochs: int = Field(6, ge=1)  # full budget of a trial; ASHA's max_t
    grace_period: int = Field(2, ge=1)  # epochs every trial gets before ASHA may stop it
    reduction_factor: float = Field(2, gt=1)  # ASHA keeps 1/reduction_factor of trials at each rung
    max_concurrent: int = Field(2, ge=1)  # trials running at once
    seed: int = 0  # Optuna sampler seed
    # A trial hands its results and a checkpoint to Ray Tune at ASHA's milestones and its last epoch, and otherwise
    # once this many seconds have passed since it last did (0: every epoch). Each hand-over holds the trial ~30 ms
    # while the driver takes it; the epochs in between still reach Parquet and MLflow, one by one, with the next.
    report_every_s: float = Field(5.0, ge=0)
    # Wall-clock limit of the search, from its start: no trial starts after it, and the trials running then finish
    # (as Optuna's `timeout`); the search then ends with the trials it ran, and the confirmation follows.
    timeout_s: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _grace_within_budget(self) -> BudgetSection:
        if self.grace_period > self.max_epochs:
            raise ValueError(f"grace_period={self.grace_period} exceeds max_epochs={self.max_epochs}")
        return self


class ResourcesSection(StrictModel):
    cpu: float = Field(1, gt=0)  # CPUs per trial
    gpu: float = Field(0, ge=0)  # GPUs per trial; a fraction such as 0.25 packs trials onto one GPU


_SWEEP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class SweepSpec(StrictModel):
    name: str  # becomes a folder under --sweeps-dir and the MLflow experiment's name
    description: str = ""
    data: Annotated[DataSection | ManifestSection, Field(discriminator="source")] = DataSection()
    model: dict[str, Any] = Field(default_factory=dict)  # defaults for ModelConfig fields
    train: dict[str, Any] = Field(default_factory=dict)  # defaults for TrainConfig fields
    objective: ObjectiveSection = ObjectiveSection()
    parameters: dict[str, Param]
    budget: BudgetSection = BudgetSection()
    confirm: ConfirmSection = ConfirmSection()
    resources: ResourcesSection = ResourcesSection()
    failure: FailureSection = FailureSection()
    distill: DistillSection | None = None

    @field_validator("name")
    @classmethod
    def _folder_name(cls, value: str) -> str:
        if not _SWEEP_NAME.fullmatch(value):
            raise ValueError(
                f"{value!r} is not allowed; expected letters, digits, '_', '.' or '-', starting with a letter or "
                "digit (it names the sweep's folder)"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _scalars_are_fixed(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("data"), dict) and "source" not in data["data"]:
            # A data section that names a path is a manifest; otherwise the built-in generator.
            data = {**data, "data": {"source": "manifest" if "path" in data["data"] else "synthetic", **data["data"]}}
        if isinstance(data, dict) and isinstance(data.get("parameters"), dict):
            data = dict(data)
            for name, value in data["parameters"].items():
                if isinstance(value, list):
                    raise ValueError(
                        f"parameters.{name}: a list is not a parameter; write {{type: choice, values: {value}}} "
                        "or a single fixed value"
                    )
            data["parameters"] = {
                k: v if isinstance(v, dict) else {"type": "fixed", "value": v} for k, v in data["parameters"].items()
            }
        return data

    @model_validator(mode="after")
    def _consistent(self) -> SweepSpec:
        _check_keys("model", self.model, MODEL_KEYS)
        _check_keys("train", self.train, TRAIN_KEYS)
        if not self.parameters:
            raise ValueError("parameters: a search space needs at least one parameter")
        declared: list[str] = []
        for name, param in self.parameters.items():
            if name not in SEARCHABLE:
                raise ValueError(f"parameters: unknown parameter {name!r}; allowed: {', '.join(SEARCHABLE)}")
            for other, values in (param.when or {}).items():
                if other not in declared:
                    raise ValueError(
                        f"parameters.{name}.when names unknown parameter {other!r}; "
                        f"it must be declared before {name!r}: {', '.join(declared) or 'none'}"
                    )
                if other == "fusion":
                    _check_fusions(f"parameters.{name}.when.fusion", values)
            declared.append(name)
        fusion = self.parameters.get("fusion")
        if isinstance(fusion, ChoiceParam):
            _check_fusions("parameters.fusion.values", fusion.values)
        elif isinstance(fusion, FixedParam):
            _check_fusions("parameters.fusion.value", [fusion.value])
        self._check_fusion_options()
        self._check_distill()
        try:
            self.trial_config(self.default_point())  # type-checks model/train against the dataclasses
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        self._check_every_value()
        return self

    def fusions(self) -> list[str]:
        """The fusion modules this space can build: its fusion values (a hybrid's base fusion too)."""
        names = self._values("fusion") or [str(self.model.get("fusion", "concat"))]
        if "hybrid" in names:
            names += self._values("base_fusion") or [str(self.model.get("base_fusion", "concat"))]
        fusions = registry("FUSIONS")
        return list(dict.fromkeys(fusions.get(n).name for n in names if n in fusions))

    def _values(self, name: str) -> list[str]:
        """The values a choice or fixed parameter can take, as strings; [] when the space does not set it."""
        p = self.parameters.get(name)
        return [
            str(v) for v in (p.values if isinstance(p, ChoiceParam) else [p.value] if isinstance(p, FixedParam) else [])
        ]

    def _check_distill(self) -> None:
        """The teacher's hyperparameters must make a valid trial; the distillation knobs need a teacher."""
        if self.distill is None:
            for key in ("distill_alpha", "distill_temperature"):
                if key in self.parameters or key in self.train:
                    where = "parameters" if key in self.parameters else "train"
                    raise ValueError(f"{where}.{key}: applies only with a distill: section naming a teacher")
            return
        teacher = self.distill.teacher
        if isinstance(teacher, dict):
            unknown = sorted(set(teacher) - set(SEARCHABLE))
            if unknown:
                raise ValueError(f"distill.teacher: unknown key {unknown[0]!r}; allowed: {', '.join(SEARCHABLE)}")
            try:
                self.trial_config(dict(teacher))
            except ConfigError as exc:
                raise ValueError(f"distill.teacher: {exc}") from None

    def _check_fusion_options(self) -> None:
        """A fusion hyperparameter must apply to some fusion of the space (``heads`` is a field of its own)."""
        takers = fusion_options()
        built = self.fusions()
        for where, keys in (("model", self.model), ("parameters", self.parameters)):
            for key in keys:
                if key in takers and not set(takers[key]) & set(built):
                    raise ValueError(
                        f"{where}.{key}: applies to fusion {', '.join(takers[key])}, which this space never "
                        f"builds; its fusions: {', '.join(built) or 'none'}"
                    )

    def _check_every_value(self) -> None:
        """Every value a parameter can take must fit its field (a choice's every value, a range's both ends)."""
        for name, p in self.parameters.items():
            # A conditional parameter is checked where it applies: its `when` parameters at their first allowed value.
            base = {**self.default_point(), **{k: v[0] for k, v in (p.when or {}).items() if v}}
            candidates = (
                p.values if isinstance(p, ChoiceParam) else [p.value] if isinstance(p, FixedParam) else [p.low, p.high]
            )
            for value in candidates:
                try:
                    self.trial_config({**base, name: value})
                except ConfigError as exc:
                    reason = re.sub(r"^[\w.-]+: ", "", str(exc))  # without its "model.key: " location
                    raise ValueError(f"parameters.{name}: value {value!r} does not fit: {reason}") from None

    def default_point(self) -> dict[str, Any]:
        """One valid assignment: each parameter's first value, low end or fixed value (conditions ignored)."""
        point: dict[str, Any] = {}
        for name, p in self.parameters.items():
            point[name] = p.values[0] if isinstance(p, ChoiceParam) else p.value if isinstance(p, FixedParam) else p.low
        return point

    def trial_config(self, params: dict[str, Any]) -> TrainConfig:
        """The TrainConfig for one trial: ``model``/``train`` defaults overridden by the sampled ``params``."""
        model = {**self.model, **{k: v for k, v in params.items() if k in MODEL_KEYS}}
        model = {MODEL_ALIASES.get(k, k): v for k, v in model.items()}
        model["fusion_options"] = {k: model.pop(k) for k in FUSION_OPTIONS if k in model}
        train = {**self.train, **{k: v for k, v in params.items() if k in TRAIN_KEYS}}
        train |= {"max_epochs": self.budget.max_epochs, "objective": self.objective.metric}
        section = "model"
        try:
            model_config = _MODEL_ADAPTER.validate_python(model)
            section = "train"
            config = _TRAIN_ADAPTER.validate_python({**train, "model": model_config})
        except ValidationError as exc:
            raise ConfigError(f"{section}.{_first_error(exc)}") from None
        _check_registry_names(config)
        return config

    def check_dataset(self, dataset: DatasetSpec) -> None:
        """What only the data can tell: the objective is reported, ``only:<modality>`` names a modality, encoders
        and task maps fit it."""
        from sweeper.models.parts import build_encoders, build_fusion
        from sweeper.train.optim import build_loss

        reported = reported_metrics(dataset, "val")
        if self.objective.metric not in reported:
            raise ConfigError(
                f"objective.metric: {self.objective.metric!r} is not reported for this data; "
                f"known: {', '.join(reported)}"
            )
        for value in self._values("fusion"):
            try:
                check_fusion_name(value, dataset)
            except RegistryError as exc:
                raise ConfigError(f"parameters.fusion: {exc}") from None
        config = self.trial_config(self.default_point())
        check_fusion_name(config.model.fusion, dataset)
        build_encoders(dataset, config.model)
        build_loss(dataset, config)
        if "view_aggregation" in self.parameters and not any(m.views for m in dataset.modalities):
            raise ConfigError(
                "parameters.view_aggregation: applies to multi-view modalities, but none of this data's modalities "
                f"({', '.join(dataset.modality_names)}) holds several views per sample"
            )
        n = len(dataset.modalities)
        for name in self.fusions():  # its options (a conditioner's modality name, a gate) before any trial
            factory: Any = registry("FUSIONS").get(name).factory
            if factory.min_modalities <= n <= (factory.max_modalities or n):
                build_fusion(name, dataset.modality_names, config.model)


def reported_metrics(dataset: DatasetSpec, split: str) -> list[str]:
    """The metrics the training loop reports for ``split`` (see ``sweeper.train.metrics.evaluate``)."""
    means = [f"{split}/mean_{m}" for m in ("acc", "macro_f1", "auroc")]
    per_task = [f"{split}/{t}/{m}" for t in dataset.task_names for m in ("loss", "acc", "macro_f1", "auroc")]
    return [*means, f"{split}/loss", *per_task]


_MODEL_ADAPTER = TypeAdapter(ModelConfig)
_TRAIN_ADAPTER = TypeAdapter(TrainConfig)


def _check_keys(section: str, values: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in values:
        if key not in allowed:
            raise ValueError(f"{section}: unknown key {key!r}; allowed: {', '.join(allowed)}")


def _check_fusions(where: str, values: list[Scalar]) -> None:
    for value in values:
        try:
            check_fusion_name(str(value))
        except RegistryError as exc:
            raise ValueError(f"{where}: {exc}") from None


def _check_registry_names(config: TrainConfig) -> None:
    """Names that must be registry keys; a one-line error lists the known ones."""
    try:
        check_fusion_name(config.model.fusion)
        registry("FUSIONS").get(config.model.base_fusion)
        registry("HEADS").get(config.model.task_head)
        registry("VIEW_AGGREGATORS").get(config.model.view_aggregation)
        for loss in (config.loss, *config.task_losses.values()):
            registry("LOSSES").get(loss)
    except RegistryError as exc:
        raise ConfigError(str(exc)) from None
    for key, choice in config.model.encoders.items():  # whether `key` is a modality only the data can tell
        name = choice.get("name") if isinstance(choice, dict) else choice
        try:
            if isinstance(name, str):  # a mapping without 'name' is reported with the modality it configures
                registry("ENCODERS").get(name)
        except RegistryError as exc:
            raise ConfigError(f"model.encoders.{key}: {exc}") from None
    model = config.model
    for fusion in {model.fusion, model.base_fusion if model.fusion == "hybrid" else model.fusion}:
        fusions = registry("FUSIONS")
        defaults = fusions.get(fusion).hyperparameters if fusion in fusions else {}
        heads = model.heads or defaults.get("heads")  # None: the fusion's own default
        if "heads" in defaults and heads and model.hidden_dim % heads:
            raise ConfigError(
                f"model.heads: fusion {fusion!r} needs hidden_dim divisible by heads, but got "
                f"hidden_dim={model.hidden_dim}, heads={heads}"
            )


_UNIONS = (
    Union("type", "parameter type", ("choice", "int", "float", "fixed"), at=("parameters.*",)),
    Union("source", "data source", ("synthetic", "manifest"), at=("data",)),
    *(union.under("data") for union in manifest_section.UNIONS),
)


def _first_error(exc: ValidationError) -> str:
    """The first error of validating a spec (or a trial's model or train section) as one line, "where: what"."""
    loc, message = first_error(exc, _UNIONS, manifest_section.INPUTS)
    return f"{loc}: {message}" if loc else message


def parse_spec(data: Any, source: str = "<spec>") -> SweepSpec:
    """Validate an already-parsed YAML document; every problem is one ConfigError line."""
    return parse_mapping(
        SweepSpec, data, source, _UNIONS, manifest_section.INPUTS, what="a sweep spec must be a YAML mapping"
    )


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep spec file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep spec {str(path)!r} does not exist or is not a file")
    try:
        text = path.read_text()
        data = yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); a sweep spec is a YAML text file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if data is None and all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()):
        raise ConfigError(f"{path}: the file is empty; a sweep spec is a YAML mapping with at least 'parameters'")
    if isinstance(data, dict) and "name" not in data:
        data = {"name": path.stem, **data}  # a spec without a name is named after its file
    spec = parse_spec(data, str(path))
    if isinstance(spec.data, ManifestSection):  # a relative manifest path is relative to the spec file
        spec = spec.model_copy(update={"data": resolve_paths(spec.data, path.parent)})
    return spec


def build_dataset(section: DataSection | ManifestSection) -> MultimodalDataset:
    """The dataset a data section describes: the user's Parquet manifest, or the built-in generator."""
    from sweeper.data.manifest import load_manifest
    from sweeper.data.synthetic import make_synthetic, scenario_sizes

    if isinstance(section, ManifestSection):
        return load_manifest(section)
    takes = scenario_sizes(section.scenario)
    sizes = {name: getattr(section, name) for name in ("image_size", "signal_length") if name in takes}
    return make_synthetic(
        section.n_samples,
        scenario=section.scenario,
        label_noise=section.label_noise,
        seed=section.seed,
        **sizes,
    )
