"""The cluster configurations a user applies (cluster/), checked without a cloud, a Kubernetes cluster or Docker.

The launcher YAML is validated as `ray up` validates it. No package this project installs ships KubeRay's CRD
schemas, so the KubeRay manifests and the Dockerfile are checked for what sweeper relies on: the Ray version, the
image, GPUs on the workers, token auth from one Secret, the shared sweep folder, and an entrypoint our CLI parses.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "cluster"
KUBERAY = CLUSTER / "kuberay"
RAY_VERSION = version("ray")
SWEEPS = "/mnt/sweeps"  # the shared sweep folder on every node
GPU_INSTANCE = re.compile(r"^(g|p)\d")  # AWS's GPU instance families: g5.xlarge, p4d.24xlarge, ...


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, comments dropped and continued lines joined."""
    lines = [line for line in (CLUSTER / "Dockerfile").read_text().splitlines() if not line.lstrip().startswith("#")]
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    return [(ins.upper(), args.strip()) for ins, _, args in (line.strip().partition(" ") for line in text.splitlines())]


def _from_image() -> str:
    froms = [args for ins, args in _dockerfile() if ins == "FROM"]
    assert len(froms) == 1, f"cluster/Dockerfile should have one FROM, got {froms}"
    return froms[0]


def _built_image() -> str:
    """The tag that the build command in cluster/Dockerfile's header and in cluster/README.md gives the image."""
    build = r"docker build -f cluster/Dockerfile -t (\S+) \."
    tags = {re.findall(build, (CLUSTER / name).read_text())[0] for name in ("Dockerfile", "README.md")}
    assert len(tags) == 1, f"cluster/Dockerfile and cluster/README.md build different images: {tags}"
    return tags.pop()


def _torch_pin() -> str:
    """The torch the README's quick start installs; the cluster installs the same."""
    found = re.search(r"torch==[0-9][\w.]*", (ROOT / "README.md").read_text())
    assert found, "README.md pins no torch"
    return found.group(0)


def _parse_sweeper(argv: list[str]) -> dict[str, Any]:
    """Parse a `sweeper ...` command line with our CLI's own parser, without running it; its parameters."""
    import typer

    from sweeper.cli import app

    assert argv[0] == "sweeper", f"not a sweeper command: {argv}"
    group: Any = typer.main.get_command(app)
    parent = group.context_class(group, info_name="sweeper")
    command = group.get_command(parent, argv[1])
    assert command is not None, f"sweeper has no command {argv[1]!r}"
    with command.make_context(argv[1], argv[2:], parent=parent) as ctx:  # a bad line raises the parser's UsageError
        return dict(ctx.params)


# ---- cluster/Dockerfile


def test_dockerfile_starts_from_the_ray_image_of_the_installed_ray() -> None:
    image = _from_image()
    found = re.fullmatch(r"rayproject/ray:(?P<ray>\d+\.\d+\.\d+)-py3\d+-(gpu|cu\d+)", image)
    assert found, f"FROM {image}: expected rayproject/ray:<ray version>-py3XY-gpu (or -cuXYZ)"
    assert found["ray"] == RAY_VERSION, f"FROM {image}, but the project runs Ray {RAY_VERSION}"


def test_dockerfile_installs_pinned_torch_then_sweeper_from_the_copied_checkout() -> None:
    steps = _dockerfile()
    runs = [(i, args) for i, (ins, args) in enumerate(steps) if ins == "RUN"]
    torch = [i for i, args in runs if re.search(r"\btorch\b", args)]
    assert len(torch) == 1 and _torch_pin() in steps[torch[0]][1], f"torch should be installed once, as {_torch_pin()}"
    copy_at = next(i for i, (ins, args) in enumerate(steps) if ins == "COPY" and args.split()[-2:] == [".", "/app"])
    sweeper = [i for i, args in runs if '"/app[cluster]"' in args]
    assert sweeper, 'cluster/Dockerfile never runs pip install "/app[cluster]"'
    assert torch[0] < copy_at < sweeper[0], "torch must be installed first, then the checkout copied, then sweeper"


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    ignored = (CLUSTER / "Dockerfile.dockerignore").read_text().split()
    assert {".git", ".venv", "sweeps"} <= set(ignored)


# ---- cluster/aws.yaml (Ray's cluster launcher)


def test_launcher_config_matches_the_schema_shipped_with_ray() -> None:
    import jsonschema
    import ray.autoscaler

    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    jsonschema.validate(_yaml(CLUSTER / "aws.yaml"), schema)


def test_launcher_config_passes_the_checks_ray_up_makes_first() -> None:
    # Private Ray API, as `ray up` runs it before it touches the cloud: defaults merged, then validated.
    from ray.autoscaler._private.util import prepare_config, validate_config

    validate_config(prepare_config(copy.deepcopy(_yaml(CLUSTER / "aws.yaml"))))


def test_launcher_has_a_cpu_head_and_gpu_workers_that_scale_from_zero() -> None:
    config = _yaml(CLUSTER / "aws.yaml")
    types = config["available_node_types"]
    head = types[config["head_node_type"]]
    assert not GPU_INSTANCE.match(head["node_config"]["InstanceType"]), "the head should be a CPU instance"
    workers = [t for name, t in types.items() if name != config["head_node_type"]]
    gpu = [t for t in workers if GPU_INSTANCE.match(t["node_config"]["InstanceType"])]
    assert gpu, f"no GPU worker type among {[t['node_config']['InstanceType'] for t in workers]}"
    for node_type in gpu:
        assert node_type["min_workers"] == 0 < node_type["max_workers"], "GPU workers should autoscale from 0"


def test_launcher_keeps_token_auth_on_for_every_node() -> None:
    config = _yaml(CLUSTER / "aws.yaml")
    starts = [c for c in config["head_start_ray_commands"] + config["worker_start_ray_commands"] if "ray start" in c]
    assert len(starts) == 2, starts
    for command in starts:
        assert "RAY_AUTH_MODE=token ray start" in command, command
    assert "--env RAY_AUTH_MODE=token" in config["docker"]["run_options"]
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"  # the default token path, every node


def test_launcher_runs_the_dockerfile_base_image_and_installs_pinned_torch_then_sweeper() -> None:
    config = _yaml(CLUSTER / "aws.yaml")
    assert config["docker"]["image"] == _from_image()
    setup = config["setup_commands"]
    torch = [i for i, c in enumerate(setup) if re.search(r"\btorch\b", c)]
    sweeper = [i for i, c in enumerate(setup) if '"$HOME/sweeper[cluster]"' in c]
    assert len(torch) == 1 and _torch_pin() in setup[torch[0]], f"torch should be installed once, as {_torch_pin()}"
    assert sweeper and torch[0] < sweeper[0], "torch must be installed before sweeper"
    assert config["file_mounts"]["~/sweeper"] == ".", "the checkout that setup_commands installs"


def test_launcher_mounts_one_shared_sweep_folder_into_every_container() -> None:
    config = _yaml(CLUSTER / "aws.yaml")
    assert f"--volume {SWEEPS}:{SWEEPS}" in config["docker"]["run_options"]
    assert any(f"/ {SWEEPS}" in c for c in config["initialization_commands"]), f"nothing mounts {SWEEPS} on the hosts"


# ---- cluster/kuberay/


def _secret() -> dict[str, Any]:
    secret = _yaml(KUBERAY / "secret.yaml")
    assert (secret["apiVersion"], secret["kind"]) == ("v1", "Secret")
    return secret


def _cluster_specs() -> list[tuple[str, dict[str, Any]]]:
    cluster, job = _yaml(KUBERAY / "raycluster.yaml"), _yaml(KUBERAY / "rayjob.yaml")
    assert (cluster["apiVersion"], cluster["kind"]) == ("ray.io/v1", "RayCluster")
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    return [("raycluster.yaml", cluster["spec"]), ("rayjob.yaml", job["spec"]["rayClusterSpec"])]


def _pod_specs(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [spec["headGroupSpec"]["template"]["spec"]] + [g["template"]["spec"] for g in spec["workerGroupSpecs"]]


CLUSTER_SPECS = pytest.mark.parametrize("name", ["raycluster.yaml", "rayjob.yaml"])


@CLUSTER_SPECS
def test_kuberay_cluster_runs_the_dockerfile_image_with_token_auth_from_the_secret(name: str) -> None:
    spec = dict(_cluster_specs())[name]
    secret = _secret()["metadata"]["name"]
    assert spec["rayVersion"] == RAY_VERSION, f"{name}: rayVersion {spec['rayVersion']}, the image has {RAY_VERSION}"
    assert spec["authOptions"] == {"mode": "token", "secretName": secret}
    assert "auth_token" in _secret()["stringData"], "KubeRay reads the token from the key auth_token"
    for pod in _pod_specs(spec):
        (container,) = pod["containers"]
        image = container["image"]
        assert image == _built_image(), f"{name}: {image} is not the tag that cluster/Dockerfile is built with"
        env = {e["name"]: e for e in container["env"]}
        assert env["RAY_AUTH_MODE"]["value"] == "token"
        assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "auth_token"}


@CLUSTER_SPECS
def test_kuberay_gpu_workers_autoscale_from_zero_and_the_head_has_no_gpu(name: str) -> None:
    spec = dict(_cluster_specs())[name]
    assert spec["enableInTreeAutoscaling"] is True
    head = spec["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"]
    assert "nvidia.com/gpu" not in head["limits"]
    assert spec["workerGroupSpecs"], f"{name} has no worker group"
    for group in spec["workerGroupSpecs"]:
        (container,) = group["template"]["spec"]["containers"]
        assert int(container["resources"]["limits"].get("nvidia.com/gpu", 0)) >= 1, f"{group['groupName']}: no GPU"
        assert group["minReplicas"] == 0 < group["maxReplicas"], f"{group['groupName']} should autoscale from 0"


@CLUSTER_SPECS
def test_kuberay_pods_mount_the_shared_sweep_volume(name: str) -> None:
    spec = dict(_cluster_specs())[name]
    claim = _yaml(KUBERAY / "sweeps-pvc.yaml")
    assert claim["kind"] == "PersistentVolumeClaim" and "ReadWriteMany" in claim["spec"]["accessModes"]
    for pod in _pod_specs(spec):
        volumes = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
        assert volumes.get(mounts.get(SWEEPS)) == claim["metadata"]["name"], f"{name}: {SWEEPS} is not the shared claim"


def test_rayjob_entrypoint_is_a_sweeper_run_our_cli_parses() -> None:
    job = _yaml(KUBERAY / "rayjob.yaml")
    params = _parse_sweeper(shlex.split(job["spec"]["entrypoint"]))
    spec_path = Path(params["spec"])
    assert spec_path.is_relative_to("/app"), f"{spec_path} is not in the image's copy of the repository (/app)"
    assert (ROOT / spec_path.relative_to("/app")).is_file(), f"{spec_path}: no such spec in the repository"
    assert str(params["sweeps_dir"]) == SWEEPS, "the sweep folder should be the shared volume"


def test_sweeper_commands_in_the_cluster_readme_parse() -> None:
    readme = (CLUSTER / "README.md").read_text()
    blocks = "\n".join(re.findall(r"```bash\n(.*?)```", readme, re.S))
    commands = re.findall(r"(?:^|\s)sweeper ((?:run|resume) [^#\n\"']*)", blocks, re.M)
    assert commands, "cluster/README.md shows no sweeper command"
    for command in commands:
        _parse_sweeper(["sweeper", *shlex.split(command)])
