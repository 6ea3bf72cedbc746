"""Snakemake wrapper: the run's figures (PNG + PDF) from the tidy table and the capacity curves.

Inputs: ``table``, ``capacity`` results. Outputs: ``capacity``, ``geometry``, ``scatter``,
``curves`` (PNG; the PDFs sit beside them). Params: ``entries`` of the capacity results.
"""

from dnn_manifolds.report import plots
from dnn_manifolds.report.tables import read_table
from dnn_manifolds.workflow.joblog import job_logger

log = job_logger(snakemake.log[0], "plots")
table = read_table(snakemake.input.table)
out = snakemake.output
plots.plot_capacity_vs_layer(table, out.capacity)
plots.plot_geometry_vs_layer(table, out.geometry)
plots.plot_theory_vs_simulation(table, out.scatter)
plots.plot_separability_curves_from_results(snakemake.params.entries, out.curves)
log.info("figures written")
