"""Snakemake wrapper: contact sheet (PNG) of the first object's manifold of a manifold set.

Inputs: ``stimuli``, ``dataset`` (its first object id is the template image). Output: the PNG.
Params: ``sheet`` (transform, range_factor, n_samples, seed).
"""

from dnn_manifolds.data import load_dataset
from dnn_manifolds.report.contact_sheet import manifold_contact_sheet
from dnn_manifolds.workflow.joblog import job_logger

log = job_logger(snakemake.log[0], "contact_sheet")
with load_dataset(snakemake.input.dataset, validate=False) as ds:
    image_index = int(ds["object"].values[0])
manifold_contact_sheet(snakemake.output[0], stimuli_path=snakemake.input.stimuli, image_index=image_index, **snakemake.params.sheet)
log.info("contact sheet of image %d -> %s", image_index, snakemake.output[0])
