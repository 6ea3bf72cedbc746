"""Snakemake wrapper: record one shard (objects x one transform, every layer) of a manifold set.

Input: ``stimuli`` (and ``weights`` for the demo CNN). Output: the shard (netCDF).
Params: ``shard``, the keyword arguments of dnn_manifolds.generation.manifolds.generate_shard.
Torch runs on one thread whatever the job is given: its results depend on the thread count.
"""

from dnn_manifolds.generation.manifolds import generate_shard
from dnn_manifolds.workflow.joblog import job_logger

GENERATION_THREADS = 1

log = job_logger(snakemake.log[0], "generate_shard")
kwargs = dict(snakemake.params.shard)
log.info("generate_shard %s", kwargs)
generate_shard(snakemake.output[0], stimuli_path=snakemake.input.stimuli, threads=GENERATION_THREADS, progress=True, **kwargs)
log.info("wrote %s", snakemake.output[0])
