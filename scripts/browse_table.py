"""Snakemake wrapper: the results table as a browsable HTML page for the report.

Inputs: the tidy table (CSV). Outputs: the page.
"""

from dnn_manifolds.report.browse import write_browse_html
from dnn_manifolds.report.tables import read_table
from dnn_manifolds.workflow.joblog import job_logger

log = job_logger(snakemake.log[0], "browse_table")
table = read_table(snakemake.input[0])
write_browse_html(table, snakemake.output[0], title="Results")
log.info("browsable table of %d rows written", len(table))
