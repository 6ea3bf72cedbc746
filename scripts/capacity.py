"""Snakemake wrapper: direct capacity of one session (or all, when ``session`` is None).

Input: a manifold dataset. Output: the capacity result (netCDF).
Params: ``session``, ``seed``, ``options`` (keyword options of dnn_manifolds.analysis.capacity.capacity).
"""

from dnn_manifolds.analysis.capacity import capacity
from dnn_manifolds.data import load_dataset, write_netcdf
from dnn_manifolds.workflow.joblog import job_logger

log = job_logger(snakemake.log[0], "capacity")
p = snakemake.params
with load_dataset(snakemake.input[0], validate=False) as ds:  # session_data checks what it reads
    result = capacity(ds, dict(p.options), session=p.session, seed=p.seed, progress=True)
write_netcdf(result, snakemake.output[0])
log.info("session %s: alpha_c = %s", p.session, result["capacity"].values)
