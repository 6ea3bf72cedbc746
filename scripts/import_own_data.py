"""Snakemake wrapper: import a user's data file into a manifold dataset.

Input: the user's file. Outputs: ``dataset`` (netCDF), ``info`` (JSON summary).
Params: ``variable`` (name of the data variable in the file).
"""

import json

from dnn_manifolds.data import import_data, save_dataset, summarize, write_text
from dnn_manifolds.workflow.joblog import job_logger

log = job_logger(snakemake.log[0], "import_own_data")
ds = import_data(snakemake.input[0], variable=snakemake.params.variable)
save_dataset(ds, snakemake.output.dataset)
write_text(snakemake.output.info, json.dumps(summarize(ds), indent=2, default=str))
log.info("imported %s -> %s: %s", snakemake.input[0], snakemake.output.dataset, dict(ds["tuning"].sizes))
