"""Snakemake wrapper: mean-field-theory geometry of one session (or all, when ``session`` is None).

Input: a manifold dataset. Output: the geometry result (netCDF).
Params: ``session``, ``seed``, ``options`` (method, n_t, kappa and further options of
dnn_manifolds.analysis.geometry.geometry).
"""

from dnn_manifolds.analysis.geometry import geometry
from dnn_manifolds.data import load_dataset, write_netcdf
from dnn_manifolds.workflow.joblog import job_logger

log = job_logger(snakemake.log[0], "geometry")
p = snakemake.params
with load_dataset(snakemake.input[0], validate=False) as ds:  # session_data checks what it reads
    result = geometry(ds, dict(p.options), session=p.session, seed=p.seed, progress=True)
write_netcdf(result, snakemake.output[0])
log.info("session %s: alpha_M = %s", p.session, result["capacity"].values)
