"""``sweeper.names`` reads the registries from the source; it must agree with the live registries on every entry."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sweeper import names
from sweeper.data.synthetic._base import SCENARIOS
from sweeper.models import ENCODERS, FUSIONS, HEADS, STRATEGIES
from sweeper.models.views import VIEW_AGGREGATORS
from sweeper.registry import Registry
from sweeper.train import LOSSES

LIVE = {
    "ENCODERS": ENCODERS,
    "FUSIONS": FUSIONS,
    "HEADS": HEADS,
    "LOSSES": LOSSES,
    "SCENARIOS": SCENARIOS,
    "STRATEGIES": STRATEGIES,
    "VIEW_AGGREGATORS": VIEW_AGGREGATORS,
}


def _facts(registry: Registry[object]) -> list[tuple[object, ...]]:
    return [(e.name, e.description, e.aliases, e.argument, e.hyperparameters) for e in registry]


@pytest.mark.parametrize("variable", sorted(LIVE))
def test_the_source_declares_what_the_live_registry_holds(variable: str) -> None:
    live = LIVE[variable]
    declared = names.declared(variable)
    assert declared.kind == live.kind
    assert _facts(declared) == _facts(live)
    assert names.registry(variable) is live  # imported: the live one answers, runtime registrations included


def test_every_registry_in_the_package_is_read() -> None:
    assert sorted(names._declarations().kinds) == sorted(LIVE)


def test_a_declared_entry_builds_by_importing_its_module() -> None:
    assert names.declared("HEADS").create("linear", 4, 3).out_features == 3
    assert names.declared("FUSIONS").get("gated").factory.resolve() is FUSIONS.get("gated").factory


@pytest.mark.slow
def test_reading_the_names_imports_no_torch() -> None:
    code = (
        "import sys\nfrom sweeper import names\nprint(len(names.registry('FUSIONS').names()), 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(len(FUSIONS.names())), "False"]


@pytest.mark.slow
def test_a_fusion_registered_from_python_counts_once_the_registry_is_imported() -> None:
    code = (
        "from sweeper.models.fusion import FUSIONS\n"
        "from sweeper.models.fusion.concat import ConcatFusion\n"
        "FUSIONS.register('my_concat', 'a user plug-in')(type('MyConcat', (ConcatFusion,), {}))\n"
        "from sweeper.spec import parse_spec\n"
        "spec = parse_spec({'name': 'x', 'parameters': {'fusion': {'type': 'choice', 'values': ['my_concat']}}})\n"
        "print(spec.fusions())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "['my_concat']", out.stderr
