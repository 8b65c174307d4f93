"""The ``data`` section of a sweep spec: choosing a scenario, and sizes only where the scenario takes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sweeper.data.synthetic import scenario_names
from sweeper.errors import ConfigError
from sweeper.spec import DataSection, build_dataset, parse_spec

DEMO: dict[str, Any] = yaml.safe_load((Path(__file__).resolve().parents[2] / "search_spaces" / "demo.yaml").read_text())


def _spec_error(**data: Any) -> str:
    with pytest.raises(ConfigError) as info:
        parse_spec({**DEMO, "data": {**DEMO["data"], **data}}, "demo.yaml")
    message = str(info.value)
    assert "\n" not in message
    return message


def test_scenario_defaults_to_default_and_keeps_the_old_fields() -> None:
    section = DataSection()
    assert section.scenario == "default"
    assert (section.n_samples, section.image_size, section.signal_length) == (3000, 16, 64)
    assert parse_spec(DEMO).data.scenario == "default"


def test_unknown_scenario_is_a_one_line_error_listing_the_known_ones() -> None:
    message = _spec_error(scenario="wnd")
    assert message == f"demo.yaml: data.scenario: unknown scenario 'wnd'; known: {', '.join(scenario_names())}"


def test_a_size_the_scenario_does_not_take_is_an_error() -> None:
    message = _spec_error(scenario="eeg_audio", signal_length=32)
    assert "signal_length=32" in message and "'eeg_audio'" in message and "fixed" in message
    message = _spec_error(scenario="wound", signal_length=32)
    assert "it takes: image_size" in message
    assert DataSection(scenario="wound", image_size=12).image_size == 12


@pytest.mark.parametrize("scenario", ["eeg_audio", "radiology", "rare_disease_3d"])
def test_build_dataset_builds_the_named_scenario(scenario: str) -> None:
    section = parse_spec({**DEMO, "data": {"scenario": scenario, "n_samples": 80, "seed": 1}}).data
    data = build_dataset(section)
    assert len(data.targets[data.spec.task_names[0]]) == 80
    first = {"eeg_audio": "eeg", "radiology": "scan", "rare_disease_3d": "volume"}[scenario]
    assert data.spec.modality_names[0] == first


def test_build_dataset_passes_image_size_to_a_scenario_that_takes_it() -> None:
    data = build_dataset(DataSection(scenario="radiology", n_samples=80, image_size=12, label_noise=0.0))
    assert data.inputs["scan"].shape == (80, 1, 12, 12)


@pytest.mark.parametrize("scenario", scenario_names())
def test_a_dumped_spec_validates_again_for_every_scenario(scenario: str) -> None:
    # A sweep's spec.yaml is the dumped spec; resume and confirm read it back.
    section = DataSection(scenario=scenario)
    assert DataSection.model_validate(section.model_dump(mode="json")) == section
