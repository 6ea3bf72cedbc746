"""Snakemake wrapper: the figures of ``dnn_manifolds.report.catalogue.FIGURES`` (PNG + PDF)
from the tidy table.

Inputs: ``table``. Outputs: ``png`` (one per figure, in the order of ``params.stems``; each
PDF is written beside its PNG and listed in ``pdf``). Params: ``stems``.
"""

from pathlib import Path

from dnn_manifolds.report import plots
from dnn_manifolds.report.tables import read_table
from dnn_manifolds.workflow.joblog import job_logger

log = job_logger(snakemake.log[0], "plots")
table = read_table(snakemake.input.table)
for stem, png in zip(snakemake.params.stems, snakemake.output.png, strict=True):
    plots.draw_figure(stem, table, Path(png).with_suffix(""))
    log.info("figure %s written", stem)
