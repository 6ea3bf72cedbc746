"""Snakemake wrapper: import a user's data file into a manifold dataset.

Inputs: ``data`` (the user's file) and, for feature matrices, ``labels``. Outputs: ``dataset``
(netCDF), ``info`` (JSON summary). Params: ``options``, the keyword arguments of
dnn_manifolds.data.inputs.import_any (variable; an assembly's object_coord, session_coord,
average_by; a feature matrix's labels_column, labels_from).
"""

import json

from dnn_manifolds.data import save_dataset, summarize, write_text
from dnn_manifolds.data.inputs import import_any
from dnn_manifolds.workflow.joblog import job_logger

log = job_logger(snakemake.log[0], "import_own_data")
options = dict(snakemake.params.options)
if "labels" in options:
    options["labels"] = snakemake.input.labels
ds = import_any(snakemake.input.data, **options)
save_dataset(ds, snakemake.output.dataset)
write_text(snakemake.output.info, json.dumps(summarize(ds), indent=2, default=str))
log.info("imported %s -> %s: %s", snakemake.input.data, snakemake.output.dataset, dict(ds["tuning"].sizes))
