"""Snakemake wrapper: merge the shards of one (network, manifold set) into a manifold dataset.

Input: the shards. Output: the manifold dataset (netCDF)."""

from dnn_manifolds.generation.collect import collect_shards
from dnn_manifolds.workflow.joblog import job_logger

log = job_logger(snakemake.log[0], "collect")
collect_shards(list(snakemake.input), snakemake.output[0])
log.info("collected %d shards into %s", len(snakemake.input), snakemake.output[0])
