"""Snakemake wrapper: capacity or geometry of every session of a user's dataset.

Input: the imported manifold dataset. Output: the result (netCDF, a session dim).
Params: ``analysis``, ``seed``, ``options``.
"""

from dnn_manifolds.data import load_dataset, write_result
from dnn_manifolds.workflow.joblog import job_logger

log = job_logger(snakemake.log[0], "own_analysis")
p = snakemake.params
if p.analysis == "capacity":
    from dnn_manifolds.analysis.capacity import capacity as run
else:
    from dnn_manifolds.analysis.geometry import geometry as run
with load_dataset(snakemake.input[0], validate=False) as ds:  # session_data checks what it reads
    result = run(ds, dict(p.options), seed=p.seed, progress=True)
write_result(result, snakemake.output[0])
log.info("%s of %s: %s", p.analysis, snakemake.input[0], result["capacity"].values)
