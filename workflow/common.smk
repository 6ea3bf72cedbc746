# Config validation, wildcard constraints, target lists and input functions. No rules here.
from pathlib import Path

from snakemake.utils import validate


validate(config, schema="schemas/config.schema.yaml")


wildcard_constraints:
    name=r"[A-Za-z0-9_-]+",


def own_data_inputs():
    """Mapping name -> input file of the user's own data sets (config key own_data.inputs)."""
    return config.get("own_data", {}).get("inputs", {}) or {}


def own_data_input(wildcards):
    return own_data_inputs()[wildcards.name]


def all_targets():
    """Every final output the configuration asks for."""
    targets = []
    for name in own_data_inputs():
        targets.append(f"results/own/{name}/dataset.nc")
        targets.append(f"results/own/{name}/info.json")
    return targets
