"""Snakemake wrapper: one analysis job (a baseline analysis or an experiment) of one session of
every manifold set it lists (dnn_manifolds.workflow.jobs.run_logged_job).

Inputs: ``datasets`` (one per set) and, for experiments that need it, ``reference`` (the
baseline geometry). Output: one file, one group per set. Params: ``job``.

In a local run the job is run by a child of the run's warm process when there is one
(dnn_manifolds.workflow.warm: the analysis libraries are imported there already), else here.
"""

from dnn_manifolds.workflow.warm import run_in_warm_process

job = dict(snakemake.params.job)
job["datasets"] = [str(path) for path in snakemake.input.datasets]
job["references"] = str(snakemake.input.reference) if "reference" in snakemake.input.keys() else None
job["output"] = str(snakemake.output[0])
kwargs = {"job": job, "log_path": str(snakemake.log[0])}
if run_in_warm_process("dnn_manifolds.workflow.jobs:run_logged_job", kwargs) is None:
    from dnn_manifolds.workflow.jobs import run_logged_job

    run_logged_job(**kwargs)
