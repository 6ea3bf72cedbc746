"""Snakemake wrapper: generate the embedded (offline) stimulus set.

Output: the stimulus file. Params: ``seed``, ``n_categories``, ``n_exemplars``.
"""

from dnn_manifolds.generation.embedded import make_embedded_stimuli
from dnn_manifolds.workflow.joblog import job_logger

log = job_logger(snakemake.log[0], "embedded_stimuli")
p = snakemake.params
make_embedded_stimuli(snakemake.output[0], seed=p.seed, n_categories=p.n_categories, n_exemplars=p.n_exemplars)
log.info("wrote %s (%d categories x %d exemplars, seed %d)", snakemake.output[0], p.n_categories, p.n_exemplars, p.seed)
