"""Snakemake wrapper: tidy table of a user's own data set (capacity and geometry per session).

Inputs: ``analyses`` (capacity.nc, geometry.nc, each over all sessions). Outputs: ``csv``, ``nc``.
"""

from dnn_manifolds.report.tables import own_data_table, write_table
from dnn_manifolds.workflow.joblog import job_logger

log = job_logger(snakemake.log[0], "own_table")
table = own_data_table(list(snakemake.input.analyses), name=snakemake.wildcards.name)
write_table(table, snakemake.output.csv, snakemake.output.nc)
log.info("%d rows", len(table))
