"""Snakemake wrapper: merge the shards of one (network, manifold set) into a manifold dataset.

Input: the shards. Output: the manifold dataset (netCDF)."""

from dnn_manifolds.joblog import job_logger
from dnn_manifolds.manifolds import collect_shards

log = job_logger(snakemake.log[0], "collect")
collect_shards(list(snakemake.input), snakemake.output[0])
log.info("collected %d shards into %s", len(snakemake.input), snakemake.output[0])
