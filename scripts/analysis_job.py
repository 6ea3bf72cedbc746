"""Snakemake wrapper: one analysis job (a baseline analysis or an experiment) of one session of
every manifold set it lists (dnn_manifolds.workflow.jobs.run_job).

Inputs: ``datasets`` (one per set) and, for experiments that need it, ``reference`` (the
baseline geometry). Output: one file, one group per set. Params: ``job``.
"""

from dnn_manifolds.workflow.jobs import run_job
from dnn_manifolds.workflow.joblog import job_logger

log = job_logger(snakemake.log[0], "analysis")
job = dict(snakemake.params.job)
reference = snakemake.input.reference if "reference" in snakemake.input.keys() else None
run_job(**job, datasets=list(snakemake.input.datasets), references=reference, output=snakemake.output[0])
log.info("%s %s: %d manifold sets -> %s", job["experiment"], job["session"], len(job["sets"]), snakemake.output[0])
