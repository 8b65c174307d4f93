"""``sweeper export``: the recommended configuration of a sweep as a standalone spec, runnable and editable.

The spec keeps the sweep's data, model, train, objective and resources sections; its parameters are the recommended
configuration's values, all fixed; its budget is one trial at the full epoch budget; its confirmation re-trains that
one configuration with the sweep's seeds. ``sweeper run`` runs it as is; a person can edit any value first.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

from sweeper.errors import SweepError
from sweeper.recommend.rank import Recommendation, read_spec, recommend


def exported_spec(sweep_dir: Path, rec: Recommendation | None = None) -> dict[str, Any]:
    """The standalone spec of ``sweep_dir``'s recommended configuration (validated)."""
    from sweeper.spec import parse_spec

    rec = rec or recommend(sweep_dir, n_boot=500)
    chosen = next((f for f in rec.fusions if f.fusion == rec.default_fusion), None)
    if chosen is None:
        raise SweepError(f"sweep {str(sweep_dir)!r} has no recommended configuration to export: {rec.decided_by}")
    spec = read_spec(sweep_dir)
    parameters = {**chosen.params, "fusion": chosen.fusion}
    exported = {
        **{k: v for k, v in spec.items() if k not in ("parameters", "budget", "name", "description")},
        "name": f"{spec.get('name', sweep_dir.name)}-recommended",
        "description": f"the configuration `sweeper recommend` named for sweep {spec.get('name')}: {rec.decided_by}",
        "parameters": dict(sorted(parameters.items())),
        "budget": {**spec.get("budget", {}), "num_samples": 1},
    }
    parse_spec(exported, "the exported spec")  # what `sweeper run` will accept
    return exported


def write_exported_spec(sweep_dir: Path, output: Path | None = None) -> Path:
    """Write the exported spec (default ``<sweep>/recommended.yaml``); return where."""
    path = output or Path(sweep_dir) / "recommended.yaml"
    spec = exported_spec(Path(sweep_dir))
    header = (
        f"# Exported from sweep {sweep_dir} by `sweeper export`; run it with `sweeper run {shlex.quote(str(path))}`.\n"
    )
    path.write_text(header + yaml.safe_dump(spec, sort_keys=False))
    return path
