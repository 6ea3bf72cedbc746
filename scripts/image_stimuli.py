"""Snakemake wrapper: convert the user's image folder (or CSV) into a stimulus file.

Input: the images. Output: the stimulus file (the thumbnails' layout).
Params: ``options``, the arguments of dnn_manifolds.generation.image_folder.image_stimuli
(``path``, ``fit``, ``crop``, ``background``).
"""

from dnn_manifolds.generation.image_folder import image_stimuli
from dnn_manifolds.workflow.joblog import job_logger

log = job_logger(snakemake.log[0], "image_stimuli")
options = dict(snakemake.params.options)
log.info("image_stimuli %s", options)
path = options.pop("path")
image_stimuli(path, snakemake.output[0], progress=True, **options)
log.info("%d images -> %s", len(snakemake.input), snakemake.output[0])
