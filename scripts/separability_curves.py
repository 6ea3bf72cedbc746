"""Snakemake wrapper: the separability curves f(n) of one (network, manifold set).

Inputs: the set's capacity results. Outputs: ``png`` (the PDF beside it, ``pdf``).
Params: ``entries`` (path and keys of each capacity result). Wildcards: ``network``,
``manifold`` (the manifold set).
"""

from pathlib import Path

from dnn_manifolds.report.curves import plot_separability_from_results
from dnn_manifolds.workflow.joblog import job_logger

log = job_logger(snakemake.log[0], "separability_curves")
w = snakemake.wildcards
plot_separability_from_results(
    snakemake.params.entries, Path(snakemake.output.png).with_suffix(""), network=w.network, manifold_set=w.manifold
)
log.info("separability curves of %s / %s written", w.network, w.manifold)
