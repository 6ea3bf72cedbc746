"""Snakemake wrapper: every variant of one experiment on one session.

Inputs: ``dataset`` (and ``reference``, the session's baseline geometry, when needed). Output:
the experiment's result (netCDF, a ``variant`` dim). Params: ``session``, ``seed``,
``experiment`` (name, analysis, options, grid).
"""

from dnn_manifolds.analysis.experiments import Experiment, run_experiment
from dnn_manifolds.data import load_dataset, read_result, write_netcdf
from dnn_manifolds.workflow.joblog import job_logger

log = job_logger(snakemake.log[0], "experiment")
p = snakemake.params
exp = Experiment(p.experiment["name"], p.experiment["analysis"], p.experiment["options"], p.experiment["grid"])
reference = read_result(snakemake.input.reference) if "reference" in snakemake.input.keys() else None
with load_dataset(snakemake.input.dataset, validate=False) as ds:  # session_data checks what it reads
    result = run_experiment(ds, exp, session=p.session, seed=p.seed, reference=reference, progress=True)
write_netcdf(result, snakemake.output[0])
log.info("%s, session %s: %d variants, capacity %s", exp.name, p.session, result.sizes["variant"], result["capacity"].values)
