"""``dnn-manifolds estimate``: what a workflow configuration costs, before running it.

::

    dnn-manifolds estimate CONFIG.yaml [--directory DIR] [--device cpu|cuda] [--json]

Prints, per rule, the number of jobs, CPU-hours, GPU-hours, the largest job's memory and the
disk written, from the measured per-unit costs of :mod:`dnn_manifolds.workflow.costs`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path


def _estimate(a: argparse.Namespace) -> int:
    import yaml

    from ..errors import UserError
    from ..workflow.config import check_config
    from ..workflow.costs import estimate, format_table
    from ..workflow.schema import build_schema

    path = Path(a.config)
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from err
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - the workflow extra installs it
        jsonschema = None
    if jsonschema is not None:
        try:
            jsonschema.validate(config, build_schema())
        except jsonschema.ValidationError as err:
            where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
            raise UserError(f"{path}: config key {where}: {err.message}") from err
    if a.device:
        config["device"] = a.device
    cfg = check_config(config, base_dir=Path(a.directory))
    costs = estimate(cfg)
    if a.json:
        print(json.dumps([dataclasses.asdict(c) for c in costs], indent=2))
        return 0
    print(f"{path} (device {cfg.device}; estimates ±50 %, from measured per-unit costs)")
    print(format_table(costs))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "estimate",
        help="what a workflow configuration costs: jobs, CPU/GPU-hours, memory, disk per rule",
        description="Estimate the cost of a workflow configuration from measured per-unit costs "
        "(docs/architecture.md, bench/README.md). Runs nothing.",
    )
    p.add_argument(
        "config",
        metavar="CONFIG.yaml",
        help="a workflow configuration (e.g. config/paper.yaml)",
    )
    p.add_argument(
        "--directory",
        default=".",
        help="the directory the workflow would run in (default: .)",
    )
    p.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        default=None,
        help="price generation on this device",
    )
    p.add_argument("--json", action="store_true", help="print the estimate as JSON")
    p.set_defaults(func=_estimate)
