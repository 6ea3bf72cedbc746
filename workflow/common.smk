# Config validation, wildcard constraints, target lists and input functions. No rules here.
#
# The schema (workflow/schemas/config.schema.yaml) checks keys and types; check_config() then
# checks what needs the package (layer names, transform names, sample counts, categories). Both
# run when the workflow is parsed, so a bad config stops the run before any job starts.
import copy
import functools
import inspect
import os
from pathlib import Path

from snakemake.common import overwrite_function_params
from snakemake.logging import logger
from snakemake.utils import validate

from dnn_manifolds.report.catalogue import FIGURE_SPECS, FIGURES
from dnn_manifolds.workflow import config as wfc
from dnn_manifolds.workflow import costs

wfc.export_source_path(Path(workflow.basedir) / "src")

# A preset given with --configfile replaces config/config.yaml instead of being merged into it
# (Snakemake merges nested mappings, which would mix the demo's networks into another preset);
# --config overrides still apply on top of whichever configuration is in use.
if workflow.config_settings.configfiles:
    config.clear()
    config.update(copy.deepcopy(dict(workflow.config_settings.overwrite_config)))

validate(config, schema="schemas/config.schema.yaml")
CFG = wfc.check_config(config)


wildcard_constraints:
    network=r"[A-Za-z0-9_]+",
    manifold=r"[A-Za-z0-9_]+",
    layer=r"[A-Za-z0-9_-]+",
    transform=r"[A-Za-z0-9_-]+",
    shard=r"[A-Za-z0-9_-]+",
    name=r"[A-Za-z0-9_-]+",
    experiment=r"[A-Za-z0-9_]+",


# ----------------------------------------------------------------------------- warm process

WARM_PROCESSES = []


def start_warm_process():
    """onstart: a warm process for the analysis jobs of a local run (not for cluster jobs)."""
    from dnn_manifolds.workflow import warm

    # never the warm process of a run this one was started from
    if workflow.is_main_process:
        os.environ.pop(warm.SOCKET_ENV, None)
    if not (CFG.warm_processes and workflow.local_exec and workflow.is_main_process):
        return

    started = warm.start(threads=1, log="logs/warm.log")
    if started is None:
        logger.warning(
            "no warm process (not Linux, or it failed to start: logs/warm.log): "
            "each analysis job imports its libraries itself"
        )
    else:
        WARM_PROCESSES.append(started)


def stop_warm_process():
    while WARM_PROCESSES:
        WARM_PROCESSES.pop().stop()


# ----------------------------------------------------------------------------- paths


def per_job(func):
    """Mark a function that Snakemake calls once per job (input, params, resources) with its
    signature, inspected once here: Snakemake otherwise inspects it (inspect.signature) at
    every call to learn which arguments it takes (≈ 11 % of the paper preset's dry run before,
    bench/README.md); Snakemake's own wrappers (snakemake.ioutils) do the same."""
    overwrite_function_params(func, inspect.signature(func).parameters)
    return func


def stimuli_file():
    return CFG.stimuli_path


def demo_checkpoint(network):
    return f"results/training/{network}/epoch{CFG.demo_epochs:03d}.pt"


@per_job
def weights_input(wildcards):
    """Checkpoint files a network needs (the demo CNN's training output), else nothing."""
    net = CFG.networks[wildcards.network]
    if net.weights == "demo":
        return [demo_checkpoint(wildcards.network)]
    return []


@per_job
def model_files(wildcards):
    """A user model's files (its .py module or TorchScript archive, its weights file), so
    that changing them re-runs its generation jobs."""
    return list(CFG.networks[wildcards.network].files)


# A generation job's optional inputs: an input function only where some network of the config
# has such files (the demo CNN's checkpoint, a user model's files), else a plain empty list: a
# callable costs Snakemake a call and two signature inspections per job (7,000 shard jobs in
# config/paper.yaml)
GENERATION_WEIGHTS = (
    weights_input if any(n.weights == "demo" for n in CFG.networks.values()) else []
)
GENERATION_MODEL = model_files if any(n.files for n in CFG.networks.values()) else []


@per_job
def shard_params(wildcards, input):
    """Keyword arguments of dnn_manifolds.generation.manifolds.generate_shard for one shard."""
    net = CFG.networks[wildcards.network]
    man = CFG.manifolds[wildcards.manifold]
    shard = shard_spec(wildcards)
    return {
        "network": net.architecture,
        "weights": str(input.weights[0]) if net.weights == "demo" else net.weights,
        "weights_path": net.weights_path,
        "layers": list(net.layers),
        "manifold_kind": man.kind,
        "transform": shard["transform"],
        "objects": shard["objects"],
        "n_objects": man.n_objects,
        "n_samples": man.n_samples,
        "range_factor": man.range_factor,
        "seed": CFG.seed,
        "objects_seed": man.objects_seed,
        "neuron_seed": (
            man.neuron_seed if man.neuron_seed is not None else CFG.seeds["neurons"]
        ),
        "init_seed": CFG.seeds["init"],
        "device": CFG.device,
        "batch_size": CFG.batch_size,
        **net.shard_settings(),
    }


@per_job
def shard_files(wildcards):
    return [
        f"results/shards/{wildcards.network}/{wildcards.manifold}/{s['name']}.nc"
        for s in CFG.shards(wildcards.manifold)
    ]


def shard_spec(wildcards):
    try:
        return CFG.shard(wildcards.manifold, wildcards.shard)
    except KeyError as err:
        raise ValueError(str(err)) from None


def analysis_path(network, layer, transform, name):
    """An analysis job's file: a baseline analysis (capacity, geometry) or an experiment,
    with one group per manifold set."""
    base = f"results/analysis/{network}/{layer}/{transform}"
    if name in wfc.BASELINES:
        return f"{base}/{name}.nc"
    return f"{base}/experiments/{name}.nc"


_JOBS = {}


def analysis_job(wildcards, name=None):
    """The analysis job of these wildcards (config.analysis_jobs), looked up in an index."""
    if not _JOBS:
        for job in CFG.analysis_jobs(analysis_path):
            key = (job["network"], job["layer"], job["transform"], job["experiment"])
            _JOBS[key] = job
    name = name or wildcards.experiment
    key = (wildcards.network, wildcards.layer, wildcards.transform, name)
    if key not in _JOBS:
        raise ValueError(f"no {name} job for {key[:3]} in this configuration")
    return _JOBS[key]


def job_input(name=None):
    """Input function: the job's manifold datasets (and its reference geometry)."""

    @per_job
    def inputs(wildcards):
        job = analysis_job(wildcards, name)
        out = {
            "datasets": [
                f"results/datasets/{wildcards.network}/{m}.nc" for m in job["manifolds"]
            ]
        }
        if job["reference"]:
            out["reference"] = job["reference"]
        return out

    return inputs


def job_params(name=None):
    """Params function: what run_job needs besides its files (sets, options, seed)."""

    @per_job
    def params(wildcards):
        job = analysis_job(wildcards, name)
        return {
            "analysis": job["analysis"],
            "experiment": job["experiment"],
            "sets": CFG.job_sets(job),
            "session": f"{wildcards.layer}/{wildcards.transform}",
            "seed": CFG.seeds[job["analysis"]],
        }

    return params


def analysis_files(experiment=None):
    """Every analysis job's file (of one experiment, if given)."""
    return [
        j["path"]
        for j in CFG.analysis_jobs(analysis_path)
        if experiment is None or j["experiment"] == experiment
    ]


def analysis_entries():
    """Every (network, manifold, layer, transform, analysis) the full config asks for."""
    return CFG.analysis_entries(analysis_path)


@functools.cache
def _capacity_entries_by_set():
    """{(network, manifold set): its baseline capacity entries, every replicate} (built once)."""
    out = {}
    for e in analysis_entries():
        if e["experiment"] == "capacity":
            out.setdefault((e["network"], e["manifold_set"]), []).append(e)
    return out


@per_job
def separability_entries(wildcards):
    """The baseline capacity results of one (network, manifold set), every replicate."""
    return _capacity_entries_by_set().get((wildcards.network, wildcards.manifold), [])


@per_job
def separability_inputs(wildcards):
    return list(dict.fromkeys(e["path"] for e in separability_entries(wildcards)))


def separability_targets():
    """One separability figure per (network, manifold set) with capacity results."""
    return [
        f"results/plots/separability/{n}/{m}.png" for n, m in _capacity_entries_by_set()
    ]


@per_job
def contact_sheet_dataset(wildcards):
    """The first recording network's dataset of a manifold set: its object ids are the
    templates."""
    network = next(n for n in CFG.networks if CFG.records(n, wildcards.manifold))
    return f"results/datasets/{network}/{wildcards.manifold}.nc"


@per_job
def contact_sheet_params(wildcards):
    man = CFG.manifolds[wildcards.manifold]
    return {
        "transform": wildcards.transform,
        "range_factor": man.range_factor,
        "n_samples": man.n_samples,
        "seed": CFG.seed,
    }


_RESOURCES = {}


def job_resources(kind, name=None):
    """mem_mb and runtime of a job from the measured cost model (dnn_manifolds.workflow.costs),
    growing with Snakemake's attempt (a retried job asks for more). One pair of callables,
    with one cache, per (rule, analysis); ``kind`` is the rule's name."""
    if (kind, name) in _RESOURCES:
        return _RESOURCES[(kind, name)]

    def job(wildcards):
        if kind == "generate_shard":
            return {
                "network": wildcards.network,
                "manifold": wildcards.manifold,
                "shard": shard_spec(wildcards),
            }
        if kind == "collect":
            return {"network": wildcards.network, "manifold": wildcards.manifold}
        return analysis_job(wildcards, name)

    cache = {}

    def get(wildcards, attempt):
        key = (tuple(wildcards.items()), attempt)
        if key not in cache:
            cache[key] = costs.resources(CFG, kind, job(wildcards), attempt)
        return cache[key]

    @per_job
    def mem_mb(wildcards, attempt):
        return get(wildcards, attempt)["mem_mb"]

    @per_job
    def runtime(wildcards, attempt):
        return get(wildcards, attempt)["runtime"]

    _RESOURCES[(kind, name)] = (mem_mb, runtime)
    return mem_mb, runtime


# GPUs a generation or training job asks for, decided once (a constant, not a per-job callable:
# each callable resource costs Snakemake a function inspection per job)
GENERATION_GPUS = 1 if CFG.uses_gpu else 0


@per_job
def own_data_input(wildcards):
    """The data file, and a feature matrix's labels file when it has one."""
    labels = CFG.own_data_options[wildcards.name].get("labels")
    return {
        "data": CFG.own_data[wildcards.name],
        **({"labels": labels} if labels else {}),
    }


@per_job
def own_data_options(wildcards):
    """Options of dnn_manifolds.data.inputs.import_any for one own-data input."""
    return CFG.own_import_options(wildcards.name)


@per_job
def own_analysis_files(wildcards):
    return [f"results/own/{wildcards.name}/{a}.nc" for a in CFG.analyses]


# ----------------------------------------------------------------------------- targets


def all_targets():
    """The final outputs: with an `only` filter, just the filtered analyses (the aggregate
    is not targeted, so it never shrinks to the subset); otherwise tables, plots and own data.
    """
    targets = []
    if CFG.filtered:
        targets += [j["path"] for j in CFG.analysis_jobs(analysis_path, filtered=True)]
    elif CFG.networks and CFG.manifolds:
        targets += [
            "results/tables/results.csv",
            "results/tables/results.nc",
            "results/tables/results.html",
        ]
        targets += [
            f"results/plots/{stem}.{ext}" for stem in FIGURES for ext in ("png", "pdf")
        ]
        targets += separability_targets()
        targets += [
            f"results/plots/contact_sheets/{m}_{t}.png"
            for m, t in CFG.contact_sheet_targets()
        ]
    for name in CFG.own_data:
        targets += [
            f"results/own/{name}/dataset.nc",
            f"results/own/{name}/info.json",
            f"results/own/{name}/table.csv",
        ]
    return targets
