"""Snakemake wrapper: the tidy table of every analysis (CSV + netCDF) and a JSON summary.

Inputs: every analysis result. Outputs: ``csv``, ``nc``, ``summary``.
Params: ``entries`` (path and keys of each result), ``seeds``, ``config``.
"""

from dnn_manifolds.data import provenance_attrs, write_text
from dnn_manifolds.report.tables import build_table, to_json_summary, write_table
from dnn_manifolds.workflow.joblog import job_logger

log = job_logger(snakemake.log[0], "aggregate")
p = snakemake.params
table = build_table(p.entries)
write_table(table, snakemake.output.csv, snakemake.output.nc, attrs=provenance_attrs(seeds=p.seeds, config=p.config))
write_text(snakemake.output.summary, to_json_summary(table))
log.info("%d rows from %d results", len(table), len(p.entries))
